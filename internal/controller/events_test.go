package controller

import (
	"testing"

	. "github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	opsv1 "github.com/cloudop/cloudop/api/v1alpha1"
)

// TestTransitionEvents: phase changes are always announced; step changes
// only when a step fails (or is cancelled or unknown), unless every step
// change is asked for.
func TestTransitionEvents(t *testing.T) {
	step := func(name string, p opsv1.Phase) opsv1.OperationStep {
		return opsv1.OperationStep{StepStatus: opsv1.StepStatus{Name: name, Phase: p}}
	}
	cases := []struct {
		name    string
		prev    opsv1.CloudOperationStatus
		next    opsv1.CloudOperationStatus
		unknown []string
		// warnings and all are the events expected with each --step-events.
		warnings, all []string
	}{
		{name: "nothing changed",
			prev: opsv1.CloudOperationStatus{Phase: opsv1.PhaseRunning, Steps: []opsv1.OperationStep{step("a", opsv1.PhaseRunning)}},
			next: opsv1.CloudOperationStatus{Phase: opsv1.PhaseRunning, Steps: []opsv1.OperationStep{step("a", opsv1.PhaseRunning)}}},
		{name: "first observation",
			next:     opsv1.CloudOperationStatus{Phase: opsv1.PhaseRunning, ServiceStatus: "processing", Steps: []opsv1.OperationStep{step("a", opsv1.PhaseSucceeded), step("b", opsv1.PhasePending)}},
			warnings: []string{`Normal PhaseChanged phase new → Running (service status "processing")`},
			all:      []string{`Normal PhaseChanged phase new → Running (service status "processing")`, `Normal StepChanged step "a" is Succeeded`}},
		{name: "two steps move in one poll: one event",
			prev: opsv1.CloudOperationStatus{Phase: opsv1.PhaseRunning, Steps: []opsv1.OperationStep{step("a", opsv1.PhaseRunning), step("b", opsv1.PhasePending)}},
			next: opsv1.CloudOperationStatus{Phase: opsv1.PhaseRunning, Steps: []opsv1.OperationStep{step("a", opsv1.PhaseSucceeded), step("b", opsv1.PhaseRunning)}},
			all:  []string{`Normal StepChanged step "a" is Succeeded; step "b" is Running`}},
		{name: "step moves",
			prev: opsv1.CloudOperationStatus{Phase: opsv1.PhaseRunning, Steps: []opsv1.OperationStep{step("a", opsv1.PhaseRunning)}},
			next: opsv1.CloudOperationStatus{Phase: opsv1.PhaseRunning, Steps: []opsv1.OperationStep{step("a", opsv1.PhaseSucceeded)}},
			all:  []string{`Normal StepChanged step "a" is Succeeded`}},
		{name: "failure is a warning",
			prev:     opsv1.CloudOperationStatus{Phase: opsv1.PhaseRunning, Steps: []opsv1.OperationStep{step("a", opsv1.PhaseRunning)}},
			next:     opsv1.CloudOperationStatus{Phase: opsv1.PhaseFailed, Steps: []opsv1.OperationStep{step("a", opsv1.PhaseFailed)}},
			warnings: []string{`Warning PhaseChanged phase Running → Failed`, `Warning StepChanged step "a" is Failed`},
			all:      []string{`Warning PhaseChanged phase Running → Failed`, `Warning StepChanged step "a" is Failed`}},
		{name: "a step fails while another moves on: the warning names the failed one",
			prev:     opsv1.CloudOperationStatus{Phase: opsv1.PhaseRunning, Steps: []opsv1.OperationStep{step("a", opsv1.PhaseRunning), step("b", opsv1.PhaseRunning)}},
			next:     opsv1.CloudOperationStatus{Phase: opsv1.PhaseRunning, Steps: []opsv1.OperationStep{step("a", opsv1.PhaseSucceeded), step("b", opsv1.PhaseCancelled)}},
			warnings: []string{`Warning StepChanged step "b" is Cancelled`},
			all:      []string{`Warning StepChanged step "a" is Succeeded; step "b" is Cancelled`}},
		{name: "unknown word warned when it appears",
			prev:     opsv1.CloudOperationStatus{Phase: opsv1.PhaseRunning, ServiceStatus: "processing"},
			next:     opsv1.CloudOperationStatus{Phase: opsv1.PhaseUnknown, ServiceStatus: "paused"},
			unknown:  []string{"paused"},
			warnings: []string{`Warning PhaseChanged phase Running → Unknown (service status "paused")`, `Warning UnknownStatus service reported status words cloudop does not know: ["paused"]`},
			all:      []string{`Warning PhaseChanged phase Running → Unknown (service status "paused")`, `Warning UnknownStatus service reported status words cloudop does not know: ["paused"]`}},
		{name: "unknown word warned with a step change that is not announced",
			prev:     opsv1.CloudOperationStatus{Phase: opsv1.PhaseRunning, ServiceStatus: "paused", Steps: []opsv1.OperationStep{step("a", opsv1.PhaseRunning)}},
			next:     opsv1.CloudOperationStatus{Phase: opsv1.PhaseRunning, ServiceStatus: "paused", Steps: []opsv1.OperationStep{step("a", opsv1.PhaseSucceeded)}},
			unknown:  []string{"resting"},
			warnings: []string{`Warning UnknownStatus service reported status words cloudop does not know: ["resting"]`},
			all:      []string{`Normal StepChanged step "a" is Succeeded`, `Warning UnknownStatus service reported status words cloudop does not know: ["resting"]`}},
		{name: "unknown word not repeated",
			prev:    opsv1.CloudOperationStatus{Phase: opsv1.PhaseUnknown, ServiceStatus: "paused"},
			next:    opsv1.CloudOperationStatus{Phase: opsv1.PhaseUnknown, ServiceStatus: "paused"},
			unknown: []string{"paused"}},
	}
	for _, tc := range cases {
		for mode, want := range map[StepEvents][]string{"": tc.warnings, StepEventsWarnings: tc.warnings, StepEventsAll: tc.all} {
			t.Run(tc.name+"/"+mode.String(), func(t *testing.T) {
				g := NewWithT(t)
				var got []string
				for _, e := range transitionEvents(&tc.prev, &tc.next, tc.unknown, mode) {
					got = append(got, e.Type+" "+e.Reason+" "+e.Note)
				}
				g.Expect(got).To(Equal(want), "events:\n got %q\nwant %q", got, want)
			})
		}
	}
}

// TestStepEventKeysIgnoreMode: a step failure announced in one mode has the
// same key in the other, so a manager restarted with another --step-events
// between announcement and status write does not announce it twice.
func TestStepEventKeysIgnoreMode(t *testing.T) {
	g := NewWithT(t)
	step := func(name string, p opsv1.Phase) opsv1.OperationStep {
		return opsv1.OperationStep{StepStatus: opsv1.StepStatus{Name: name, Phase: p}}
	}
	prev := opsv1.CloudOperationStatus{Phase: opsv1.PhaseRunning, Steps: []opsv1.OperationStep{step("a", opsv1.PhaseRunning), step("b", opsv1.PhaseRunning)}}
	next := opsv1.CloudOperationStatus{Phase: opsv1.PhaseRunning, Steps: []opsv1.OperationStep{step("a", opsv1.PhaseSucceeded), step("b", opsv1.PhaseFailed)}}
	warnings, all := transitionEvents(&prev, &next, nil, StepEventsWarnings), transitionEvents(&prev, &next, nil, StepEventsAll)
	g.Expect(warnings).To(HaveLen(1))
	g.Expect(all).To(HaveLen(1))
	g.Expect(warnings[0].Note).NotTo(Equal(all[0].Note))
	g.Expect(warnings[0].Key).To(Equal(all[0].Key))
}

func TestStepEventsFlag(t *testing.T) {
	g := NewWithT(t)
	var s StepEvents
	g.Expect(s.String()).To(Equal("warnings"), "zero value")
	g.Expect(s.Set("all")).To(Succeed())
	g.Expect(s).To(Equal(StepEventsAll))
	g.Expect(s.Set("warnings")).To(Succeed())
	g.Expect(s).To(Equal(StepEventsWarnings))
	g.Expect(s.Set("none")).To(MatchError(ContainSubstring(`"none": want "warnings" or "all"`)))
	g.Expect(s).To(Equal(StepEventsWarnings), "a refused value changed the setting")
}

func TestTransitionKeys(t *testing.T) {
	g := NewWithT(t)
	running := opsv1.CloudOperationStatus{Phase: opsv1.PhaseRunning, ServiceStatus: "processing", Progress: int32p(40)}
	succeeded := opsv1.CloudOperationStatus{Phase: opsv1.PhaseSucceeded, ServiceStatus: "success", Progress: int32p(100)}
	key := func(prev opsv1.CloudOperationStatus) string {
		events := transitionEvents(&prev, &succeeded, nil, StepEventsAll)
		g.Expect(events).To(HaveLen(1), "want one event")
		return events[0].Key
	}
	withError := *running.DeepCopy()
	withError.Message = "connection reset"
	withError.Conditions = []metav1.Condition{{Type: opsv1.ConditionReady, Status: metav1.ConditionFalse, Reason: opsv1.ReasonTransientError}}
	moreProgress := *running.DeepCopy()
	moreProgress.Progress = int32p(90)

	g.Expect(key(*running.DeepCopy())).To(Equal(key(running)), "the same committed state gives different keys")
	g.Expect(key(withError)).To(Equal(key(running)), "a failed poll in between (conditions and message only) changed the key: the transition would be announced twice")
	otherWord := succeeded
	otherWord.ServiceStatus = "finished"
	g.Expect(transitionEvents(&running, &otherWord, nil, StepEventsAll)[0].Key).To(Equal(key(running)), "the same phase change with another service word has another key: a kill between announcement and write would announce it twice")
	g.Expect(key(moreProgress)).NotTo(Equal(key(running)), "transitions from different observed states share a key: the second would be lost")
}
