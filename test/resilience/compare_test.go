package resilience

import (
	"fmt"
	"time"
)

// killWindow is how soon after a status write a kill must land to explain
// a missing event: the controller records events after the status patch,
// asynchronously, so a SIGKILL in between loses them.
const killWindow = 2 * time.Second

// eventCheck compares one object's PhaseChanged events with the phase
// changes of its status history.
type eventCheck struct {
	// Problems are failures: duplicated or reordered events, and missing
	// events no kill explains.
	Problems []string
	// Lost are missing events that a kill within killWindow after the
	// status write explains (logged, counted, documented).
	Lost []string
	// Exposed counts status transitions with a kill within killWindow
	// after them: the ones that could lose their event.
	Exposed int
}

// checkEvents compares the events got with the status transitions want.
// kills are the instants processes were killed (or died).
func checkEvents(want, got []transition, kills []time.Time) eventCheck {
	var c eventCheck
	killAfter := func(at time.Time) (time.Duration, bool) {
		for _, k := range kills {
			if d := k.Sub(at); d >= -100*time.Millisecond && d <= killWindow {
				return d, true
			}
		}
		return 0, false
	}
	for _, tr := range want {
		if _, ok := killAfter(tr.At); ok {
			c.Exposed++
		}
	}
	// Walk both lists in order: every event must match the next status
	// transition; a status transition without its event is lost.
	i := 0
	for _, ev := range got {
		for i < len(want) && (want[i].From != ev.From || want[i].To != ev.To) {
			c.missing(want[i], killAfter)
			i++
		}
		if i == len(want) {
			c.Problems = append(c.Problems, fmt.Sprintf("event %s matches no remaining status transition (duplicate or out of order); events %s, status went %s",
				ev, formatTransitions(got), formatTransitions(want)))
			return c
		}
		i++
	}
	for ; i < len(want); i++ {
		c.missing(want[i], killAfter)
	}
	return c
}

func (c *eventCheck) missing(tr transition, killAfter func(time.Time) (time.Duration, bool)) {
	if d, ok := killAfter(tr.At); ok {
		c.Lost = append(c.Lost, fmt.Sprintf("%s (status written at %s, killed %v later)", tr, tr.At.Format("15:04:05.000"), d.Round(time.Millisecond)))
		return
	}
	c.Problems = append(c.Problems, fmt.Sprintf("no PhaseChanged event for %s (status written at %s) and no kill explains it", tr, tr.At.Format("15:04:05.000")))
}
