package cloudsim

import (
	"strings"
	"testing"
	"time"
)

// threeSteps is A[a1], B[b1 b2], C[c1], 10s per sub-step: 40s in all.
var threeSteps = []StepSpec{
	{Name: "A"},
	{Name: "B", SubSteps: []StepSpec{{Name: "b1"}, {Name: "b2"}}},
	{Name: "C"},
}

// states renders step states compactly: "S R W" = Succeeded, Running,
// Waiting; F Failed, X Cancelled, B RollingBack, Z RollbackFailed, U
// Unknown; sub-steps of B in brackets.
func states(sn snapshot) string {
	letter := map[State]string{StateWaiting: "W", StateRunning: "R", StateSucceeded: "S", StateFailed: "F",
		StateCancelled: "X", StateRollingBack: "B", StateRollbackFailed: "Z", StateUnknown: "U"}
	var parts []string
	for _, st := range sn.steps {
		p := letter[st.state]
		if len(st.subs) > 1 {
			p += "["
			for _, ss := range st.subs {
				p += letter[ss.state]
			}
			p += "]"
		}
		parts = append(parts, p)
	}
	return strings.Join(parts, " ")
}

func TestScenarioTimeline(t *testing.T) {
	s := time.Second
	after := func(d time.Duration) *Duration { return &Duration{d} }
	type point struct {
		at        time.Duration
		state     State
		steps     string
		progress  int // percent, -1 to skip
		remaining time.Duration
	}
	tests := []struct {
		name   string
		kind   ScenarioKind
		params Params
		points []point
	}{
		{"success", ScenarioSuccess, Params{}, []point{
			{0, StateRunning, "R W[WW] W", 0, 40 * s},
			{5 * s, StateRunning, "R W[WW] W", 12, 35 * s},
			{10 * s, StateRunning, "S R[RW] W", 25, 30 * s},
			{25 * s, StateRunning, "S R[SR] W", 62, 15 * s},
			{40 * s, StateSucceeded, "S S[SS] S", 100, 0},
			{time.Hour, StateSucceeded, "S S[SS] S", 100, 0},
		}},
		{"success after waiting", ScenarioSuccess, Params{Wait: D(30 * s)}, []point{
			{10 * s, StateWaiting, "W W[WW] W", 0, 60 * s},
			{30 * s, StateRunning, "R W[WW] W", 0, 40 * s},
			{70 * s, StateSucceeded, "S S[SS] S", 100, 0},
		}},
		{"fail at the end of B's last sub-step", ScenarioFail, Params{}, []point{
			{29 * s, StateRunning, "S R[SR] W", 72, 11 * s},
			{30 * s, StateFailed, "S F[SF] W", 75, -1},
			{time.Hour, StateFailed, "S F[SF] W", 75, -1},
		}},
		{"fail in step 1 after 2s", ScenarioFail, Params{Step: 1, After: after(2 * s)}, []point{
			{1 * s, StateRunning, "R W[WW] W", 2, 39 * s},
			{2 * s, StateFailed, "F W[WW] W", 5, -1},
		}},
		{"fail in a chosen sub-step", ScenarioFail, Params{Step: 2, SubStep: 1, After: after(0)}, []point{
			{10 * s, StateFailed, "S F[FW] W", 25, -1},
		}},
		{"resume", ScenarioResume, Params{ResumeAfter: D(60 * s)}, []point{
			{30 * s, StateFailed, "S F[SF] W", 75, -1},
			{89 * s, StateFailed, "S F[SF] W", 75, -1},
			{90 * s, StateRunning, "S R[SR] W", 50, 20 * s},
			{100 * s, StateRunning, "S S[SS] R", 75, 10 * s},
			{110 * s, StateSucceeded, "S S[SS] S", 100, 0},
		}},
		{"cancel half-way through B's first sub-step", ScenarioCancel, Params{}, []point{
			{14 * s, StateRunning, "S R[RW] W", 35, 26 * s},
			{15 * s, StateCancelled, "S X[XW] W", 37, -1},
		}},
		{"cancel with rollback", ScenarioCancel, Params{Rollback: D(20 * s)}, []point{
			{15 * s, StateRollingBack, "S B[BW] W", 37, -1},
			{34 * s, StateRollingBack, "S B[BW] W", 37, -1},
			{35 * s, StateCancelled, "S X[XW] W", 37, -1},
		}},
		{"cancel with failed rollback", ScenarioCancel, Params{Rollback: D(5 * s), RollbackFails: true}, []point{
			{20 * s, StateRollbackFailed, "S Z[ZW] W", 37, -1},
		}},
		{"never", ScenarioNever, Params{}, []point{
			{10 * s, StateRunning, "S R[RW] W", 25, -1},
			{15 * s, StateRunning, "S R[RW] W", 37, -1},
			{time.Hour, StateRunning, "S R[RW] W", 49, -1},
		}},
		{"unknown status", ScenarioUnknownStatus, Params{After: after(5 * s)}, []point{
			{14 * s, StateRunning, "S R[RW] W", 35, 26 * s},
			{15 * s, StateUnknown, "S U[UW] W", 37, -1},
			{time.Hour, StateUnknown, "S U[UW] W", 37, -1},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			spec := OperationSpec{Service: BCS, ID: "x", ProjectID: "p", Scenario: tt.kind, Params: tt.params, Steps: threeSteps}
			if err := spec.validate(); err != nil {
				t.Fatal(err)
			}
			pl := compilePlan(spec, 10*time.Second)
			for _, p := range tt.points {
				sn := pl.eval(p.at)
				got := states(sn)
				if sn.state != p.state || got != p.steps {
					t.Errorf("at %s: state %s steps %q, want %s %q", p.at, sn.state, got, p.state, p.steps)
				}
				if pct := int(sn.progress * 100); p.progress >= 0 && pct != p.progress {
					t.Errorf("at %s: progress %d%%, want %d%%", p.at, pct, p.progress)
				}
				if sn.remaining != p.remaining {
					t.Errorf("at %s: remaining %s, want %s", p.at, sn.remaining, p.remaining)
				}
			}
		})
	}
}

func TestScenarioDefaults(t *testing.T) {
	tests := []struct {
		spec      OperationSpec
		focus     string
		firstStep string
		nsteps    int
		word      string
	}{
		{OperationSpec{Service: CCE, Scenario: ScenarioFail}, "Cluster", "PreCheck", 4, "Paused"},
		{OperationSpec{Service: BCS, Scenario: ScenarioFail}, "Create Other Dependent Resource", "Preparation", 3, "paused"},
		{OperationSpec{Service: AOS, Scenario: ScenarioCancel}, "hello-component", "hello-app", 3, "Paused"},
		{OperationSpec{Service: DWS, ID: "SNAPSHOTTING", Scenario: ScenarioFail}, "Create snapshot", "Create snapshot", 1, "PAUSED"},
		{OperationSpec{Service: DWS, ID: "RESTORING", Scenario: ScenarioFail}, "Restore", "Prepare", 2, "PAUSED"},
		{OperationSpec{Service: DWS, ID: "GROWING"}, "Scale out", "Prepare", 2, "PAUSED"},
		{OperationSpec{Service: DWS, ID: "OTHER_ACTION"}, "Execute", "Execute", 1, "PAUSED"},
		{OperationSpec{Service: CCE, Scenario: ScenarioFail, Params: Params{Step: 99}}, "PostCheck", "PreCheck", 4, "Paused"},
	}
	for _, tt := range tests {
		pl := compilePlan(tt.spec, time.Second)
		if got := pl.steps[pl.focusStep].name; got != tt.focus {
			t.Errorf("%s %s: focus %q, want %q", tt.spec.Service, tt.spec.ID, got, tt.focus)
		}
		if pl.steps[0].name != tt.firstStep || len(pl.steps) != tt.nsteps || pl.word != tt.word {
			t.Errorf("%s %s: steps %v word %q", tt.spec.Service, tt.spec.ID, pl.steps, pl.word)
		}
	}
}

func TestClockSpeedChangesKeepProgress(t *testing.T) {
	c := newSimClock(t0, 1)
	c.set(t0.Add(10*time.Second), 60, 0) // 10 simulated seconds so far
	if got := c.simAt(t0.Add(11 * time.Second)); !got.Equal(t0.Add(70 * time.Second)) {
		t.Fatalf("simAt = %s, want t0+70s", got.Sub(t0))
	}
	// Past events map back to the real instant they happened at.
	if got := c.realAt(t0.Add(70 * time.Second)); !got.Equal(t0.Add(11 * time.Second)) {
		t.Errorf("realAt(t0+70s) = t0+%s, want t0+11s", got.Sub(t0))
	}
	if got := c.realAt(t0.Add(5 * time.Second)); !got.Equal(t0.Add(5 * time.Second)) {
		t.Errorf("realAt(t0+5s) = t0+%s", got.Sub(t0))
	}
	c.set(t0.Add(11*time.Second), 60, time.Hour) // jump
	if got := c.simAt(t0.Add(11 * time.Second)); !got.Equal(t0.Add(time.Hour + 70*time.Second)) {
		t.Errorf("after jump simAt = t0+%s", got.Sub(t0))
	}
	if got := c.realAt(t0.Add(30 * time.Minute)); !got.Equal(t0.Add(11 * time.Second)) {
		t.Errorf("an instant skipped by the jump maps to the jump, got t0+%s", got.Sub(t0))
	}
	c.set(t0.Add(12*time.Second), 0, 0) // pause
	if a, b := c.simAt(t0.Add(12*time.Second)), c.simAt(t0.Add(time.Hour)); !a.Equal(b) {
		t.Errorf("paused clock moved from %s to %s", a, b)
	}
}
