package identity

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	opsv1 "github.com/cloudop/cloudop/api/v1alpha1"
)

// TestStoreDropsExpiredCredentials: caching one ServiceAccount's
// credentials drops every entry that has expired, so ServiceAccounts no
// longer polled for do not stay in memory.
func TestStoreDropsExpiredCredentials(t *testing.T) {
	now := time.Date(2026, 11, 30, 10, 0, 0, 0, time.UTC)
	key := func(name string) Key {
		return Key{ServiceAccount: types.NamespacedName{Namespace: "team-a", Name: name}, IdentityProvider: "idp", Region: "cn-north-4"}
	}
	p := &Provider{}
	p.store(key("long"), &entry{expires: now.Add(time.Hour)}, now)
	p.store(key("short"), &entry{expires: now.Add(10 * time.Minute)}, now)
	p.store(key("new"), &entry{expires: now.Add(time.Hour)}, now.Add(20*time.Minute))

	for name, want := range map[string]bool{"long": true, "short": false, "new": true} {
		if got := p.cached(key(name)) != nil; got != want {
			t.Errorf("%s cached: %v, want %v", name, got, want)
		}
	}
}

// TestForbiddenTokenRequestIsInvalid: a manager without the right to mint
// a ServiceAccount's tokens (a namespaced install, say) is a configuration
// error that names the missing rule, not a passing failure.
func TestForbiddenTokenRequestIsInvalid(t *testing.T) {
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: "team-b", Name: "deployer",
		Annotations: map[string]string{opsv1.AnnotationIdentityProviderID: "idp"}}}
	c := fake.NewClientBuilder().WithObjects(sa).WithInterceptorFuncs(interceptor.Funcs{
		SubResourceCreate: func(context.Context, client.Client, string, client.Object, client.Object, ...client.SubResourceCreateOption) error {
			return apierrors.NewForbidden(schema.GroupResource{Resource: "serviceaccounts/token"}, "deployer", errors.New("RBAC: access denied"))
		},
	}).Build()
	p := &Provider{Reader: c, Tokens: c, Exchanger: &Exchanger{Endpoint: "http://127.0.0.1:1"}}

	_, err := p.Credentials(context.Background(), "team-b", "deployer", "cn-north-4")
	kind, ok := KindOf(err)
	if !ok || kind != KindInvalid {
		t.Fatalf("error %v (kind %v, identity error %v), want KindInvalid", err, kind, ok)
	}
	for _, want := range []string{`"deployer"`, `"team-b"`, "serviceaccounts/token create"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("message %q does not name %s", err.Error(), want)
		}
	}
}
