package controller

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"

	opsv1 "github.com/cloudop/cloudop/api/v1alpha1"
	"github.com/cloudop/cloudop/internal/cloud"
	"github.com/cloudop/cloudop/internal/cloud/identity"
	"github.com/cloudop/cloudop/internal/readcache"
)

// secretKeyProjectID is the credentials Secret's optional project key
// (the signing keys are cloud.CredentialsFromSecretData's).
const secretKeyProjectID = "projectID"

// credentialsError says what is wrong with a credentials Secret. Its
// message names the Secret and key, never a value.
type credentialsError struct{ msg string }

func (e *credentialsError) Error() string { return e.msg }

// loadTarget reads the credentials Secret from the object's own namespace
// and builds the target to observe. It is the one place the project ID is
// resolved: spec.projectID, else the Secret's projectID key; a missing one
// is a credentialsError, since the fix is in the Secret or the spec. The
// Secret comes from the SecretCache, so one read serves every poll for
// --secret-cache-ttl and a fixed Secret takes effect within that time; an
// auth failure forgets the cached Secret, so a fixed key is read on the
// next poll.
func loadTarget(ctx context.Context, secrets *SecretCache, obj *opsv1.CloudOperation) (cloud.Target, error) {
	name := obj.Spec.CredentialsSecretRef.Name
	if name == "" {
		// Reached only when the manager has no identity of its own to
		// lend (multi-tenant installs must not: any namespace could
		// borrow it).
		return cloud.Target{}, &credentialsError{"neither spec.credentialsSecretRef nor spec.serviceAccountName is set, and this manager lends no identity of its own (--manager-identity)"}
	}
	secret, err := secrets.Get(ctx, secretKey(obj))
	if err != nil {
		if apierrors.IsNotFound(err) {
			return cloud.Target{}, &credentialsError{fmt.Sprintf("credentials Secret %q not found in namespace %q", name, obj.Namespace)}
		}
		return cloud.Target{}, fmt.Errorf("reading credentials Secret %q: %w", name, err)
	}
	creds, err := credentialsFromSecret(secret)
	if err != nil {
		return cloud.Target{}, err
	}
	project := obj.Spec.ProjectID
	if project == "" {
		// From the Secret: a bad value is the Secret's to fix, so it is a
		// credentialsError (retried every interval), not the stalling
		// InvalidConfiguration a bad spec.projectID gets.
		project = cloud.SecretDataValue(secret.Data, secretKeyProjectID)
		if project == "" {
			return cloud.Target{}, &credentialsError{fmt.Sprintf("no project: set spec.projectID or key %q in Secret %q", secretKeyProjectID, name)}
		}
		if !cloud.ValidPathSegment(project) {
			return cloud.Target{}, &credentialsError{fmt.Sprintf("credentials Secret %q: key %q is not a valid project ID", name, secretKeyProjectID)}
		}
	}
	return newTarget(obj, project, creds), nil
}

// SecretCache keeps credentials Secret reads for a short time
// (--secret-cache-ttl); failed reads are not kept.
type SecretCache = readcache.Cache[corev1.Secret, *corev1.Secret]

// WorkloadIdentity obtains temporary credentials for a ServiceAccount of
// the object's namespace; *identity.Provider implements it.
type WorkloadIdentity interface {
	Credentials(ctx context.Context, namespace, name, region string) (identity.Result, error)
	Forget(key identity.Key)
}

// errIdentityDisabled answers objects naming a ServiceAccount when the
// manager has no workload identity configured.
var errIdentityDisabled = &identity.Error{Kind: identity.KindInvalid, Msg: "spec.serviceAccountName is set, but workload identity is not enabled in this manager"}

// loadIdentityTarget builds the target of an object signed by the
// ServiceAccount sa (the one it names, or the manager's own): temporary
// credentials from ids, the project from spec.projectID or the
// ServiceAccount's project annotation. forget drops the credentials used,
// for when the cloud rejects them.
func loadIdentityTarget(ctx context.Context, ids WorkloadIdentity, obj *opsv1.CloudOperation, sa types.NamespacedName) (t cloud.Target, forget func(), err error) {
	if ids == nil {
		return cloud.Target{}, nil, errIdentityDisabled
	}
	res, err := ids.Credentials(ctx, sa.Namespace, sa.Name, obj.Spec.Region)
	if err != nil {
		return cloud.Target{}, nil, err
	}
	project := obj.Spec.ProjectID
	if project == "" {
		// Checked by the identity provider, which names the annotation.
		project = res.ProjectID
	}
	if project == "" {
		return cloud.Target{}, nil, &identity.Error{Kind: identity.KindInvalid, Msg: fmt.Sprintf("no project: set spec.projectID or annotation %s on ServiceAccount %q", opsv1.AnnotationIdentityProjectID, sa.String())}
	}
	return newTarget(obj, project, res.Credentials), func() { ids.Forget(res.Key) }, nil
}

// newTarget is the target of obj signed with creds.
func newTarget(obj *opsv1.CloudOperation, project string, creds cloud.Credentials) cloud.Target {
	return cloud.Target{
		Service:       cloudService(obj.Spec.Service),
		OperationType: cloudOperationType(obj.Spec.OperationType),
		Region:        obj.Spec.Region,
		ProjectID:     project,
		OperationID:   obj.Spec.OperationID,
		ClusterID:     obj.Spec.ClusterID,
		StackID:       obj.Spec.StackID,
		StackName:     obj.Spec.StackName,
		BlockchainID:  obj.Spec.BlockchainID,
		Credentials:   creds,
	}
}

// secretKey names the credentials Secret of obj: always in obj's own
// namespace.
// resolveTarget builds obj's target signed by the identity it names: a
// ServiceAccount's, the manager's own (when obj names neither and the
// manager lends one), or a credentials Secret's. forget drops what is
// cached of that identity, for after the cloud rejected it.
func resolveTarget(ctx context.Context, secrets *SecretCache, ids WorkloadIdentity, managerIdentity *types.NamespacedName, obj *opsv1.CloudOperation) (t cloud.Target, forget func(), err error) {
	switch {
	case obj.Spec.ServiceAccountName != "":
		sa := types.NamespacedName{Namespace: obj.Namespace, Name: obj.Spec.ServiceAccountName}
		return loadIdentityTarget(ctx, ids, obj, sa)
	case obj.Spec.CredentialsSecretRef.Name == "" && managerIdentity != nil:
		return loadIdentityTarget(ctx, ids, obj, *managerIdentity)
	}
	t, err = loadTarget(ctx, secrets, obj)
	return t, func() { secrets.Forget(secretKey(obj)) }, err
}

func secretKey(obj *opsv1.CloudOperation) types.NamespacedName {
	return types.NamespacedName{Namespace: obj.Namespace, Name: obj.Spec.CredentialsSecretRef.Name}
}

// credentialsFromSecret extracts and checks the signing keys of a
// credentials Secret (its projectID is read by loadTarget). Its errors name
// the Secret, the key and the problem (missing, empty, a line break),
// never a value.
func credentialsFromSecret(secret *corev1.Secret) (cloud.Credentials, error) {
	creds, err := cloud.CredentialsFromSecretData(secret.Data)
	if err != nil {
		return cloud.Credentials{}, &credentialsError{fmt.Sprintf("credentials Secret %q: key %q %v", secret.Name, string(err.Field), err.Reason)}
	}
	return creds, nil
}
