package cloud

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Text copied from an answer into an Operation is sanitized here but not
// cut: the controller cuts status fields to the CRD's limits, the one place
// they are known. Text quoted in errors and events is cut here, since
// nothing downstream bounds a log line.
const (
	// MaxQuotedRunes bounds a value (an ID, a URL) quoted in an error.
	MaxQuotedRunes = 256
	// maxUnknownWordRunes and maxUnknownStatuses bound the unknown status
	// words an Operation carries to a warning event.
	maxUnknownWordRunes = 128
	maxUnknownStatuses  = 16
	missingStatusMarker = "(missing)"
)

// StatusTable maps a service's status words to phases. Lookups ignore case
// and surrounding spaces because services are inconsistent about both
// (CCE says "Success", DWS "SUCCESS").
type StatusTable map[string]Phase

// Lookup returns the phase for word and whether the table knows it.
func (t StatusTable) Lookup(word string) (Phase, bool) {
	key := strings.TrimSpace(word)
	if p, ok := t[key]; ok {
		return p, true
	}
	for k, p := range t {
		if strings.EqualFold(k, key) {
			return p, true
		}
	}
	return PhaseUnknown, false
}

// NewOperation starts an Operation from the service's own status word for
// it: the word, sanitized, as ServiceStatus and its phase by the table.
func (t StatusTable) NewOperation(word string) *Operation {
	op := &Operation{ServiceStatus: SanitizeText(word)}
	op.Phase = t.MapOperationStatus(op, word)
	return op
}

// MapOperationStatus maps the operation's own status word. An empty or
// unknown word gives PhaseUnknown and is recorded in op.UnknownStatuses
// (an empty word as "(missing)") so the controller can warn about it.
func (t StatusTable) MapOperationStatus(op *Operation, word string) Phase {
	if strings.TrimSpace(word) == "" {
		op.AddUnknownStatus(missingStatusMarker)
		return PhaseUnknown
	}
	p, ok := t.Lookup(word)
	if !ok {
		op.AddUnknownStatus(word)
	}
	return p
}

// MapStepStatus maps a step's status word. An empty word means the step
// has not started (every service here leaves it empty until then), so it
// is Pending; an unknown word is Unknown and recorded in op.
func (t StatusTable) MapStepStatus(op *Operation, word string) Phase {
	if strings.TrimSpace(word) == "" {
		return PhasePending
	}
	p, ok := t.Lookup(word)
	if !ok {
		op.AddUnknownStatus(word)
	}
	return p
}

// AddUnknownStatus records a status word the mapping did not recognise,
// once, bounded in length and count.
func (o *Operation) AddUnknownStatus(word string) {
	word = Excerpt(word, maxUnknownWordRunes)
	for _, w := range o.UnknownStatuses {
		if w == word {
			return
		}
	}
	if len(o.UnknownStatuses) < maxUnknownStatuses {
		o.UnknownStatuses = append(o.UnknownStatuses, word)
	}
}

// CurrentStepOf names the step a reader should look at: the first Failed
// step if any, else the first step that has not succeeded, else "" (all
// done). Steps must be in execution order.
func CurrentStepOf(steps []Step) string {
	for _, s := range steps {
		if s.Phase == PhaseFailed {
			return s.Name
		}
	}
	for _, s := range steps {
		if s.Phase != PhaseSucceeded {
			return s.Name
		}
	}
	return ""
}

// FailureMessage names the first failed step (and its first failed
// sub-step) with what it says, e.g. "Beta / Sub failed: disk full", for a
// failed operation whose own answer gives no message; "" when no step
// failed. Steps must be in execution order.
func FailureMessage(steps []Step) string {
	for _, s := range steps {
		for _, ss := range s.SubSteps {
			if ss.Phase == PhaseFailed {
				return SanitizeText(JoinNonEmpty(": ", s.Name+" / "+ss.Name+" failed", ss.Message))
			}
		}
		if s.Phase == PhaseFailed {
			return SanitizeText(JoinNonEmpty(": ", s.Name+" failed", s.Message))
		}
	}
	return ""
}

// PercentOf returns done/total as a whole percentage rounded down (so 100
// only when everything is done), or nil when total is zero.
func PercentOf(done, total int) *int32 {
	if total <= 0 {
		return nil
	}
	if done < 0 {
		done = 0
	}
	if done > total {
		done = total
	}
	p := int32(done * 100 / total)
	return &p
}

// ParsePercent reads a progress the service writes as text: "60%",
// "60% ", "45.5 %", "100.00", bounded to 0..100 with the fraction dropped.
// Anything else ("", "N/A", "NaN", "Inf") is nil: no progress known.
func ParsePercent(s string) *int32 {
	s = strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(s), "%"))
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsInf(v, 0) {
		return nil
	}
	return ClampPercent(v)
}

// ClampPercent bounds a service-reported progress to 0..100.
func ClampPercent(v float64) *int32 {
	if v != v { // NaN
		return nil
	}
	if v < 0 {
		v = 0
	}
	if v > 100 {
		v = 100
	}
	p := int32(v)
	return &p
}

// SanitizeText makes service-provided text safe to show: valid UTF-8,
// control characters and runs of whitespace collapsed to one space, and
// trimmed.
func SanitizeText(s string) string {
	if s == "" {
		return ""
	}
	s = strings.ToValidUTF8(s, "\uFFFD")
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, s)
	return strings.Join(strings.Fields(s), " ")
}

// Excerpt is SanitizeText cut to maxRunes (the last one an ellipsis) when
// longer, for text quoted in errors and events.
func Excerpt(s string, maxRunes int) string {
	if maxRunes < 1 {
		return ""
	}
	s = SanitizeText(s)
	if utf8.RuneCountInString(s) > maxRunes {
		rs := []rune(s)
		s = string(rs[:maxRunes-1]) + "…"
	}
	return s
}

// JoinNonEmpty joins the non-empty parts with sep.
func JoinNonEmpty(sep string, parts ...string) string {
	kept := parts[:0:0]
	for _, p := range parts {
		if strings.TrimSpace(p) != "" {
			kept = append(kept, strings.TrimSpace(p))
		}
	}
	return strings.Join(kept, sep)
}

// JoinDistinct joins the non-empty parts with sep, each text (trimmed)
// once: services repeat an error in several fields (IMS's job error in
// addition_error_*, an RFS failure in the stack's status_message and in
// its events).
func JoinDistinct(sep string, parts ...string) string {
	kept := make([]string, 0, len(parts))
	for _, p := range parts {
		p = strings.TrimSpace(p)
		if p != "" && !slices.Contains(kept, p) {
			kept = append(kept, p)
		}
	}
	return strings.Join(kept, sep)
}

// DecodeJSONObject decodes a 200 answer into v. A body that is not a JSON
// object is a KindTransient error: a gateway or proxy answering with HTML
// or a truncated body is expected to pass.
func DecodeJSONObject(body []byte, v any) error {
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) == 0 || trimmed[0] != '{' {
		return &Error{Kind: KindTransient, Message: "response is not a JSON object"}
	}
	if err := json.Unmarshal(trimmed, v); err != nil {
		var se *json.SyntaxError
		if errors.As(err, &se) {
			return &Error{Kind: KindTransient, Message: "response is not valid JSON", Err: err}
		}
		return &Error{Kind: KindTransient, Message: "response does not have the expected shape", Err: err}
	}
	return nil
}
