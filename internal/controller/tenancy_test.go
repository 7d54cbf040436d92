package controller

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	opsv1 "github.com/cloudop/cloudop/api/v1alpha1"
	"github.com/cloudop/cloudop/internal/cloud/identity"
	"github.com/cloudop/cloudop/internal/cloudsim"
)

// TestHostileObjectsDoNotDrainIAM is issue #21's repro through the real
// reconciler, cloudsim's IAM and the CCE API over signed HTTP: 20
// objects of one ServiceAccount point at a project its credentials have
// no rights in, so every poll is refused (403) and the reconciler drops
// the credentials. Polled every 30 s for 240 s (on a fake clock), they
// used to cost an exchange and a TokenRequest per poll; now at most one
// per --identity-min-exchange-interval (1 min).
func TestHostileObjectsDoNotDrainIAM(t *testing.T) {
	g := NewWithT(t)
	e := newIdentityEnv(t, time.Hour)
	clock := testNow
	e.provider.Now = func() time.Time { return clock }
	e.provider.MinExchangeInterval, e.provider.FailureTTL = identity.DefaultMinExchangeInterval, identity.DefaultFailureTTL
	ns := newNamespace(t)
	e.trust(t, subject(ns, "ops"))
	newServiceAccount(t, ns, "ops", identityAnnotations())
	r := e.reconciler()

	const objects, interval, window = 20, 30 * time.Second, 240 * time.Second
	const foreignProject = "ffffffffffffffffffffffffffffffff"
	var objs []*opsv1.CloudOperation
	for i := range objects {
		id := fmt.Sprintf("hostile-%02d", i)
		g.Expect(e.sim.AddOperation(cloudsim.OperationSpec{Service: cloudsim.CCE, ID: id, ProjectID: teamProject, ClusterID: clusterID})).To(Succeed())
		obj := &opsv1.CloudOperation{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: id},
			Spec: opsv1.CloudOperationSpec{Service: opsv1.ServiceCCE, Region: "cn-north-4", OperationID: id, ClusterID: clusterID,
				ProjectID: foreignProject, ServiceAccountName: "ops"},
		}
		g.Expect(k8s.Create(context.Background(), obj)).To(Succeed())
		objs = append(objs, obj)
	}
	for elapsed := time.Duration(0); elapsed < window; elapsed += interval {
		for _, obj := range objs {
			reconcileOnce(t, r, obj)
		}
		clock = clock.Add(interval)
	}
	for _, obj := range objs {
		got := fetch(t, obj)
		g.Expect(conditionReason(got, opsv1.ConditionReady)).To(Equal("False/"+opsv1.ReasonAuthFailed), got.Status.Message)
	}
	counts := e.sim.Counts()
	g.Expect(counts.Services[cloudsim.CCE].ByStatus[http.StatusForbidden]).To(Equal(objects*int(window/interval)), "every poll reached the service and was refused")
	exchanges := counts.IAM[cloudsim.IAMCreateTokenWithIDToken].ByStatus[http.StatusCreated]
	t.Logf("%d hostile objects polled every %v for %v: %d exchanges (%.1f a minute), %d TokenRequests",
		objects, interval, window, exchanges, float64(exchanges)/window.Minutes(), e.tokens.n.Load())
	limit := 1 + int(window/identity.DefaultMinExchangeInterval)
	g.Expect(exchanges).To(BeNumerically("<=", limit), "exchanges")
	g.Expect(int(e.tokens.n.Load())).To(Equal(exchanges), "one TokenRequest per exchange")
}
