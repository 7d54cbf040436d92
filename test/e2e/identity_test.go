package e2e

import (
	"context"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	opsv1 "github.com/cloudop/cloudop/api/v1alpha1"
	"github.com/cloudop/cloudop/internal/cloud/identity"
	"github.com/cloudop/cloudop/internal/cloudsim"
)

// TestWorkloadIdentityEndToEnd: the manager, as deployed by the demo,
// tracks an operation signed by its namespace's ServiceAccount through
// cloudsim's IAM (which verifies the token against the control plane's
// keys); a namespace IAM maps to nothing gets IdentityRejected; no
// token or key issued along the way shows in status, events, logs or
// metrics.
func TestWorkloadIdentityEndToEnd(t *testing.T) {
	ctx := context.Background()
	teamA, teamB := newNamespace(t), newNamespace(t)
	issuer := strings.TrimSuffix(env.RestConfig.Host, "/") + "/"
	if err := env.Sim.AddIdentityProvider(cloudsim.IdentityProvider{
		ID: "e2e-idp", Issuer: issuer, Audience: identity.DefaultAudience, JWKSURL: issuer + "openid/v1/jwks",
		Mappings: []cloudsim.IdentityMapping{{Subject: "system:serviceaccount:" + teamA + ":cloudop", AccessKey: accessKey}},
	}); err != nil {
		t.Fatal(err)
	}
	for _, ns := range []string{teamA, teamB} {
		sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "cloudop", Annotations: map[string]string{
			opsv1.AnnotationIdentityProviderID: "e2e-idp", opsv1.AnnotationIdentityProjectID: project}}}
		if err := env.Client.Create(ctx, sa); err != nil {
			t.Fatal(err)
		}
	}
	a := simOperation(t, teamA, "job", cloudsim.OperationSpec{Service: cloudsim.ECS, ID: "identity-e2e-job-a"})
	a.Spec.CredentialsSecretRef = opsv1.SecretReference{}
	a.Spec.ServiceAccountName = "cloudop"
	b := simOperation(t, teamB, "job", cloudsim.OperationSpec{Service: cloudsim.ECS, ID: "identity-e2e-job-b"})
	b.Spec.CredentialsSecretRef = opsv1.SecretReference{}
	b.Spec.ServiceAccountName = "cloudop"
	for _, o := range []*opsv1.CloudOperation{a, b} {
		if err := env.Client.Create(ctx, o); err != nil {
			t.Fatal(err)
		}
	}
	eventually(t, 90*time.Second, "team-a Succeeded", func() (bool, string) {
		o := get(t, teamA, "job")
		return o.Status.Phase == opsv1.PhaseSucceeded && o.IsReady(), describe(o)
	})
	eventually(t, 30*time.Second, "team-b IdentityRejected", func() (bool, string) {
		o := get(t, teamB, "job")
		c := o.GetCondition(opsv1.ConditionReady)
		return c != nil && c.Reason == opsv1.ReasonIdentityRejected, describe(o)
	})
	subjectA := "system:serviceaccount:" + teamA + ":cloudop"
	signedA := 0
	for _, r := range env.Sim.Requests() {
		if strings.Contains(r.Path, "identity-e2e-job-b") {
			t.Errorf("team-b's job was called, signed by %q", r.Principal)
		}
		if strings.Contains(r.Path, "identity-e2e-job-a") {
			signedA++
			if r.Principal != subjectA || !r.Temporary {
				t.Errorf("team-a's job called by %q (temporary %v), want %s", r.Principal, r.Temporary, subjectA)
			}
		}
	}
	if signedA == 0 {
		t.Fatal("cloudsim's log shows no call for team-a's job")
	}
	issued := env.Sim.IssuedSecrets()
	if len(issued) < 4 {
		t.Fatalf("IAM issued %d secrets, want at least the ID token, IAM token, secret key and security token", len(issued))
	}
	assertNoSecretLeaks(t, "IAM.0302", issued...)
}
