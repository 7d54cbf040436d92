package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/rest"
	toolscache "k8s.io/client-go/tools/cache"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	opsv1 "github.com/cloudop/cloudop/api/v1alpha1"
	"github.com/cloudop/cloudop/internal/cloud"
	"github.com/cloudop/cloudop/internal/cloudsim"
	"github.com/cloudop/cloudop/internal/manager"
	"github.com/cloudop/cloudop/internal/testenv"
)

// The discovery scenario: CloudOperationSources list BCS blockchains (and
// a share of CCE clusters) whose operations start on their own over a few
// minutes, as if started from the console (cloudsim's StartsIn: invisible
// until then). The manager mirrors each one as a CloudOperation, tracks
// it to its end and deletes it again by the template's TTL or the
// source's history limits. The benchmark measures how often each
// resource is listed, how long an operation waits for its
// CloudOperation, and how many objects there are.

// discoveryConfig sizes the scenario.
type discoveryConfig struct {
	sources, opsPerSource int
	// cceEvery makes every cceEvery-th source (the last of each group) a
	// CCE cluster's; 0 makes them all BCS blockchains'.
	cceEvery int
	// interval is every source's spec.interval and its CloudOperations'
	// poll interval.
	interval time.Duration
	// spread: operations start (StartsIn) spread over [0, spread).
	spread time.Duration
	// minRun, maxRun bound an operation's run time (three equal steps).
	minRun, maxRun time.Duration
	// Sources of even index get template.ttlSecondsAfterFinished = ttl
	// (default history limits); odd ones no TTL and the history limits
	// okLimit and failLimit.
	ttl                int32
	okLimit, failLimit int32
	// stagger spreads the sources' creation; the operations are added
	// after it.
	stagger time.Duration
	// quietIntervals is how many intervals are measured after every
	// operation is seen terminal (the trackers idle, the sources still
	// listing); 0 ends the scenario as soon as every operation is
	// mirrored, without waiting for the ends (the test).
	quietIntervals int
	seed           uint64
	// startManager starts the manager against kubeconfig (the counting
	// proxy's), with cloudsim at simURL and metrics at metricsAddr.
	startManager managerStarter
}

// defaultDiscovery is the scenario `make bench` runs with -discovery n.
func defaultDiscovery(n, opsPerSource int, start managerStarter) discoveryConfig {
	return discoveryConfig{
		sources: n, opsPerSource: opsPerSource, cceEvery: 5,
		interval: 30 * time.Second, stagger: 30 * time.Second, spread: 2 * time.Minute, minRun: 30 * time.Second, maxRun: 50 * time.Second,
		ttl: 20, okLimit: 3, failLimit: 1, quietIntervals: 1, seed: 1, startManager: start,
	}
}

// managerStarter starts a manager; stop ends it. pid is its process (0
// when it runs in this one: no CPU or memory is then measured).
type managerStarter func(ctx context.Context, kubeconfig string, restCfg *rest.Config, simURL, metricsAddr string) (pid int, stop func(), err error)

// binaryManager runs the manager binary, as the other scenarios do.
func binaryManager(bin, memLimit string) managerStarter {
	return func(_ context.Context, kubeconfig string, _ *rest.Config, simURL, metricsAddr string) (int, func(), error) {
		args := []string{"--kubeconfig", kubeconfig, "--metrics-secure=false", "--health-probe-bind-address", "0",
			"--metrics-bind-address", metricsAddr, "--zap-log-level", "error",
			"--cloud-qps", strconv.Itoa(cloudQPS), "--cloud-burst", strconv.Itoa(2 * cloudQPS), "--cloud-global-qps", "2000", "--cloud-global-burst", "4000"}
		for _, svc := range cloud.Services {
			args = append(args, "--service-endpoint", string(svc)+"="+simURL)
		}
		mgr := exec.Command(bin, args...)
		mgr.Stdout, mgr.Stderr = os.Stderr, os.Stderr
		mgr.Env = os.Environ()
		if memLimit != "" {
			mgr.Env = append(mgr.Env, "GOMEMLIMIT="+memLimit)
		}
		if err := mgr.Start(); err != nil {
			return 0, nil, fmt.Errorf("starting manager %s (run make build): %w", bin, err)
		}
		return mgr.Process.Pid, func() { _ = mgr.Process.Kill(); _ = mgr.Wait() }, nil
	}
}

// inProcessManager runs the manager in this process (the test: no binary
// to build), with the same options as binaryManager's flags.
func inProcessManager() managerStarter {
	return func(ctx context.Context, _ string, restCfg *rest.Config, simURL, metricsAddr string) (int, func(), error) {
		o := manager.Options{MetricsAddr: metricsAddr, ProbeAddr: "0", Workers: 16, RequestTimeout: 15 * time.Second}
		for _, svc := range cloud.Services {
			o.ServiceEndpoints = append(o.ServiceEndpoints, string(svc)+"="+simURL)
		}
		mgr, err := manager.New(restCfg, o)
		if err != nil {
			return 0, nil, err
		}
		ctx, cancel := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() {
			defer close(done)
			if err := mgr.Start(ctx); err != nil {
				fmt.Fprintln(os.Stderr, "bench: manager:", err)
			}
		}()
		return 0, func() { cancel(); <-done }, nil
	}
}

// discoveryOp is one simulated operation and what the benchmark expects
// of it.
type discoveryOp struct {
	key     string // opKey
	source  int
	service opsv1.Service
	start   time.Time // when cloudsim starts it
	end     time.Time // when cloudsim ends it
	fails   bool
	limited bool // its source has history limits (and no TTL)
}

// opKey identifies an operation as a CloudOperation names it.
func opKey(svc opsv1.Service, resource, id string) string {
	return string(svc) + "/" + resource + "/" + id
}

// listSnap is what had been listed at one instant: cloud list calls per
// source's resource (cloudsim), and the source lists and BCS polls the
// manager asked for (its metrics; a BCS one may be served by a list
// already made).
type listSnap struct {
	at       time.Time
	calls    []int // per source, cloudsim's list calls of its resource
	srcLists map[opsv1.SourceService]float64
	bcsPolls float64
}

// discoveryResult is what the scenario measured.
type discoveryResult struct {
	cfg                        discoveryConfig
	bcsSources, cceSources     int
	ops, failing               int
	when                       time.Time
	wall, scenario             time.Duration // whole run; sources' creation → end
	stagger                    time.Duration // creating the sources
	loadStart, loadEnd         string        // the machine's 1-minute load average
	allMirrored, allTerminal   time.Duration // after the operations were added
	mirroredOnce, missing, dup int
	// missingOps describe the operations never mirrored.
	missingOps   []string
	mislabelled  int
	latency      []time.Duration // start in cloudsim → CloudOperation seen
	latencyBySvc map[opsv1.Service][]time.Duration
	// Windows of whole intervals, half an interval off the sources'
	// lists: while operations ran, and after every one was seen
	// terminal.
	running, quiet windowRates
	// Over the whole run: list requests of the sources and cloud list
	// calls per resource, against one per interval plus the first.
	srcListsTotal    map[opsv1.SourceService]float64
	srcListsBudget   map[opsv1.SourceService]int
	cceOverBudget    int
	bcsCallsTotal    int // cloudsim ListOpRecord calls of the blockchains
	bcsFiltered      int // BCS calls that were not list calls (operation_id lookups)
	bcsPollsTotal    float64
	peakObjects      int
	endObjects       int
	expectedEnd      int
	created, pruned  float64 // manager metrics
	expired          float64
	cpuSeconds       float64
	peakRSS          int64
	peakHeap         float64
	api              apiCounts
	sourceStatusSeen int // sources whose status says Ready=True at the end
}

// windowRates are per-interval rates over one window of whole intervals.
type windowRates struct {
	intervals int
	// Per source of the service: the source's list requests (manager
	// metric) and the cloud list calls of its resource (cloudsim).
	srcLists  map[opsv1.SourceService]float64
	calls     map[opsv1.SourceService]float64
	maxCalls  map[opsv1.SourceService]float64 // the busiest resource's
	bcsPolls  float64                         // BCS tracker polls in the window, all
	bcsCalls  int                             // BCS list calls in the window, all
	bcsSrcReq float64                         // BCS source list requests in the window, all
	// Cloud list calls per blockchain per interval, apart for the sources
	// whose lists fall near the trackers' aligned tick (within the list
	// window of it, where one call can serve both) and the others.
	nearTick, offTick   float64
	nearTickN, offTickN int
}

// discoveryRun is the scenario in progress.
type discoveryRun struct {
	cfg     discoveryConfig
	sim     *cloudsim.Simulator
	metrics string
	srcs    []*opsv1.CloudOperationSource
	ops     map[string]*discoveryOp
	// nearTick marks the sources created (so listing) close enough to
	// the trackers' wall-clock tick to share its list call.
	nearTick []bool

	mu       sync.Mutex
	seen     map[string]map[types.UID]time.Time // op key → UIDs of its CloudOperations, first seen
	terminal map[string]time.Time
	live     map[types.UID]bool
	peak     int
	strays   map[types.UID]bool // CloudOperations of no known operation, or mislabelled
	snaps    []listSnap
	peakHeap float64
}

// runDiscovery runs the scenario on a fresh control plane.
func runDiscovery(ctx context.Context, cfg discoveryConfig) (discoveryResult, error) {
	wall := time.Now()
	res := discoveryResult{cfg: cfg, when: wall, latencyBySvc: map[opsv1.Service][]time.Duration{}, loadStart: loadAverage()}
	env, restCfg, err := testenv.Start()
	if err != nil {
		return res, err
	}
	defer func() { _ = env.Stop() }()
	work, err := os.MkdirTemp("", "cloudop-bench-discovery-")
	if err != nil {
		return res, err
	}
	defer os.RemoveAll(work)
	counter, err := startAPICounter(restCfg)
	if err != nil {
		return res, err
	}
	defer counter.close()
	kubeconfig := filepath.Join(work, "kubeconfig")
	if err := testenv.WriteKubeconfig(counter.config(), kubeconfig); err != nil {
		return res, err
	}
	sim, err := cloudsim.New(cloudsim.Config{Accounts: []cloudsim.Account{{AccessKey: benchAK, SecretKey: benchSK, ProjectIDs: []string{benchProject}}}})
	if err != nil {
		return res, err
	}
	simURL, stopSim, err := serveSim(sim)
	if err != nil {
		return res, err
	}
	defer stopSim()
	metricsAddr, err := testenv.FreeLoopbackAddr()
	if err != nil {
		return res, err
	}
	pid, stopManager, err := cfg.startManager(ctx, kubeconfig, counter.config(), simURL, metricsAddr)
	if err != nil {
		return res, err
	}
	defer stopManager()

	r := &discoveryRun{cfg: cfg, sim: sim, metrics: "http://" + metricsAddr + "/metrics", ops: map[string]*discoveryOp{},
		seen: map[string]map[types.UID]time.Time{}, terminal: map[string]time.Time{}, live: map[types.UID]bool{}, strays: map[types.UID]bool{}}
	rc := rest.CopyConfig(restCfg)
	rc.QPS, rc.Burst = 500, 1000
	c, err := client.New(rc, client.Options{Scheme: manager.NewScheme()})
	if err != nil {
		return res, err
	}
	if err := c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: benchNS}}); err != nil {
		return res, err
	}
	if err := c.Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: benchNS, Name: "creds"},
		StringData: map[string]string{"accessKey": benchAK, "secretKey": benchSK, "projectID": benchProject}}); err != nil {
		return res, err
	}
	watchCtx, stopWatch := context.WithCancel(ctx)
	defer stopWatch()
	if err := r.watch(watchCtx, rc); err != nil {
		return res, err
	}
	// The source controller's metrics appear once it runs: creating the
	// sources earlier would measure the manager's start.
	if err := waitUntil(ctx, 2*time.Minute, func() bool {
		return scrapeCounter(r.metrics, `controller_runtime_max_concurrent_reconciles{controller="cloudoperationsource"}`) > 0
	}); err != nil {
		return res, fmt.Errorf("source controller not started: %w", err)
	}

	// The sources first, spread over cfg.stagger as users would create
	// them (so their lists fall at every phase of the trackers' aligned
	// ticks, not all at one), then the operations, which all start once
	// every source exists.
	specs := r.plan(&res)
	tSources := time.Now()
	created := make([]time.Time, len(r.srcs))
	for i, s := range r.srcs {
		if wait := time.Until(tSources.Add(cfg.stagger * time.Duration(i) / time.Duration(len(r.srcs)))); wait > 0 {
			time.Sleep(wait)
		}
		if err := c.Create(ctx, s); err != nil {
			return res, fmt.Errorf("creating source %s: %w", s.Name, err)
		}
		created[i] = time.Now()
		r.nearTick = append(r.nearTick, nearTick(created[i], cfg.interval))
	}
	if wait := time.Until(tSources.Add(cfg.stagger)); wait > 0 {
		time.Sleep(wait)
	}
	t0 := time.Now()
	if err := sim.AddOperations(specs); err != nil {
		return res, err
	}
	lastEnd := t0
	for i, s := range specs {
		op := r.ops[opKeyOfSpec(s)]
		op.start = t0.Add(s.StartsIn.Duration)
		op.end = op.start.Add(runOf(specs[i]))
		if op.end.After(lastEnd) {
			lastEnd = op.end
		}
	}
	res.stagger = t0.Sub(tSources)
	fmt.Printf("created %d sources over %s, then added %d operations starting over %s\n", len(r.srcs), res.stagger.Round(time.Millisecond), len(specs), cfg.spread)

	loopCtx, stopLoops := context.WithCancel(ctx)
	defer stopLoops()
	go r.snapshotAtBoundaries(loopCtx, t0)
	go r.sample(loopCtx, t0, 2*time.Second, 30*time.Second)

	// An operation not mirrored two intervals after it ended will not be:
	// it is reported missing rather than waited for.
	giveUp := lastEnd.Add(2*cfg.interval + 5*time.Second)
	if err := waitUntil(ctx, cfg.spread+4*cfg.interval+2*time.Minute, func() bool {
		return r.mirrored() == len(r.ops) || time.Now().After(giveUp)
	}); err != nil {
		return res, fmt.Errorf("mirrored: %d of %d operations: %w", r.mirrored(), len(r.ops), err)
	}
	res.allMirrored = r.latestFirstSeen().Sub(t0)
	fmt.Printf("%d of %d operations mirrored, the last %s after they were added\n", r.mirrored(), len(r.ops), res.allMirrored.Round(time.Second))
	end := time.Now()
	if cfg.quietIntervals == 0 {
		// A CloudOperation created twice by the list that mirrored the
		// last operation would arrive just after it.
		time.Sleep(2 * time.Second)
	} else {
		if err := waitUntil(ctx, time.Until(lastEnd)+4*cfg.interval+2*time.Minute, func() bool { return r.terminals() == r.mirrored() }); err != nil {
			return res, fmt.Errorf("terminal: %d of %d mirrored operations: %w", r.terminals(), r.mirrored(), err)
		}
		tT := r.latestTerminal()
		res.allTerminal = tT.Sub(t0)
		fmt.Printf("every mirrored operation seen terminal %s after they were added\n", res.allTerminal.Round(time.Second))
		// The quiet window starts at the first boundary a few seconds
		// after the last terminal status (a tracker's last poll may be in
		// flight).
		q := boundaryAfter(t0, cfg.interval, tT.Add(3*time.Second))
		if err := waitUntil(ctx, time.Until(boundary(t0, cfg.interval, q+cfg.quietIntervals))+time.Minute, func() bool {
			r.mu.Lock()
			defer r.mu.Unlock()
			return len(r.snaps) > q+cfg.quietIntervals
		}); err != nil {
			return res, fmt.Errorf("quiet window: %w", err)
		}
		r.mu.Lock()
		snaps := append([]listSnap(nil), r.snaps...)
		r.mu.Unlock()
		end = snaps[q+cfg.quietIntervals].at
		// The running window: whole intervals until the last operation
		// ended in cloudsim.
		if k := boundaryAfter(t0, cfg.interval, lastEnd) - 1; k > 0 {
			res.running = r.rates(snaps[0], snaps[k], k)
		}
		res.quiet = r.rates(snaps[q], snaps[q+cfg.quietIntervals], cfg.quietIntervals)
	}
	stopLoops()
	final := r.snapshot(time.Now())
	res.scenario = end.Sub(tSources)

	// Whole run: the sources' list requests and the CCE clusters' list
	// calls against one per interval since each source's creation, plus
	// the first; a BCS source lists on the trackers' wall-clock tick, so
	// its second list comes at the first tick after its creation, sooner
	// than an interval: one more.
	res.srcListsTotal, res.srcListsBudget = final.srcLists, map[opsv1.SourceService]int{}
	for i, s := range r.srcs {
		budget := 1 + int(final.at.Sub(created[i])/cfg.interval)
		if s.Spec.Service == opsv1.SourceBCS {
			budget++
		}
		res.srcListsBudget[s.Spec.Service] += budget
		switch s.Spec.Service {
		case opsv1.SourceCCE:
			if final.calls[i] > budget {
				res.cceOverBudget++
			}
		case opsv1.SourceBCS:
			res.bcsCallsTotal += final.calls[i]
		}
	}
	counts := sim.Counts()
	bcsAll := counts.Services[cloudsim.BCS].Total
	bcsLists := 0
	for resource, rc := range counts.Lists[cloudsim.BCS] {
		if !strings.Contains(resource, "/") { // the project's key counts the same calls again
			bcsLists += rc.Total
		}
	}
	res.bcsFiltered = bcsAll - bcsLists
	res.bcsPollsTotal = final.bcsPolls

	var objs opsv1.CloudOperationList
	if err := c.List(ctx, &objs, client.InNamespace(benchNS)); err != nil {
		return res, err
	}
	res.endObjects = len(objs.Items)
	var srcs opsv1.CloudOperationSourceList
	if err := c.List(ctx, &srcs, client.InNamespace(benchNS)); err != nil {
		return res, err
	}
	for _, s := range srcs.Items {
		if cond := meta(s.Status.Conditions, "Ready"); cond != nil && cond.Status == metav1.ConditionTrue {
			res.sourceStatusSeen++
		}
	}
	res.created = scrapeMetricSum(r.metrics, "cloudop_source_operations_created_total")
	res.pruned = scrapeMetricSum(r.metrics, "cloudop_source_operations_pruned_total")
	res.expired = scrapeMetricSum(r.metrics, "cloudop_operations_expired_total")
	if pid > 0 {
		res.cpuSeconds, res.peakRSS = cpuSeconds(pid), peakRSS(pid)
	}
	res.api = counter.snapshot()
	stopWatch()

	r.mu.Lock()
	defer r.mu.Unlock()
	res.peakObjects, res.peakHeap = r.peak, r.peakHeap
	res.mislabelled = len(r.strays)
	for key, op := range r.ops {
		uids := r.seen[key]
		switch len(uids) {
		case 0:
			res.missing++
			retention := "TTL"
			if op.limited {
				retention = "history limits"
			}
			res.missingOps = append(res.missingOps, fmt.Sprintf("%s (source %s, %s; ran %s from %s to %s after the sources' creation)",
				key, r.srcs[op.source].Name, retention, op.end.Sub(op.start), op.start.Sub(t0).Round(100*time.Millisecond), op.end.Sub(t0).Round(100*time.Millisecond)))
			continue
		case 1:
			res.mirroredOnce++
		default:
			res.dup++
		}
		first := time.Time{}
		for _, at := range uids {
			if first.IsZero() || at.Before(first) {
				first = at
			}
		}
		res.latency = append(res.latency, first.Sub(op.start))
		res.latencyBySvc[op.service] = append(res.latencyBySvc[op.service], first.Sub(op.start))
	}
	res.wall = time.Since(wall)
	res.loadEnd = loadAverage()
	return res, nil
}

// loadAverage is the machine's 1-minute load average, "?" when unknown.
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if f := strings.Fields(string(b)); err == nil && len(f) > 0 {
		return f[0]
	}
	return "?"
}

// plan makes the sources and the operations; it fills the scenario's
// counts in res.
func (r *discoveryRun) plan(res *discoveryResult) []cloudsim.OperationSpec {
	cfg := r.cfg
	rng := rand.New(rand.NewPCG(cfg.seed, cfg.seed^0x9e3779b97f4a7c15))
	var specs []cloudsim.OperationSpec
	for i := range cfg.sources {
		cce := cfg.cceEvery > 0 && i%cfg.cceEvery == cfg.cceEvery-1
		src := &opsv1.CloudOperationSource{
			ObjectMeta: metav1.ObjectMeta{Namespace: benchNS, Name: fmt.Sprintf("src-%03d", i)},
			Spec: opsv1.CloudOperationSourceSpec{
				Region: "cn-north-4", CredentialsSecretRef: opsv1.SecretReference{Name: "creds"},
				Interval: &metav1.Duration{Duration: cfg.interval},
				Template: opsv1.CloudOperationTemplate{PollInterval: &metav1.Duration{Duration: cfg.interval}},
			},
		}
		if i%2 == 0 {
			src.Spec.Template.TTLSecondsAfterFinished = ptr.To(cfg.ttl)
		} else {
			src.Spec.SuccessfulHistoryLimit, src.Spec.FailedHistoryLimit = ptr.To(cfg.okLimit), ptr.To(cfg.failLimit)
		}
		svc, resource := opsv1.ServiceBCS, fmt.Sprintf("chain-%03d", i)
		if cce {
			svc, resource = opsv1.ServiceCCE, fmt.Sprintf("cluster-%03d", i)
			src.Spec.Service, src.Spec.ClusterID = opsv1.SourceCCE, resource
			res.cceSources++
		} else {
			src.Spec.Service, src.Spec.BlockchainID = opsv1.SourceBCS, resource
			res.bcsSources++
		}
		r.srcs = append(r.srcs, src)
		ok, failed := 0, 0
		for j := range cfg.opsPerSource {
			run := cfg.minRun + time.Duration(rng.Int64N(int64(cfg.maxRun-cfg.minRun)+1))
			run = run.Truncate(time.Second)
			steps := make([]cloudsim.StepSpec, 3)
			for k := range steps {
				steps[k] = cloudsim.StepSpec{Name: fmt.Sprintf("step-%d", k+1), Duration: cloudsim.D(run / 3)}
			}
			spec := cloudsim.OperationSpec{ProjectID: benchProject, Steps: steps,
				StartsIn: cloudsim.D(time.Duration(rng.Int64N(int64(cfg.spread))).Truncate(time.Second))}
			op := &discoveryOp{source: i, service: svc, limited: i%2 == 1}
			if cce {
				spec.Service, spec.ID, spec.ClusterID = cloudsim.CCE, fmt.Sprintf("wf-%03d-%02d", i, j), resource
			} else {
				spec.Service, spec.ID, spec.BlockchainID = cloudsim.BCS, fmt.Sprintf("dop-%03d-%02d", i, j), resource
				// One BCS operation of each blockchain fails (in its second
				// step). CCE's do not: a failed upgrade workflow can be
				// resumed, so it is polled and kept for good.
				if j == i%cfg.opsPerSource {
					spec.Scenario, spec.Params = cloudsim.ScenarioFail, cloudsim.Params{Step: 2}
					op.fails = true
				}
			}
			if op.fails {
				failed++
				res.failing++
			} else {
				ok++
			}
			op.key = opKey(svc, resource, spec.ID)
			r.ops[op.key] = op
			specs = append(specs, spec)
		}
		res.ops += cfg.opsPerSource
		if i%2 == 1 { // history limits; the TTL sources keep nothing
			res.expectedEnd += min(ok, int(cfg.okLimit)) + min(failed, int(cfg.failLimit))
		}
	}
	return specs
}

// runOf is how long an operation runs: its steps, or until its failure
// at the end of the step its scenario names.
func runOf(s cloudsim.OperationSpec) time.Duration {
	var d time.Duration
	for k, st := range s.Steps {
		d += st.Duration.Duration
		if s.Scenario == cloudsim.ScenarioFail && k+1 == s.Params.Step {
			break
		}
	}
	return d
}

func opKeyOfSpec(s cloudsim.OperationSpec) string {
	if s.Service == cloudsim.CCE {
		return opKey(opsv1.ServiceCCE, s.ClusterID, s.ID)
	}
	return opKey(opsv1.ServiceBCS, s.BlockchainID, s.ID)
}

// watch follows the namespace's CloudOperations with an informer (which
// re-lists by itself and reports deletions it missed), recording when each
// was first seen, when it was seen terminal and how many exist.
func (r *discoveryRun) watch(ctx context.Context, rc *rest.Config) error {
	informers, err := cache.New(rc, cache.Options{Scheme: manager.NewScheme(), DefaultNamespaces: map[string]cache.Config{benchNS: {}}})
	if err != nil {
		return err
	}
	go func() { _ = informers.Start(ctx) }()
	inf, err := informers.GetInformer(ctx, &opsv1.CloudOperation{})
	if err != nil {
		return err
	}
	_, err = inf.AddEventHandler(toolscache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { r.observe(obj, time.Now()) },
		UpdateFunc: func(_, obj any) { r.observe(obj, time.Now()) },
		DeleteFunc: func(obj any) {
			if d, ok := obj.(toolscache.DeletedFinalStateUnknown); ok {
				obj = d.Obj
			}
			if o, ok := obj.(*opsv1.CloudOperation); ok {
				r.mu.Lock()
				delete(r.live, o.UID)
				r.mu.Unlock()
			}
		},
	})
	return err
}

func (r *discoveryRun) observe(obj any, now time.Time) {
	o, ok := obj.(*opsv1.CloudOperation)
	if !ok {
		return
	}
	key := opKey(o.Spec.Service, o.Spec.BlockchainID+o.Spec.ClusterID, o.Spec.OperationID)
	r.mu.Lock()
	defer r.mu.Unlock()
	op, known := r.ops[key]
	if !known || o.Labels[opsv1.LabelSource] != r.srcs[op.source].Name || !ownedBy(o, r.srcs[op.source].Name) {
		r.strays[o.UID] = true
	}
	if r.seen[key] == nil {
		r.seen[key] = map[types.UID]time.Time{}
	}
	if _, ok := r.seen[key][o.UID]; !ok {
		r.seen[key][o.UID] = now
	}
	r.live[o.UID] = true
	r.peak = max(r.peak, len(r.live))
	if o.IsTerminal() {
		if _, ok := r.terminal[key]; !ok {
			r.terminal[key] = now
		}
	}
}

func ownedBy(o *opsv1.CloudOperation, source string) bool {
	for _, ref := range o.OwnerReferences {
		if ref.Kind == "CloudOperationSource" && ref.Name == source && ref.Controller != nil && *ref.Controller {
			return true
		}
	}
	return false
}

func (r *discoveryRun) mirrored() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for key := range r.ops {
		if len(r.seen[key]) > 0 {
			n++
		}
	}
	return n
}

func (r *discoveryRun) terminals() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.terminal)
}

func (r *discoveryRun) latestTerminal() time.Time {
	r.mu.Lock()
	defer r.mu.Unlock()
	return latestOf(r.terminal)
}

func (r *discoveryRun) latestFirstSeen() time.Time {
	r.mu.Lock()
	defer r.mu.Unlock()
	var t time.Time
	for _, uids := range r.seen {
		first := time.Time{}
		for _, at := range uids {
			if first.IsZero() || at.Before(first) {
				first = at
			}
		}
		if first.After(t) {
			t = first
		}
	}
	return t
}

// nearTick reports whether a source first listing at t lists close
// enough to the trackers' aligned tick (a multiple of the interval on the
// wall clock, polls spread over 2 s after it) for one call to serve both
// within the BCS list window (5 s): from 5 s before the tick to 7 s after.
func nearTick(t time.Time, interval time.Duration) bool {
	phase := time.Duration(t.UnixNano() % int64(interval))
	return phase < 7*time.Second || phase > interval-5*time.Second
}

// boundary is the j-th window boundary: half an interval after the
// operations were added (t0), then every interval. A source listing once
// per interval lists once between two boundaries, or not at all when its
// period (the interval plus the time a list takes) steps over one.
func boundary(t0 time.Time, interval time.Duration, j int) time.Time {
	return t0.Add(interval/2 + time.Duration(j)*interval)
}

// boundaryAfter is the index of the first boundary not before t.
func boundaryAfter(t0 time.Time, interval time.Duration, t time.Time) int {
	j := 0
	for boundary(t0, interval, j).Before(t) {
		j++
	}
	return j
}

// snapshotAtBoundaries takes a listSnap at every boundary.
func (r *discoveryRun) snapshotAtBoundaries(ctx context.Context, t0 time.Time) {
	for j := 0; ; j++ {
		select {
		case <-ctx.Done():
			return
		case <-time.After(time.Until(boundary(t0, r.cfg.interval, j))):
		}
		s := r.snapshot(time.Now())
		r.mu.Lock()
		r.snaps = append(r.snaps, s)
		r.mu.Unlock()
	}
}

func (r *discoveryRun) snapshot(at time.Time) listSnap {
	s := listSnap{at: at, calls: make([]int, len(r.srcs)), srcLists: map[opsv1.SourceService]float64{}}
	for i, src := range r.srcs {
		if src.Spec.Service == opsv1.SourceCCE {
			s.calls[i] = r.sim.ListCount(cloudsim.CCE, benchProject+"/"+src.Spec.ClusterID)
		} else {
			s.calls[i] = r.sim.ListCount(cloudsim.BCS, benchProject+"/"+src.Spec.BlockchainID)
		}
	}
	for _, svc := range []opsv1.SourceService{opsv1.SourceBCS, opsv1.SourceCCE} {
		s.srcLists[svc] = scrapeLabelled(r.metrics, "cloudop_source_lists_total", `service="`+string(svc)+`"`)
	}
	s.bcsPolls = scrapeLabelled(r.metrics, "cloudop_observations_total", `service="BCS"`)
	return s
}

// rates are the per-interval rates between two snapshots k intervals
// apart.
func (r *discoveryRun) rates(from, to listSnap, k int) windowRates {
	w := windowRates{intervals: k, srcLists: map[opsv1.SourceService]float64{}, calls: map[opsv1.SourceService]float64{}, maxCalls: map[opsv1.SourceService]float64{}}
	n := map[opsv1.SourceService]int{}
	for i, src := range r.srcs {
		svc := src.Spec.Service
		calls := float64(to.calls[i]-from.calls[i]) / float64(k)
		n[svc]++
		w.calls[svc] += calls
		w.maxCalls[svc] = max(w.maxCalls[svc], calls)
		if svc == opsv1.SourceBCS {
			w.bcsCalls += to.calls[i] - from.calls[i]
			if r.nearTick[i] {
				w.nearTick += calls
				w.nearTickN++
			} else {
				w.offTick += calls
				w.offTickN++
			}
		}
	}
	for svc, count := range n {
		w.calls[svc] /= float64(count)
		w.srcLists[svc] = (to.srcLists[svc] - from.srcLists[svc]) / float64(count) / float64(k)
	}
	w.nearTick /= float64(max(w.nearTickN, 1))
	w.offTick /= float64(max(w.offTickN, 1))
	w.bcsPolls = to.bcsPolls - from.bcsPolls
	w.bcsSrcReq = to.srcLists[opsv1.SourceBCS] - from.srcLists[opsv1.SourceBCS]
	return w
}

// sample follows the number of CloudOperations and the manager's heap,
// and prints progress every report period.
func (r *discoveryRun) sample(ctx context.Context, t0 time.Time, period, report time.Duration) {
	lastReport := time.Now()
	for {
		select {
		case <-ctx.Done():
			return
		case <-time.After(period):
		}
		heap := scrapeCounter(r.metrics, "go_memstats_heap_inuse_bytes")
		r.mu.Lock()
		r.peakHeap = max(r.peakHeap, heap)
		live, term := len(r.live), len(r.terminal)
		r.mu.Unlock()
		if time.Since(lastReport) >= report {
			lastReport = time.Now()
			fmt.Printf("  %s: mirrored %d/%d, terminal %d, CloudOperations now %d (peak %d)\n",
				time.Since(t0).Round(time.Second), r.mirrored(), len(r.ops), term, live, r.peakObjects())
		}
	}
}

func (r *discoveryRun) peakObjects() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.peak
}

// waitUntil polls done every 200 ms until it holds, timeout passes or ctx
// ends.
func waitUntil(ctx context.Context, timeout time.Duration, done func() bool) error {
	deadline := time.Now().Add(timeout)
	for !done() {
		if time.Now().After(deadline) {
			return fmt.Errorf("timed out after %s", timeout.Round(time.Second))
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
	return nil
}

// scrapeLabelled adds the series of one metric whose labels include
// label (`service="BCS"`).
func scrapeLabelled(url, name, label string) float64 {
	total := 0.0
	scrapeSeries(url, func(series string, v float64) {
		if metric, labels, _ := strings.Cut(series, "{"); metric == name && strings.Contains(labels, label) {
			total += v
		}
	})
	return total
}

func meta(conds []metav1.Condition, t string) *metav1.Condition {
	for i := range conds {
		if conds[i].Type == t {
			return &conds[i]
		}
	}
	return nil
}

// durations summarises latencies: median, 90th percentile, maximum.
func durations(ds []time.Duration) string {
	if len(ds) == 0 {
		return "–"
	}
	ds = append([]time.Duration(nil), ds...)
	sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
	r := func(d time.Duration) string { return d.Round(100 * time.Millisecond).String() }
	return r(quantile(ds, 0.5)) + " / " + r(quantile(ds, 0.9)) + " / " + r(quantile(ds, 1))
}

func (d discoveryResult) print() {
	cfg := d.cfg
	fmt.Printf("discovery: %d sources (%d BCS, %d CCE), %d operations (%d failing), interval %s; %s scenario, %s wall\n",
		cfg.sources, d.bcsSources, d.cceSources, d.ops, d.failing, cfg.interval, d.scenario.Round(time.Second), d.wall.Round(time.Second))
	fmt.Printf("  mirrored exactly once %d, missing %d, more than once %d, stray or mislabelled %d; all mirrored after %s, all terminal after %s\n",
		d.mirroredOnce, d.missing, d.dup, d.mislabelled, d.allMirrored.Round(time.Second), d.allTerminal.Round(time.Second))
	sort.Strings(d.missingOps)
	for _, m := range d.missingOps {
		fmt.Printf("  never mirrored: %s\n", m)
	}
	fmt.Printf("  start → CloudOperation seen, p50 / p90 / max: all %s; BCS %s; CCE %s\n",
		durations(d.latency), durations(d.latencyBySvc[opsv1.ServiceBCS]), durations(d.latencyBySvc[opsv1.ServiceCCE]))
	for _, w := range []struct {
		name string
		r    windowRates
	}{{"running", d.running}, {"quiet", d.quiet}} {
		if w.r.intervals == 0 {
			continue
		}
		fmt.Printf("  %s (%d intervals): per source per interval: list requests BCS %.2f CCE %.2f; cloud list calls per blockchain %.2f (max %.2f), per cluster %.2f (max %.2f); BCS calls %d served %.0f source lists + %.0f polls; per blockchain near the tick %.2f (%d), off it %.2f (%d)\n",
			w.name, w.r.intervals, w.r.srcLists[opsv1.SourceBCS], w.r.srcLists[opsv1.SourceCCE],
			w.r.calls[opsv1.SourceBCS], w.r.maxCalls[opsv1.SourceBCS], w.r.calls[opsv1.SourceCCE], w.r.maxCalls[opsv1.SourceCCE],
			w.r.bcsCalls, w.r.bcsSrcReq, w.r.bcsPolls, w.r.nearTick, w.r.nearTickN, w.r.offTick, w.r.offTickN)
	}
	fmt.Printf("  whole run: source list requests BCS %.0f (budget %d), CCE %.0f (budget %d); CCE clusters over budget %d; BCS list calls %d, other BCS calls %d, BCS polls %.0f\n",
		d.srcListsTotal[opsv1.SourceBCS], d.srcListsBudget[opsv1.SourceBCS], d.srcListsTotal[opsv1.SourceCCE], d.srcListsBudget[opsv1.SourceCCE],
		d.cceOverBudget, d.bcsCallsTotal, d.bcsFiltered, d.bcsPollsTotal)
	fmt.Printf("  CloudOperations: peak %d, at the end %d (the limits keep %d), created %.0f, pruned %.0f, expired %.0f; sources Ready %d\n",
		d.peakObjects, d.endObjects, d.expectedEnd, d.created, d.pruned, d.expired, d.sourceStatusSeen)
	fmt.Printf("  manager: %.1f CPU s, peak RSS %d MiB, peak heap in use %.0f MiB (sampled)\n  Kubernetes API: %s\n",
		d.cpuSeconds, d.peakRSS>>20, d.peakHeap/(1<<20), d.api.list())
}
