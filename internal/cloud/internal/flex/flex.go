// Package flex holds lenient JSON leaf types for decoding cloud answers.
//
// Cloud APIs drift: a number arrives as a string, a string as null, an
// array as a single value. One odd field must not fail the whole parse
// (the operation would stop being observed), so these types accept what
// they can and fall back to "unset" instead of returning an error.
package flex

import (
	"bytes"
	"encoding/json"
	"math"
	"strconv"
	"strings"
)

// String decodes a JSON string; numbers and booleans become their literal
// text, and null, objects and arrays become "".
type String string

// UnmarshalJSON implements json.Unmarshaler and never fails.
func (s *String) UnmarshalJSON(data []byte) error {
	*s = String(text(data))
	return nil
}

// Ptr returns nil for an empty string, else a pointer to it.
func (s String) Ptr() *string {
	if s == "" {
		return nil
	}
	v := string(s)
	return &v
}

func text(data []byte) string {
	data = bytes.TrimSpace(data)
	if len(data) == 0 {
		return ""
	}
	switch data[0] {
	case '"':
		var v string
		if json.Unmarshal(data, &v) == nil {
			return v
		}
		return ""
	case 'n', '{', '[':
		return ""
	default:
		// Numbers and booleans: keep the literal as the service wrote it.
		return string(data)
	}
}

// Int decodes an integer given as a JSON number (integral or not) or as a
// string holding one. Anything else, and values outside int64, leave it
// unset (Valid false).
type Int struct {
	Value int64
	Valid bool
}

// UnmarshalJSON implements json.Unmarshaler and never fails.
func (i *Int) UnmarshalJSON(data []byte) error {
	*i = Int{}
	s := strings.TrimSpace(text(data))
	if s == "" || s == "true" || s == "false" {
		return nil
	}
	if v, err := strconv.ParseInt(s, 10, 64); err == nil {
		*i = Int{Value: v, Valid: true}
		return nil
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) || f >= math.MaxInt64 || f <= math.MinInt64 {
		return nil
	}
	*i = Int{Value: int64(f), Valid: true}
	return nil
}

// Strings decodes an array of strings; a lone string becomes a one-element
// slice, null and other shapes become nil, and non-string elements are
// converted as String does (empty ones dropped).
type Strings []string

// UnmarshalJSON implements json.Unmarshaler and never fails.
func (s *Strings) UnmarshalJSON(data []byte) error {
	*s = nil
	data = bytes.TrimSpace(data)
	if len(data) == 0 {
		return nil
	}
	switch data[0] {
	case '"':
		if v := text(data); v != "" {
			*s = Strings{v}
		}
	case '[':
		var raw []json.RawMessage
		if json.Unmarshal(data, &raw) != nil {
			return nil
		}
		for _, r := range raw {
			if v := text(r); v != "" {
				*s = append(*s, v)
			}
		}
	}
	return nil
}

// List decodes a JSON array of T, skipping elements that do not decode
// and treating any non-array value as empty.
type List[T any] []T

// UnmarshalJSON implements json.Unmarshaler and never fails.
func (l *List[T]) UnmarshalJSON(data []byte) error {
	*l = nil
	var raw []json.RawMessage
	if json.Unmarshal(data, &raw) != nil {
		return nil
	}
	for _, r := range raw {
		var v T
		if isNull(r) || json.Unmarshal(r, &v) != nil {
			continue
		}
		*l = append(*l, v)
	}
	return nil
}

// Map decodes a JSON object of T values, skipping values that do not
// decode and treating any non-object value as empty.
type Map[T any] map[string]T

// UnmarshalJSON implements json.Unmarshaler and never fails.
func (m *Map[T]) UnmarshalJSON(data []byte) error {
	*m = nil
	var raw map[string]json.RawMessage
	if json.Unmarshal(data, &raw) != nil || raw == nil {
		return nil
	}
	out := make(Map[T], len(raw))
	for k, r := range raw {
		var v T
		if isNull(r) || json.Unmarshal(r, &v) != nil {
			continue
		}
		out[k] = v
	}
	*m = out
	return nil
}

// Object decodes data into *v when it is a JSON object that decodes as T,
// else sets *v to T's zero value; it never fails. It serves the
// UnmarshalJSON methods of nested objects whose shape varies (a job's
// entities differ by job type), which call it with their plain type:
//
//	func (e *entities) UnmarshalJSON(data []byte) error {
//		type plain entities
//		return flex.Object(data, (*plain)(e))
//	}
func Object[T any](data []byte, v *T) error {
	var p T
	if d := bytes.TrimSpace(data); len(d) == 0 || d[0] != '{' || json.Unmarshal(d, &p) != nil {
		p = *new(T)
	}
	*v = p
	return nil
}

func isNull(data []byte) bool {
	return bytes.Equal(bytes.TrimSpace(data), []byte("null"))
}
