package resilience

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	opsv1 "github.com/cloudop/cloudop/api/v1alpha1"
	"github.com/cloudop/cloudop/internal/cloudsim"
)

// scenario is a namespace of CloudOperations backed by one simulator,
// served over HTTP for the manager's --service-endpoint flags.
type scenario struct {
	ns  string
	sim *cloudsim.Simulator
	url string
	ops []operation
	h   *history
}

// newScenario creates the namespace, its Secret, the simulator and its
// server, and starts recording the namespace's status history.
func newScenario(t *testing.T, prefix string, ops []operation) *scenario {
	t.Helper()
	ak, sk := "AK"+strings.ToUpper(prefix), "sk-"+prefix
	sim, err := cloudsim.New(cloudsim.Config{
		Accounts: []cloudsim.Account{{AccessKey: ak, SecretKey: sk, ProjectIDs: []string{project}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	s := &scenario{sim: sim, ops: ops, url: simServer(t, sim)}
	s.ns = newNamespace(t, prefix, ak, sk)
	s.h = watchNamespace(t, s.ns)
	return s
}

// mixedOperations returns n operations cycling through the services,
// alternately succeeding and failing, with the fault test's durations
// (about 30 s) times stretch.
func mixedOperations(prefix string, n int, stretch float64) []operation {
	return staggeredOperations(prefix, n, func(int) float64 { return stretch })
}

// staggeredOperations is mixedOperations with a stretch per operation.
func staggeredOperations(prefix string, n int, stretchOf func(i int) float64) []operation {
	var ops []operation
	for i := range n {
		stretch := stretchOf(i)
		svc := services[i%len(services)]
		scenario := cloudsim.ScenarioSuccess
		if (i+i/len(services))%2 == 1 {
			scenario = cloudsim.ScenarioFail
		}
		step := time.Duration(float64(stepDurations[svc]) * stretch)
		name := fmt.Sprintf("%s-%d-%s-%s", prefix, i, strings.ToLower(string(svc)), scenario)
		ops = append(ops, newOperation(name, svc, scenario, step))
	}
	return ops
}

// names returns the CloudOperation names.
func (s *scenario) names() []string {
	var out []string
	for _, o := range s.ops {
		out = append(out, o.Name)
	}
	return out
}

// start starts every operation in cloudsim and creates its object.
func (s *scenario) start(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, o := range s.ops {
		if err := o.start(ctx, s.sim, s.ns); err != nil {
			t.Fatalf("starting %s: %v", o.Name, err)
		}
	}
}

// waitTerminal waits until every operation is terminal.
func (s *scenario) waitTerminal(t *testing.T, timeout time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	names := s.names()
	if err := s.h.waitFor(ctx, "every operation terminal", func(h *history) bool { return h.allTerminal(names) }); err != nil {
		t.Fatalf("%v; last statuses:%s", err, s.h.describe())
	}
}

// tally sums what verify found over operations.
type tally struct {
	// Transitions are the phase changes of the status histories; Events
	// the PhaseChanged events.
	Transitions, Events int
	// Missing and Extra are PhaseChanged events missing or in excess;
	// Reordered the operations whose events are out of order. Each one
	// failed the test.
	Missing, Extra, Reordered int
}

// add adds b to a.
func (a *tally) add(b tally) {
	a.Transitions += b.Transitions
	a.Events += b.Events
	a.Missing += b.Missing
	a.Extra += b.Extra
	a.Reordered += b.Reordered
}

// String is the summary line the tests log.
func (a tally) String() string {
	return fmt.Sprintf("%d phase transitions, %d PhaseChanged events: %d missing, %d duplicated or extra, %d operations with events out of order",
		a.Transitions, a.Events, a.Missing, a.Extra, a.Reordered)
}

// verify checks every operation against an undisturbed run: its
// scenario's terminal status, phases new → Running → terminal, and
// exactly one PhaseChanged event per transition, in order, whatever
// happened to the manager meanwhile. Events are written before the status
// they announce, so once the status is terminal every event is there.
func (s *scenario) verify(t *testing.T) tally {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	evs, err := listEvents(ctx, s.ns)
	if err != nil {
		t.Fatalf("listing events: %v", err)
	}
	latest := s.h.latest()
	var sum tally
	for _, o := range s.ops {
		final := latest[o.Name]
		for _, p := range o.checkTerminal(final.Object) {
			t.Errorf("%s: %s (%s)", o.Name, p, final)
		}
		want := s.h.phaseTransitions(o.Name)
		undisturbed := []transition{{From: "new", To: string(opsv1.PhaseRunning)}, {From: string(opsv1.PhaseRunning), To: string(o.wantPhase())}}
		if !sameTransitions(want, undisturbed) {
			t.Errorf("%s: phases went %s, an undisturbed run goes %s", o.Name, formatTransitions(want), formatTransitions(undisturbed))
		}
		got := evs[o.Name]
		c := checkEvents(want, got)
		if !c.OK() {
			t.Errorf("%s: %s", o.Name, c.problem(want, got))
		}
		reordered := 0
		if c.Reordered {
			reordered = 1
		}
		sum.add(tally{Transitions: len(want), Events: len(got), Missing: len(c.Missing), Extra: len(c.Extra), Reordered: reordered})
	}
	return sum
}
