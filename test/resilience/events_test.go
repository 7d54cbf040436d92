package resilience

import (
	"context"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	eventsv1 "k8s.io/api/events/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// phaseNote matches the note of a PhaseChanged event.
var phaseNote = regexp.MustCompile(`^phase (\S+) → (\S+)`)

// phaseChange returns the transition a PhaseChanged event of a
// CloudOperation announces; ok is false for other events.
func phaseChange(e *eventsv1.Event) (tr transition, ok bool, err error) {
	if e.Regarding.Kind != "CloudOperation" || e.Reason != "PhaseChanged" {
		return transition{}, false, nil
	}
	m := phaseNote.FindStringSubmatch(e.Note)
	if m == nil {
		return transition{}, false, fmt.Errorf("unexpected PhaseChanged note %q", e.Note)
	}
	return transition{From: m[1], To: m[2], At: eventTime(e)}, true, nil
}

// listEvents returns the PhaseChanged transitions of every CloudOperation
// of ns, by object name, in the order they were recorded. cloudop's
// EventWriter never makes an event series, but an event with one counts
// once per occurrence: a recorder that folds repeats into a series (as
// client-go's do) still shows them as duplicates.
func listEvents(ctx context.Context, ns string) (map[string][]transition, error) {
	var list eventsv1.EventList
	if err := k8s.List(ctx, &list, client.InNamespace(ns)); err != nil {
		return nil, err
	}
	items := list.Items
	sort.SliceStable(items, func(i, j int) bool { return eventTime(&items[i]).Before(eventTime(&items[j])) })
	out := map[string][]transition{}
	for i := range items {
		e := &items[i]
		tr, ok, err := phaseChange(e)
		if err != nil {
			return nil, err
		}
		if !ok {
			continue
		}
		n := 1
		if e.Series != nil {
			n = int(e.Series.Count)
		}
		for range n {
			out[e.Regarding.Name] = append(out[e.Regarding.Name], tr)
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

// formatTimedTransitions is formatTransitions with each one's time.
func formatTimedTransitions(ts []transition) string {
	s := make([]string, len(ts))
	for i, tr := range ts {
		s[i] = tr.String() + " at " + tr.At.Format("15:04:05.000")
	}
	return "[" + strings.Join(s, ", ") + "]"
}

// watchEvents calls f, from its own goroutine, for every event created in
// ns from now on, until the test ends. It lists and watches again
// whenever the watch breaks, and calls f once per event.
func watchEvents(t *testing.T, ns string, f func(*eventsv1.Event)) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	// The events that exist already are not "created from now on".
	seen := map[string]bool{}
	rv, err := listEventNames(ctx, ns, seen, nil)
	if err != nil {
		cancel()
		t.Fatalf("listing events: %v", err)
	}
	go func() {
		defer close(done)
		for ctx.Err() == nil {
			if rv != "" {
				watchEventsFrom(ctx, ns, rv, seen, f)
			}
			select {
			case <-ctx.Done():
				return
			case <-time.After(200 * time.Millisecond):
			}
			rv, _ = listEventNames(ctx, ns, seen, f)
		}
	}()
	t.Cleanup(func() {
		cancel()
		<-done
	})
}

// listEventNames calls f (when not nil) for the events of ns not seen yet,
// marks them seen, and returns the list's resourceVersion.
func listEventNames(ctx context.Context, ns string, seen map[string]bool, f func(*eventsv1.Event)) (string, error) {
	lctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	var list eventsv1.EventList
	if err := k8s.List(lctx, &list, client.InNamespace(ns)); err != nil {
		return "", err
	}
	for i := range list.Items {
		e := &list.Items[i]
		if !seen[e.Name] {
			seen[e.Name] = true
			if f != nil {
				f(e)
			}
		}
	}
	return list.ResourceVersion, nil
}

// watchEventsFrom calls f for the events created after rv, until the watch
// ends.
func watchEventsFrom(ctx context.Context, ns, rv string, seen map[string]bool, f func(*eventsv1.Event)) {
	watchFrom(ctx, &eventsv1.EventList{}, ns, rv, func(o runtime.Object) {
		if e, ok := o.(*eventsv1.Event); ok && !seen[e.Name] {
			seen[e.Name] = true
			f(e)
		}
	})
}
