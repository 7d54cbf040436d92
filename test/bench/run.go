package main

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	opsv1 "github.com/cloudop/cloudop/api/v1alpha1"
	"github.com/cloudop/cloudop/internal/cloudsim"
	"github.com/cloudop/cloudop/internal/manager"
)

const (
	benchAK      = "BENCHACCESSKEY000001"
	benchSK      = "bench-secret"
	benchProject = "0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b"
	benchNS      = "bench"
	stepsPerOp   = 4
	// bcsPerChain is how many BCS operations share a blockchain.
	bcsPerChain = 25
	// afterTerminalIntervals is how many poll intervals the run waits
	// after every operation is terminal, counting cloud calls.
	afterTerminalIntervals = 2
	// cloudQPS is the manager's per-account cloud request rate (burst
	// twice that), raised because one account holds every operation.
	cloudQPS = 500
)

// run is one benchmark in progress: what was created, and what the watch
// has seen of it.
type run struct {
	cfg config
	c   client.WithWatch
	sim *cloudsim.Simulator
	api *apiCounter
	// pids and metricsURLs are the manager instances' (one per shard).
	pids        []int
	metricsURLs []string

	mu          sync.Mutex
	expectedEnd map[string]time.Time // when cloudsim's operation turns terminal
	created     map[string]time.Time // when each create returned
	firstStatus map[string]time.Time
	terminal    map[string]time.Time
	writes      map[string]int
	changes     map[string]int // writes that changed something a user sees
	lastStatus  map[string]string
	lastVisible map[string]string
	// watchRestarts counts the times the benchmark's own watch had to
	// start over from a fresh list (its resource version had expired).
	watchRestarts int
}

func newRun(_ context.Context, restCfg *rest.Config, sim *cloudsim.Simulator, api *apiCounter, cfg config, pids []int, metricsURLs []string) (*run, error) {
	rc := rest.CopyConfig(restCfg)
	rc.QPS, rc.Burst = 500, 1000
	c, err := client.NewWithWatch(rc, client.Options{Scheme: manager.NewScheme()})
	if err != nil {
		return nil, err
	}
	return &run{
		cfg: cfg, c: c, sim: sim, api: api, pids: pids, metricsURLs: metricsURLs,
		expectedEnd: map[string]time.Time{}, created: map[string]time.Time{}, firstStatus: map[string]time.Time{}, terminal: map[string]time.Time{},
		writes: map[string]int{}, changes: map[string]int{}, lastStatus: map[string]string{}, lastVisible: map[string]string{},
	}, nil
}

// operation returns the simulator spec and the CloudOperation of index i.
// Services rotate (every fourth is BCS); BCS operations share one
// blockchain per bcsPerChain, so one list call can serve many of them.
// Run times spread over one poll interval.
func (r *run) operation(i int) (cloudsim.OperationSpec, *opsv1.CloudOperation, time.Duration) {
	total := r.cfg.duration + time.Duration(i%int(r.cfg.interval.Seconds()))*time.Second
	steps := make([]cloudsim.StepSpec, stepsPerOp)
	for s := range steps {
		steps[s] = cloudsim.StepSpec{Name: fmt.Sprintf("step-%d", s+1), Duration: cloudsim.D(total / stepsPerOp)}
	}
	spec := cloudsim.OperationSpec{ProjectID: benchProject, Steps: steps}
	obj := &opsv1.CloudOperation{
		ObjectMeta: metav1.ObjectMeta{Namespace: benchNS, Name: fmt.Sprintf("op-%05d", i)},
		Spec: opsv1.CloudOperationSpec{
			Region: "cn-north-4", CredentialsSecretRef: opsv1.SecretReference{Name: "creds"},
			PollInterval: &metav1.Duration{Duration: r.cfg.interval},
		},
	}
	switch i % 4 {
	case 0:
		spec.Service, spec.ID, spec.BlockchainID = cloudsim.BCS, fmt.Sprintf("BCSSVC01-99-%d", i), fmt.Sprintf("chain-%d", i/(4*bcsPerChain))
		obj.Spec.Service, obj.Spec.BlockchainID = opsv1.ServiceBCS, spec.BlockchainID
	case 1:
		spec.Service, spec.ID, spec.ClusterID = cloudsim.CCE, fmt.Sprintf("wf-%d", i), fmt.Sprintf("cce-%d", i)
		obj.Spec.Service, obj.Spec.ClusterID = opsv1.ServiceCCE, spec.ClusterID
	case 2:
		spec.Service, spec.ID, spec.StackID = cloudsim.AOS, fmt.Sprintf("action-%d", i), fmt.Sprintf("stack-%d", i)
		obj.Spec.Service, obj.Spec.StackID = opsv1.ServiceAOS, spec.StackID
	default:
		spec.Service, spec.ID, spec.ClusterID = cloudsim.DWS, "RESTORING", fmt.Sprintf("dws-%d", i)
		obj.Spec.Service, obj.Spec.ClusterID = opsv1.ServiceDWS, spec.ClusterID
	}
	obj.Spec.OperationID = spec.ID
	// With shards, every shards-th object stays with the default instance
	// (no label) and the others go round the shard instances.
	if k := i % max(r.cfg.shards, 1); k > 0 {
		obj.Labels = map[string]string{manager.ShardLabel: shardKey(k)}
	}
	return spec, obj, total
}

// shardKey is shard instance k's label value (k ≥ 1; 0 is the default
// instance).
func shardKey(k int) string { return fmt.Sprintf("shard%d", k) }

// sumCPU is the instances' CPU seconds together.
func (r *run) sumCPU() float64 {
	total := 0.0
	for _, pid := range r.pids {
		total += cpuSeconds(pid)
	}
	return total
}

// scrapeSum adds one counter series over every instance.
func (r *run) scrapeSum(name string) float64 {
	total := 0.0
	for _, u := range r.metricsURLs {
		total += max(scrapeCounter(u, name), 0)
	}
	return total
}

// execute creates everything, waits for the end and measures.
func (r *run) execute(ctx context.Context) (result, error) {
	res := result{n: r.cfg.n, shards: max(r.cfg.shards, 1), interval: r.cfg.interval, duration: r.cfg.duration, memLimit: r.cfg.memLimit, workers: r.cfg.workers, kubeQPS: r.cfg.kubeQPS}
	if err := r.c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: benchNS}}); err != nil {
		return res, err
	}
	secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: benchNS, Name: "creds"},
		StringData: map[string]string{"accessKey": benchAK, "secretKey": benchSK, "projectID": benchProject}}
	if err := r.c.Create(ctx, secret); err != nil {
		return res, err
	}
	watchCtx, stopWatch := context.WithCancel(ctx)
	defer stopWatch()
	go r.watch(watchCtx)
	go r.reportProgress(watchCtx, 30*time.Second)

	specs := make([]cloudsim.OperationSpec, r.cfg.n)
	objs := make([]*opsv1.CloudOperation, r.cfg.n)
	durations := make([]time.Duration, r.cfg.n)
	for i := range specs {
		specs[i], objs[i], durations[i] = r.operation(i)
	}
	start := time.Now()
	if err := r.sim.AddOperations(specs); err != nil {
		return res, err
	}
	r.mu.Lock()
	for i, o := range objs {
		r.expectedEnd[o.Name] = start.Add(durations[i])
	}
	r.mu.Unlock()
	if err := createAll(ctx, r.c, objs, r.markCreated); err != nil {
		return res, err
	}
	res.createTime = time.Since(start)
	fmt.Printf("created %d objects in %s\n", r.cfg.n, res.createTime.Round(time.Millisecond))

	// Generous: at N = 10,000 over several instances the API server on this
	// 2-core machine takes minutes; the figure is what is measured.
	if err := r.waitFor(ctx, 12*time.Minute, func() bool { return r.api.firstStatusPatches() == r.cfg.n }); err != nil {
		return res, fmt.Errorf("first status written: %d of %d: %w", r.api.firstStatusPatches(), r.cfg.n, err)
	}
	res.firstWrittenAll = latestOf(r.api.firstStatusPatchTimes()).Sub(start)
	fmt.Printf("every object's first status written after %s\n", res.firstWrittenAll.Round(time.Millisecond))

	// Steady state: from now until the first operation ends. The watch
	// may still be catching up; the manager is past its start-up work.
	apiServer, etcd := childProcess("kube-apiserver"), childProcess("etcd")
	instance0 := make([]float64, len(r.pids))
	for i, pid := range r.pids {
		instance0[i] = cpuSeconds(pid)
	}
	cpu0, api0, etcd0, t0 := r.sumCPU(), cpuSeconds(apiServer), cpuSeconds(etcd), time.Now()
	callsSteady0 := r.sim.Counts().Total.Total
	if err := r.waitFor(ctx, 12*time.Minute, func() bool { return len(r.firstStatus) == r.cfg.n }); err != nil {
		r.mu.Lock()
		got := len(r.firstStatus)
		r.mu.Unlock()
		return res, fmt.Errorf("first status seen: %d of %d: %w", got, r.cfg.n, err)
	}
	res.firstStatusAll = r.latest(r.firstStatus).Sub(start)
	fmt.Printf("a watch has seen every object's first status after %s\n", res.firstStatusAll.Round(time.Millisecond))
	res.firstWrittenLatency, res.firstSeenLatency = r.firstStatusLatencies()
	steadyEnd := start.Add(r.cfg.duration)
	if wait := time.Until(steadyEnd); wait > 0 {
		time.Sleep(wait)
	}
	elapsed := time.Since(t0).Seconds()
	// Less than one interval of steady state measures start-up or
	// completions, not polling: say so rather than report it.
	if res.steadyMeasured = steadyEnd.Sub(t0) >= r.cfg.interval; res.steadyMeasured {
		res.steadyCores = (r.sumCPU() - cpu0) / elapsed
		for i, pid := range r.pids {
			res.instanceCores = append(res.instanceCores, (cpuSeconds(pid)-instance0[i])/elapsed)
		}
		res.apiServerCores = (cpuSeconds(apiServer) - api0) / elapsed
		res.etcdCores = (cpuSeconds(etcd) - etcd0) / elapsed
		res.steadyCallsPerOpPerInterval = float64(r.sim.Counts().Total.Total-callsSteady0) / float64(r.cfg.n) / (elapsed / r.cfg.interval.Seconds())
	}

	deadline := r.cfg.duration + 3*r.cfg.interval + 5*time.Minute
	if err := r.waitFor(ctx, deadline, func() bool { return len(r.terminal) == r.cfg.n }); err != nil {
		return res, fmt.Errorf("terminal: %d of %d: %w", len(r.terminal), r.cfg.n, err)
	}
	res.allTerminal = r.latest(r.terminal).Sub(start)
	counts := r.sim.Counts()
	res.callsRunning = counts.Total.Total
	res.bcsListsPerChainPerInterval = bcsListRate(counts, r.cfg.interval, res.allTerminal)

	// After terminal: nothing more should be called.
	time.Sleep(afterTerminalIntervals*r.cfg.interval + 5*time.Second)
	res.callsAfterTerminal = r.sim.Counts().Total.Total - res.callsRunning
	res.cpuSeconds = r.sumCPU()
	for _, pid := range r.pids {
		rss := peakRSS(pid)
		res.instanceRSS = append(res.instanceRSS, rss)
		res.peakRSS = max(res.peakRSS, rss)
	}
	for _, u := range r.metricsURLs {
		res.instanceCloudCalls = append(res.instanceCloudCalls, scrapeMetricSum(u, "cloudop_cloud_requests_total"))
		res.instanceWrites = append(res.instanceWrites, scrapeCounter(u, "cloudop_status_writes_total"))
	}
	res.statusWrites = r.scrapeSum("cloudop_status_writes_total")
	res.eventsCreated = r.scrapeSum(`cloudop_events_total{result="created"}`)
	res.api = r.api.snapshot()
	res.eventsExisting = r.scrapeSum(`cloudop_events_total{result="exists"}`)

	r.mu.Lock()
	defer r.mu.Unlock()
	var latencies []time.Duration
	for name, seen := range r.terminal {
		latencies = append(latencies, seen.Sub(r.expectedEnd[name]))
	}
	sort.Slice(latencies, func(i, j int) bool { return latencies[i] < latencies[j] })
	res.latencyP50 = latencies[len(latencies)/2]
	res.latencyP99 = latencies[len(latencies)*99/100]
	for name := range r.writes {
		res.watchedWrites += r.writes[name]
		res.visibleChanges += r.changes[name]
	}
	res.benchWatchRestarts = r.watchRestarts
	return res, nil
}

// markCreated records when an object's create returned.
func (r *run) markCreated(name string, at time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.created[name] = at
}

// firstStatusLatencies are, per object, the time from its creation to its
// first status patch (the manager's side) and to a watch seeing that
// status (which adds the API server's delivery).
func (r *run) firstStatusLatencies() (written, seen latencySummary) {
	patched := r.api.firstStatusPatchTimes()
	r.mu.Lock()
	defer r.mu.Unlock()
	var w, s []time.Duration
	for name, at := range patched {
		w = append(w, at.Sub(r.created[name]))
	}
	for name, at := range r.firstStatus {
		s = append(s, at.Sub(r.created[name]))
	}
	return summarize(w), summarize(s)
}

// latencySummary is the median, 99th percentile and maximum of a set of
// latencies.
type latencySummary struct{ p50, p99, max time.Duration }

func summarize(ds []time.Duration) latencySummary {
	return latencySummary{quantile(ds, 0.5), quantile(ds, 0.99), quantile(ds, 1)}
}

func (l latencySummary) String() string {
	return fmt.Sprintf("%s / %s / %s", l.p50.Round(100*time.Millisecond), l.p99.Round(100*time.Millisecond), l.max.Round(100*time.Millisecond))
}

// createAll creates the objects with a few parallel workers, telling
// created when each create returned.
func createAll(ctx context.Context, c client.Client, objs []*opsv1.CloudOperation, created func(name string, at time.Time)) error {
	work := make(chan *opsv1.CloudOperation)
	errs := make(chan error, 1)
	var wg sync.WaitGroup
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for o := range work {
				if err := c.Create(ctx, o); err != nil {
					select {
					case errs <- err:
					default:
					}
					continue
				}
				created(o.Name, time.Now())
			}
		}()
	}
	for _, o := range objs {
		work <- o
	}
	close(work)
	wg.Wait()
	select {
	case err := <-errs:
		return err
	default:
		return nil
	}
}

// watch records, for every object, when it got its first status, when it
// turned terminal, and how many status writes it took.
func (r *run) watch(ctx context.Context) {
	rv := ""
	for ctx.Err() == nil {
		w, err := r.c.Watch(ctx, &opsv1.CloudOperationList{}, client.InNamespace(benchNS), &client.ListOptions{Raw: &metav1.ListOptions{ResourceVersion: rv}})
		if err != nil {
			time.Sleep(time.Second)
			continue
		}
		for ev := range w.ResultChan() {
			if ev.Type == watch.Error {
				// Usually 410 Gone: the resource version left the API
				// server's window while this watch was closed. Watching
				// again from it would fail forever; an empty one starts
				// with every object as it is now, and observe ignores
				// what it has already seen.
				rv = ""
				r.mu.Lock()
				r.watchRestarts++
				r.mu.Unlock()
				continue
			}
			o, ok := ev.Object.(*opsv1.CloudOperation)
			if !ok || (ev.Type != watch.Added && ev.Type != watch.Modified) {
				continue
			}
			rv = o.ResourceVersion
			r.observe(o, time.Now())
		}
		w.Stop()
	}
}

// reportProgress prints, every period, how far the run is and what each
// manager instance has written, so a stalled instance shows.
func (r *run) reportProgress(ctx context.Context, period time.Duration) {
	start := time.Now()
	for {
		select {
		case <-ctx.Done():
			return
		case <-time.After(period):
		}
		writes := make([]string, len(r.metricsURLs))
		for i, u := range r.metricsURLs {
			writes[i] = fmt.Sprintf("%.0f", scrapeCounter(u, "cloudop_status_writes_total"))
		}
		watches := r.api.snapshot().tally[requestKind{"watch", "cloudoperations", ""}].count
		written := r.api.firstStatusPatches()
		r.mu.Lock()
		fmt.Printf("  %s: first status written %d, seen %d/%d, terminal %d/%d, status writes per instance [%s], manager watches opened %d, bench watch restarts %d\n",
			time.Since(start).Round(time.Second), written, len(r.firstStatus), r.cfg.n, len(r.terminal), r.cfg.n,
			strings.Join(writes, " "), watches, r.watchRestarts)
		r.mu.Unlock()
	}
}

func (r *run) observe(o *opsv1.CloudOperation, now time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	status := fmt.Sprintf("%+v", o.Status)
	if len(o.Status.Conditions) == 0 || status == r.lastStatus[o.Name] {
		return
	}
	r.lastStatus[o.Name] = status
	r.writes[o.Name]++
	if v := visible(o); v != r.lastVisible[o.Name] {
		r.lastVisible[o.Name] = v
		r.changes[o.Name]++
	}
	if _, ok := r.firstStatus[o.Name]; !ok {
		r.firstStatus[o.Name] = now
	}
	if o.IsTerminal() {
		if _, ok := r.terminal[o.Name]; !ok {
			r.terminal[o.Name] = now
		}
	}
}

// visible is what a user or client can tell apart: phase, progress, steps
// and the conditions' status and reason.
func visible(o *opsv1.CloudOperation) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s|%s|%v|%s|", o.Status.Phase, o.Status.ServiceStatus, derefInt(o.Status.Progress), o.Status.CurrentStep)
	for _, s := range o.Status.Steps {
		fmt.Fprintf(&b, "%s=%s;", s.Name, s.Phase)
		for _, sub := range s.SubSteps {
			fmt.Fprintf(&b, "%s=%s,", sub.Name, sub.Phase)
		}
	}
	for _, c := range o.Status.Conditions {
		fmt.Fprintf(&b, "%s=%s/%s;", c.Type, c.Status, c.Reason)
	}
	return b.String()
}

func derefInt(p *int32) int32 {
	if p == nil {
		return -1
	}
	return *p
}

func (r *run) waitFor(ctx context.Context, timeout time.Duration, done func() bool) error {
	deadline := time.Now().Add(timeout)
	for {
		r.mu.Lock()
		ok := done()
		r.mu.Unlock()
		if ok {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("timed out after %s", timeout)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// latest is latestOf one of the run's maps, read under its lock.
func (r *run) latest(m map[string]time.Time) time.Time {
	r.mu.Lock()
	defer r.mu.Unlock()
	return latestOf(m)
}

// latestOf is the latest time in m.
func latestOf(m map[string]time.Time) time.Time {
	var t time.Time
	for _, v := range m {
		if v.After(t) {
			t = v
		}
	}
	return t
}

// bcsListRate is the mean number of ListOpRecord calls per blockchain per
// poll interval, over the time from creation until every operation ended.
func bcsListRate(c cloudsim.Counts, interval, running time.Duration) float64 {
	chains, calls := 0, 0
	for key, rc := range c.BCSLists {
		if strings.Contains(key, "/") {
			chains++
			calls += rc.Total
		}
	}
	if chains == 0 {
		return 0
	}
	return float64(calls) / float64(chains) / (running.Seconds() / interval.Seconds())
}
