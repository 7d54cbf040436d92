package controller

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	kstatus "github.com/fluxcd/cli-utils/pkg/kstatus/status"
	. "github.com/onsi/gomega"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"

	"github.com/cloudop/cloudop/internal/cloud"
	"github.com/cloudop/cloudop/internal/controller/internal/argocd"
	"github.com/cloudop/cloudop/internal/testenv"
)

// readBack returns the object as the API server serves it, unstructured,
// which is what kstatus and Argo CD see.
func readBack(t *testing.T, ns, name string) *unstructured.Unstructured {
	t.Helper()
	u := &unstructured.Unstructured{}
	u.SetAPIVersion("ops.cloudop.dev/v1alpha1")
	u.SetKind("CloudOperation")
	NewWithT(t).Expect(k8s.Get(context.Background(), types.NamespacedName{Namespace: ns, Name: name}, u)).To(Succeed())
	return u
}

func healthScript(t *testing.T) string {
	t.Helper()
	g := NewWithT(t)
	root, err := testenv.RepoRoot()
	g.Expect(err).NotTo(HaveOccurred())
	b, err := os.ReadFile(filepath.Join(root, "config/argocd/resource_customizations/ops.cloudop.dev/CloudOperation/health.lua"))
	g.Expect(err).NotTo(HaveOccurred())
	return string(b)
}

// TestStatusReadByKstatusAndArgoCD drives objects through their phases and
// checks what kstatus (Flux's status library) and Argo CD's health script
// make of them, as read back from the API server.
func TestStatusReadByKstatusAndArgoCD(t *testing.T) {
	failedOp := runningOp()
	failedOp.Phase, failedOp.ServiceStatus, failedOp.CurrentStep = cloud.PhaseFailed, "Pending", "Cluster"
	failedOp.Resumable = true
	cancelled := &cloud.Operation{Phase: cloud.PhaseCancelled, ServiceStatus: "Cancel"}
	badRequest := &cloud.Error{Kind: cloud.KindPermanent, HTTPStatus: 400, Code: "CCE.01400001", Message: "bad cluster id"}

	cases := []struct {
		name        string
		op          *cloud.Operation
		err         error
		reconciles  int
		wantKstatus kstatus.Status
		wantHealth  string
	}{
		// The API server's default (status.observedGeneration 0) makes a
		// fresh object in progress before the controller wrote anything.
		{name: "created, not yet reconciled", op: runningOp(), reconciles: 0, wantKstatus: kstatus.InProgressStatus, wantHealth: "Progressing"},
		{name: "first status only", op: runningOp(), reconciles: 1, wantKstatus: kstatus.InProgressStatus, wantHealth: "Progressing"},
		{name: "running", op: runningOp(), reconciles: 2, wantKstatus: kstatus.InProgressStatus, wantHealth: "Progressing"},
		{name: "succeeded", op: succeededOp(), reconciles: 2, wantKstatus: kstatus.CurrentStatus, wantHealth: "Healthy"},
		{name: "failed", op: failedOp, reconciles: 2, wantKstatus: kstatus.FailedStatus, wantHealth: "Degraded"},
		{name: "cancelled", op: cancelled, reconciles: 2, wantKstatus: kstatus.FailedStatus, wantHealth: "Degraded"},
		{name: "invalid configuration", err: badRequest, reconciles: 2, wantKstatus: kstatus.FailedStatus, wantHealth: "Degraded"},
		{name: "transient error", err: &cloud.Error{Kind: cloud.KindTransient, HTTPStatus: 503}, reconciles: 2, wantKstatus: kstatus.InProgressStatus, wantHealth: "Progressing"},
	}
	script := healthScript(t)
	ns := newNamespace(t)
	newSecret(t, ns, "creds", validCredentials())
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			g := NewWithT(t)
			opID := "wf-clients-" + string(rune('a'+i))
			obj := newCCEOperation(ns, opID, opID)
			g.Expect(k8s.Create(context.Background(), obj)).To(Succeed())
			observer := newFakeObserver()
			observer.set(opID, tc.op, tc.err)
			r := newTestReconciler(observer, testNow)
			for range tc.reconciles {
				reconcileOnce(t, r, obj)
			}
			u := readBack(t, ns, opID)

			res, err := kstatus.Compute(u)
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(res.Status).To(Equal(tc.wantKstatus), res.Message)

			health, err := argocd.Evaluate(script, u.Object)
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(health.Status).To(Equal(tc.wantHealth), health.Message)
			g.Expect(health.Message).NotTo(BeEmpty())
		})
	}
}

// TestSpecChangeIsInProgressUntilObserved: a new generation is InProgress
// for kstatus until the controller has looked at it.
func TestSpecChangeIsInProgressUntilObserved(t *testing.T) {
	g := NewWithT(t)
	ns := newNamespace(t)
	newSecret(t, ns, "creds", validCredentials())
	obj := newCCEOperation(ns, "gen", "wf-gen")
	g.Expect(k8s.Create(context.Background(), obj)).To(Succeed())
	observer := newFakeObserver()
	observer.set("wf-gen", succeededOp(), nil)
	r := newTestReconciler(observer, testNow)
	reconcileOnce(t, r, obj)
	reconcileOnce(t, r, obj)
	res, _ := kstatus.Compute(readBack(t, ns, "gen"))
	g.Expect(res.Status).To(Equal(kstatus.CurrentStatus))

	got := fetch(t, obj)
	got.Spec.PollInterval = nil
	got.Spec.Endpoint = "https://cce.cn-north-4.myhuaweicloud.com"
	g.Expect(k8s.Update(context.Background(), got)).To(Succeed())
	res, _ = kstatus.Compute(readBack(t, ns, "gen"))
	g.Expect(res.Status).To(Equal(kstatus.InProgressStatus))

	reconcileOnce(t, r, obj)
	u := readBack(t, ns, "gen")
	res, _ = kstatus.Compute(u)
	g.Expect(res.Status).To(Equal(kstatus.CurrentStatus))
	health, _ := argocd.Evaluate(healthScript(t), u.Object)
	g.Expect(health.Status).To(Equal("Healthy"))
}
