package controller

import (
	"context"
	"fmt"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	kstatus "github.com/fluxcd/cli-utils/pkg/kstatus/status"
	. "github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	testingclock "k8s.io/utils/clock/testing"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	opsv1 "github.com/cloudop/cloudop/api/v1alpha1"
	"github.com/cloudop/cloudop/internal/cloud"
	"github.com/cloudop/cloudop/internal/cloudsim"
	"github.com/cloudop/cloudop/internal/testkit"
)

// TestPlanMirror: what one list creates and prunes, and the watermark.
func TestPlanMirror(t *testing.T) {
	at := func(min int) *time.Time { v := testNow.Add(time.Duration(min) * time.Minute); return &v }
	op := func(phase cloud.Phase, start *time.Time) *cloud.Operation {
		return &cloud.Operation{Phase: phase, StartTime: start}
	}
	src := &opsv1.CloudOperationSource{
		ObjectMeta: metav1.ObjectMeta{Name: "chain"},
		Spec:       opsv1.CloudOperationSourceSpec{Service: opsv1.SourceBCS, BlockchainID: "b1", SuccessfulHistoryLimit: ptr.To[int32](2), FailedHistoryLimit: ptr.To[int32](1)},
	}
	child := func(id string, phase opsv1.Phase, finishedMin int) opsv1.CloudOperation {
		done := metav1.NewTime(*at(finishedMin))
		c := opsv1.CloudOperation{ObjectMeta: metav1.ObjectMeta{Name: childName(src, cloud.ServiceBCS, id), Generation: 1},
			Status: opsv1.CloudOperationStatus{ObservedGeneration: 1, Phase: phase, CompletionTime: &done}}
		reason := map[opsv1.Phase]string{opsv1.PhaseSucceeded: opsv1.ReasonSucceeded, opsv1.PhaseFailed: opsv1.ReasonFailed, opsv1.PhaseRunning: opsv1.ReasonInProgress}[phase]
		setConditions(&c.Status, 1, conditionsByReason[reason], reason, "")
		return c
	}
	names := func(objs []opsv1.CloudOperation) []string {
		var out []string
		for _, o := range objs {
			out = append(out, o.Name)
		}
		return out
	}
	for _, tc := range []struct {
		name          string
		watermark     *time.Time
		listed        listing
		children      []opsv1.CloudOperation
		registered    map[string]bool
		wantCreate    []string
		wantPrune     []string
		wantWatermark *time.Time
	}{
		{
			name: "first list: running ones, and the newest finished up to the limits, oldest start first",
			listed: listing{
				"ok-old": op(cloud.PhaseSucceeded, at(1)), "ok-mid": op(cloud.PhaseSucceeded, at(2)), "ok-new": op(cloud.PhaseSucceeded, at(3)),
				"fail-old": op(cloud.PhaseFailed, at(4)), "fail-new": op(cloud.PhaseFailed, at(5)),
				"run": op(cloud.PhaseRunning, at(6)), "run-no-start": op(cloud.PhasePending, nil), "done-no-start": op(cloud.PhaseSucceeded, nil),
			},
			wantCreate:    []string{"ok-mid", "ok-new", "fail-new", "run", "run-no-start"},
			wantWatermark: at(6),
		},
		{
			name:      "later list: an operation started after the watermark is created, one mirrored and deleted is not",
			watermark: at(6),
			listed: listing{
				"ok-new": op(cloud.PhaseSucceeded, at(3)), "run": op(cloud.PhaseSucceeded, at(6)),
				"console": op(cloud.PhaseRunning, at(9)),
			},
			children:      []opsv1.CloudOperation{child("run", opsv1.PhaseSucceeded, 8)},
			wantCreate:    []string{"console"},
			wantWatermark: at(9),
		},
		{
			name:          "an operation someone registered by hand is not mirrored",
			watermark:     at(9),
			listed:        listing{"by-hand": op(cloud.PhaseRunning, at(10)), "console": op(cloud.PhaseRunning, at(11))},
			registered:    map[string]bool{"by-hand": true},
			wantCreate:    []string{"console"},
			wantWatermark: at(11),
		},
		{
			name:          "a running operation whose CloudOperation was deleted is created again",
			watermark:     at(9),
			listed:        listing{"console": op(cloud.PhaseRunning, at(9))},
			wantCreate:    []string{"console"},
			wantWatermark: at(9),
		},
		{
			name:      "a new finished operation is created when the limits are full: the newest are kept, not the oldest",
			watermark: at(9),
			listed:    listing{"quick": op(cloud.PhaseSucceeded, at(10))},
			children: []opsv1.CloudOperation{
				child("a", opsv1.PhaseSucceeded, 5), child("b", opsv1.PhaseSucceeded, 6),
			},
			wantCreate:    []string{"quick"},
			wantWatermark: at(10),
		},
		{
			name:      "history limits prune the oldest finished",
			watermark: at(9),
			children: []opsv1.CloudOperation{
				child("a", opsv1.PhaseSucceeded, 10), child("b", opsv1.PhaseSucceeded, 12), child("c", opsv1.PhaseSucceeded, 11),
				child("d", opsv1.PhaseFailed, 13), child("e", opsv1.PhaseFailed, 14), child("f", opsv1.PhaseRunning, 1),
			},
			wantPrune:     []string{childName(src, cloud.ServiceBCS, "a"), childName(src, cloud.ServiceBCS, "d")},
			wantWatermark: at(9),
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := NewWithT(t)
			s := src.DeepCopy()
			if tc.watermark != nil {
				s.Status.Watermark = &metav1.Time{Time: *tc.watermark}
			}
			registered := map[string]bool{}
			for id := range tc.registered {
				registered[operationKey(cloud.ServiceBCS, "b1", id)] = true
			}
			plan := planMirror(s, tc.listed.of(cloud.ServiceBCS, false), tc.children, registered)
			var created []string
			for _, l := range plan.create {
				created = append(created, l.ID)
			}
			g.Expect(created).To(Equal(tc.wantCreate))
			g.Expect(names(plan.prune)).To(ConsistOf(tc.wantPrune))
			g.Expect(plan.watermark.Time).To(Equal(*tc.wantWatermark))
		})
	}
}

// listing is a list answer by operation ID, for table tests.
type listing map[string]*cloud.Operation

// of is the listing as a Lister returns it, of service svc.
func (l listing) of(svc cloud.Service, startOnly bool) []cloud.Listed {
	var out []cloud.Listed
	for id, op := range l {
		out = append(out, cloud.Listed{Service: svc, ID: id, Operation: op, StartOnly: startOnly})
	}
	return out
}

// TestPlanMirrorTraces: jobs a CTS trace names are mirrored once, like
// finished operations, whatever their phase, and never capped by the
// history limits; the watermark is compared at the seconds status keeps.
func TestPlanMirrorTraces(t *testing.T) {
	g := NewWithT(t)
	at := func(d time.Duration) *time.Time { v := testNow.Add(d); return &v }
	src := &opsv1.CloudOperationSource{
		ObjectMeta: metav1.ObjectMeta{Name: "jobs"},
		Spec:       opsv1.CloudOperationSourceSpec{Service: opsv1.SourceCTS, Services: []opsv1.Service{opsv1.ServiceECS}, SuccessfulHistoryLimit: ptr.To[int32](1), FailedHistoryLimit: ptr.To[int32](1)},
		// Stored at whole seconds, as status keeps it.
		Status: opsv1.CloudOperationSourceStatus{Watermark: &metav1.Time{Time: testNow.Add(time.Minute)}},
	}
	started := func(d time.Duration) *cloud.Operation {
		return &cloud.Operation{Phase: cloud.PhaseUnknown, StartTime: at(d)}
	}
	listed := listing{
		"old":            started(time.Second),
		"same-second":    started(time.Minute + 900*time.Millisecond), // the watermark's own job, deleted since
		"new-1":          started(2 * time.Minute),
		"new-2":          started(3 * time.Minute),
		"new-3":          started(4 * time.Minute),
		"registered-ecs": started(5 * time.Minute),
	}.of(cloud.ServiceECS, true)
	plan := planMirror(src, listed, nil, map[string]bool{operationKey(cloud.ServiceECS, "", "registered-ecs"): true})
	var created []string
	for _, l := range plan.create {
		created = append(created, l.ID)
		g.Expect(l.Service).To(Equal(cloud.ServiceECS))
	}
	g.Expect(created).To(Equal([]string{"new-1", "new-2", "new-3"}), "after the watermark, all of them, oldest first")
	g.Expect(plan.watermark.Time).To(Equal(*at(5 * time.Minute)))
}

// TestListQuery: what a source asks its service for; a CTS source reads
// traces from its watermark, else spec.since, else an hour before it was
// created.
func TestListQuery(t *testing.T) {
	created := metav1.NewTime(testNow)
	since := metav1.NewTime(testNow.Add(-24 * time.Hour))
	mark := metav1.NewTime(testNow.Add(time.Hour))
	cts := func(since, mark *metav1.Time) *opsv1.CloudOperationSource {
		return &opsv1.CloudOperationSource{
			ObjectMeta: metav1.ObjectMeta{CreationTimestamp: created},
			Spec:       opsv1.CloudOperationSourceSpec{Service: opsv1.SourceCTS, Services: []opsv1.Service{opsv1.ServiceECS, opsv1.ServiceRDS}, TraceNames: []string{"createServer"}, Since: since},
			Status:     opsv1.CloudOperationSourceStatus{Watermark: mark},
		}
	}
	for _, tc := range []struct {
		name string
		src  *opsv1.CloudOperationSource
		want time.Time
	}{
		{"first list", cts(nil, nil), testNow.Add(-time.Hour)},
		{"since", cts(&since, nil), since.Time},
		{"watermark", cts(&since, &mark), mark.Time},
		{"since after the watermark", cts(&metav1.Time{Time: mark.Add(time.Hour)}, &mark), mark.Add(time.Hour)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := NewWithT(t)
			q := listQuery(tc.src, cloud.Target{Service: cloud.ServiceCTS})
			g.Expect(q.Since).To(Equal(tc.want))
			g.Expect(q.Services).To(Equal([]cloud.Service{cloud.ServiceECS, cloud.ServiceRDS}))
			g.Expect(q.TraceNames).To(Equal([]string{"createServer"}))
		})
	}
	bcs := &opsv1.CloudOperationSource{Spec: opsv1.CloudOperationSourceSpec{Service: opsv1.SourceBCS, BlockchainID: "b1", Since: &since}}
	NewWithT(t).Expect(listQuery(bcs, cloud.Target{}).Since.IsZero()).To(BeTrue(), "other services' lists are filtered after the list")
}

// TestChildName: deterministic, distinct per operation, within the
// API's name length.
func TestChildName(t *testing.T) {
	g := NewWithT(t)
	src := &opsv1.CloudOperationSource{ObjectMeta: metav1.ObjectMeta{Name: "chain"}, Spec: opsv1.CloudOperationSourceSpec{Service: opsv1.SourceBCS, BlockchainID: "b1"}}
	g.Expect(childName(src, cloud.ServiceBCS, "op-1")).To(Equal(childName(src.DeepCopy(), cloud.ServiceBCS, "op-1")))
	g.Expect(childName(src, cloud.ServiceBCS, "op-1")).NotTo(Equal(childName(src, cloud.ServiceBCS, "op-2")))
	long := src.DeepCopy()
	long.Name = strings.Repeat("a", 253)
	g.Expect(len(childName(long, cloud.ServiceBCS, "op-1"))).To(BeNumerically("<=", 253))
	// Names of sources created before CCE and CTS sources existed keep
	// their value: sha256("BCS/b1/op-1").
	g.Expect(childName(src, cloud.ServiceBCS, "op-1")).To(Equal("chain-fb9ba7fe1e"))
	cts := &opsv1.CloudOperationSource{ObjectMeta: metav1.ObjectMeta{Name: "jobs"}, Spec: opsv1.CloudOperationSourceSpec{Service: opsv1.SourceCTS}}
	g.Expect(childName(cts, cloud.ServiceECS, "job-1")).NotTo(Equal(childName(cts, cloud.ServiceEVS, "job-1")), "a job ID is unique in its service only")
}

// sourceEnv is a cloudsim BCS blockchain served over real HTTP with
// checked signatures, on a fake clock, and a source for it.
type sourceEnv struct {
	sim   *cloudsim.Simulator
	clk   *testingclock.FakeClock
	ns    string
	src   *opsv1.CloudOperationSource
	newer func() *SourceReconciler
}

const (
	sourceProject    = "0123456789abcdef0123456789abcdef"
	sourceBlockchain = "chain-1"
)

// newSourceEnv lists a BCS blockchain, or what spec sets.
func newSourceEnv(t *testing.T, limits int32, spec ...func(*opsv1.CloudOperationSourceSpec)) *sourceEnv {
	t.Helper()
	g := NewWithT(t)
	clk := testingclock.NewFakeClock(time.Now().Truncate(time.Second))
	sim, err := cloudsim.New(cloudsim.Config{
		Accounts: []cloudsim.Account{{AccessKey: "AK0000TEST", SecretKey: "sk-test", ProjectIDs: []string{sourceProject}}},
		Settings: cloudsim.Settings{StepDuration: cloudsim.D(time.Minute)},
	}, cloudsim.WithClock(clk.Now))
	g.Expect(err).NotTo(HaveOccurred())
	srv := httptest.NewServer(sim.Handler())
	t.Cleanup(srv.Close)
	router := realRouter(srv.URL, clk.Now)
	e := &sourceEnv{sim: sim, clk: clk}
	e.ns = testkit.Namespace(t, k8s, "source", testkit.CredentialsSecret("creds", "AK0000TEST", "sk-test", sourceProject))
	e.src = &opsv1.CloudOperationSource{
		ObjectMeta: metav1.ObjectMeta{Namespace: e.ns, Name: "chain", Labels: map[string]string{"sharding.cloudop.dev/key": "s1"}},
		Spec: opsv1.CloudOperationSourceSpec{
			Service: opsv1.SourceBCS, Region: "cn-north-4", BlockchainID: sourceBlockchain,
			CredentialsSecretRef:   opsv1.SecretReference{Name: "creds"},
			Template:               opsv1.CloudOperationTemplate{Labels: map[string]string{"team": "data"}, PollInterval: &metav1.Duration{Duration: 10 * time.Second}},
			SuccessfulHistoryLimit: ptr.To(limits), FailedHistoryLimit: ptr.To(limits),
		},
	}
	for _, f := range spec {
		f(&e.src.Spec)
	}
	g.Expect(k8s.Create(context.Background(), e.src)).To(Succeed())
	// Each call is a fresh reconciler: a restarted manager, or the new
	// leader after a leader change, remembers nothing.
	e.newer = func() *SourceReconciler {
		return &SourceReconciler{Client: k8s, Secrets: &SecretCache{Reader: k8s}, Lister: router, InheritedLabels: []string{"sharding.cloudop.dev/key"}, Clock: clk}
	}
	return e
}

// start adds an operation to the blockchain, as the console would.
func (e *sourceEnv) start(t *testing.T, id string, scenario cloudsim.ScenarioKind) {
	t.Helper()
	NewWithT(t).Expect(e.sim.AddOperation(cloudsim.OperationSpec{
		Service: cloudsim.BCS, ID: id, ProjectID: sourceProject, BlockchainID: sourceBlockchain, Scenario: scenario,
	})).To(Succeed())
}

// list runs one reconcile of the source with a fresh reconciler.
func (e *sourceEnv) list(t *testing.T) ctrl.Result {
	t.Helper()
	res, err := e.newer().Reconcile(context.Background(), ctrl.Request{NamespacedName: types.NamespacedName{Namespace: e.ns, Name: e.src.Name}})
	NewWithT(t).Expect(err).NotTo(HaveOccurred())
	return res
}

// mirrored returns the operation IDs of the source's CloudOperations.
func (e *sourceEnv) mirrored(t *testing.T) []string {
	t.Helper()
	var list opsv1.CloudOperationList
	NewWithT(t).Expect(k8s.List(context.Background(), &list, client.InNamespace(e.ns), client.MatchingLabels{opsv1.LabelSource: e.src.Name})).To(Succeed())
	var ids []string
	for _, o := range list.Items {
		ids = append(ids, o.Spec.OperationID)
	}
	slices.Sort(ids)
	return ids
}

// TestSourceMirrorsOperationsStartedElsewhere: operations started in
// cloudsim after the source exists become CloudOperations at the next
// list, exactly once across restarts, owned and labelled; the source's
// status and conditions say what it found, and kstatus reads it.
func TestSourceMirrorsOperationsStartedElsewhere(t *testing.T) {
	g := NewWithT(t)
	e := newSourceEnv(t, 10)
	e.start(t, "console-1", cloudsim.ScenarioNever)
	// One operation of the blockchain is registered by hand already.
	e.start(t, "by-hand", cloudsim.ScenarioNever)
	g.Expect(k8s.Create(context.Background(), &opsv1.CloudOperation{
		ObjectMeta: metav1.ObjectMeta{Namespace: e.ns, Name: "by-hand"},
		Spec: opsv1.CloudOperationSpec{Service: opsv1.ServiceBCS, Region: "cn-north-4", OperationID: "by-hand", BlockchainID: sourceBlockchain,
			CredentialsSecretRef: opsv1.SecretReference{Name: "creds"}},
	})).To(Succeed())

	res := e.list(t)
	g.Expect(res.RequeueAfter).To(And(BeNumerically(">", 0), BeNumerically("<=", time.Minute)), "listed again within spec.interval")
	g.Expect(e.clk.Now().Add(res.RequeueAfter).UnixNano()%int64(time.Minute)).To(BeZero(),
		"a BCS source lists on the trackers' shared tick, so one list call serves both")
	g.Expect(e.mirrored(t)).To(Equal([]string{"console-1"}), "what was registered by hand is not mirrored again")

	// Started from the console between two lists; then two restarts.
	e.clk.Step(30 * time.Second)
	e.start(t, "console-2", cloudsim.ScenarioNever)
	e.list(t)
	e.list(t)
	e.list(t)
	g.Expect(e.mirrored(t)).To(Equal([]string{"console-1", "console-2"}), "each operation once")

	var obj opsv1.CloudOperation
	g.Expect(k8s.Get(context.Background(), types.NamespacedName{Namespace: e.ns, Name: childName(e.src, cloud.ServiceBCS, "console-2")}, &obj)).To(Succeed())
	g.Expect(obj.Labels).To(Equal(map[string]string{opsv1.LabelSource: "chain", "team": "data", "sharding.cloudop.dev/key": "s1"}))
	g.Expect(obj.OwnerReferences).To(HaveLen(1))
	g.Expect(obj.OwnerReferences[0].Kind).To(Equal("CloudOperationSource"))
	g.Expect(obj.Spec.BlockchainID).To(Equal(sourceBlockchain))
	g.Expect(obj.Spec.PollInterval.Duration).To(Equal(10 * time.Second))
	g.Expect(obj.Spec.CredentialsSecretRef.Name).To(Equal("creds"))

	var src opsv1.CloudOperationSource
	g.Expect(k8s.Get(context.Background(), client.ObjectKeyFromObject(e.src), &src)).To(Succeed())
	g.Expect(src.Status.Listed).To(Equal(int32(3)))
	g.Expect(src.Status.Mirrored).To(Equal(int32(2)))
	g.Expect(src.Status.LastListTime.Time).To(Equal(e.clk.Now()))
	g.Expect(sourceCondition(&src, opsv1.ConditionReady)).To(HaveField("Reason", opsv1.ReasonListed))
	u := &unstructured.Unstructured{}
	u.SetGroupVersionKind(opsv1.GroupVersion.WithKind("CloudOperationSource"))
	g.Expect(k8s.Get(context.Background(), client.ObjectKeyFromObject(e.src), u)).To(Succeed())
	ks, err := kstatus.Compute(u)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(ks.Status).To(Equal(kstatus.CurrentStatus), ks.Message)
}

// TestSourceDeletedAndRetained: a finished operation whose CloudOperation
// was deleted is not created again (a running one is), and the history
// limits keep the newest finished ones.
func TestSourceDeletedAndRetained(t *testing.T) {
	g := NewWithT(t)
	e := newSourceEnv(t, 2)
	for i := range 4 {
		e.start(t, fmt.Sprintf("done-%d", i), cloudsim.ScenarioSuccess)
		e.clk.Step(time.Second)
	}
	e.start(t, "running", cloudsim.ScenarioNever)
	e.clk.Step(time.Hour) // every success scenario has ended
	e.list(t)
	g.Expect(e.mirrored(t)).To(Equal([]string{"done-2", "done-3", "running"}), "the newest two finished, and the running one")

	// A user deletes a finished one and the running one.
	for _, id := range []string{"done-3", "running"} {
		g.Expect(k8s.Delete(context.Background(), &opsv1.CloudOperation{ObjectMeta: metav1.ObjectMeta{Namespace: e.ns, Name: childName(e.src, cloud.ServiceBCS, id)}})).To(Succeed())
	}
	e.list(t)
	g.Expect(e.mirrored(t)).To(Equal([]string{"done-2", "running"}), "the finished one stays deleted; the running one is back")
}

// TestSourceFamilies: for each discovery family, operations started in
// cloudsim after the source exists appear as CloudOperations within two
// list intervals, exactly once through a restart and through a leader
// change during which the old and the new leader list at once; and the
// documented rule for a deleted CloudOperation of an operation still
// listed holds: a running one is created again (BCS, CCE), a finished one
// is not, and a job a trace named is mirrored once (CTS).
func TestSourceFamilies(t *testing.T) {
	const cluster = "b4b9e60f-8aa2-11ee-af09-0255ac10004f"
	for _, tc := range []struct {
		family cloud.Service
		spec   func(*opsv1.CloudOperationSourceSpec)
		// op is an operation of the family that starts in d, and its
		// service and ID once mirrored.
		op func(id string, d time.Duration) cloudsim.OperationSpec
		// runningComesBack: a deleted CloudOperation of a running
		// operation is created again.
		runningComesBack bool
	}{
		{
			family: cloud.ServiceBCS,
			spec:   func(s *opsv1.CloudOperationSourceSpec) { s.Service, s.BlockchainID = opsv1.SourceBCS, sourceBlockchain },
			op: func(id string, d time.Duration) cloudsim.OperationSpec {
				return cloudsim.OperationSpec{Service: cloudsim.BCS, ID: id, BlockchainID: sourceBlockchain, Scenario: cloudsim.ScenarioNever, StartsIn: cloudsim.D(d)}
			},
			runningComesBack: true,
		},
		{
			family: cloud.ServiceCCE,
			spec: func(s *opsv1.CloudOperationSourceSpec) {
				s.Service, s.ClusterID, s.BlockchainID = opsv1.SourceCCE, cluster, ""
			},
			op: func(id string, d time.Duration) cloudsim.OperationSpec {
				return cloudsim.OperationSpec{Service: cloudsim.CCE, ID: id, ClusterID: cluster, Scenario: cloudsim.ScenarioNever, StartsIn: cloudsim.D(d)}
			},
			runningComesBack: true,
		},
		{
			family: cloud.ServiceCTS,
			spec: func(s *opsv1.CloudOperationSourceSpec) {
				s.Service, s.BlockchainID, s.Services = opsv1.SourceCTS, "", []opsv1.Service{opsv1.ServiceECS, opsv1.ServiceEVS}
			},
			op: func(id string, d time.Duration) cloudsim.OperationSpec {
				svc := cloudsim.ECS
				if strings.HasSuffix(id, "2") {
					svc = cloudsim.EVS
				}
				return cloudsim.OperationSpec{Service: svc, ID: id, Scenario: cloudsim.ScenarioNever, StartsIn: cloudsim.D(d)}
			},
		},
		{
			// RFS stack events name no deployment: RFS deployments are
			// found in CTS, on the stack the trace names.
			family: cloud.ServiceRFS,
			spec: func(s *opsv1.CloudOperationSourceSpec) {
				s.Service, s.BlockchainID, s.Services = opsv1.SourceCTS, "", []opsv1.Service{opsv1.ServiceRFS}
			},
			op: func(id string, d time.Duration) cloudsim.OperationSpec {
				return cloudsim.OperationSpec{Service: cloudsim.RFS, ID: id, StackName: "web-" + id, Scenario: cloudsim.ScenarioNever, StartsIn: cloudsim.D(d)}
			},
		},
	} {
		t.Run(string(tc.family), func(t *testing.T) {
			g := NewWithT(t)
			e := newSourceEnv(t, 10, tc.spec)
			interval := time.Minute
			add := func(id string, d time.Duration) {
				op := tc.op(id, d)
				op.ProjectID = sourceProject
				g.Expect(e.sim.AddOperation(op)).To(Succeed())
			}
			// Before the source's first list, one operation runs; two more
			// start between lists, as from the console.
			add("op-0", 0)
			add("op-1", interval/2)
			add("op-2", interval+interval/2)
			e.list(t)
			g.Expect(e.mirrored(t)).To(Equal([]string{"op-0"}))
			for range 2 {
				e.clk.Step(interval)
				// A leader change: the old leader and the new one list at
				// the same moment; then a restart lists again.
				var wg sync.WaitGroup
				for range 2 {
					wg.Go(func() { e.list(t) })
				}
				wg.Wait()
				e.list(t)
			}
			g.Expect(e.mirrored(t)).To(Equal([]string{"op-0", "op-1", "op-2"}), "within two intervals, each once")
			var children opsv1.CloudOperationList
			g.Expect(k8s.List(context.Background(), &children, client.InNamespace(e.ns), client.MatchingLabels{opsv1.LabelSource: e.src.Name})).To(Succeed())
			for _, c := range children.Items {
				want := string(tc.family)
				if tc.family == cloud.ServiceCTS {
					want = map[bool]string{true: "EVS", false: "ECS"}[strings.HasSuffix(c.Spec.OperationID, "2")]
				}
				g.Expect(string(c.Spec.Service)).To(Equal(want), "%s", c.Spec.OperationID)
				if tc.family == cloud.ServiceRFS {
					g.Expect(c.Spec.StackName).To(Equal("web-"+c.Spec.OperationID), "the deployment's stack, from the trace")
				}
			}

			// A user deletes the CloudOperation of op-1, still running.
			g.Expect(k8s.Delete(context.Background(), &opsv1.CloudOperation{ObjectMeta: metav1.ObjectMeta{Namespace: e.ns,
				Name: childName(e.src, cloud.Service(tc.op("op-1", 0).Service), "op-1")}})).To(Succeed())
			e.clk.Step(interval)
			e.list(t)
			if tc.runningComesBack {
				g.Expect(e.mirrored(t)).To(Equal([]string{"op-0", "op-1", "op-2"}), "a running operation cannot be hidden by deleting its record")
			} else {
				g.Expect(e.mirrored(t)).To(Equal([]string{"op-0", "op-2"}), "a traced job is mirrored once")
			}
			var src opsv1.CloudOperationSource
			g.Expect(k8s.Get(context.Background(), client.ObjectKeyFromObject(e.src), &src)).To(Succeed())
			g.Expect(sourceCondition(&src, opsv1.ConditionReady)).To(HaveField("Reason", opsv1.ReasonListed))
			g.Expect(src.Status.Resource).NotTo(BeEmpty())
		})
	}
}

// sourceCondition returns the source's condition of type typ, or nil.
func sourceCondition(src *opsv1.CloudOperationSource, typ string) *metav1.Condition {
	return findCondition(src.Status.Conditions, typ)
}
