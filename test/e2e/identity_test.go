package e2e

import (
	"context"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	opsv1 "github.com/cloudop/cloudop/api/v1alpha1"
	"github.com/cloudop/cloudop/internal/demo"
	"github.com/cloudop/cloudop/internal/testkit"
)

// TestWorkloadIdentityEndToEnd: the manager, as the demo runs it, tracks
// an operation signed by its namespace's ServiceAccount through cloudsim's
// IAM (which verifies the token against the control plane's keys,
// uploaded once as to IAM); a namespace IAM maps to nothing gets
// IdentityRejected and no call; no token or key issued along the way
// shows in status, events, logs or metrics. Both namespaces are labelled
// as opted in, as an install's admission policy requires.
func TestWorkloadIdentityEndToEnd(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	teamA, teamB := newNamespace(t), newNamespace(t)
	if err := env.ApplyIdentity(ctx, teamA, accessKey, project, true); err != nil {
		t.Fatal(err)
	}
	if err := env.ApplyIdentity(ctx, teamB, accessKey, project, false); err != nil {
		t.Fatal(err)
	}
	for _, ns := range []string{teamA, teamB} {
		var got corev1.Namespace
		if err := env.Client.Get(ctx, client.ObjectKey{Name: ns}, &got); err != nil {
			t.Fatal(err)
		}
		if got.Labels[opsv1.LabelWorkloadIdentity] != opsv1.LabelWorkloadIdentityEnabled {
			t.Errorf("namespace %s labels %v: want %s=%s", ns, got.Labels, opsv1.LabelWorkloadIdentity, opsv1.LabelWorkloadIdentityEnabled)
		}
	}
	testkit.Eventually(t, 90*time.Second, "team-a Succeeded", func() (bool, string) {
		o := get(t, teamA, demo.IdentityOperation)
		return o.Status.Phase == opsv1.PhaseSucceeded && o.IsReady(), describe(o)
	})
	testkit.Eventually(t, 30*time.Second, "team-b IdentityRejected", func() (bool, string) {
		o := get(t, teamB, demo.IdentityOperation)
		c := o.GetCondition(opsv1.ConditionReady)
		return c != nil && c.Reason == opsv1.ReasonIdentityRejected && strings.Contains(c.Message, "IAM.0302"), describe(o)
	})
	subjectA := "system:serviceaccount:" + teamA + ":" + demo.IdentityServiceAccount
	signedA := 0
	for _, r := range env.Sim.Requests() {
		if strings.HasSuffix(r.Path, "/jobs/workload-identity-"+teamB) {
			t.Errorf("team-b's job was called, signed by %q", r.Principal)
		}
		if strings.HasSuffix(r.Path, "/jobs/workload-identity-"+teamA) {
			signedA++
			if r.Principal != subjectA || !r.Temporary {
				t.Errorf("team-a's job called by %q (temporary %v), want %s", r.Principal, r.Temporary, subjectA)
			}
		}
	}
	if signedA == 0 {
		t.Fatal("cloudsim's log shows no call for team-a's job")
	}
	if n := env.Sim.Counts().Principals[subjectA].Total; n < signedA {
		t.Errorf("cloudsim counted %d calls signed by %s, its log %d", n, subjectA, signedA)
	}
	issued := env.Sim.IssuedSecrets()
	if len(issued) < 4 {
		t.Fatalf("IAM issued %d secrets, want at least the ID token, IAM token, secret key and security token", len(issued))
	}
	assertNoSecretLeaks(t, "IAM.0302", issued...)
}
