package resilience

import (
	"context"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"time"

	eventsv1 "k8s.io/api/events/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// phaseNote matches the note of a PhaseChanged event.
var phaseNote = regexp.MustCompile(`^phase (\S+) → (\S+)`)

// objectEvents is what events.k8s.io holds about one CloudOperation.
type objectEvents struct {
	// Phases are the PhaseChanged transitions in the order they were
	// recorded, one entry per occurrence (an event whose series says it
	// happened twice appears twice).
	Phases []transition
	// Collapsed lists the other events that client-go's events.k8s.io
	// recorder turned into a series: it keys events by type, reason,
	// action and object version, not by note, so two StepChanged events
	// of one poll become one event with count 2 and the second note is
	// lost. CollapsedCount is how many notes were lost that way.
	Collapsed      []string
	CollapsedCount int
}

// listEvents returns the events of every object of ns, by object name.
func listEvents(ctx context.Context, ns string) (map[string]*objectEvents, error) {
	var list eventsv1.EventList
	if err := k8s.List(ctx, &list, client.InNamespace(ns)); err != nil {
		return nil, err
	}
	items := list.Items
	sort.SliceStable(items, func(i, j int) bool { return eventTime(&items[i]).Before(eventTime(&items[j])) })
	out := map[string]*objectEvents{}
	for i := range items {
		e := &items[i]
		if e.Regarding.Kind != "CloudOperation" {
			continue
		}
		oe := out[e.Regarding.Name]
		if oe == nil {
			oe = &objectEvents{}
			out[e.Regarding.Name] = oe
		}
		n := 1
		if e.Series != nil {
			n = int(e.Series.Count)
		}
		if e.Reason != "PhaseChanged" {
			if n > 1 {
				oe.Collapsed = append(oe.Collapsed, fmt.Sprintf("%s %q ×%d within %v", e.Reason, e.Note, n,
					e.Series.LastObservedTime.Sub(eventTime(e)).Round(time.Millisecond)))
				oe.CollapsedCount += n - 1
			}
			continue
		}
		m := phaseNote.FindStringSubmatch(e.Note)
		if m == nil {
			return nil, fmt.Errorf("unexpected PhaseChanged note %q", e.Note)
		}
		for range n {
			oe.Phases = append(oe.Phases, transition{From: m[1], To: m[2], At: eventTime(e)})
		}
	}
	return out, nil
}

func eventTime(e *eventsv1.Event) time.Time {
	if !e.EventTime.IsZero() {
		return e.EventTime.Time
	}
	return e.CreationTimestamp.Time
}

// sameTransitions reports whether two transition lists name the same
// phase changes in the same order.
func sameTransitions(a, b []transition) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].From != b[i].From || a[i].To != b[i].To {
			return false
		}
	}
	return true
}

func formatTransitions(ts []transition) string {
	s := make([]string, len(ts))
	for i, tr := range ts {
		s[i] = tr.String()
	}
	return "[" + strings.Join(s, ", ") + "]"
}

// waitForEvents waits until the PhaseChanged events of each named object
// match its status history (events are sent asynchronously, after the
// status write), or ctx ends; it returns the last events listed.
func waitForEvents(ctx context.Context, ns string, h *history, names []string) (map[string]*objectEvents, error) {
	var last map[string]*objectEvents
	for {
		evs, err := listEvents(ctx, ns)
		if err == nil {
			last = evs
			ok := true
			for _, n := range names {
				got := evs[n]
				if got == nil || !sameTransitions(got.Phases, h.phaseTransitions(n)) {
					ok = false
					break
				}
			}
			if ok {
				return evs, nil
			}
		}
		select {
		case <-ctx.Done():
			if last == nil {
				return nil, err
			}
			return last, nil
		case <-time.After(500 * time.Millisecond):
		}
	}
}
