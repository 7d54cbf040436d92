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
	Transitions, Exposed, Lost, Collapsed int
}

// add adds b to a.
func (a *tally) add(b tally) {
	a.Transitions += b.Transitions
	a.Exposed += b.Exposed
	a.Lost += b.Lost
	a.Collapsed += b.Collapsed
}

// String is the summary line the tests log.
func (a tally) String() string {
	return fmt.Sprintf("%d phase transitions, %d within %v before a kill, %d PhaseChanged events lost; %d events collapsed into another",
		a.Transitions, a.Exposed, killWindow, a.Lost, a.Collapsed)
}

// verify checks every operation against an undisturbed run: its
// scenario's terminal status, phases new → Running → terminal, and one
// PhaseChanged event per transition, in order. A missing event is
// tolerated, logged and counted only when one of kills landed within
// killWindow after the status write that should have been followed by it.
func (s *scenario) verify(t *testing.T, kills []time.Time) tally {
	t.Helper()
	// Events follow their status write within milliseconds; one that has
	// not arrived 5 s after the last write is lost.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	evs, err := waitForEvents(ctx, s.ns, s.h, s.names())
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
		if got == nil {
			got = &objectEvents{}
		}
		c := checkEvents(want, got.Phases, kills)
		for _, p := range c.Problems {
			t.Errorf("%s: %s", o.Name, p)
		}
		for _, l := range c.Lost {
			t.Logf("%s: PhaseChanged event lost to a kill between the status write and the event: %s", o.Name, l)
		}
		for _, d := range got.Collapsed {
			t.Errorf("%s: events of one poll collapsed into one series, a note is lost: %s", o.Name, d)
		}
		sum.add(tally{Transitions: len(want), Exposed: c.Exposed, Lost: len(c.Lost), Collapsed: got.CollapsedCount})
	}
	return sum
}
