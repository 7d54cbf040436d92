package identity

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	opsv1 "github.com/cloudop/cloudop/api/v1alpha1"
)

// countingIAM answers CreateTokenWithIdToken with status (201 issues
// credentials for an hour) and counts the exchanges it saw.
type countingIAM struct {
	status     atomic.Int32
	retryAfter string
	exchanges  atomic.Int32
	now        func() time.Time
}

func (c *countingIAM) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case pathIDTokenTokens:
		c.exchanges.Add(1)
		if s := int(c.status.Load()); s != http.StatusCreated {
			if c.retryAfter != "" {
				w.Header().Set("Retry-After", c.retryAfter)
			}
			w.WriteHeader(s)
			_, _ = w.Write([]byte(`{"error":{"code":"IAM.0302","message":"No mapping rule matches","title":"Forbidden"}}`))
			return
		}
		w.Header().Set(headerSubjectToken, fmt.Sprintf("iam-token-%d", c.exchanges.Load()))
		w.WriteHeader(http.StatusCreated)
	case pathSecurityTokens:
		n := c.exchanges.Load()
		fmt.Fprintf(w, `{"credential":{"access":"TMPAK%d","secret":"tmp-secret","securitytoken":"tmp-token","expires_at":%q}}`,
			n, c.now().Add(time.Hour).UTC().Format("2006-01-02T15:04:05Z"))
	}
}

// providerEnv is a Provider on a fake clock, with ServiceAccounts in a
// fake API whose TokenRequests are counted, and a counting IAM.
type providerEnv struct {
	p        *Provider
	iam      *countingIAM
	tokens   atomic.Int32
	clock    time.Time
	advance  func(time.Duration)
	accounts []string
}

func newProviderEnv(t *testing.T, iamStatus int, accounts ...string) *providerEnv {
	t.Helper()
	e := &providerEnv{clock: time.Date(2026, 11, 30, 10, 0, 0, 0, time.UTC), accounts: accounts}
	now := func() time.Time { return e.clock }
	e.advance = func(d time.Duration) { e.clock = e.clock.Add(d) }
	e.iam = &countingIAM{now: now}
	e.iam.status.Store(int32(iamStatus))
	srv := httptest.NewServer(e.iam)
	t.Cleanup(srv.Close)
	var objs []client.Object
	for _, name := range accounts {
		objs = append(objs, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: "team-a", Name: name,
			Annotations: map[string]string{opsv1.AnnotationIdentityProviderID: "idp", opsv1.AnnotationIdentityProjectID: "p1"}}})
	}
	c := fake.NewClientBuilder().WithObjects(objs...).WithInterceptorFuncs(interceptor.Funcs{
		SubResourceCreate: func(_ context.Context, _ client.Client, _ string, _ client.Object, sub client.Object, _ ...client.SubResourceCreateOption) error {
			e.tokens.Add(1)
			sub.(*authenticationv1.TokenRequest).Status.Token = "sa-token"
			return nil
		},
	}).Build()
	e.p = &Provider{Reader: c, Tokens: c, Exchanger: &Exchanger{Endpoint: srv.URL, Now: now}, Now: now, ServiceAccountTTL: -1}
	return e
}

// poll is one object's poll: credentials, then, like the controller after
// a 401/403 from the service, Forget.
func (e *providerEnv) poll(t *testing.T, account string, serviceRejects bool) (Result, error) {
	t.Helper()
	res, err := e.p.Credentials(context.Background(), "team-a", account, "cn-north-4")
	if err == nil && serviceRejects {
		e.p.Forget(res.Key)
	}
	return res, err
}

// TestHostileObjectsCostBoundedExchanges is the repro of issue #21 point
// 3: 20 objects of one ServiceAccount pointed at a project it has no
// rights in (every poll answered 403, which drops the credentials), polled
// every 30 s for 240 s. Before the fix each such poll exchanged again; now
// credentials IAM just issued are replaced at most once per
// MinExchangeInterval.
func TestHostileObjectsCostBoundedExchanges(t *testing.T) {
	e := newProviderEnv(t, http.StatusCreated, "deployer")
	const objects, interval, window = 20, 30 * time.Second, 240 * time.Second
	for elapsed := time.Duration(0); elapsed < window; elapsed += interval {
		for range objects {
			if _, err := e.poll(t, "deployer", true); err != nil {
				t.Fatal(err)
			}
		}
		e.advance(interval)
	}
	exchanges := e.iam.exchanges.Load()
	t.Logf("%d objects polled every %v for %v: %d exchanges, %d TokenRequests (%.1f exchanges/min)",
		objects, interval, window, exchanges, e.tokens.Load(), float64(exchanges)/window.Minutes())
	// One at the start, then at most one per MinExchangeInterval.
	if limit := int32(1 + window/DefaultMinExchangeInterval); exchanges > limit || e.tokens.Load() != exchanges {
		t.Errorf("%d exchanges and %d TokenRequests, want at most %d of each", exchanges, e.tokens.Load(), limit)
	}
}

// TestFailuresAreReplayed: a refusal, a throttle and a passing failure are
// answered from memory, with no TokenRequest and no IAM call, for as long
// as their kind says; then one attempt is made.
func TestFailuresAreReplayed(t *testing.T) {
	for _, tc := range []struct {
		name       string
		status     int
		retryAfter string
		replayFor  time.Duration
		kind       ErrorKind
	}{
		{"IAM refuses", http.StatusForbidden, "", DefaultRejectionTTL, KindRejected},
		{"IAM throttles with Retry-After", http.StatusTooManyRequests, "90", 90 * time.Second, KindUnavailable},
		{"IAM throttles for a day", http.StatusTooManyRequests, "86400", maxFailureTTL, KindUnavailable},
		{"IAM is down", http.StatusServiceUnavailable, "", DefaultFailureTTL, KindUnavailable},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newProviderEnv(t, tc.status, "deployer")
			e.iam.retryAfter = tc.retryAfter
			for i := range 50 {
				_, err := e.poll(t, "deployer", false)
				if k, ok := KindOf(err); !ok || k != tc.kind {
					t.Fatalf("poll %d: %v, want kind %v", i, err, tc.kind)
				}
			}
			if n := e.iam.exchanges.Load(); n != 1 || e.tokens.Load() != 1 {
				t.Fatalf("50 polls cost %d exchanges and %d TokenRequests, want 1", n, e.tokens.Load())
			}
			e.advance(tc.replayFor - time.Second)
			_, _ = e.poll(t, "deployer", false)
			if n := e.iam.exchanges.Load(); n != 1 {
				t.Fatalf("asked again after %v, before the failure's %v ended", tc.replayFor-time.Second, tc.replayFor)
			}
			e.advance(time.Second)
			e.iam.status.Store(http.StatusCreated)
			if _, err := e.poll(t, "deployer", false); err != nil || e.iam.exchanges.Load() != 2 {
				t.Fatalf("after %v: %v, %d exchanges, want success from a second one", tc.replayFor, err, e.iam.exchanges.Load())
			}
		})
	}
}

// TestExchangeBudgetSpansServiceAccounts: the exchanges of all
// ServiceAccounts share one bucket; beyond it nothing is sent and the
// caller is told when to come back.
func TestExchangeBudgetSpansServiceAccounts(t *testing.T) {
	var accounts []string
	for i := range DefaultExchangeBurst + 3 {
		accounts = append(accounts, fmt.Sprintf("sa-%d", i))
	}
	e := newProviderEnv(t, http.StatusCreated, accounts...)
	limited := 0
	for _, a := range accounts {
		_, err := e.poll(t, a, false)
		var ie *Error
		if err != nil {
			if !errors.As(err, &ie) || ie.Kind != KindUnavailable || ie.RetryAfter() <= 0 || !strings.Contains(ie.Msg, "rate-limited") {
				t.Fatalf("%s: %v", a, err)
			}
			limited++
		}
	}
	if limited != 3 || e.iam.exchanges.Load() != DefaultExchangeBurst || e.tokens.Load() != DefaultExchangeBurst {
		t.Errorf("%d limited, %d exchanges, %d TokenRequests; want 3 limited and a burst of %d", limited, e.iam.exchanges.Load(), e.tokens.Load(), DefaultExchangeBurst)
	}
	e.advance(time.Second)
	if _, err := e.poll(t, accounts[len(accounts)-1], false); err != nil {
		t.Errorf("after a second the bucket has a token again: %v", err)
	}
}

// TestBadAnnotationsAreInvalid: identity annotations go into a header, a
// host name and a path; a value that cannot is IdentityInvalid naming the
// annotation, and nothing is minted or sent.
func TestBadAnnotationsAreInvalid(t *testing.T) {
	for _, tc := range []struct {
		name, annotation, value, want string
	}{
		{"line break in the identity provider", opsv1.AnnotationIdentityProviderID, "idp\r\nX-Evil: 1", "has a line break"},
		{"space in the identity provider", opsv1.AnnotationIdentityProviderID, "my idp", "has a space"},
		{"project that is no path segment", opsv1.AnnotationIdentityProjectID, "../p", "is not a valid project ID"},
		{"line break in the region", opsv1.AnnotationIdentityRegion, "cn-north-4\nx", "has a line break"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newProviderEnv(t, http.StatusCreated)
			sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: "team-a", Name: "odd",
				Annotations: map[string]string{opsv1.AnnotationIdentityProviderID: "idp", opsv1.AnnotationIdentityProjectID: "p1"}}}
			sa.Annotations[tc.annotation] = tc.value
			if err := e.p.Reader.(client.Client).Create(context.Background(), sa); err != nil {
				t.Fatal(err)
			}
			_, err := e.p.Credentials(context.Background(), "team-a", "odd", "cn-north-4")
			if k, ok := KindOf(err); !ok || k != KindInvalid || !strings.Contains(err.Error(), tc.annotation) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want KindInvalid naming %s and saying %q", err, tc.annotation, tc.want)
			}
			if strings.Contains(err.Error(), tc.value) {
				t.Errorf("error quotes the value: %v", err)
			}
			if e.tokens.Load() != 0 || e.iam.exchanges.Load() != 0 {
				t.Errorf("%d TokenRequests and %d exchanges for an invalid ServiceAccount", e.tokens.Load(), e.iam.exchanges.Load())
			}
		})
	}
}
