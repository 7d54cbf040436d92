package controller

import (
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
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

// transitionEvents lists the events for what changed between two statuses:
// phase and step transitions only, never a plain re-poll.
func transitionEvents(prev, next *opsv1.CloudOperationStatus, unknownWords []string) []Event {
	var out []Event
	if next.Phase != "" && next.Phase != prev.Phase {
		out = append(out, Event{
			Type:   eventTypeFor(next.Phase),
			Reason: eventPhaseChanged,
			Note:   phaseNote(prev.Phase, next),
		})
	}
	// Every step change of one poll goes into one event, so a poll costs at
	// most one StepChanged write however many steps moved.
	before := make(map[string]opsv1.Phase, len(prev.Steps))
	for _, s := range prev.Steps {
		before[s.Name] = s.Phase
	}
	var changed []string
	stepEventType := corev1.EventTypeNormal
	for _, s := range next.Steps {
		old, seen := before[s.Name]
		if !seen {
			old = opsv1.PhasePending
		}
		if s.Phase == old || s.Phase == "" {
			continue
		}
		changed = append(changed, fmt.Sprintf("step %q is %s", s.Name, s.Phase))
		if eventTypeFor(s.Phase) == corev1.EventTypeWarning {
			stepEventType = corev1.EventTypeWarning
		}
	}
	if len(changed) > 0 {
		out = append(out, Event{Type: stepEventType, Reason: eventStepChanged, Note: strings.Join(changed, "; ")})
	}
	// Unknown words are reported when they first show, not on every poll.
	if len(unknownWords) > 0 && (next.ServiceStatus != prev.ServiceStatus || len(out) > 0) {
		out = append(out, Event{
			Type:   corev1.EventTypeWarning,
			Reason: eventUnknown,
			Note:   fmt.Sprintf("service reported status words cloudop does not know: %q", unknownWords),
		})
	}
	if len(out) == 0 {
		// The common case, a poll with nothing new: no key to render.
		return nil
	}
	from := observedState(prev)
	for i := range out {
		// A phase change is identified by its target phase alone: the note
		// also carries the service's word, which may change (say Running to
		// Processing, both phase Running) between an announcement and the
		// status write that a kill prevented.
		what := out[i].Note
		if out[i].Reason == eventPhaseChanged {
			what = string(next.Phase)
		}
		out[i].Key = from + "\n" + out[i].Reason + "\n" + what
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
