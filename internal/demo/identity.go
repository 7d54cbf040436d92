package demo

import (
	"context"
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	opsv1 "github.com/cloudop/cloudop/api/v1alpha1"
	"github.com/cloudop/cloudop/internal/cloud/identity"
	"github.com/cloudop/cloudop/internal/cloudsim"
)

// Workload identity in the demo: cloudsim's IAM trusts the control
// plane's service-account issuer through this identity provider, and each
// namespace's ServiceAccount IdentityServiceAccount signs the operation
// IdentityOperation.
const (
	IdentityProviderID     = "demo-cluster"
	IdentityServiceAccount = "cloudop"
	IdentityOperation      = "ecs-workload-identity"
)

// ApplyIdentity shows workload identity in namespace: IAM maps the
// namespace's ServiceAccount IdentityServiceAccount to accessKey's account
// (mapped is false to leave it unmapped, as for a tenant IAM does not
// know), the ServiceAccount is created with the identity annotations, and
// an ECS job is started in cloudsim and tracked by a CloudOperation that
// names the ServiceAccount instead of a Secret.
func (e *Environment) ApplyIdentity(ctx context.Context, namespace, accessKey, projectID string, mapped bool) error {
	if mapped {
		e.identityMu.Lock()
		e.identitySubjects = append(e.identitySubjects, "system:serviceaccount:"+namespace+":"+IdentityServiceAccount)
		idp := cloudsim.IdentityProvider{ID: IdentityProviderID, Issuer: e.issuer(), Audience: identity.DefaultAudience,
			// The discovery document's jwks_uri names the API server's
			// advertised address, which envtest does not listen on.
			JWKSURL: e.issuer() + "openid/v1/jwks"}
		for _, s := range e.identitySubjects {
			idp.Mappings = append(idp.Mappings, cloudsim.IdentityMapping{Subject: s, AccessKey: accessKey})
		}
		err := e.Sim.AddIdentityProvider(idp)
		e.identityMu.Unlock()
		if err != nil {
			return fmt.Errorf("cloudsim: %w", err)
		}
	}
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: IdentityServiceAccount, Annotations: map[string]string{
		opsv1.AnnotationIdentityProviderID: IdentityProviderID,
		opsv1.AnnotationIdentityProjectID:  projectID,
	}}}
	if err := e.Client.Create(ctx, sa); err != nil && !apierrors.IsAlreadyExists(err) {
		return err
	}
	jobID := "workload-identity-" + namespace
	if err := e.Sim.AddOperation(cloudsim.OperationSpec{Service: cloudsim.ECS, ID: jobID, ProjectID: projectID}); err != nil {
		return fmt.Errorf("cloudsim: %w", err)
	}
	obj := &opsv1.CloudOperation{
		ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: IdentityOperation},
		Spec: opsv1.CloudOperationSpec{
			Service: opsv1.ServiceECS, Region: "cn-north-4", OperationID: jobID,
			ServiceAccountName: IdentityServiceAccount,
			PollInterval:       &metav1.Duration{Duration: 5 * time.Second},
		},
	}
	return e.Client.Create(ctx, obj)
}

// issuer is the control plane's service-account issuer (envtest: its URL).
func (e *Environment) issuer() string { return strings.TrimSuffix(e.RestConfig.Host, "/") + "/" }
