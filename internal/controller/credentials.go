package controller

import (
	"context"
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"

	opsv1 "github.com/cloudop/cloudop/api/v1alpha1"
	"github.com/cloudop/cloudop/internal/cloud"
)

// Keys of the credentials Secret.
const (
	secretKeyAccessKey     = "accessKey"
	secretKeySecretKey     = "secretKey"
	secretKeySecurityToken = "securityToken"
	secretKeyProjectID     = "projectID"
)

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
		project = secretValue(secret, secretKeyProjectID)
	}
	if project == "" {
		return cloud.Target{}, &credentialsError{fmt.Sprintf("no project: set spec.projectID or key %q in Secret %q", secretKeyProjectID, name)}
	}
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
	}, nil
}

// secretKey names the credentials Secret of obj: always in obj's own
// namespace.
func secretKey(obj *opsv1.CloudOperation) types.NamespacedName {
	return types.NamespacedName{Namespace: obj.Namespace, Name: obj.Spec.CredentialsSecretRef.Name}
}

// credentialsFromSecret extracts and checks the signing keys of a
// credentials Secret (its projectID is read by loadTarget).
func credentialsFromSecret(secret *corev1.Secret) (cloud.Credentials, error) {
	for _, key := range []string{secretKeyAccessKey, secretKeySecretKey} {
		if _, ok := secret.Data[key]; !ok {
			return cloud.Credentials{}, &credentialsError{fmt.Sprintf("credentials Secret %q has no key %q", secret.Name, key)}
		}
		if secretValue(secret, key) == "" {
			return cloud.Credentials{}, &credentialsError{fmt.Sprintf("credentials Secret %q has an empty %q", secret.Name, key)}
		}
	}
	return cloud.Credentials{
		AccessKey:     secretValue(secret, secretKeyAccessKey),
		SecretKey:     secretValue(secret, secretKeySecretKey),
		SecurityToken: secretValue(secret, secretKeySecurityToken),
	}, nil
}

// secretValue is a Secret key's value without surrounding white space (a
// trailing newline from `kubectl create secret --from-file` is common).
func secretValue(secret *corev1.Secret, key string) string {
	return strings.TrimSpace(string(secret.Data[key]))
}
