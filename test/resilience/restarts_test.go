package resilience

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	opsv1 "github.com/cloudop/cloudop/api/v1alpha1"
)

// restartDelay is how long the supervisor waits before starting a killed
// manager again (a kubelet's first restart is about as quick).
const restartDelay = 500 * time.Millisecond

// killPlan says when each kill lands: "transition" kills the manager the
// instant the test's watch sees a phase change (the status is written and
// its event is on its way: the worst moment), "timed" at a random instant
// 2–4 s after the previous restart (mid-poll, mid-backoff, anywhere).
func killPlan() []string {
	if longRun {
		plan := make([]string, 0, 12)
		for i := range 12 {
			plan = append(plan, []string{"transition", "timed"}[i%2])
		}
		return plan
	}
	return []string{"transition", "timed", "transition"}
}

// TestManagerKills kills the manager with SIGKILL several times while
// operations of every service run, restarting it each time: every
// operation must end as an undisturbed run does (terminal phase, steps,
// phases new → Running → terminal) with one PhaseChanged event per phase.
//
// Events are recorded after the status patch, so a kill in between loses
// the event; the test tolerates that only for transitions written within
// killWindow before a kill, logs each loss and the rate, and fails on any
// other missing, duplicated or reordered event.
func TestManagerKills(t *testing.T) {
	rounds := 1
	if longRun {
		rounds = 4
	}
	var total tally
	kills := 0
	for round := range rounds {
		t.Run(fmt.Sprintf("round-%d", round+1), func(t *testing.T) {
			sum, n := killRound(t, round)
			total.add(sum)
			kills += n
		})
	}
	t.Logf("%d kills in %d round(s): %s", kills, rounds, total)
}

// killRound runs one namespace of operations through killPlan and
// returns what verify found and how many kills landed.
func killRound(t *testing.T, round int) (tally, int) {
	ops := mixedOperations("op", 8, 1)
	if longRun {
		// Sixteen operations ending 18 s to ~2.5 min in: phase changes
		// all along, for twelve kills.
		ops = staggeredOperations("op", 16, func(i int) float64 { return 1 + 0.25*float64(i) })
	}
	s := newScenario(t, fmt.Sprintf("kills%d", round+1), ops)
	// The objects exist before the manager: its first reconciles write
	// eight "new → Running" transitions at once, the first kill's target.
	s.start(t)

	var (
		armed atomic.Bool
		sup   atomic.Pointer[supervisor]
	)
	s.h.onSnapshot(func(sn snapshot) {
		if !armed.Load() || sn.Phase == "" {
			return
		}
		snaps := s.h.snapshots(sn.Name)
		if len(snaps) >= 2 && snaps[len(snaps)-2].Phase == sn.Phase {
			return
		}
		if p := sup.Load(); p != nil && armed.CompareAndSwap(true, false) {
			p.Kill()
		}
	})
	plan := killPlan()
	if plan[0] == "transition" {
		armed.Store(true)
	}
	sv := supervise(t, "kills", restartDelay, nil, endpointFlags(s.url)...)
	sup.Store(sv)

	for i, mode := range plan {
		if i > 0 || mode == "timed" {
			switch mode {
			case "transition":
				armed.Store(true)
			case "timed":
				time.Sleep(2*time.Second + rand.N(2*time.Second))
				sv.Kill()
			}
		}
		// Wait for this kill and the restart that follows it.
		deadline := time.Now().Add(60 * time.Second)
		for sv.Runs() < i+2 && time.Now().Before(deadline) {
			time.Sleep(50 * time.Millisecond)
		}
		if sv.Runs() < i+2 {
			armed.Store(false)
			t.Logf("kill %d (%s) did not happen within 60s: no phase change to kill on; %d kills done", i+1, mode, i)
			break
		}
		// Let the new run start its workers before the next kill.
		time.Sleep(2 * time.Second)
	}
	armed.Store(false)
	timeout := 2 * time.Minute
	if longRun {
		timeout = 5 * time.Minute
	}
	s.waitTerminal(t, timeout)

	var killTimes []time.Time
	for _, e := range sv.Exits() {
		if !e.Killed {
			t.Errorf("manager %s ended on its own: %v", e.Run, e.Err)
		}
		killTimes = append(killTimes, e.At)
	}
	if err := sv.Err(); err != nil {
		t.Fatal(err)
	}
	if len(killTimes) < 2 {
		t.Errorf("only %d kills happened", len(killTimes))
	}
	sum := s.verify(t, killTimes)
	t.Logf("%d kills (plan %v), %d manager runs: %s", len(killTimes), plan, sv.Runs(), sum)
	return sum, len(killTimes)
}

// apiDowntime is how long the kube-apiserver stays down.
const apiDowntime = 5 * time.Second

// TestAPIServerRestart stops the kube-apiserver (etcd keeps running) while
// operations run, and starts it again: the manager, run with leader
// election as config/manager deploys it and supervised like a pod,
// recovers (by itself, or by a restart after losing its lease) and every
// operation ends as an undisturbed run does.
func TestAPIServerRestart(t *testing.T) {
	deleteLease(t)
	s := newScenario(t, "apiserver", mixedOperations("op", 4, 1))
	sv := supervise(t, "apiserver", restartDelay, nil,
		append(endpointFlags(s.url), "--leader-elect", "--leader-election-namespace", leaseNamespace)...)
	s.start(t)
	waitAllRunning(t, s)

	apiServer := env.ControlPlane.APIServer
	down := time.Now()
	if err := apiServer.Stop(); err != nil {
		if !strings.Contains(err.Error(), "timeout waiting for process") {
			t.Fatalf("stopping kube-apiserver: %v", err)
		}
		// It stopped listening at once but lingered: envtest killed it.
		t.Logf("kube-apiserver did not exit within %v of SIGTERM and was killed: %v", apiServerStopTimeout, err)
	}
	stopped := time.Since(down)
	polls := s.sim.Counts().Total.Total
	time.Sleep(apiDowntime) // the fault lasts this long
	if err := apiServer.Start(); err != nil {
		t.Fatalf("starting kube-apiserver again: %v", err)
	}
	up := time.Since(down)
	t.Logf("kube-apiserver stopped in %v, serving again %v after the stop began; cloudsim saw %d polls during the outage",
		stopped.Round(time.Millisecond), up.Round(time.Millisecond), s.sim.Counts().Total.Total-polls)

	s.waitTerminal(t, 2*time.Minute)
	if s.h.watchBreaks() == 0 {
		t.Errorf("the test's own watch never broke: was the API server down at all?")
	}
	var exits []time.Time
	for _, e := range sv.Exits() {
		t.Logf("manager %s ended at +%v (%v) and was restarted", e.Run, e.At.Sub(down).Round(time.Millisecond), e.Err)
		exits = append(exits, e.At)
	}
	if err := sv.Err(); err != nil {
		t.Fatal(err)
	}
	sum := s.verify(t, exits)
	t.Logf("%d manager runs: %s", sv.Runs(), sum)
}

// waitAllRunning waits until every operation of s was seen Running.
func waitAllRunning(t *testing.T, s *scenario) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	err := s.h.waitFor(ctx, "every operation Running", func(h *history) bool {
		latest := h.latest()
		for _, o := range s.ops {
			if latest[o.Name].Phase != opsv1.PhaseRunning {
				return false
			}
		}
		return true
	})
	if err != nil {
		t.Fatalf("%v:%s", err, s.h.describe())
	}
}
