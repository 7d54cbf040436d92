package demo

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/discovery"
	"sigs.k8s.io/controller-runtime/pkg/client"

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

// ApplyIdentity shows workload identity in namespace, set up as in
// docs/identity.md: the namespace is labelled as opted in
// (opsv1.LabelWorkloadIdentity; the demo runs no admission policy, but an
// install does), IAM maps the namespace's ServiceAccount
// IdentityServiceAccount to accessKey's account (mapped is false to leave
// it unmapped, as for a tenant IAM does not know), the ServiceAccount is
// created with the identity annotations, and an ECS job is started in
// cloudsim and tracked by a CloudOperation that names the ServiceAccount
// instead of a Secret.
func (e *Environment) ApplyIdentity(ctx context.Context, namespace, accessKey, projectID string, mapped bool) error {
	if err := e.optIn(ctx, namespace); err != nil {
		return err
	}
	if mapped {
		if err := e.trust(ctx, "system:serviceaccount:"+namespace+":"+IdentityServiceAccount, accessKey); err != nil {
			return err
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

// optIn labels namespace as opted in to workload identity, the cluster
// admin's step that lets the manager mint tokens there.
func (e *Environment) optIn(ctx context.Context, namespace string) error {
	ns := &corev1.Namespace{}
	if err := e.Client.Get(ctx, client.ObjectKey{Name: namespace}, ns); err != nil {
		return err
	}
	patch := client.MergeFrom(ns.DeepCopy())
	if ns.Labels == nil {
		ns.Labels = map[string]string{}
	}
	ns.Labels[opsv1.LabelWorkloadIdentity] = opsv1.LabelWorkloadIdentityEnabled
	return e.Client.Patch(ctx, ns, patch)
}

// trust adds subject to the identity provider's mappings (to accessKey's
// account) and registers it in cloudsim's IAM with the control plane's
// issuer and keys, read once.
func (e *Environment) trust(ctx context.Context, subject, accessKey string) error {
	e.identityMu.Lock()
	defer e.identityMu.Unlock()
	if e.signingKey == "" {
		var err error
		if e.issuerURL, e.signingKey, err = e.readIssuer(ctx); err != nil {
			return fmt.Errorf("reading the control plane's service-account issuer: %w", err)
		}
	}
	e.identitySubjects = append(e.identitySubjects, subject)
	idp := cloudsim.IdentityProvider{ID: IdentityProviderID, Issuer: e.issuerURL, Audience: identity.DefaultAudience, SigningKey: e.signingKey}
	for _, s := range e.identitySubjects {
		idp.Mappings = append(idp.Mappings, cloudsim.IdentityMapping{Subject: s, AccessKey: accessKey})
	}
	if err := e.Sim.AddIdentityProvider(idp); err != nil {
		return fmt.Errorf("cloudsim: %w", err)
	}
	return nil
}

// readIssuer reads the service-account issuer and its public keys (a
// JWKS) as an administrator, like `kubectl get --raw
// /.well-known/openid-configuration` and `kubectl get --raw
// /openid/v1/jwks` in docs/identity.md: IAM is given the keys once and
// never fetches them itself.
func (e *Environment) readIssuer(ctx context.Context) (issuer, jwks string, err error) {
	dc, err := discovery.NewDiscoveryClientForConfig(e.RestConfig)
	if err != nil {
		return "", "", err
	}
	raw, err := dc.RESTClient().Get().AbsPath("/.well-known/openid-configuration").DoRaw(ctx)
	if err != nil {
		return "", "", fmt.Errorf("discovery document: %w", err)
	}
	var doc struct {
		Issuer string `json:"issuer"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil || doc.Issuer == "" {
		return "", "", errors.New("discovery document names no issuer")
	}
	keys, err := dc.RESTClient().Get().AbsPath("/openid/v1/jwks").DoRaw(ctx)
	if err != nil {
		return "", "", fmt.Errorf("jwks: %w", err)
	}
	return doc.Issuer, string(keys), nil
}
