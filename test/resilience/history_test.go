package resilience

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	"sigs.k8s.io/controller-runtime/pkg/client"

	opsv1 "github.com/cloudop/cloudop/api/v1alpha1"
)

// snapshot is one version of a CloudOperation's status, as a watch
// delivered it.
type snapshot struct {
	// At is when the test received it.
	At time.Time
	// Name is the object's name; RV its resourceVersion.
	Name, RV string
	// Phase, Step and the Ready and Stalled conditions as written.
	Phase   opsv1.Phase
	Step    string
	Ready   metav1.Condition
	Stalled *metav1.Condition
	// Object is the whole object.
	Object *opsv1.CloudOperation
}

// String shows the phase, step and conditions, for failure messages.
func (s snapshot) String() string {
	stalled := ""
	if s.Stalled != nil {
		stalled = " Stalled=" + string(s.Stalled.Status) + "/" + s.Stalled.Reason
	}
	return fmt.Sprintf("phase=%q step=%q Ready=%s/%s%s %q", s.Phase, s.Step, s.Ready.Status, s.Ready.Reason, stalled, s.Ready.Message)
}

// history records every status version of the CloudOperations of one
// namespace, from a watch that re-lists and re-watches whenever it
// breaks (for instance while the API server restarts). Each version is
// recorded once, in the order the API server wrote it.
type history struct {
	ns string

	mu      sync.Mutex
	snaps   map[string][]snapshot
	seen    map[string]bool // name/resourceVersion
	changed chan struct{}
	hooks   []func(snapshot)
	breaks  int
}

// watchNamespace starts recording ns until the test ends.
func watchNamespace(t *testing.T, ns string) *history {
	t.Helper()
	h := &history{ns: ns, snaps: map[string][]snapshot{}, seen: map[string]bool{}, changed: make(chan struct{})}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		h.run(ctx)
	}()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	return h
}

// onSnapshot calls f (from the watch goroutine, so it must be quick) for
// every snapshot recorded from now on.
func (h *history) onSnapshot(f func(snapshot)) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.hooks = append(h.hooks, f)
}

func (h *history) run(ctx context.Context) {
	for ctx.Err() == nil {
		rv, err := h.list(ctx)
		if err == nil {
			h.watch(ctx, rv)
		}
		h.mu.Lock()
		h.breaks++
		h.mu.Unlock()
		select {
		case <-ctx.Done():
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// list records the current version of every object and returns the
// list's resourceVersion to watch from.
func (h *history) list(ctx context.Context) (string, error) {
	lctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	var list opsv1.CloudOperationList
	if err := k8s.List(lctx, &list, client.InNamespace(h.ns)); err != nil {
		return "", err
	}
	for i := range list.Items {
		h.record(&list.Items[i])
	}
	return list.ResourceVersion, nil
}

// watch records events until the watch ends.
func (h *history) watch(ctx context.Context, rv string) {
	watchFrom(ctx, &opsv1.CloudOperationList{}, h.ns, rv, func(o runtime.Object) {
		if obj, ok := o.(*opsv1.CloudOperation); ok {
			h.record(obj)
		}
	})
}

// watchFrom calls f for every object of list's kind in ns that a watch
// from resourceVersion rv sees added or modified, until the watch ends
// (the caller lists and watches again) or ctx does.
func watchFrom(ctx context.Context, list client.ObjectList, ns, rv string, f func(runtime.Object)) {
	w, err := k8s.Watch(ctx, list, client.InNamespace(ns),
		&client.ListOptions{Raw: &metav1.ListOptions{ResourceVersion: rv}})
	if err != nil {
		return
	}
	defer w.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case ev, ok := <-w.ResultChan():
			if !ok {
				return
			}
			switch ev.Type {
			case watch.Added, watch.Modified:
				f(ev.Object)
			case watch.Error:
				return // e.g. resourceVersion too old: list again
			}
		}
	}
}

func (h *history) record(obj *opsv1.CloudOperation) {
	now := time.Now()
	h.mu.Lock()
	key := obj.Name + "/" + obj.ResourceVersion
	if h.seen[key] {
		h.mu.Unlock()
		return
	}
	h.seen[key] = true
	s := snapshot{At: now, Name: obj.Name, RV: obj.ResourceVersion, Phase: obj.Status.Phase, Step: obj.Status.CurrentStep, Object: obj.DeepCopy()}
	if c := obj.GetCondition(opsv1.ConditionReady); c != nil {
		s.Ready = *c
	}
	if c := obj.GetCondition(opsv1.ConditionStalled); c != nil {
		cc := *c
		s.Stalled = &cc
	}
	h.snaps[obj.Name] = append(h.snaps[obj.Name], s)
	hooks := append([]func(snapshot){}, h.hooks...)
	close(h.changed)
	h.changed = make(chan struct{})
	h.mu.Unlock()
	for _, f := range hooks {
		f(s)
	}
}

// snapshots returns the versions of one object recorded so far.
func (h *history) snapshots(name string) []snapshot {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]snapshot(nil), h.snaps[name]...)
}

// latest returns the newest version of every object.
func (h *history) latest() map[string]snapshot {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := map[string]snapshot{}
	for name, s := range h.snaps {
		out[name] = s[len(s)-1]
	}
	return out
}

// watchBreaks is how many times the watch had to be re-established.
func (h *history) watchBreaks() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.breaks
}

// waitFor waits until cond holds for the recorded history, or ctx ends.
func (h *history) waitFor(ctx context.Context, what string, cond func(h *history) bool) error {
	for {
		h.mu.Lock()
		ch := h.changed
		h.mu.Unlock()
		if cond(h) {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for %s: %w", what, ctx.Err())
		case <-ch:
		case <-time.After(time.Second): // conditions may depend on other state
		}
	}
}

// allTerminal reports whether every named object reached a terminal phase
// (for the generation it was created with).
func (h *history) allTerminal(names []string) bool {
	latest := h.latest()
	for _, n := range names {
		s, ok := latest[n]
		if !ok || !s.Object.IsTerminal() || s.Object.Status.ObservedGeneration != s.Object.Generation {
			return false
		}
	}
	return true
}

// describe lists the newest version of each object, for failure messages.
func (h *history) describe() string {
	latest := h.latest()
	names := make([]string, 0, len(latest))
	for n := range latest {
		names = append(names, n)
	}
	sort.Strings(names)
	var b strings.Builder
	for _, n := range names {
		fmt.Fprintf(&b, "\n  %s: %s", n, latest[n])
	}
	return b.String()
}

// transition is a phase change "from → to"; from is "new" for the first
// phase an object gets.
type transition struct {
	From, To string
	// At is when the test saw it (status) or when it was recorded (event).
	At time.Time
}

// String shows "from → to".
func (tr transition) String() string { return tr.From + " → " + tr.To }

// phaseTransitions derives the phase changes of one object from its
// recorded status versions.
func (h *history) phaseTransitions(name string) []transition {
	var out []transition
	last := "new"
	for _, s := range h.snapshots(name) {
		if s.Phase == "" || string(s.Phase) == last {
			continue
		}
		out = append(out, transition{From: last, To: string(s.Phase), At: s.At})
		last = string(s.Phase)
	}
	return out
}
