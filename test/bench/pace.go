package main

import (
	"container/heap"
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"net"
	"net/http"
	"sort"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	clocktesting "k8s.io/utils/clock/testing"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	opsv1 "github.com/cloudop/cloudop/api/v1alpha1"
	"github.com/cloudop/cloudop/internal/cloud"
	"github.com/cloudop/cloudop/internal/cloud/transport"
	"github.com/cloudop/cloudop/internal/cloudsim"
	"github.com/cloudop/cloudop/internal/controller"
	"github.com/cloudop/cloudop/internal/manager"
	"github.com/cloudop/cloudop/internal/testenv"
)

// The realistic-pace scenario: long operations (a CCE cluster upgrade, a
// DWS restore) whose steps change every few minutes, polled at the
// default interval. Real time would take an hour per run, so the scenario
// runs in virtual time: the manager's real reconciler, against a real API
// server and cloudsim over signed HTTP, driven by a queue of due times on
// a fake clock that cloudsim shares. Only the controller-runtime work
// queue is replaced; every poll decision is the reconciler's own
// RequeueAfter.
const (
	paceMinDuration = 20 * time.Minute
	paceMaxDuration = 60 * time.Minute
	// A step lasts between paceMinStep and paceMaxStep ("every few
	// minutes").
	paceMinStep = 2 * time.Minute
	paceMaxStep = 8 * time.Minute
)

// paceResult is what the realistic-pace scenario measured.
type paceResult struct {
	n, cce, dws      int
	seed             uint64
	interval         time.Duration
	stepPaceFactor   float64
	virtual, real    time.Duration // virtual time covered, wall time taken
	reconciles       int
	cloudCalls       int
	cloudCallsBySvc  map[cloudsim.Service]int
	visibleChanges   int
	visibleBySvc     map[opsv1.Service]int
	stepEnds         int // leaf steps that ended in cloudsim
	stepEndsBySvc    map[opsv1.Service]int
	stepDelayP50     time.Duration
	stepDelayP90     time.Duration
	stepDelayMax     time.Duration
	terminalDelayP50 time.Duration
	terminalDelayMax time.Duration
	// history says whether the reconciler had a StepHistory warmed with
	// paceWarmupRuns earlier runs of each service.
	history bool
	// estimateErrors are |status.estimatedCompletionTime − actual end| at
	// the first poll past each of paceCheckpoints of an operation's
	// duration; estimateMissing counts polls there without an estimate.
	estimateErrors  map[int][]time.Duration
	estimateMissing map[int]int
}

// paceCheckpoints are the shares of an operation's duration (in percent)
// at which the estimate is compared with the actual end.
var paceCheckpoints = []int{25, 50, 75}

// paceWarmupRuns is how many earlier runs of each service the step
// history learns before the scenario, as a manager rebuilding it from
// the finished objects of a cluster (HistoryLoader) would.
const paceWarmupRuns = 20

// callsPerChange is the figure the issue sets a goal for (≤ 3).
func (p paceResult) callsPerChange() float64 {
	return ratio(p.cloudCalls, p.visibleChanges)
}

func ratio(a, b int) float64 {
	if b == 0 {
		return math.NaN()
	}
	return float64(a) / float64(b)
}

func (p paceResult) print() {
	fmt.Printf("realistic pace: %d operations (%d CCE upgrades, %d DWS restores), step pace factor %v, %s virtual in %s\n", p.n, p.cce, p.dws, p.stepPaceFactor, p.virtual.Round(time.Minute), p.real.Round(time.Second))
	fmt.Printf("  cloud calls %d, visible changes %d: %.2f calls per change (CCE %.2f, DWS %.2f)\n", p.cloudCalls, p.visibleChanges, p.callsPerChange(),
		ratio(p.cloudCallsBySvc[cloudsim.CCE], p.visibleBySvc[opsv1.ServiceCCE]), ratio(p.cloudCallsBySvc[cloudsim.DWS], p.visibleBySvc[opsv1.ServiceDWS]))
	fmt.Printf("  %.2f calls per step end (CCE %.2f, DWS %.2f)\n", ratio(p.cloudCalls, p.stepEnds),
		ratio(p.cloudCallsBySvc[cloudsim.CCE], p.stepEndsBySvc[opsv1.ServiceCCE]), ratio(p.cloudCallsBySvc[cloudsim.DWS], p.stepEndsBySvc[opsv1.ServiceDWS]))
	fmt.Printf("  step ends %d seen after p50 %s, p90 %s, max %s; terminal seen after p50 %s, max %s\n", p.stepEnds,
		p.stepDelayP50.Round(time.Second), p.stepDelayP90.Round(time.Second), p.stepDelayMax.Round(time.Second),
		p.terminalDelayP50.Round(time.Second), p.terminalDelayMax.Round(time.Second))
	if p.history {
		for _, cp := range paceCheckpoints {
			e := p.estimateErrors[cp]
			fmt.Printf("  estimate at %d%%: |error| p50 %s, p90 %s (%d estimates, %d without)\n", cp,
				quantile(e, 0.5).Round(time.Second), quantile(e, 0.9).Round(time.Second), len(e), p.estimateMissing[cp])
		}
	}
}

// paceOp is one operation of the scenario and what was seen of it.
type paceOp struct {
	key      types.NamespacedName
	service  opsv1.Service
	stepEnds []time.Time // virtual time each leaf step ends, in order
	end      time.Time
	start    time.Time
	seenDone int // leaf steps seen Succeeded so far
	visible  string
	terminal bool
	checked  int // paceCheckpoints passed
}

// runPace runs the realistic-pace scenario with n operations, with the
// default poll policy but for its step-pace factor when stepPaceFactor is
// 0 or more.
//
// With history, the reconciler estimates completion and places polls
// from a StepHistory that has learned paceWarmupRuns earlier runs of each
// service, drawn from the same distributions with another seed.
func runPace(ctx context.Context, n int, seed uint64, stepPaceFactor float64, history bool) (paceResult, error) {
	res := paceResult{n: n, seed: seed, interval: opsv1.DefaultPollInterval, history: history,
		cloudCallsBySvc: map[cloudsim.Service]int{}, visibleBySvc: map[opsv1.Service]int{}, stepEndsBySvc: map[opsv1.Service]int{},
		estimateErrors: map[int][]time.Duration{}, estimateMissing: map[int]int{}}
	env, restCfg, err := testenv.Start()
	if err != nil {
		return res, err
	}
	defer func() { _ = env.Stop() }()
	c, err := client.New(restCfg, client.Options{Scheme: manager.NewScheme()})
	if err != nil {
		return res, err
	}

	start := time.Now().Truncate(time.Second)
	clk := clocktesting.NewFakeClock(start)
	// Virtual time runs ahead of the signer's real clock by up to an hour:
	// widen the accepted skew instead of faking the signer.
	sim, err := cloudsim.New(cloudsim.Config{
		Settings: cloudsim.Settings{ClockSkew: cloudsim.D(24 * time.Hour)},
		Accounts: []cloudsim.Account{{AccessKey: benchAK, SecretKey: benchSK, ProjectIDs: []string{benchProject}}},
	}, cloudsim.WithClock(clk.Now), cloudsim.WithSeed(seed))
	if err != nil {
		return res, err
	}
	simURL, stopSim, err := serveSim(sim)
	if err != nil {
		return res, err
	}
	defer stopSim()

	opts := manager.Options{RequestTimeout: 10 * time.Second,
		// The wall-clock token buckets would see an hour of polls in
		// seconds; the budget is not what this scenario measures.
		RateLimit: transport.RateLimitConfig{QPS: math.Inf(1), Burst: 1, GlobalQPS: math.Inf(1), GlobalBurst: 1}}
	for _, svc := range cloud.Services {
		opts.ServiceEndpoints = append(opts.ServiceEndpoints, string(svc)+"="+simURL)
	}
	router, err := manager.NewRouter(opts)
	if err != nil {
		return res, err
	}
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	policy := controller.DefaultPollPolicy()
	policy.Random = rng.Float64 // one goroutine drives every reconcile
	if stepPaceFactor >= 0 {
		policy.StepPaceFactor = stepPaceFactor
	}
	res.stepPaceFactor = policy.StepPaceFactor
	reconciler := &controller.CloudOperationReconciler{
		Client:   c,
		Secrets:  &controller.SecretCache{Reader: c, TTL: time.Minute},
		Observer: router,
		Recorder: &controller.EventWriter{Client: c, Controller: manager.EventController, Instance: "pace", Clock: clk},
		Policy:   policy,
		Clock:    clk,
	}
	if history {
		reconciler.History = warmHistory(seed, start)
	}

	if err := c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: benchNS}}); err != nil {
		return res, err
	}
	if err := c.Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: benchNS, Name: "creds"},
		StringData: map[string]string{"accessKey": benchAK, "secretKey": benchSK, "projectID": benchProject}}); err != nil {
		return res, err
	}
	ops := make(map[types.NamespacedName]*paceOp, n)
	specs := make([]cloudsim.OperationSpec, 0, n)
	objs := make([]*opsv1.CloudOperation, 0, n)
	for i := range n {
		spec, obj, op := paceOperation(i, rng, start)
		specs, objs = append(specs, spec), append(objs, obj)
		ops[op.key] = op
		if op.service == opsv1.ServiceCCE {
			res.cce++
		} else {
			res.dws++
		}
	}
	if err := sim.AddOperations(specs); err != nil {
		return res, err
	}
	queue := &dueQueue{}
	for _, o := range objs {
		if err := c.Create(ctx, o); err != nil {
			return res, err
		}
		heap.Push(queue, due{at: start, key: client.ObjectKeyFromObject(o)})
	}

	wall := time.Now()
	var stepDelays, terminalDelays []time.Duration
	for queue.Len() > 0 {
		if err := ctx.Err(); err != nil {
			return res, err
		}
		next := heap.Pop(queue).(due)
		clk.SetTime(next.at)
		result, err := reconciler.Reconcile(ctx, ctrl.Request{NamespacedName: next.key})
		res.reconciles++
		if err != nil {
			return res, fmt.Errorf("reconcile %s at +%s: %w", next.key, next.at.Sub(start), err)
		}
		obj := &opsv1.CloudOperation{}
		if err := c.Get(ctx, next.key, obj); err != nil {
			return res, err
		}
		op := ops[next.key]
		if v := visible(obj); v != op.visible {
			op.visible = v
			res.visibleChanges++
			res.visibleBySvc[op.service]++
		}
		for done := leafStepsSucceeded(obj); op.seenDone < done && op.seenDone < len(op.stepEnds); op.seenDone++ {
			stepDelays = append(stepDelays, next.at.Sub(op.stepEnds[op.seenDone]))
		}
		for op.checked < len(paceCheckpoints) {
			cp := paceCheckpoints[op.checked]
			if next.at.Sub(op.start) < op.end.Sub(op.start)*time.Duration(cp)/100 {
				break
			}
			if eta := obj.Status.EstimatedCompletionTime; eta != nil {
				res.estimateErrors[cp] = append(res.estimateErrors[cp], eta.Sub(op.end).Abs())
			} else {
				res.estimateMissing[cp]++
			}
			op.checked++
		}
		if obj.IsTerminal() && !op.terminal {
			op.terminal = true
			terminalDelays = append(terminalDelays, next.at.Sub(op.end))
		}
		if result.RequeueAfter > 0 {
			heap.Push(queue, due{at: next.at.Add(result.RequeueAfter), key: next.key})
		} else if !op.terminal {
			return res, fmt.Errorf("%s stopped polling before its end (phase %q)", next.key, obj.Status.Phase)
		}
		res.virtual = next.at.Sub(start)
	}
	res.real = time.Since(wall)

	counts := sim.Counts()
	res.cloudCalls = counts.Total.Total
	for svc, rc := range counts.Services {
		res.cloudCallsBySvc[svc] = rc.Total
	}
	for _, op := range ops {
		res.stepEnds += len(op.stepEnds)
		res.stepEndsBySvc[op.service] += len(op.stepEnds)
	}
	if len(stepDelays) != res.stepEnds || len(terminalDelays) != n {
		return res, fmt.Errorf("saw %d of %d step ends and %d of %d ends", len(stepDelays), res.stepEnds, len(terminalDelays), n)
	}
	res.stepDelayP50, res.stepDelayP90, res.stepDelayMax = quantile(stepDelays, 0.5), quantile(stepDelays, 0.9), quantile(stepDelays, 1)
	res.terminalDelayP50, res.terminalDelayMax = quantile(terminalDelays, 0.5), quantile(terminalDelays, 1)
	return res, nil
}

// paceOperation makes operation i: even ones CCE upgrades (a flat list of
// tasks), odd ones DWS restores (two items with sub-items). Durations are
// drawn from rng, so a seed gives the same scenario every run.
func paceOperation(i int, rng *rand.Rand, start time.Time) (cloudsim.OperationSpec, *opsv1.CloudOperation, *paceOp) {
	total := paceMinDuration + time.Duration(rng.Int64N(int64(paceMaxDuration-paceMinDuration)))
	var leaves []time.Duration
	for left := total; left > 0; {
		d := min(paceMinStep+time.Duration(rng.Int64N(int64(paceMaxStep-paceMinStep))), left)
		if left-d < paceMinStep {
			d = left // no stub of a step at the end
		}
		leaves = append(leaves, d.Truncate(time.Second))
		left -= d
	}
	op := &paceOp{key: types.NamespacedName{Namespace: benchNS, Name: fmt.Sprintf("pace-%03d", i)}, start: start}
	at := start
	for _, d := range leaves {
		at = at.Add(d)
		op.stepEnds = append(op.stepEnds, at)
	}
	op.end = at
	spec := cloudsim.OperationSpec{ProjectID: benchProject}
	obj := &opsv1.CloudOperation{
		ObjectMeta: metav1.ObjectMeta{Namespace: op.key.Namespace, Name: op.key.Name},
		Spec:       opsv1.CloudOperationSpec{Region: "cn-north-4", CredentialsSecretRef: opsv1.SecretReference{Name: "creds"}},
	}
	if i%2 == 0 {
		op.service = opsv1.ServiceCCE
		spec.Service, spec.ID, spec.ClusterID = cloudsim.CCE, fmt.Sprintf("upgrade-%d", i), fmt.Sprintf("cce-%d", i)
		obj.Spec.ClusterID = spec.ClusterID
		for k, d := range leaves {
			spec.Steps = append(spec.Steps, cloudsim.StepSpec{Name: fmt.Sprintf("Task%d", k+1), Duration: cloudsim.D(d)})
		}
	} else {
		op.service = opsv1.ServiceDWS
		spec.Service, spec.ID, spec.ClusterID = cloudsim.DWS, "RESTORING", fmt.Sprintf("dws-%d", i)
		obj.Spec.ClusterID = spec.ClusterID
		// The first item takes a third of the sub-steps (at least one).
		split := max(1, len(leaves)/3)
		for k, group := range [][]time.Duration{leaves[:split], leaves[split:]} {
			item := cloudsim.StepSpec{Name: []string{"Prepare", "Restore"}[k]}
			for j, d := range group {
				item.SubSteps = append(item.SubSteps, cloudsim.StepSpec{Name: fmt.Sprintf("%s %d", item.Name, j+1), Duration: cloudsim.D(d)})
			}
			if len(item.SubSteps) > 0 {
				spec.Steps = append(spec.Steps, item)
			}
		}
	}
	obj.Spec.Service, obj.Spec.OperationID = op.service, spec.ID
	return spec, obj, op
}

// warmHistory is a StepHistory that has learned paceWarmupRuns finished
// runs of each service of the scenario, drawn as the scenario draws its
// operations but from another seed: the history a manager rebuilds from
// a cluster's finished objects.
func warmHistory(seed uint64, now time.Time) *controller.StepHistory {
	h := controller.NewStepHistory()
	rng := rand.New(rand.NewPCG(seed+1, seed^0x5851f42d4c957f2d))
	for i := range 2 * paceWarmupRuns {
		start := now.Add(-48 * time.Hour)
		spec, obj, _ := paceOperation(i, rng, start)
		obj.Status = opsv1.CloudOperationStatus{Phase: opsv1.PhaseSucceeded}
		at := start
		for _, step := range spec.Steps {
			d := step.Duration.Duration
			for _, sub := range step.SubSteps {
				d += sub.Duration.Duration
			}
			end := at.Add(d)
			obj.Status.Steps = append(obj.Status.Steps, opsv1.OperationStep{StepStatus: opsv1.StepStatus{
				Name: step.Name, Phase: opsv1.PhaseSucceeded, StartTime: &metav1.Time{Time: at}, CompletionTime: &metav1.Time{Time: end}}})
			at = end
		}
		h.Learn(obj)
	}
	return h
}

// serveSim serves sim over HTTP on a free loopback port and returns its
// base URL and how to stop it.
func serveSim(sim *cloudsim.Simulator) (string, func(), error) {
	listener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	server := &http.Server{Handler: sim.Handler(), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = server.Serve(listener) }()
	return "http://" + listener.Addr().String(), func() { _ = server.Close() }, nil
}

// leafStepsSucceeded counts the steps without sub-steps, and the
// sub-steps, that the status shows as succeeded.
func leafStepsSucceeded(o *opsv1.CloudOperation) int {
	n := 0
	for _, s := range o.Status.Steps {
		if len(s.SubSteps) == 0 {
			if s.Phase == opsv1.PhaseSucceeded {
				n++
			}
			continue
		}
		for _, sub := range s.SubSteps {
			if sub.Phase == opsv1.PhaseSucceeded {
				n++
			}
		}
	}
	return n
}

// quantile is the q-quantile of ds (sorted in place); 1 is the largest.
func quantile(ds []time.Duration, q float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
	return ds[min(int(q*float64(len(ds))), len(ds)-1)]
}

// due is one reconcile the scenario owes an object, at a virtual time.
type due struct {
	at  time.Time
	key types.NamespacedName
}

// dueQueue is a min-heap of due reconciles, earliest first (ties by name,
// so a seed gives the same order every run).
type dueQueue []due

func (q dueQueue) Len() int { return len(q) }
func (q dueQueue) Less(i, j int) bool {
	if !q[i].at.Equal(q[j].at) {
		return q[i].at.Before(q[j].at)
	}
	return q[i].key.Name < q[j].key.Name
}
func (q dueQueue) Swap(i, j int) { q[i], q[j] = q[j], q[i] }
func (q *dueQueue) Push(x any)   { *q = append(*q, x.(due)) }
func (q *dueQueue) Pop() any {
	old := *q
	x := old[len(old)-1]
	*q = old[:len(old)-1]
	return x
}
