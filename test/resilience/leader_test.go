package resilience

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/cloudop/cloudop/internal/cloudsim"
)

// Leader election timings of TestLeaderElection (production: 15s, 8s,
// 2s). They pass the manager's check that two leaders cannot overlap:
// 6s > 1s + 3s + max(1.5s, 1s).
const (
	leaseDuration = 6 * time.Second
	renewDeadline = 3 * time.Second
	retryPeriod   = time.Second
	// takeoverSlack covers process scheduling on a loaded machine.
	takeoverSlack = 2 * time.Second
	// standbyWindow is how long both managers run side by side.
	standbyWindow = 12 * time.Second
)

// TestLeaderElection runs two managers with leader election: while both
// run only the leader polls (cloudsim's counts do not double), and when
// the leader is killed with SIGKILL the other takes over and the status
// progresses again within the lease duration plus one poll interval. Then,
// as in a rolling update, a third one starts and the leader is sent
// SIGTERM: it exits cleanly and hands the lease over well within a lease
// duration.
func TestLeaderElection(t *testing.T) {
	t.Parallel()
	deleteLease(t, leaseName)
	var ops []operation
	for i, svc := range services {
		o := newOperation(fmt.Sprintf("op-%d-%s", i, strings.ToLower(string(svc))), svc, cloudsim.ScenarioSuccess, 0)
		// Twelve 3 s steps: every poll sees the operation move, so
		// "status progresses" is visible at the first poll after takeover.
		for j := range 12 {
			o.Spec.Steps = append(o.Spec.Steps, cloudsim.StepSpec{Name: fmt.Sprintf("step-%02d", j+1), Duration: cloudsim.D(3 * time.Second)})
		}
		ops = append(ops, o)
	}
	s := newScenario(t, "leader", ops)
	args := append(endpointFlags(s.url), watchOnly(s.ns)...)
	args = append(args,
		"--leader-elect", "--leader-election-namespace", leaseNamespace,
		"--leader-election-lease-duration", leaseDuration.String(),
		"--leader-election-renew-deadline", renewDeadline.String(),
		"--leader-election-retry-period", retryPeriod.String())

	a := startManager(t, "a", nil, args...)
	holderA := waitLeaseHolder(t, leaseName, func(h string) bool { return h != "" })
	s.start(t)
	waitAllRunning(t, s)

	b := startManager(t, "b", nil, args...)
	waitLog(t, b, "Attempting to acquire leader lease")

	// Both run: only the leader polls.
	before := requestCounts(s)
	began := time.Now()
	time.Sleep(standbyWindow) // the measurement window, not an assertion
	after := requestCounts(s)
	window := time.Since(began)
	maxPolls := int(window/pollInterval) + 1
	for _, o := range s.ops {
		if n := after[o.Name] - before[o.Name]; n > maxPolls {
			t.Errorf("%s: %d requests in %v with two managers running, at most %d from one", o.Name, n, window.Round(time.Millisecond), maxPolls)
		} else {
			t.Logf("%s: %d requests in %v with two managers running (one poller: at most %d)", o.Name, n, window.Round(time.Millisecond), maxPolls)
		}
	}
	if h := leaseHolder(t, leaseName); h != holderA {
		t.Fatalf("the lease moved from %q to %q while the leader ran", holderA, h)
	}
	if b.logContains("Successfully acquired lease") {
		t.Fatalf("the standby acquired the lease while the leader ran")
	}

	// Kill the leader: the standby takes over.
	killed := time.Now()
	a.Kill()
	holderB := waitLeaseHolder(t, leaseName, func(h string) bool { return h != holderA && h != "" })
	acquired := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var progressed time.Time
	err := s.h.waitFor(ctx, "a status write by the new leader", func(h *history) bool {
		for _, o := range s.ops {
			for _, sn := range h.snapshots(o.Name) {
				if sn.At.After(acquired) && (progressed.IsZero() || sn.At.Before(progressed)) {
					progressed = sn.At
				}
			}
		}
		return !progressed.IsZero()
	})
	if err != nil {
		t.Fatal(err)
	}
	takeover := progressed.Sub(killed)
	bound := leaseDuration + pollInterval + takeoverSlack
	t.Logf("leader killed; lease moved to %q after %v; status progressed again after %v (bound: lease %v + poll interval %v + slack %v)",
		holderB, acquired.Sub(killed).Round(time.Millisecond), takeover.Round(time.Millisecond), leaseDuration, pollInterval, takeoverSlack)
	if takeover > bound {
		t.Errorf("status progressed %v after the leader was killed, more than %v", takeover.Round(time.Millisecond), bound)
	}
	if !b.logContains("Successfully acquired lease") {
		t.Errorf("manager b does not log having acquired the lease")
	}

	// A rolling update: a new standby starts, and the leader gets SIGTERM.
	// It hands the lease over on its way out instead of letting it expire.
	c := startManager(t, "c", nil, args...)
	waitLog(t, c, "Attempting to acquire leader lease")
	terminated := time.Now()
	if err := b.Terminate(30 * time.Second); err != nil {
		t.Errorf("the leader did not shut down cleanly on SIGTERM: %v", err)
	}
	stoppedAfter := time.Since(terminated)
	holderC := waitLeaseHolder(t, leaseName, func(h string) bool { return h != holderB && h != "" })
	handover := time.Since(terminated)
	t.Logf("leader terminated; it exited after %v and the lease moved to %q after %v (a lease duration is %v)",
		stoppedAfter.Round(time.Millisecond), holderC, handover.Round(time.Millisecond), leaseDuration)
	if handover >= leaseDuration {
		t.Errorf("the lease moved %v after SIGTERM: the leader did not release it (it expired)", handover.Round(time.Millisecond))
	}

	s.waitTerminal(t, 2*time.Minute)
	sum := s.verify(t)
	t.Logf("%s", sum)
}

// requestCounts returns what cloudsim counted for each operation (BCS:
// the list calls of its blockchain).
func requestCounts(s *scenario) map[string]int {
	counts := s.sim.Counts()
	out := map[string]int{}
	for _, o := range s.ops {
		if o.Spec.Service == cloudsim.BCS {
			out[o.Name] = counts.BCSLists[project+"/"+o.Spec.BlockchainID].Total
			continue
		}
		out[o.Name] = counts.Operations[o.Spec.Service][o.Key()].Total
	}
	return out
}

// deleteLease removes a leader election lease, so a test starts without a
// leader left over from an earlier one.
func deleteLease(t *testing.T, name string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	lease := &coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Namespace: leaseNamespace, Name: name}}
	if err := k8s.Delete(ctx, lease); err != nil && !apierrors.IsNotFound(err) {
		t.Fatal(err)
	}
}

// leaseHolder returns the holder of the lease name ("" when there is
// none).
func leaseHolder(t *testing.T, name string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	lease := &coordinationv1.Lease{}
	err := k8s.Get(ctx, client.ObjectKey{Namespace: leaseNamespace, Name: name}, lease)
	if apierrors.IsNotFound(err) || (err == nil && lease.Spec.HolderIdentity == nil) {
		return ""
	}
	if err != nil {
		t.Fatal(err)
	}
	return *lease.Spec.HolderIdentity
}

// waitLeaseHolder waits until the holder of the lease name satisfies ok.
func waitLeaseHolder(t *testing.T, name string, ok func(string) bool) string {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		h := leaseHolder(t, name)
		if ok(h) {
			return h
		}
		if time.Now().After(deadline) {
			t.Fatalf("lease %s: holder still %q after 30s", name, h)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// waitLog waits until p has logged s.
func waitLog(t *testing.T, p *managerProcess, s string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !p.logContains(s) {
		if exited, err := p.Exited(); exited {
			t.Fatalf("%s ended: %v", p, err)
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not log %q within 30s", p, s)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
