package controller

import (
	"reflect"
	"testing"

	opsv1 "github.com/cloudop/cloudop/api/v1alpha1"
)

func TestTransitionEvents(t *testing.T) {
	step := func(name string, p opsv1.Phase) opsv1.OperationStep {
		return opsv1.OperationStep{StepStatus: opsv1.StepStatus{Name: name, Phase: p}}
	}
	cases := []struct {
		name    string
		prev    opsv1.CloudOperationStatus
		next    opsv1.CloudOperationStatus
		unknown []string
		want    []string
	}{
		{name: "nothing changed",
			prev: opsv1.CloudOperationStatus{Phase: opsv1.PhaseRunning, Steps: []opsv1.OperationStep{step("a", opsv1.PhaseRunning)}},
			next: opsv1.CloudOperationStatus{Phase: opsv1.PhaseRunning, Steps: []opsv1.OperationStep{step("a", opsv1.PhaseRunning)}}},
		{name: "first observation",
			next: opsv1.CloudOperationStatus{Phase: opsv1.PhaseRunning, ServiceStatus: "processing", Steps: []opsv1.OperationStep{step("a", opsv1.PhaseSucceeded), step("b", opsv1.PhasePending)}},
			want: []string{`Normal PhaseChanged phase new → Running (service status "processing")`, `Normal StepChanged step "a" is Succeeded`}},
		{name: "two steps move in one poll: one event",
			prev: opsv1.CloudOperationStatus{Phase: opsv1.PhaseRunning, Steps: []opsv1.OperationStep{step("a", opsv1.PhaseRunning), step("b", opsv1.PhasePending)}},
			next: opsv1.CloudOperationStatus{Phase: opsv1.PhaseRunning, Steps: []opsv1.OperationStep{step("a", opsv1.PhaseSucceeded), step("b", opsv1.PhaseRunning)}},
			want: []string{`Normal StepChanged step "a" is Succeeded; step "b" is Running`}},
		{name: "step moves",
			prev: opsv1.CloudOperationStatus{Phase: opsv1.PhaseRunning, Steps: []opsv1.OperationStep{step("a", opsv1.PhaseRunning)}},
			next: opsv1.CloudOperationStatus{Phase: opsv1.PhaseRunning, Steps: []opsv1.OperationStep{step("a", opsv1.PhaseSucceeded)}},
			want: []string{`Normal StepChanged step "a" is Succeeded`}},
		{name: "failure is a warning",
			prev: opsv1.CloudOperationStatus{Phase: opsv1.PhaseRunning, Steps: []opsv1.OperationStep{step("a", opsv1.PhaseRunning)}},
			next: opsv1.CloudOperationStatus{Phase: opsv1.PhaseFailed, Steps: []opsv1.OperationStep{step("a", opsv1.PhaseFailed)}},
			want: []string{`Warning PhaseChanged phase Running → Failed`, `Warning StepChanged step "a" is Failed`}},
		{name: "unknown word warned when it appears",
			prev:    opsv1.CloudOperationStatus{Phase: opsv1.PhaseRunning, ServiceStatus: "processing"},
			next:    opsv1.CloudOperationStatus{Phase: opsv1.PhaseUnknown, ServiceStatus: "paused"},
			unknown: []string{"paused"},
			want:    []string{`Warning PhaseChanged phase Running → Unknown (service status "paused")`, `Warning UnknownStatus service reported status words cloudop does not know: ["paused"]`}},
		{name: "unknown word not repeated",
			prev:    opsv1.CloudOperationStatus{Phase: opsv1.PhaseUnknown, ServiceStatus: "paused"},
			next:    opsv1.CloudOperationStatus{Phase: opsv1.PhaseUnknown, ServiceStatus: "paused"},
			unknown: []string{"paused"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var got []string
			for _, e := range transitionEvents(&tc.prev, &tc.next, tc.unknown) {
				got = append(got, e.eventType+" "+e.reason+" "+e.note)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("events:\n got %q\nwant %q", got, tc.want)
			}
		})
	}
}
