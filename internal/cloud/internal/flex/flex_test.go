package flex

import (
	"encoding/json"
	"reflect"
	"testing"
)

func TestLeniency(t *testing.T) {
	type doc struct {
		S  String                   `json:"s"`
		I  Int                      `json:"i"`
		SS Strings                  `json:"ss"`
		L  List[struct{ A String }] `json:"l"`
		M  Map[struct{ A String }]  `json:"m"`
	}
	tests := []struct {
		in   string
		want doc
	}{
		{`{"s":"x","i":5,"ss":["a","b"],"l":[{"A":"1"}],"m":{"k":{"A":"2"}}}`,
			doc{S: "x", I: Int{5, true}, SS: Strings{"a", "b"}, L: List[struct{ A String }]{{A: "1"}}, M: Map[struct{ A String }]{"k": {A: "2"}}}},
		{`{"s":12,"i":"7","ss":"one","l":"nope","m":[]}`, doc{S: "12", I: Int{7, true}, SS: Strings{"one"}, M: nil}},
		{`{"s":null,"i":null,"ss":null,"l":null,"m":null}`, doc{}},
		{`{"s":{"x":1},"i":1.9e3,"ss":[1,null,"x",{}],"l":[1,{"A":3},null],"m":{"a":1,"b":{"A":true}}}`,
			doc{I: Int{1900, true}, SS: Strings{"1", "x"}, L: List[struct{ A String }]{{A: "3"}}, M: Map[struct{ A String }]{"b": {A: "true"}}}},
		{`{"i":"abc"}`, doc{}},
		{`{"i":1e300}`, doc{}},
		{`{"i":true}`, doc{}},
		{`{"i":1618219038464462600}`, doc{I: Int{1618219038464462600, true}}},
	}
	for _, tt := range tests {
		var got doc
		if err := json.Unmarshal([]byte(tt.in), &got); err != nil {
			t.Fatalf("%s: %v", tt.in, err)
		}
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%s:\n got %+v\nwant %+v", tt.in, got, tt.want)
		}
	}
	if String("").Ptr() != nil || *String("a").Ptr() != "a" {
		t.Error("Ptr")
	}
}

// lenient is a nested object read through Object.
type lenient struct {
	A String `json:"a"`
	N int    `json:"n"`
}

func (l *lenient) UnmarshalJSON(data []byte) error {
	type plain lenient
	return Object(data, (*plain)(l))
}

// TestObject: an object that decodes is read; any other value, or an
// object with a field of the wrong type, leaves the zero value.
func TestObject(t *testing.T) {
	for in, want := range map[string]lenient{
		`{"o":{"a":"x","n":2}}`: {A: "x", N: 2},
		`{"o":{"a":1}}`:         {A: "1"},
		`{"o":{"n":"2"}}`:       {},
		`{"o":"text"}`:          {},
		`{"o":[{"a":"x"}]}`:     {},
		`{"o":null}`:            {},
		`{"o":7}`:               {},
	} {
		got := struct {
			O lenient `json:"o"`
		}{O: lenient{A: "stale", N: 9}}
		if err := json.Unmarshal([]byte(in), &got); err != nil {
			t.Fatalf("%s: %v", in, err)
		}
		if got.O != want {
			t.Errorf("%s: got %+v, want %+v", in, got.O, want)
		}
	}
}
