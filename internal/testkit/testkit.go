// Package testkit holds what every envtest suite of the module shares: a
// namespace of its own per test and a bounded wait for a condition. The
// control plane itself comes from internal/testenv, adapter fixtures from
// internal/cloud/internal/adaptertest.
//
// It is imported by tests only; the separate modules (examples/waiter,
// test/install) cannot import internal packages and keep small copies.
package testkit

import (
	"context"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	opsv1 "github.com/cloudop/cloudop/api/v1alpha1"
)

// Scheme returns a scheme with the built-in kinds and cloudop's.
func Scheme() *runtime.Scheme {
	scheme := runtime.NewScheme()
	utilruntime.Must(clientgoscheme.AddToScheme(scheme))
	utilruntime.Must(opsv1.AddToScheme(scheme))
	return scheme
}

// Client returns a direct (uncached) client of cfg's control plane that
// knows Scheme's kinds.
func Client(cfg *rest.Config) (client.WithWatch, error) {
	return client.NewWithWatch(cfg, client.Options{Scheme: Scheme()})
}

// callTimeout bounds each API call the kit makes, so a stuck API server
// fails the test instead of hanging it.
const callTimeout = 30 * time.Second

// Namespace creates a namespace named prefix-<random> and then objs in it
// (their namespace is set), and deletes the namespace when the test ends.
func Namespace(t testing.TB, c client.Client, prefix string, objs ...client.Object) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
	defer cancel()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: prefix + "-"}}
	if err := c.Create(ctx, ns); err != nil {
		t.Fatalf("creating namespace: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
		defer cancel()
		_ = c.Delete(ctx, ns)
	})
	for _, obj := range objs {
		obj.SetNamespace(ns.Name)
		if err := c.Create(ctx, obj); err != nil {
			t.Fatalf("creating %T %s in %s: %v", obj, obj.GetName(), ns.Name, err)
		}
	}
	return ns.Name
}

// CredentialsSecret is a Secret holding an access key pair and a project
// ID under the keys a CloudOperation's credentialsSecretRef reads.
func CredentialsSecret(name, accessKey, secretKey, projectID string) *corev1.Secret {
	return &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		StringData: map[string]string{"accessKey": accessKey, "secretKey": secretKey, "projectID": projectID},
	}
}

// pollEvery is how often Eventually checks.
const pollEvery = 100 * time.Millisecond

// Eventually calls check until it reports true, and fails the test if
// that has not happened within timeout, with what it waited for and the
// state check last described.
func Eventually(t testing.TB, timeout time.Duration, what string, check func() (done bool, state string)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		done, state := check()
		if done {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s; last state: %s", timeout, what, state)
		}
		time.Sleep(pollEvery)
	}
}
