package cloud

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestStatusTable(t *testing.T) {
	tab := StatusTable{"Success": PhaseSucceeded, "RUNNING": PhaseRunning}
	op := &Operation{}
	tests := []struct {
		word string
		step bool
		want Phase
	}{
		{"Success", false, PhaseSucceeded},
		{" SUCCESS ", false, PhaseSucceeded},
		{"running", true, PhaseRunning},
		{"", true, PhasePending},
		{"", false, PhaseUnknown},
		{"Exploded", true, PhaseUnknown},
		{"Exploded", false, PhaseUnknown},
	}
	for _, tt := range tests {
		var got Phase
		if tt.step {
			got = tab.MapStepStatus(op, tt.word)
		} else {
			got = tab.MapOperationStatus(op, tt.word)
		}
		if got != tt.want {
			t.Errorf("%q (step %v) = %v, want %v", tt.word, tt.step, got, tt.want)
		}
	}
	if want := []string{"(missing)", "Exploded"}; strings.Join(op.UnknownStatuses, ",") != strings.Join(want, ",") {
		t.Errorf("UnknownStatuses = %q, want %q", op.UnknownStatuses, want)
	}
}

func TestCurrentStepOf(t *testing.T) {
	tests := []struct {
		phases []Phase
		want   string
	}{
		{nil, ""},
		{[]Phase{PhaseSucceeded, PhaseSucceeded}, ""},
		{[]Phase{PhaseSucceeded, PhaseRunning, PhasePending}, "s1"},
		{[]Phase{PhaseSucceeded, PhasePending, PhaseFailed}, "s2"},
		{[]Phase{PhasePending, PhasePending}, "s0"},
		{[]Phase{PhaseSucceeded, PhaseCancelled}, "s1"},
	}
	for _, tt := range tests {
		var steps []Step
		for i, p := range tt.phases {
			steps = append(steps, Step{Name: "s" + string(rune('0'+i)), Phase: p})
		}
		if got := CurrentStepOf(steps); got != tt.want {
			t.Errorf("%v: got %q, want %q", tt.phases, got, tt.want)
		}
	}
}

func TestFailureMessage(t *testing.T) {
	tests := []struct {
		steps []Step
		want  string
	}{
		{nil, ""},
		{[]Step{{Name: "A", Phase: PhaseSucceeded}, {Name: "B", Phase: PhaseRunning}}, ""},
		{[]Step{{Name: "A", Phase: PhaseSucceeded}, {Name: "B", Phase: PhaseFailed, Message: "disk full"}}, "B failed: disk full"},
		{[]Step{{Name: "A", Phase: PhaseFailed}}, "A failed"},
		{[]Step{{Name: "A", Phase: PhaseFailed, Message: "outer", SubSteps: []Step{
			{Name: "a1", Phase: PhaseSucceeded}, {Name: "a2", Phase: PhaseFailed, Message: "inner\tcause"}}}}, "A / a2 failed: inner cause"},
		{[]Step{{Name: "A", Phase: PhaseRunning, SubSteps: []Step{{Name: "a1", Phase: PhaseFailed}}}, {Name: "B", Phase: PhaseFailed}}, "A / a1 failed"},
	}
	for _, tt := range tests {
		if got := FailureMessage(tt.steps); got != tt.want {
			t.Errorf("FailureMessage(%+v) = %q, want %q", tt.steps, got, tt.want)
		}
	}
}

func TestParsePercent(t *testing.T) {
	p := func(v int32) *int32 { return &v }
	for in, want := range map[string]*int32{
		"100.00%": p(100), "42.9 %": p(42), "60% ": p(60), "60": p(60), "-3": p(0), "250%": p(100),
		"N/A": nil, "": nil, "NaN": nil, "Inf%": nil, "-Inf": nil,
	} {
		got := ParsePercent(in)
		if (got == nil) != (want == nil) || (got != nil && *got != *want) {
			t.Errorf("ParsePercent(%q) = %v, want %v", in, got, want)
		}
	}
}

func TestPercentOf(t *testing.T) {
	for _, tt := range []struct {
		done, total int
		want        int32
		isNil       bool
	}{
		{0, 0, 0, true}, {1, 3, 33, false}, {2, 3, 66, false}, {3, 3, 100, false}, {5, 3, 100, false}, {-1, 3, 0, false},
	} {
		got := PercentOf(tt.done, tt.total)
		if (got == nil) != tt.isNil || (got != nil && *got != tt.want) {
			t.Errorf("PercentOf(%d,%d) = %v", tt.done, tt.total, got)
		}
	}
}

func TestSanitizeText(t *testing.T) {
	tests := []struct {
		in, want string
	}{
		{"  a \n\t b  ", "a b"},
		{"\xffok", "\uFFFDok"},
		{"x\u0000y", "x y"},
		{strings.Repeat("界", 3000), strings.Repeat("界", 3000)}, // never cut
	}
	for _, tt := range tests {
		if got := SanitizeText(tt.in); got != tt.want {
			t.Errorf("SanitizeText(%.20q) = %.20q, want %.20q", tt.in, got, tt.want)
		}
	}
}

func TestExcerpt(t *testing.T) {
	tests := []struct {
		in   string
		max  int
		want string
	}{
		{"  a \n\t b  ", 10, "a b"},
		{"abcdef", 4, "abc…"},
		{"abcd", 4, "abcd"},
		{"界界界界界", 3, "界界…"},
		{"anything", 0, ""},
	}
	for _, tt := range tests {
		if got := Excerpt(tt.in, tt.max); got != tt.want {
			t.Errorf("Excerpt(%q, %d) = %q, want %q", tt.in, tt.max, got, tt.want)
		}
	}
	if n := utf8.RuneCountInString(Excerpt(strings.Repeat("界", 3000), MaxQuotedRunes)); n != MaxQuotedRunes {
		t.Errorf("long text has %d runes", n)
	}
}

func TestDecodeJSONObject(t *testing.T) {
	var v struct{ A int }
	for body, wantErr := range map[string]bool{
		`{"A":1}`: false, ` {"A":1} `: false, `<html>`: true, `[]`: true, `null`: true, ``: true, `{"A":`: true, `{"A":"x"}`: true,
	} {
		err := DecodeJSONObject([]byte(body), &v)
		if (err != nil) != wantErr {
			t.Errorf("%q: err = %v", body, err)
		}
		if err != nil && KindOf(err) != KindTransient {
			t.Errorf("%q: kind %v, want Transient", body, KindOf(err))
		}
	}
}

func TestJoinDistinct(t *testing.T) {
	if got := JoinDistinct("; ", " a ", "", "b", "a", "  ", "b ", "c"); got != "a; b; c" {
		t.Errorf("got %q", got)
	}
	if got := JoinDistinct("; "); got != "" {
		t.Errorf("got %q", got)
	}
}

func TestNewOperation(t *testing.T) {
	tab := StatusTable{"Running": PhaseRunning}
	tests := []struct {
		word, wantStatus string
		want             Phase
		unknown          []string
	}{
		{word: " Running\n", wantStatus: "Running", want: PhaseRunning},
		{word: "Exploded\x00", wantStatus: "Exploded", want: PhaseUnknown, unknown: []string{"Exploded"}},
		{word: "", want: PhaseUnknown, unknown: []string{"(missing)"}},
	}
	for _, tt := range tests {
		op := tab.NewOperation(tt.word)
		if op.ServiceStatus != tt.wantStatus || op.Phase != tt.want || strings.Join(op.UnknownStatuses, ",") != strings.Join(tt.unknown, ",") {
			t.Errorf("NewOperation(%q) = %q %v %q, want %q %v %q", tt.word, op.ServiceStatus, op.Phase, op.UnknownStatuses, tt.wantStatus, tt.want, tt.unknown)
		}
	}
}
