package controller

import (
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	opsv1 "github.com/cloudop/cloudop/api/v1alpha1"
)

// Event reasons recorded on CloudOperations.
const (
	eventPhaseChanged = "PhaseChanged"
	eventStepChanged  = "StepChanged"
	eventUnknown      = "UnknownStatus"
)

// Event is one transition to announce as a Kubernetes event.
type Event struct {
	// Type is Normal or Warning.
	Type string
	// Reason is one of the event reasons above.
	Reason string
	// Note is the human-readable detail.
	Note string
	// Key identifies the transition: the state it started from and what it
	// announces. A transition computed again from the same committed state
	// has the same key, which is how EventWriter records it only once.
	Key string
}

// StepEvents says which step changes are announced as StepChanged events.
// It is a flag.Value; the zero value means StepEventsWarnings.
type StepEvents string

const (
	// StepEventsWarnings announces only steps that turn Failed, Cancelled
	// or Unknown, the ones a user acts on: every other step change is in
	// status.steps already, and announcing it costs an API request.
	StepEventsWarnings StepEvents = "warnings"
	// StepEventsAll announces every step change.
	StepEventsAll StepEvents = "all"
)

// String implements flag.Value.
func (s *StepEvents) String() string {
	if s == nil || *s == "" {
		return string(StepEventsWarnings)
	}
	return string(*s)
}

// Set implements flag.Value.
func (s *StepEvents) Set(v string) error {
	switch StepEvents(v) {
	case StepEventsWarnings, StepEventsAll:
		*s = StepEvents(v)
		return nil
	}
	return fmt.Errorf("%q: want %q or %q", v, StepEventsWarnings, StepEventsAll)
}

// transitionEvents lists the events for what changed between two statuses:
// phase and step transitions only, never a plain re-poll. steps says which
// step changes are announced.
func transitionEvents(prev, next *opsv1.CloudOperationStatus, unknownWords []string, steps StepEvents) []Event {
	var out []Event
	phaseChanged := next.Phase != "" && next.Phase != prev.Phase
	if phaseChanged {
		out = append(out, Event{
			Type:   eventTypeFor(next.Phase),
			Reason: eventPhaseChanged,
			Note:   phaseNote(prev.Phase, next),
			// A phase change is identified by its target phase alone: the
			// note also carries the service's word, which may change (say
			// Running to Processing, both phase Running) between an
			// announcement and the status write that a kill prevented.
			Key: string(next.Phase),
		})
	}
	// Every step change of one poll goes into one event, so a poll costs at
	// most one StepChanged write however many steps moved.
	before := stepPhases(prev.Steps)
	var changed, warnings []string
	for _, s := range next.Steps {
		old, seen := before[s.Name]
		if !seen {
			old = opsv1.PhasePending
		}
		if s.Phase == old || s.Phase == "" {
			continue
		}
		note := fmt.Sprintf("step %q is %s", s.Name, s.Phase)
		changed = append(changed, note)
		if eventTypeFor(s.Phase) == corev1.EventTypeWarning {
			warnings = append(warnings, note)
		}
	}
	// The key lists every step change whichever steps the note names, so a
	// manager restarted with the other --step-events between an
	// announcement and its status write still finds the event it made.
	stepKey := strings.Join(changed, "; ")
	switch {
	case len(warnings) > 0 && steps != StepEventsAll:
		out = append(out, Event{Type: corev1.EventTypeWarning, Reason: eventStepChanged, Note: strings.Join(warnings, "; "), Key: stepKey})
	case len(changed) > 0 && steps == StepEventsAll:
		stepEventType := corev1.EventTypeNormal
		if len(warnings) > 0 {
			stepEventType = corev1.EventTypeWarning
		}
		out = append(out, Event{Type: stepEventType, Reason: eventStepChanged, Note: stepKey, Key: stepKey})
	}
	// Unknown words are reported when they first show, not on every poll:
	// with a new service word or along with a transition, announced or not.
	if len(unknownWords) > 0 && (next.ServiceStatus != prev.ServiceStatus || phaseChanged || len(changed) > 0) {
		note := fmt.Sprintf("service reported status words cloudop does not know: %q", unknownWords)
		out = append(out, Event{Type: corev1.EventTypeWarning, Reason: eventUnknown, Note: note, Key: note})
	}
	// Once per stall: the key names the last change the deadline counts
	// from.
	if overdue(next) && !overdue(prev) {
		out = append(out, Event{
			Type: corev1.EventTypeWarning, Reason: opsv1.ReasonProgressDeadlineExceeded,
			Note: meta.FindStatusCondition(next.Conditions, opsv1.ConditionStalled).Message,
			Key:  timeString(next.LastChangeTime),
		})
	}
	if len(out) == 0 {
		// The common case, a poll with nothing new: no key to render.
		return nil
	}
	from := observedState(prev)
	for i := range out {
		out[i].Key = from + "\n" + out[i].Reason + "\n" + out[i].Key
	}
	return out
}

// stepPhases maps each top-level step's name to its phase.
func stepPhases(steps []opsv1.OperationStep) map[string]opsv1.Phase {
	out := make(map[string]opsv1.Phase, len(steps))
	for _, s := range steps {
		out[s.Name] = s.Phase
	}
	return out
}

// observedState renders what a status says about the operation itself
// (phase, progress, steps, times), leaving out conditions and messages: a
// failed poll that only changes conditions must not make a transition that
// was already announced look new.
func observedState(st *opsv1.CloudOperationStatus) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s|%s|%s|%s|%s|%s", st.Phase, st.ServiceStatus, progressString(st.Progress), st.CurrentStep, timeString(st.StartTime), timeString(st.CompletionTime))
	for _, s := range st.Steps {
		fmt.Fprintf(&b, "|%q=%s/%q", s.Name, s.Phase, s.ServiceStatus)
		for _, sub := range s.SubSteps {
			fmt.Fprintf(&b, ",%q=%s/%q", sub.Name, sub.Phase, sub.ServiceStatus)
		}
	}
	return b.String()
}

func progressString(p *int32) string {
	if p == nil {
		return "-"
	}
	return fmt.Sprint(*p)
}

func timeString(t *metav1.Time) string {
	if t == nil {
		return "-"
	}
	return t.UTC().Format(time.RFC3339)
}

func phaseNote(prev opsv1.Phase, next *opsv1.CloudOperationStatus) string {
	from := string(prev)
	if from == "" {
		from = "new"
	}
	note := fmt.Sprintf("phase %s → %s", from, next.Phase)
	if next.ServiceStatus != "" {
		note += fmt.Sprintf(" (service status %q)", next.ServiceStatus)
	}
	return note
}

func eventTypeFor(p opsv1.Phase) string {
	switch p {
	case opsv1.PhaseFailed, opsv1.PhaseCancelled, opsv1.PhaseUnknown:
		return corev1.EventTypeWarning
	}
	return corev1.EventTypeNormal
}
