package resilience

import (
	"context"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	eventsv1 "k8s.io/api/events/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/leaderelection"
	"sigs.k8s.io/controller-runtime/pkg/client"

	opsv1 "github.com/cloudop/cloudop/api/v1alpha1"
	"github.com/cloudop/cloudop/internal/cloudsim"
	"github.com/cloudop/cloudop/internal/manager"
	"github.com/cloudop/cloudop/internal/testenv"
)

// instance is one manager of TestSharding: its shard ("" for the default
// instance), the selector it runs with, and the server it reaches cloudsim
// through. A shard with a standby runs a second process on the same lease
// and server.
type instance struct {
	shard, selector, metricsAddr string
	srv                          *instanceServer
	proc                         *managerProcess
	// standby and standbyMetrics: the second process, if any.
	standby        *managerProcess
	standbyMetrics string
	args           []string
}

// The cloud budget TestSharding gives its instances: the account's
// requests per second and burst per service, split over the four
// instances with --cloud-budget-shards.
const (
	budgetQPS    = 4
	budgetBurst  = 4
	budgetShards = 4
	// budgetWindow is the sliding window the shared budget is checked over.
	budgetWindow = 10 * time.Second
	// budgetJitter is how much closer than their tokens' times requests
	// may arrive at the servers.
	budgetJitter = 500 * time.Millisecond
	// loadPerShard ECS jobs per instance ask for 8/5 s = 1.6 requests per
	// second each, more than the 1 per second an instance's share allows,
	// and 6.4 in all against the account's 4.
	loadPerShard = 8
	loadDuration = 25 * time.Second
)

// TestSharding runs a default instance and three shard instances, each
// with leader election on its own lease (shard3 with a standby), against
// one control plane and one simulator, all signing with one account. Each
// instance reaches cloudsim through a server of its own, so every cloud
// request is attributed to the instance that sent it. It checks that every
// operation is polled by its shard's instance only (the servers,
// cloudsim's counts and each instance's metrics agree); relabels a running
// operation from shard1 to shard2 (shard2 takes it over from the status it
// finds, shard1 stops polling it, every transition is announced exactly
// once); kills shard3's leader (its standby takes over within a lease and
// goes on polling); and finally loads every instance with more jobs than
// its share of the account's budget allows, to check that together they
// never send more than the one account's budget.
func TestSharding(t *testing.T) {
	t.Parallel()
	steps := func(o operation, n int) operation {
		for j := range n {
			o.Spec.Steps = append(o.Spec.Steps, cloudsim.StepSpec{Name: fmt.Sprintf("step-%02d", j+1), Duration: cloudsim.D(3 * time.Second)})
		}
		return o
	}
	// By shard; the mover and sh-one-dws run long enough (36 s) to be
	// Running well after the relabel. No name contains another, so a
	// request URI names one operation (instanceServer.count).
	byShard := map[string][]operation{
		"":       {steps(newOperation("sh-default-bcs", cloudsim.BCS, cloudsim.ScenarioSuccess, 0), 8), steps(newOperation("sh-default-aos", cloudsim.AOS, cloudsim.ScenarioSuccess, 0), 8)},
		"shard1": {steps(newOperation("sh-one-dws", cloudsim.DWS, cloudsim.ScenarioSuccess, 0), 12), steps(newOperation("sh-mover-cce", cloudsim.CCE, cloudsim.ScenarioSuccess, 0), 12)},
		"shard2": {steps(newOperation("sh-two-bcs", cloudsim.BCS, cloudsim.ScenarioSuccess, 0), 8), steps(newOperation("sh-two-aos", cloudsim.AOS, cloudsim.ScenarioSuccess, 0), 8)},
		"shard3": {steps(newOperation("sh-three-cce", cloudsim.CCE, cloudsim.ScenarioSuccess, 0), 16), steps(newOperation("sh-three-dws", cloudsim.DWS, cloudsim.ScenarioSuccess, 0), 16)},
	}
	const mover, from, to = "sh-mover-cce", "shard1", "shard2"
	shardOf := map[string]string{}
	var ops []operation
	for _, shard := range shardNames {
		for _, o := range byShard[shard] {
			shardOf[o.Name] = shard
			ops = append(ops, o)
		}
	}
	s := newScenario(t, "shard", ops)

	instances := map[string]*instance{
		"":       {selector: "!" + manager.ShardLabel},
		"shard1": {shard: "shard1", selector: manager.ShardLabel + "=shard1"},
		"shard2": {shard: "shard2", selector: manager.ShardLabel + "=shard2"},
		"shard3": {shard: "shard3", selector: manager.ShardLabel + "=shard3"},
	}
	leases := map[string]string{}
	var err error
	for shard, in := range instances {
		lease, err := manager.LeaderElectionID(in.selector)
		if err != nil {
			t.Fatal(err)
		}
		if other, dup := leases[lease]; dup || lease == leaseName {
			t.Fatalf("shards %q and %q share lease %s", shard, other, lease)
		}
		leases[lease] = shard
		deleteLease(t, lease)
		if in.metricsAddr, err = testenv.FreeLoopbackAddr(); err != nil {
			t.Fatal(err)
		}
		in.srv = newInstanceServer(t, s.sim)
		args := append(endpointFlags(in.srv.URL), "--service-endpoint", "ECS="+in.srv.URL,
			"--watch-namespace", s.ns, "--watch-label-selector", in.selector, "--cloud-budget-shards", strconv.Itoa(budgetShards),
			"--cloud-qps", strconv.Itoa(budgetQPS), "--cloud-burst", strconv.Itoa(budgetBurst),
			"--metrics-bind-address", in.metricsAddr,
			"--leader-elect", "--leader-election-namespace", leaseNamespace,
			"--leader-election-lease-duration", leaseDuration.String(),
			"--leader-election-renew-deadline", renewDeadline.String(),
			"--leader-election-retry-period", retryPeriod.String())
		in.args = args
		in.proc = startManager(t, "shard-"+defaultName(shard), nil, args...)
	}
	// shard3's standby starts once its leader holds the lease, so which of
	// the two leads is known.
	lease3, _ := manager.LeaderElectionID(instances["shard3"].selector)
	leader3 := waitLeaseHolder(t, lease3, func(h string) bool { return h != "" })
	standby := instances["shard3"]
	if standby.standbyMetrics, err = testenv.FreeLoopbackAddr(); err != nil {
		t.Fatal(err)
	}
	standbyArgs := append(slices.Clone(standby.args), "--metrics-bind-address", standby.standbyMetrics)
	standby.standby = startManager(t, "shard-shard3-standby", nil, standbyArgs...)
	waitLog(t, standby.standby, "Attempting to acquire leader lease")
	holders := map[string]string{}
	for lease, shard := range leases {
		h := waitLeaseHolder(t, lease, func(h string) bool { return h != "" })
		if other, dup := holders[h]; dup {
			t.Fatalf("%s leads shards %q and %q", h, other, shard)
		}
		holders[h] = shard
		t.Logf("shard %q: lease %s held by %s", defaultName(shard), lease, h)
	}

	// Create the operations, labelled with their shard.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, o := range s.ops {
		if err := s.sim.AddOperation(o.Spec); err != nil {
			t.Fatal(err)
		}
		obj := o.object(s.ns)
		if shard := shardOf[o.Name]; shard != "" {
			obj.Labels = map[string]string{manager.ShardLabel: shard}
		}
		if err := k8s.Create(ctx, obj); err != nil {
			t.Fatalf("creating %s: %v", o.Name, err)
		}
	}
	waitAllRunning(t, s)

	// shard1 polls the mover; then it is relabelled to shard2.
	waitPolls(t, instances[from].srv, mover, time.Time{}, 2)
	relabelled := time.Now()
	patch := fmt.Sprintf(`{"metadata":{"labels":{%q:%q}}}`, manager.ShardLabel, to)
	moverObj := &opsv1.CloudOperation{}
	moverObj.Namespace, moverObj.Name = s.ns, mover
	pctx, pcancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer pcancel()
	if err := k8s.Patch(pctx, moverObj, client.RawPatch(types.MergePatchType, []byte(patch))); err != nil {
		t.Fatalf("relabelling %s: %v", mover, err)
	}
	// shard2 takes it over; once it has polled twice (a poll interval
	// apart), shard1 must have stopped.
	firstNew := waitPolls(t, instances[to].srv, mover, relabelled, 1)
	waitPolls(t, instances[to].srv, mover, relabelled, 2)
	oldAtHandover := instances[from].srv.count(mover, time.Time{})
	t.Logf("%s relabelled %s → %s; %s polled it %v later; %s sent %d requests for it after the relabel",
		mover, from, to, to, firstNew.Sub(relabelled).Round(time.Millisecond), from, instances[from].srv.count(mover, relabelled))

	// Kill shard3's leader: its standby takes the lease within a lease
	// duration and polls shard3's operations from then on.
	killed := time.Now()
	instances["shard3"].proc.Kill()
	holder := waitLeaseHolder(t, lease3, func(h string) bool { return h != leader3 && h != "" })
	takeover := time.Since(killed)
	t.Logf("shard3's leader killed; %s took its lease after %v (lease duration %v)", holder, takeover.Round(time.Millisecond), leaseDuration)
	// client-go's standby tries every retry period stretched by up to
	// JitterFactor, and counts the lease duration from when it last saw
	// the record change, not from the leader's renewal: after a kill the
	// lease is taken within a lease duration plus two such tries.
	maxTry := time.Duration(float64(retryPeriod) * (1 + leaderelection.JitterFactor))
	if bound := leaseDuration + 2*maxTry + takeoverSlack; takeover > bound {
		t.Errorf("shard3's standby took over %v after the kill, more than a lease (%v) plus two retries (%v each) plus slack %v", takeover.Round(time.Millisecond), leaseDuration, maxTry, takeoverSlack)
	}
	for _, o := range byShard["shard3"] {
		waitPolls(t, instances["shard3"].srv, o.Name, killed, 1)
	}

	s.waitTerminal(t, 2*time.Minute)
	if n := instances[from].srv.count(mover, time.Time{}); n != oldAtHandover {
		t.Errorf("%s kept polling %s after handing it over: %d requests at the handover, %d at the end", from, mover, oldAtHandover, n)
	}
	if n := instances[from].srv.count("sh-one-dws", relabelled); n == 0 {
		t.Errorf("%s did not poll its other operation after the relabel: the check above proves nothing", from)
	}

	// Every request for an operation came from its shard's instance (the
	// mover: shard1's, then shard2's), and cloudsim counted the same.
	simCounts := requestCounts(s)
	for _, o := range s.ops {
		total := 0
		for shard, in := range instances {
			n := in.srv.count(o.Name, time.Time{})
			total += n
			owner := shard == shardOf[o.Name] || (o.Name == mover && shard == to)
			switch {
			case owner && n == 0:
				t.Errorf("%s (shard %q) never polled by its instance", o.Name, defaultName(shardOf[o.Name]))
			case !owner && n > 0:
				t.Errorf("%s (shard %q) polled %d times by the %q instance", o.Name, defaultName(shardOf[o.Name]), n, defaultName(shard))
			}
		}
		if total != simCounts[o.Name] {
			t.Errorf("%s: the instances' servers saw %d requests, cloudsim counted %d", o.Name, total, simCounts[o.Name])
		}
	}

	// Each instance's metrics agree: its polls are the requests its server
	// saw, and its cache holds its shard's objects only. The default
	// instance also holds the unlabelled objects of the package's earlier
	// tests, and polls those still running at endpoints of their own
	// (spec.endpoint) or with credentials it cannot read: at least as many
	// polls as requests, then.
	own := map[string]int{"": 2, "shard1": 1, "shard2": 3, "shard3": 2}
	for shard, in := range instances {
		addr := in.metricsAddr
		if in.standby != nil {
			addr = in.standbyMetrics // the killed leader's metrics are gone
		}
		polls, cached, err := scrapeShardMetrics(addr)
		if err != nil {
			t.Errorf("instance %q: %v", defaultName(shard), err)
			continue
		}
		sent := in.srv.count("", time.Time{})
		t.Logf("instance %q: %d polls (cloudop_observations_total), %d requests on its server, %d CloudOperations in its cache", defaultName(shard), polls, sent, cached)
		switch {
		case in.standby != nil:
			// The standby's polls are those after the takeover only.
			if polls == 0 || polls > sent {
				t.Errorf("instance %q (standby after the takeover): %d polls in its metrics, %d requests on the shard's server", defaultName(shard), polls, sent)
			}
		case polls != sent && (shard != "" || polls < sent):
			t.Errorf("instance %q: %d polls in its metrics, %d requests on its server", defaultName(shard), polls, sent)
		}
		if cached < own[shard] || (shard != "" && cached != own[shard]) {
			t.Errorf("instance %q: %d CloudOperations in its cache, want %d", defaultName(shard), cached, own[shard])
		}
	}

	sum := s.verify(t)
	t.Logf("%s", sum)
	checkHandover(t, s, mover)

	checkSharedBudget(t, s, instances)
}

// shardNames are TestSharding's shards, "" for the default instance.
var shardNames = []string{"", "shard1", "shard2", "shard3"}

// checkSharedBudget creates loadPerShard never-ending ECS jobs per shard,
// more than each instance's share of the budget can poll at their
// interval, and checks that the ECS requests of all instances together
// (merged from their servers) never exceed one account's token bucket,
// budgetQPS per second plus budgetBurst, in any budgetWindow; and that the
// load did press on the budget, or the check would prove nothing.
func checkSharedBudget(t *testing.T, s *scenario, instances map[string]*instance) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	began := time.Now()
	for _, shard := range shardNames {
		for i := range loadPerShard {
			o := newOperation(fmt.Sprintf("sh-load-%s-%d", defaultName(shard), i), cloudsim.ECS, cloudsim.ScenarioNever, 0)
			if err := s.sim.AddOperation(o.Spec); err != nil {
				t.Fatal(err)
			}
			obj := o.object(s.ns)
			if shard != "" {
				obj.Labels = map[string]string{manager.ShardLabel: shard}
			}
			if err := k8s.Create(ctx, obj); err != nil {
				t.Fatalf("creating %s: %v", o.Name, err)
			}
		}
	}
	time.Sleep(loadDuration) // the measurement window, not an assertion
	var at []time.Time
	for _, in := range instances {
		at = append(at, in.srv.times("sh-load-", began)...)
	}
	slices.SortFunc(at, func(a, b time.Time) int { return a.Compare(b) })
	// The most requests any budgetWindow-long window holds.
	most, j := 0, 0
	for i := range at {
		for at[i].Sub(at[j]) >= budgetWindow {
			j++
		}
		most = max(most, i-j+1)
	}
	// A token is taken before the request is sent: scheduling delays on
	// the way to the server can bring requests of one window closer by
	// up to budgetJitter.
	bound := int(budgetQPS*(budgetWindow+budgetJitter).Seconds()) + budgetBurst
	demand := float64(len(shardNames)*loadPerShard) / pollInterval.Seconds()
	sent := float64(len(at)) / time.Since(began).Seconds()
	t.Logf("shared budget: %d ECS jobs asking for %.1f requests/s; the four instances sent %.2f/s, at most %d in any %v (one account's bucket: %d)",
		len(shardNames)*loadPerShard, demand, sent, most, budgetWindow, bound)
	if most > bound {
		t.Errorf("the instances together sent %d ECS requests within %v, more than one account's budget (%d/s, burst %d) allows: %d",
			most, budgetWindow, budgetQPS, budgetBurst, bound)
	}
	// The budget was the limit: the instances sent less than the jobs
	// asked for, and close to what the budget allows.
	if sent > 0.9*demand || sent < 0.6*budgetQPS {
		t.Errorf("sent %.2f requests/s for a demand of %.1f and a budget of %d/s: the load did not press on the budget as designed", sent, demand, budgetQPS)
	}
}

// checkHandover checks that the relabelled operation's status never went
// back (the new shard continued from what it found) and that no event of
// it repeats another (same reason and note).
func checkHandover(t *testing.T, s *scenario, name string) {
	t.Helper()
	done := -1
	for _, sn := range s.h.snapshots(name) {
		n := 0
		for _, st := range sn.Object.Status.Steps {
			if st.Phase == opsv1.PhaseSucceeded {
				n++
			}
		}
		if n < done {
			t.Errorf("%s: %d steps succeeded, then %d (%s)", name, done, n, sn)
		}
		done = n
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var list eventsv1.EventList
	if err := k8s.List(ctx, &list, client.InNamespace(s.ns)); err != nil {
		t.Fatal(err)
	}
	seen := map[string]int{}
	for _, e := range list.Items {
		if e.Regarding.Name != name {
			continue
		}
		n := 1
		if e.Series != nil {
			n = int(e.Series.Count)
		}
		seen[e.Reason+": "+e.Note] += n
	}
	for what, n := range seen {
		if n > 1 {
			t.Errorf("%s: event %q recorded %d times", name, what, n)
		}
	}
	t.Logf("%s: %d distinct events, none repeated", name, len(seen))
}

// waitPolls waits until srv has received n requests for the operation
// name since since, and returns when the n-th arrived.
func waitPolls(t *testing.T, srv *instanceServer, name string, since time.Time, n int) time.Time {
	t.Helper()
	deadline := time.Now().Add(45 * time.Second)
	for {
		if at, ok := srv.nth(name, since, n); ok {
			return at
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %d requests after %s within 45s, want %d", name, srv.count(name, since), since.Format("15:04:05.000"), n)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// defaultName names the default shard in messages.
func defaultName(shard string) string {
	if shard == "" {
		return "default"
	}
	return shard
}

// instanceServer serves a simulator to one manager instance on a port of
// its own and logs every request URI it received, with its time.
type instanceServer struct {
	// URL is the server's base URL.
	URL string

	mu   sync.Mutex
	reqs []loggedRequest
}

// loggedRequest is one request an instanceServer received.
type loggedRequest struct {
	At  time.Time
	URI string
}

func newInstanceServer(t *testing.T, sim *cloudsim.Simulator) *instanceServer {
	t.Helper()
	s := &instanceServer{}
	h := sim.Handler()
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.reqs = append(s.reqs, loggedRequest{At: time.Now(), URI: r.URL.RequestURI()})
		s.mu.Unlock()
		h.ServeHTTP(w, r)
	}))
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	srv.Start()
	t.Cleanup(srv.Close)
	s.URL = srv.URL
	return s
}

// count is how many requests naming the operation (every request, for
// "") arrived after since. Every identifier of a test operation (job,
// cluster, stack, blockchain) contains its name.
func (s *instanceServer) count(name string, since time.Time) int {
	return len(s.times(name, since))
}

// times returns when each request naming the operation (or every
// operation whose name starts so) arrived after since, in order.
func (s *instanceServer) times(name string, since time.Time) []time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	var at []time.Time
	for _, r := range s.reqs {
		if r.At.After(since) && strings.Contains(r.URI, name) {
			at = append(at, r.At)
		}
	}
	return at
}

// nth returns when the n-th request naming the operation after since
// arrived.
func (s *instanceServer) nth(name string, since time.Time, n int) (time.Time, bool) {
	if at := s.times(name, since); len(at) >= n {
		return at[n-1], true
	}
	return time.Time{}, false
}

// Series of a manager's metrics TestSharding reads.
var (
	observationsTotal = regexp.MustCompile(`(?m)^cloudop_observations_total\{[^}]*\} (\S+)$`)
	operationsGauge   = regexp.MustCompile(`(?m)^cloudop_operations\{[^}]*\} (\S+)$`)
)

// scrapeShardMetrics returns a manager's polls (cloudop_observations_total
// over every service and result) and the CloudOperations in its cache
// (cloudop_operations over every phase).
func scrapeShardMetrics(addr string) (polls, cached int, err error) {
	c := http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get("http://" + addr + "/metrics")
	if err != nil {
		return 0, 0, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, 0, err
	}
	sum := func(re *regexp.Regexp) int {
		total := 0
		for _, m := range re.FindAllStringSubmatch(string(body), -1) {
			if v, err := strconv.ParseFloat(m[1], 64); err == nil {
				total += int(v)
			}
		}
		return total
	}
	return sum(observationsTotal), sum(operationsGauge), nil
}
