package resilience

import (
	"fmt"
	"strings"
	"testing"
)

// eventCheck compares one object's PhaseChanged events with the phase
// changes of its status history. There is no tolerance: the controller
// writes each event before the status it announces, under a name derived
// from the transition, so no kill, restart or retry may lose, repeat or
// reorder one.
type eventCheck struct {
	// Missing are status transitions with fewer events than occurrences.
	Missing []transition
	// Extra are events beyond the occurrences of their transition in the
	// status: a duplicate, or a change the status never made.
	Extra []transition
	// Reordered is true when the events name the right transitions, each
	// the right number of times, but in another order than the status.
	Reordered bool
}

// checkEvents compares the events got with the status transitions want.
func checkEvents(want, got []transition) eventCheck {
	var c eventCheck
	if sameTransitions(want, got) {
		return c
	}
	// How often each transition occurs in the status, less in the events.
	balance := map[string]int{}
	for _, tr := range want {
		balance[tr.String()]++
	}
	for _, tr := range got {
		balance[tr.String()]--
		if balance[tr.String()] < 0 {
			c.Extra = append(c.Extra, tr)
		}
	}
	for _, tr := range want {
		if balance[tr.String()] > 0 {
			balance[tr.String()]--
			c.Missing = append(c.Missing, tr)
		}
	}
	c.Reordered = len(c.Missing) == 0 && len(c.Extra) == 0
	return c
}

// OK reports whether the events match the status exactly.
func (c eventCheck) OK() bool {
	return len(c.Missing) == 0 && len(c.Extra) == 0 && !c.Reordered
}

// problem describes what is wrong, with both histories and their times.
func (c eventCheck) problem(want, got []transition) string {
	var what []string
	if len(c.Missing) > 0 {
		what = append(what, "missing "+formatTransitions(c.Missing))
	}
	if len(c.Extra) > 0 {
		what = append(what, "extra "+formatTransitions(c.Extra))
	}
	if c.Reordered {
		what = append(what, "out of order")
	}
	return fmt.Sprintf("PhaseChanged events %s: events %s, status went %s",
		strings.Join(what, ", "), formatTimedTransitions(got), formatTimedTransitions(want))
}

// TestCheckEvents shows the comparison fails on every kind of mismatch.
func TestCheckEvents(t *testing.T) {
	running := transition{From: "new", To: "Running"}
	done := transition{From: "Running", To: "Succeeded"}
	skipped := transition{From: "new", To: "Succeeded"}
	status := []transition{running, done}
	for _, tc := range []struct {
		name           string
		events         []transition
		missing, extra int
		reordered, ok  bool
	}{
		{name: "exact", events: []transition{running, done}, ok: true},
		{name: "lost", events: []transition{running}, missing: 1},
		{name: "none", events: nil, missing: 2},
		{name: "duplicated", events: []transition{running, running, done}, extra: 1},
		{name: "reordered", events: []transition{done, running}, reordered: true},
		{name: "never written", events: []transition{skipped, done}, missing: 1, extra: 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := checkEvents(status, tc.events)
			if c.OK() != tc.ok || len(c.Missing) != tc.missing || len(c.Extra) != tc.extra || c.Reordered != tc.reordered {
				t.Errorf("got %+v (OK %v): %s", c, c.OK(), c.problem(status, tc.events))
			}
		})
	}
}
