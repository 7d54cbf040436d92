package controller

import (
	"context"
	"fmt"
	"net/http/httptest"
	"slices"
	"strings"
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
		Spec:       opsv1.CloudOperationSourceSpec{Service: opsv1.ServiceBCS, BlockchainID: "b1", SuccessfulHistoryLimit: ptr.To[int32](2), FailedHistoryLimit: ptr.To[int32](1)},
	}
	child := func(id string, phase opsv1.Phase, finishedMin int) opsv1.CloudOperation {
		done := metav1.NewTime(*at(finishedMin))
		c := opsv1.CloudOperation{ObjectMeta: metav1.ObjectMeta{Name: childName(src, id), Generation: 1},
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
		listed        map[string]*cloud.Operation
		children      []opsv1.CloudOperation
		registered    map[string]bool
		wantCreate    []string
		wantPrune     []string
		wantWatermark *time.Time
	}{
		{
			name: "first list: running ones, and the newest finished up to the limits, oldest start first",
			listed: map[string]*cloud.Operation{
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
			listed: map[string]*cloud.Operation{
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
			listed:        map[string]*cloud.Operation{"by-hand": op(cloud.PhaseRunning, at(10)), "console": op(cloud.PhaseRunning, at(11))},
			registered:    map[string]bool{"by-hand": true},
			wantCreate:    []string{"console"},
			wantWatermark: at(11),
		},
		{
			name:          "a running operation whose CloudOperation was deleted is created again",
			watermark:     at(9),
			listed:        map[string]*cloud.Operation{"console": op(cloud.PhaseRunning, at(9))},
			wantCreate:    []string{"console"},
			wantWatermark: at(9),
		},
		{
			name:      "history limits prune the oldest finished",
			watermark: at(9),
			children: []opsv1.CloudOperation{
				child("a", opsv1.PhaseSucceeded, 10), child("b", opsv1.PhaseSucceeded, 12), child("c", opsv1.PhaseSucceeded, 11),
				child("d", opsv1.PhaseFailed, 13), child("e", opsv1.PhaseFailed, 14), child("f", opsv1.PhaseRunning, 1),
			},
			wantPrune:     []string{childName(src, "a"), childName(src, "d")},
			wantWatermark: at(9),
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := NewWithT(t)
			s := src.DeepCopy()
			if tc.watermark != nil {
				s.Status.Watermark = &metav1.Time{Time: *tc.watermark}
			}
			plan := planMirror(s, tc.listed, tc.children, tc.registered)
			g.Expect(plan.create).To(Equal(tc.wantCreate))
			g.Expect(names(plan.prune)).To(ConsistOf(tc.wantPrune))
			g.Expect(plan.watermark.Time).To(Equal(*tc.wantWatermark))
		})
	}
}

// TestChildName: deterministic, distinct per operation, within the
// API's name length.
func TestChildName(t *testing.T) {
	g := NewWithT(t)
	src := &opsv1.CloudOperationSource{ObjectMeta: metav1.ObjectMeta{Name: "chain"}, Spec: opsv1.CloudOperationSourceSpec{Service: opsv1.ServiceBCS, BlockchainID: "b1"}}
	g.Expect(childName(src, "op-1")).To(Equal(childName(src.DeepCopy(), "op-1")))
	g.Expect(childName(src, "op-1")).NotTo(Equal(childName(src, "op-2")))
	long := src.DeepCopy()
	long.Name = strings.Repeat("a", 253)
	g.Expect(len(childName(long, "op-1"))).To(BeNumerically("<=", 253))
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

func newSourceEnv(t *testing.T, limits int32) *sourceEnv {
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
			Service: opsv1.ServiceBCS, Region: "cn-north-4", BlockchainID: sourceBlockchain,
			CredentialsSecretRef:   opsv1.SecretReference{Name: "creds"},
			Template:               opsv1.CloudOperationTemplate{Labels: map[string]string{"team": "data"}, PollInterval: &metav1.Duration{Duration: 10 * time.Second}},
			SuccessfulHistoryLimit: ptr.To(limits), FailedHistoryLimit: ptr.To(limits),
		},
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
	g.Expect(res.RequeueAfter).To(Equal(time.Minute), "listed again after spec.interval")
	g.Expect(e.mirrored(t)).To(Equal([]string{"console-1"}), "what was registered by hand is not mirrored again")

	// Started from the console between two lists; then two restarts.
	e.clk.Step(30 * time.Second)
	e.start(t, "console-2", cloudsim.ScenarioNever)
	e.list(t)
	e.list(t)
	e.list(t)
	g.Expect(e.mirrored(t)).To(Equal([]string{"console-1", "console-2"}), "each operation once")

	var obj opsv1.CloudOperation
	g.Expect(k8s.Get(context.Background(), types.NamespacedName{Namespace: e.ns, Name: childName(e.src, "console-2")}, &obj)).To(Succeed())
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
		g.Expect(k8s.Delete(context.Background(), &opsv1.CloudOperation{ObjectMeta: metav1.ObjectMeta{Namespace: e.ns, Name: childName(e.src, id)}})).To(Succeed())
	}
	e.list(t)
	g.Expect(e.mirrored(t)).To(Equal([]string{"done-2", "running"}), "the finished one stays deleted; the running one is back")
}

// sourceCondition returns the source's condition of type typ, or nil.
func sourceCondition(src *opsv1.CloudOperationSource, typ string) *metav1.Condition {
	return findCondition(src.Status.Conditions, typ)
}
