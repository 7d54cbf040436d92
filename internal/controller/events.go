package controller

import (
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"

	opsv1 "github.com/cloudop/cloudop/api/v1alpha1"
)

// Event reasons recorded on CloudOperations.
const (
	eventPhaseChanged = "PhaseChanged"
	eventStepChanged  = "StepChanged"
	eventUnknown      = "UnknownStatus"
)

// event is one Kubernetes event to record.
type event struct {
	eventType string
	reason    string
	note      string
}

// transitionEvents lists the events for what changed between two statuses:
// phase and step transitions only, never a plain re-poll.
func transitionEvents(prev, next *opsv1.CloudOperationStatus, unknownWords []string) []event {
	var out []event
	if next.Phase != "" && next.Phase != prev.Phase {
		out = append(out, event{
			eventType: eventTypeFor(next.Phase),
			reason:    eventPhaseChanged,
			note:      phaseNote(prev.Phase, next),
		})
	}
	// Every step change of one poll goes into one event: the recorder folds
	// events that differ only in their note, so one event per step would
	// lose all but one of them.
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
		out = append(out, event{eventType: stepEventType, reason: eventStepChanged, note: strings.Join(changed, "; ")})
	}
	// Unknown words are reported when they first show, not on every poll.
	if len(unknownWords) > 0 && (next.ServiceStatus != prev.ServiceStatus || len(out) > 0) {
		out = append(out, event{
			eventType: corev1.EventTypeWarning,
			reason:    eventUnknown,
			note:      fmt.Sprintf("service reported status words cloudop does not know: %q", unknownWords),
		})
	}
	return out
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
