package install

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	opsv1 "github.com/cloudop/cloudop/api/v1alpha1"
)

// The partition test's leader election timings, given to the chart as
// leaderElection values (the production defaults are 15s, 10s and 2s).
// The test reads them back from the rendered Deployment, and every bound
// it asserts is derived from what it reads (electionBounds).
const (
	partLease = "8s"
	partRenew = "4s"
	partRetry = "1s"
	// partPollInterval is the operations' spec.pollInterval (createJob).
	partPollInterval = 5 * time.Second
	// partSlack covers what the leader election timings do not: a
	// process's exit, Docker's bookkeeping, one cloud or API round trip on
	// a loaded 2-core machine. Only upper bounds get it; the lower bound
	// (no takeover before the lease expired) and the exclusion (the old
	// leader gone before the new one acquired) get none.
	partSlack = 2 * time.Second
	// leaderElectionJitter is client-go's JitterFactor for a standby's
	// acquire attempts: each waits up to (1+1.2) retry periods.
	leaderElectionJitter = 1.2
	// leaseName is the manager's default leader election ID.
	leaseName = "cloudop-manager.ops.cloudop.dev"
)

// The jobs the partition test's operations track; they never end.
var partJobs = []string{
	"part0000000000000000000000000001",
	"part0000000000000000000000000002",
	"part0000000000000000000000000003",
	"part0000000000000000000000000004",
}

// TestPartition: two manager replicas of the release, each a container on
// a private Docker network (not the host's), reach the API server through
// a forwarder on the network's gateway and cloudsim as a container on the
// same network, which logs every request with the sender's address.
//
//  1. The leader's network is cut (docker network disconnect): it gives
//     up its lease and exits, the standby takes over only after the lease
//     expired and within its retries, and no operation is polled by both.
//     Reconnected and restarted (as the kubelet restarts an exited
//     container), the old leader stays a standby.
//  2. The new leader loses the API server only (the forwarder drops its
//     traffic) but still reaches the cloud, and polls while it still
//     holds its lease; it stops and exits before the other takes over,
//     so again no operation is polled by both at once. Healed and
//     restarted, it stays a standby.
func TestPartition(t *testing.T) {
	requireDocker(t)
	start := time.Now()
	netw := newDockerNetwork(t)
	sim := startNetSimulator(t, netw)
	fwd := startForwarder(t, netw.gateway)
	t.Logf("network %s (gateway %s), cloudsim at %s, API server forwarded at %s", netw.name, netw.gateway, sim.url, fwd.addr())

	// A Lease a manager of an earlier test left would only delay the
	// first election.
	if err := kube.CoordinationV1().Leases(releaseNamespace).Delete(context.Background(), leaseName, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
		t.Fatal(err)
	}
	manifest := helmInstall(t, map[string]any{
		"replicaCount":   2,
		"leaderElection": map[string]any{"leaseDuration": partLease, "renewDeadline": partRenew, "retryPeriod": partRetry},
		"cloud":          map[string]any{"serviceEndpoints": map[string]any{"ECS": sim.url}},
		// The worst case for phase 2: a Secret read serves every poll for
		// a minute, so a leader cut from the API server can still sign
		// and send cloud requests (with the default 5s it mostly cannot:
		// the next poll's Secret read hangs too).
		"extraArgs": []string{"--secret-cache-ttl=1m"},
	})
	t.Cleanup(func() { uninstall(t) })
	// The managers are removed with SIGKILL: their Lease would delay the
	// next test's manager by a lease duration.
	t.Cleanup(func() {
		kube.CoordinationV1().Leases(releaseNamespace).Delete(context.Background(), leaseName, metav1.DeleteOptions{})
	})
	bounds := electionBoundsOf(t, renderedDeployment(t, manifest, managerName))

	const ns = "partition"
	createNamespace(t, ns)
	a := startNetManager(t, manifest, netw, fwd, "cloudop-part-a")
	b := startNetManager(t, manifest, netw, fwd, "cloudop-part-b")
	byName := map[string]*netManager{a.name: a, b.name: b}
	for i, job := range partJobs {
		createJob(t, ns, fmt.Sprintf("op-%d", i), opsv1.ServiceECS, job, "huaweicloud-credentials")
	}
	for i := range partJobs {
		waitForPhase(t, ns, fmt.Sprintf("op-%d", i), opsv1.PhaseRunning, 60*time.Second)
	}
	lease := waitForHolder(t, 30*time.Second, func(holder string) bool { return byName[holder] != nil })
	leader := byName[holderName(lease)]
	standby := a
	if leader == a {
		standby = b
	}
	// Both run: the leader polls every operation twice (a whole interval)
	// while the standby sends nothing.
	eventually(t, 30*time.Second, "the leader polls every operation twice", func() (bool, string) {
		log := sim.requestLog(t, byName)
		for _, job := range partJobs {
			if n := countFrom(log, job, leader.name, time.Time{}); n < 2 {
				return false, fmt.Sprintf("%s polled %d times by %s", job, n, leader.name)
			}
		}
		return true, ""
	})
	p := &partition{t: t, sim: sim, managers: byName, bounds: bounds}

	// 1. The leader's network is cut.
	t.Logf("phase 1: %s leads; disconnecting it from %s", leader.name, netw.name)
	h1 := p.handover("phase 1", leader, standby, func() { netw.disconnect(t, leader) })
	// Reconnected and restarted, the old leader stays a standby.
	netw.connect(t, leader)
	leader.restart(t)
	p.observeStandby(leader, 2*partPollInterval)

	// 2. The new leader loses the API server but not the cloud. The cut
	// comes half a renew deadline before its next polls are due, so that
	// they fall while it has lost the API server but not yet its lease.
	t.Logf("phase 2: %s leads; the forwarder drops its API server traffic (%s)", standby.name, standby.ip)
	var lastPoll time.Time
	eventually(t, 2*partPollInterval, standby.name+" polls again", func() (bool, string) {
		lastPoll = lastFrom(sim.requestLog(t, byName), standby.name, h1.acquired)
		return !lastPoll.IsZero(), "no poll yet"
	})
	for !lastPoll.Add(partPollInterval).After(time.Now().Add(bounds.renew / 2)) {
		lastPoll = lastPoll.Add(partPollInterval)
	}
	time.Sleep(time.Until(lastPoll.Add(partPollInterval - bounds.renew/2)))
	h2 := p.handover("phase 2", standby, leader, func() { fwd.partition(standby.ip) })
	if h2.oldPollsAfterCut == 0 {
		t.Errorf("phase 2: %s sent no cloud request after the cut: the test did not exercise a leader that still reaches the cloud", standby.name)
	}
	fwd.heal(standby.ip)
	standby.restart(t)
	p.observeStandby(standby, 2*partPollInterval)

	// The whole log: per operation, the senders follow the leadership
	// (first leader, then the other, then the first again), never
	// interleaved, and each handover leaves a gap.
	log := sim.requestLog(t, byName)
	gaps := checkNoOverlap(t, log, []string{leader.name, standby.name, leader.name})
	if n := countFrom(log, "", standby.name, time.Time{}) - countFrom(log, "", standby.name, h1.cut); n != 0 {
		t.Errorf("the standby %s sent %d cloud requests before it led", standby.name, n)
	}

	t.Logf("partition timings (lease %s, renew deadline %s, retry %s, poll interval %s), from the old leader's last renewal:",
		bounds.lease, bounds.renew, bounds.retry, partPollInterval)
	for i, h := range []handover{h1, h2} {
		t.Logf("  %s", h.summary(bounds, gaps[i]))
	}
	t.Logf("  each restarted old leader stayed a standby (0 cloud requests, lease unchanged) for %s; whole test %.1f s",
		2*partPollInterval, time.Since(start).Seconds())
}

// electionBounds are the leader election timings of the rendered
// Deployment and what they imply, counted from the leader's last
// successful renewal of its lease.
type electionBounds struct {
	lease, renew, retry time.Duration
	// release is how long a leader that failed to renew still tries to
	// give the lease back (the manager sets LeaderElectionReleaseOnCancel)
	// before it stops its controllers: one GET of the lease, which
	// controller-runtime's lease client times out after
	// max(renew deadline/2, 1s), when the API server does not answer.
	release time.Duration
	// stop: the renewal loop starts its next attempt one retry period
	// after the last success and gives up after the renew deadline; the
	// release attempt follows; then the process exits.
	stop time.Duration
	// takeoverMin: a standby takes over once the lease it last saw
	// renewed has not changed for the lease duration.
	// takeoverMax: it notices the last renewal within one jittered retry
	// period and tries again within another.
	takeoverMin, takeoverMax time.Duration
}

func electionBoundsOf(t *testing.T, dep *appsv1.Deployment) electionBounds {
	t.Helper()
	var b electionBounds
	flags := map[string]*time.Duration{
		"--leader-election-lease-duration=": &b.lease,
		"--leader-election-renew-deadline=": &b.renew,
		"--leader-election-retry-period=":   &b.retry,
	}
	elect := false
	for _, arg := range dep.Spec.Template.Spec.Containers[0].Args {
		elect = elect || arg == "--leader-elect" || arg == "--leader-elect=true"
		for prefix, d := range flags {
			if v, ok := strings.CutPrefix(arg, prefix); ok {
				parsed, err := time.ParseDuration(v)
				if err != nil {
					t.Fatalf("rendered %s: %v", arg, err)
				}
				*d = parsed
			}
		}
	}
	if !elect || b.lease == 0 || b.renew == 0 || b.retry == 0 {
		t.Fatalf("the rendered Deployment does not elect a leader with the test's timings: %q", dep.Spec.Template.Spec.Containers[0].Args)
	}
	b.release = max(b.renew/2, time.Second)
	b.stop = b.retry + b.renew + b.release
	b.takeoverMin = b.lease
	b.takeoverMax = b.lease + time.Duration(2*(1+leaderElectionJitter)*float64(b.retry))
	t.Logf("leader election: lease %s, renew deadline %s, retry %s: after its last renewal the leader stops within %s (+%s), a standby takes over after %s and within %s (+%s)",
		b.lease, b.renew, b.retry, b.stop, partSlack, b.takeoverMin, b.takeoverMax, partSlack)
	if b.stop >= b.takeoverMin {
		t.Fatalf("with these timings a leader cut from the API server may run its controllers until %s after its last renewal (retry %s + renew deadline %s + release %s), while a standby may take over from %s: choose a longer lease duration",
			b.stop, b.retry, b.renew, b.release, b.takeoverMin)
	}
	return b
}

// partition runs the handovers of one test.
type partition struct {
	t        *testing.T
	sim      *netSimulator
	managers map[string]*netManager
	bounds   electionBounds
}

// handover is what one cut measured.
type handover struct {
	name string
	// cut is when the test cut the old leader off; lastRenew its last
	// renewal of the lease; lost when it logged "leader election lost";
	// exited when its process ended; acquired the new leader's
	// acquireTime.
	cut, lastRenew, lost, exited, acquired time.Time
	// lastOldPoll is the old leader's last cloud request;
	// oldPollsAfterCut how many it sent after the cut.
	lastOldPoll      time.Time
	oldPollsAfterCut int
	// polls is when the new leader first polled each operation.
	polls pollTimes
}

// handover cuts old off with cut, waits until next holds the lease and
// has polled every operation, and checks the bounds.
func (p *partition) handover(name string, old, next *netManager, cut func()) handover {
	t, b := p.t, p.bounds
	t.Helper()
	h := handover{name: name}
	watch := watchLease(old.name)
	h.cut = time.Now()
	cut()
	h.lost, h.exited = old.waitExit(t, h.cut, b.stop+b.retry+partSlack)
	l := waitForHolder(t, b.takeoverMax+partSlack, func(holder string) bool { return holder == next.name })
	h.lastRenew = watch.stop()
	if h.lastRenew.IsZero() {
		t.Fatalf("%s: never saw %s renew the lease", name, old.name)
	}
	h.acquired = l.Spec.AcquireTime.Time
	h.polls = waitForPolls(t, p.sim, p.managers, next.name, h.cut, partPollInterval+partSlack)
	log := p.sim.requestLog(t, p.managers)
	h.lastOldPoll = lastFrom(log, old.name, time.Time{})
	h.oldPollsAfterCut = countFrom(log, "", old.name, h.cut)

	checkBound(t, name+": the old leader gives up its lease", h.lost.Sub(h.lastRenew), b.stop+partSlack)
	checkBound(t, name+": the old leader exits", h.exited.Sub(h.lastRenew), b.stop+partSlack)
	if d := h.acquired.Sub(h.lastRenew); d < b.takeoverMin {
		t.Errorf("%s: %s acquired the lease %s after %s's last renewal, before the lease duration %s", name, next.name, d, old.name, b.takeoverMin)
	}
	checkBound(t, name+": the standby acquires the lease", h.acquired.Sub(h.lastRenew), b.takeoverMax+partSlack)
	if !h.exited.Before(h.acquired) {
		t.Errorf("%s: both led at once: %s exited %s after %s acquired the lease", name, old.name, h.exited.Sub(h.acquired), next.name)
	}
	checkBound(t, name+": the new leader polls every operation", h.polls.last.Sub(h.acquired), partPollInterval+partSlack)
	if !h.lastOldPoll.Before(h.polls.first) || !h.lastOldPoll.Before(h.exited) {
		t.Errorf("%s: %s's last cloud request at %s, %s's first at %s, its exit at %s", name, old.name,
			h.lastOldPoll.Format(time.StampMilli), next.name, h.polls.first.Format(time.StampMilli), h.exited.Format(time.StampMilli))
	}
	return h
}

func (h handover) summary(b electionBounds, g gap) string {
	s := func(at time.Time) string { return fmt.Sprintf("%+.1f s", at.Sub(h.lastRenew).Seconds()) }
	return fmt.Sprintf("%s: cut %s; old leader's last poll %s (%d after the cut), gave up the lease %s, exited %s (bound %.1f s); "+
		"standby acquired %s (bounds %.1f–%.1f s), polled its first operation %s and all %s; per-operation gap between the two leaders' polls %.1f–%.1f s",
		h.name, s(h.cut), s(h.lastOldPoll), h.oldPollsAfterCut, s(h.lost), s(h.exited), b.stop.Seconds(),
		s(h.acquired), b.takeoverMin.Seconds(), b.takeoverMax.Seconds(), s(h.polls.first), s(h.polls.last), g.min.Seconds(), g.max.Seconds())
}

// observeStandby checks for d that m, restarted, sends no cloud request
// and the Lease keeps its holder and transitions.
func (p *partition) observeStandby(m *netManager, d time.Duration) {
	t := p.t
	t.Helper()
	held, err := kube.CoordinationV1().Leases(releaseNamespace).Get(context.Background(), leaseName, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	from := time.Now()
	time.Sleep(d)
	l, err := kube.CoordinationV1().Leases(releaseNamespace).Get(context.Background(), leaseName, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if ptrString(l.Spec.HolderIdentity) != ptrString(held.Spec.HolderIdentity) || ptrInt32(l.Spec.LeaseTransitions) != ptrInt32(held.Spec.LeaseTransitions) {
		t.Errorf("after %s restarted, the lease is held by %s (transitions %d), want still %s (%d)", m.name,
			ptrString(l.Spec.HolderIdentity), ptrInt32(l.Spec.LeaseTransitions), ptrString(held.Spec.HolderIdentity), ptrInt32(held.Spec.LeaseTransitions))
	}
	if c := countFrom(p.sim.requestLog(t, p.managers), "", m.name, from); c != 0 {
		t.Errorf("%s, restarted as a standby, sent %d cloud requests in %s", m.name, c, d)
	}
	if !m.running() {
		t.Errorf("%s exited while a standby", m.name)
	}
}

func checkBound(t *testing.T, what string, got, bound time.Duration) {
	t.Helper()
	if got < 0 || got > bound {
		t.Errorf("%s after %s, want within %s", what, got, bound)
	}
}

// dockerNetwork is a private bridge network of the test.
type dockerNetwork struct{ name, gateway string }

func newDockerNetwork(t *testing.T) *dockerNetwork {
	t.Helper()
	suffix := make([]byte, 4)
	rand.Read(suffix)
	n := &dockerNetwork{name: "cloudop-part-" + hex.EncodeToString(suffix)}
	docker(t, "network", "create", "--driver", "bridge", n.name)
	t.Cleanup(func() { exec.Command("docker", "network", "rm", n.name).Run() })
	n.gateway = strings.TrimSpace(docker(t, "network", "inspect", n.name, "--format", "{{range .IPAM.Config}}{{.Gateway}}{{end}}"))
	if net.ParseIP(n.gateway) == nil {
		t.Fatalf("network %s has no gateway address (%q)", n.name, n.gateway)
	}
	return n
}

// ip is a container's address on the network ("" when not connected).
func (n *dockerNetwork) ip(t *testing.T, containerName string) string {
	t.Helper()
	return strings.TrimSpace(docker(t, "inspect", containerName, "--format",
		`{{with index .NetworkSettings.Networks "`+n.name+`"}}{{.IPAddress}}{{end}}`))
}

func (n *dockerNetwork) disconnect(t *testing.T, m *netManager) {
	t.Helper()
	docker(t, "network", "disconnect", n.name, m.name)
}

// connect reconnects m; it gets an address when it starts.
func (n *dockerNetwork) connect(t *testing.T, m *netManager) {
	t.Helper()
	docker(t, "network", "connect", n.name, m.name)
}

func docker(t *testing.T, args ...string) string {
	t.Helper()
	out, err := exec.Command("docker", args...).CombinedOutput()
	if err != nil {
		t.Fatalf("docker %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// netSimulator is cloudsim as a container on the test's network.
type netSimulator struct{ url string }

func startNetSimulator(t *testing.T, n *dockerNetwork) *netSimulator {
	t.Helper()
	var scenario strings.Builder
	fmt.Fprintf(&scenario, "settings:\n  speed: 1\naccounts:\n  - accessKey: %s\n    secretKey: %s\n    projectIDs: [%s]\noperations:\n", accessKey, secretKey, project)
	for _, job := range partJobs {
		fmt.Fprintf(&scenario, "  - {service: ECS, id: %s, projectID: %s, scenario: never}\n", job, project)
	}
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "scenario.yaml"), []byte(scenario.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	const name = "cloudop-part-cloudsim"
	runContainer(t, name, []string{"run", "--detach", "--network", n.name, "--read-only",
		"--cap-drop", "ALL", "--security-opt", "no-new-privileges", "--volume", dir + ":/scenario:ro",
		imageRef("cloudsim"), "--listen", "0.0.0.0:8080", "--config", "/scenario/scenario.yaml", "--seed", "1"})
	s := &netSimulator{url: "http://" + net.JoinHostPort(n.ip(t, name), "8080")}
	eventually(t, 30*time.Second, "cloudsim answers /admin/healthz", func() (bool, string) {
		code, body, err := httpGet(s.url+"/admin/healthz", "", nil)
		return err == nil && code == http.StatusOK, fmt.Sprint(code, body, err)
	})
	return s
}

// simRequest is one entry of cloudsim's request log, attributed.
type simRequest struct {
	Time       time.Time `json:"time"`
	Path       string    `json:"path"`
	Status     int       `json:"status"`
	RemoteAddr string    `json:"remoteAddr"`
	// from is the manager whose address sent it ("" for another client).
	from string
}

// requestLog is cloudsim's request log, oldest first, each request
// attributed to the manager that had its address then.
func (s *netSimulator) requestLog(t *testing.T, managers map[string]*netManager) []simRequest {
	t.Helper()
	_, body, err := httpGet(s.url+"/admin/requests", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	var log struct{ Requests []simRequest }
	if err := json.Unmarshal([]byte(body), &log); err != nil {
		t.Fatalf("cloudsim request log: %v\n%.300s", err, body)
	}
	owners := map[string]string{}
	for _, m := range managers {
		for _, ip := range m.ips {
			if other, ok := owners[ip]; ok && other != m.name {
				t.Fatalf("address %s was both %s's and %s's: the request log cannot tell them apart", ip, other, m.name)
			}
			owners[ip] = m.name
		}
	}
	for i := range log.Requests {
		r := &log.Requests[i]
		host, _, err := net.SplitHostPort(r.RemoteAddr)
		if err != nil {
			t.Fatalf("cloudsim logged no client address (%q): is the cloudsim image older than the request log's remoteAddr?", r.RemoteAddr)
		}
		r.from = owners[host]
	}
	return log.Requests
}

// countFrom counts the requests from a manager for a job ("" any) at or
// after since.
func countFrom(log []simRequest, job, from string, since time.Time) int {
	n := 0
	for _, r := range log {
		if r.from == from && !r.Time.Before(since) && (job == "" || strings.HasSuffix(r.Path, "/jobs/"+job)) {
			n++
		}
	}
	return n
}

// lastFrom is the time of the last request from a manager at or after
// since (zero: none).
func lastFrom(log []simRequest, from string, since time.Time) time.Time {
	var last time.Time
	for _, r := range log {
		if r.from == from && !r.Time.Before(since) && r.Time.After(last) {
			last = r.Time
		}
	}
	return last
}

// pollTimes is when a new leader first polled: its first operation and
// its last.
type pollTimes struct{ first, last time.Time }

// waitForPolls waits until the manager from has polled every job since
// since.
func waitForPolls(t *testing.T, s *netSimulator, managers map[string]*netManager, from string, since time.Time, timeout time.Duration) pollTimes {
	t.Helper()
	var p pollTimes
	eventually(t, timeout, from+" polls every operation", func() (bool, string) {
		log := s.requestLog(t, managers)
		p = pollTimes{}
		for _, job := range partJobs {
			i := slices.IndexFunc(log, func(r simRequest) bool {
				return r.from == from && !r.Time.Before(since) && strings.HasSuffix(r.Path, "/jobs/"+job)
			})
			if i < 0 {
				return false, job + " not polled yet"
			}
			if p.first.IsZero() || log[i].Time.Before(p.first) {
				p.first = log[i].Time
			}
			if log[i].Time.After(p.last) {
				p.last = log[i].Time
			}
		}
		return true, ""
	})
	return p
}

// gap is the shortest and longest time, over the operations, between the
// last poll of one leader and the first of the next.
type gap struct{ min, max time.Duration }

// checkNoOverlap checks that every operation's requests come from the
// leaders in order, each run of one leader's requests ending before the
// next begins, and returns the gaps of each handover.
func checkNoOverlap(t *testing.T, log []simRequest, order []string) []gap {
	t.Helper()
	gaps := make([]gap, len(order)-1)
	for _, job := range partJobs {
		var reqs []simRequest
		for _, r := range log {
			if strings.HasSuffix(r.Path, "/jobs/"+job) {
				if r.from == "" {
					t.Errorf("%s: a request from %s, no manager's address", job, r.RemoteAddr)
				}
				reqs = append(reqs, r)
			}
		}
		sort.SliceStable(reqs, func(i, j int) bool { return reqs[i].Time.Before(reqs[j].Time) })
		stage := 0
		for i, r := range reqs {
			for stage < len(order) && r.from != order[stage] {
				stage++
			}
			if stage == len(order) {
				t.Errorf("%s: request %d at %s from %s out of the leadership order %v (polled by two managers at once)",
					job, i, r.Time.Format(time.StampMilli), r.from, order)
				break
			}
			if i > 0 && reqs[i-1].from != r.from {
				g := r.Time.Sub(reqs[i-1].Time)
				h := &gaps[stage-1]
				if h.min == 0 || g < h.min {
					h.min = g
				}
				h.max = max(h.max, g)
			}
		}
	}
	return gaps
}

// apiForwarder forwards TCP connections from the network's gateway
// address to the API server, which listens on the host's loopback only.
// partition drops a source address's traffic both ways, as a network
// partition would, without closing its connections.
type apiForwarder struct {
	ln     net.Listener
	target string
	mu     sync.Mutex
	cut    map[string]bool
	conns  map[net.Conn]string
}

func startForwarder(t *testing.T, gateway string) *apiForwarder {
	t.Helper()
	api, err := url.Parse(restConfig.Host)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", net.JoinHostPort(gateway, "0"))
	if err != nil {
		t.Fatalf("listening on the network's gateway: %v", err)
	}
	f := &apiForwarder{ln: ln, target: api.Host, cut: map[string]bool{}, conns: map[net.Conn]string{}}
	go f.serve()
	t.Cleanup(f.close)
	return f
}

func (f *apiForwarder) addr() string { return f.ln.Addr().String() }

func (f *apiForwarder) serve() {
	for {
		c, err := f.ln.Accept()
		if err != nil {
			return
		}
		go f.handle(c)
	}
}

func (f *apiForwarder) handle(c net.Conn) {
	src, _, _ := net.SplitHostPort(c.RemoteAddr().String())
	up, err := net.DialTimeout("tcp", f.target, 5*time.Second)
	if err != nil {
		c.Close()
		return
	}
	f.mu.Lock()
	f.conns[c], f.conns[up] = src, src
	f.mu.Unlock()
	done := func() {
		c.Close()
		up.Close()
		f.mu.Lock()
		delete(f.conns, c)
		delete(f.conns, up)
		f.mu.Unlock()
	}
	go func() { f.pipe(up, c, src); done() }()
	f.pipe(c, up, src)
	done()
}

// pipe copies src to dst, dropping what arrives while src's address is
// partitioned.
func (f *apiForwarder) pipe(dst, src net.Conn, addr string) {
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 && !f.partitioned(addr) {
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

func (f *apiForwarder) partitioned(addr string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.cut[addr]
}

func (f *apiForwarder) partition(addr string) {
	f.mu.Lock()
	f.cut[addr] = true
	f.mu.Unlock()
}

// heal ends the partition of addr and closes its connections, whose
// streams lost data.
func (f *apiForwarder) heal(addr string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.cut, addr)
	for c, src := range f.conns {
		if src == addr {
			c.Close()
		}
	}
}

func (f *apiForwarder) close() {
	f.ln.Close()
	f.mu.Lock()
	defer f.mu.Unlock()
	for c := range f.conns {
		c.Close()
	}
}

// netManager is a manager replica as a container on the test's network.
type netManager struct {
	*container
	network *dockerNetwork
	// ip is its current address on the network; ips every address it
	// has had.
	ip    string
	ips   []string
	probe string
}

// startNetManager runs the release's manager pod as the kubelet would
// (dockerRunArgs), on the test's network instead of the host's, with
// the container's name as its host name (the leader election identity's
// prefix), and waits until it is ready. The ServiceAccount token is
// mounted as for the pod; the API server is reached through KUBECONFIG
// (client-go prefers it to the in-cluster configuration), which names the
// forwarder and, since the API server's certificate is for localhost,
// tls-server-name localhost, and authenticates with the mounted token.
func startNetManager(t *testing.T, manifest string, n *dockerNetwork, fwd *apiForwarder, name string) *netManager {
	t.Helper()
	dep := renderedDeployment(t, manifest, managerName)
	tokenDir, kubeDir := t.TempDir(), t.TempDir()
	for _, dir := range []string{tokenDir, kubeDir} {
		if err := os.Chmod(dir, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	files := map[string][]byte{
		filepath.Join(tokenDir, "token"):     []byte(serviceAccountToken(t, releaseNamespace, dep.Spec.Template.Spec.ServiceAccountName)),
		filepath.Join(tokenDir, "ca.crt"):    restConfig.CAData,
		filepath.Join(tokenDir, "namespace"): []byte(releaseNamespace),
	}
	kc := clientcmdapi.NewConfig()
	kc.Clusters["e2e"] = &clientcmdapi.Cluster{Server: "https://" + fwd.addr(), CertificateAuthorityData: restConfig.CAData, TLSServerName: "localhost"}
	kc.AuthInfos["pod"] = &clientcmdapi.AuthInfo{TokenFile: tokenMountPath + "/token"}
	kc.Contexts["e2e"] = &clientcmdapi.Context{Cluster: "e2e", AuthInfo: "pod", Namespace: releaseNamespace}
	kc.CurrentContext = "e2e"
	data, err := clientcmd.Write(*kc)
	if err != nil {
		t.Fatal(err)
	}
	files[filepath.Join(kubeDir, "kubeconfig")] = data
	for file, data := range files {
		if err := os.WriteFile(file, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	host, port, _ := net.SplitHostPort(fwd.addr())
	args, err := dockerRunArgs(dep, "manager", kubeletPod{
		Name: name, Namespace: releaseNamespace, Image: imageRef("manager"),
		APIHost: host, APIPort: port, TokenDir: tokenDir,
	})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(args[:4], []string{"run", "--detach", "--network", "host"}) {
		t.Fatalf("dockerRunArgs starts with %q, want run --detach --network host", args[:4])
	}
	args = slices.Concat([]string{"run", "--detach", "--network", n.name, "--hostname", name,
		"--env", "KUBECONFIG=/var/run/cloudop-e2e/kubeconfig", "--volume", kubeDir + ":/var/run/cloudop-e2e:ro"}, args[4:])
	t.Logf("docker %s", strings.Join(args, " "))
	ctr := dep.Spec.Template.Spec.Containers[0]
	probePort, err := probePort(ctr, ctr.ReadinessProbe)
	if err != nil {
		t.Fatal(err)
	}
	m := &netManager{container: runContainer(t, name, args), network: n,
		probe: fmt.Sprintf(":%d%s", probePort, ctr.ReadinessProbe.HTTPGet.Path)}
	m.waitReady(t)
	return m
}

// waitReady waits for the readiness probe and records the address.
func (m *netManager) waitReady(t *testing.T) {
	t.Helper()
	eventually(t, 60*time.Second, m.name+" is ready", func() (bool, string) {
		if !m.running() {
			t.Fatalf("the manager container %s exited", m.name)
		}
		ip := m.network.ip(t, m.name)
		if ip == "" {
			return false, "no address yet"
		}
		code, body, err := httpGet("http://"+ip+m.probe, "", nil)
		return err == nil && code == http.StatusOK, fmt.Sprint(code, " ", body, " ", err)
	})
	m.ip = m.network.ip(t, m.name)
	if !slices.Contains(m.ips, m.ip) {
		m.ips = append(m.ips, m.ip)
	}
}

// waitExit waits until the container has exited, having lost its lease,
// and returns when it logged "leader election lost" and when it exited.
func (m *netManager) waitExit(t *testing.T, since time.Time, bound time.Duration) (lost, exited time.Time) {
	t.Helper()
	eventually(t, bound+partSlack, m.name+" exits", func() (bool, string) { return !m.running(), "still running" })
	out := strings.Fields(docker(t, "inspect", m.name, "--format", "{{.State.FinishedAt}} {{.State.ExitCode}}"))
	exited, err := time.Parse(time.RFC3339Nano, out[0])
	if err != nil || exited.Before(since) {
		t.Fatalf("%s finished at %q (%v), before the cut at %s", m.name, out[0], err, since)
	}
	logs, _ := exec.Command("docker", "logs", "--timestamps", "--since", since.Format(time.RFC3339Nano), m.name).CombinedOutput()
	for _, line := range strings.Split(string(logs), "\n") {
		ts, msg, _ := strings.Cut(line, " ")
		if strings.Contains(msg, "leader election lost") {
			if lost, err = time.Parse(time.RFC3339Nano, ts); err == nil {
				break
			}
		}
	}
	if out[1] == "0" || lost.IsZero() {
		t.Errorf("%s exited with status %s; want a failure after \"leader election lost\"; logs since the cut:\n%s", m.name, out[1], tail(string(logs), 15))
	}
	return lost, exited
}

// restart starts the exited container again, as the kubelet restarts a
// pod's container, and waits until it is ready.
func (m *netManager) restart(t *testing.T) {
	t.Helper()
	docker(t, "start", m.name)
	m.waitReady(t)
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

// holderName is the manager (container host name) holding a Lease.
func holderName(l *coordinationv1.Lease) string {
	holder, _, _ := strings.Cut(ptrString(l.Spec.HolderIdentity), "_")
	return holder
}

func ptrString(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

// waitForHolder waits until ok accepts the Lease's holder.
func waitForHolder(t *testing.T, timeout time.Duration, ok func(holder string) bool) *coordinationv1.Lease {
	t.Helper()
	var lease *coordinationv1.Lease
	eventually(t, timeout, "the lease's holder changes", func() (bool, string) {
		l, err := kube.CoordinationV1().Leases(releaseNamespace).Get(context.Background(), leaseName, metav1.GetOptions{})
		if err != nil {
			return false, err.Error()
		}
		lease = l
		return ok(holderName(l)) && l.Spec.AcquireTime != nil, "holder " + ptrString(l.Spec.HolderIdentity)
	})
	return lease
}

// leaseWatch follows the Lease every 100 ms and remembers the last
// renewal of one holder.
type leaseWatch struct {
	holder string
	done   chan struct{}
	mu     sync.Mutex
	last   time.Time
	wg     sync.WaitGroup
}

func watchLease(holder string) *leaseWatch {
	w := &leaseWatch{holder: holder, done: make(chan struct{})}
	w.wg.Add(1)
	go func() {
		defer w.wg.Done()
		for {
			l, err := kube.CoordinationV1().Leases(releaseNamespace).Get(context.Background(), leaseName, metav1.GetOptions{})
			if err == nil && holderName(l) == holder && l.Spec.RenewTime != nil {
				w.mu.Lock()
				w.last = l.Spec.RenewTime.Time
				w.mu.Unlock()
			}
			select {
			case <-w.done:
				return
			case <-time.After(100 * time.Millisecond):
			}
		}
	}()
	return w
}

// stop ends the watch and returns the holder's last renewal seen.
func (w *leaseWatch) stop() time.Time {
	close(w.done)
	w.wg.Wait()
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.last
}

func ptrInt32(p *int32) int32 {
	if p == nil {
		return 0
	}
	return *p
}
