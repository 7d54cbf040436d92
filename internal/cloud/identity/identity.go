// Package identity obtains temporary Huawei Cloud credentials for a
// Kubernetes ServiceAccount (workload identity): it reads the
// ServiceAccount's annotations, mints a short-lived token for it with the
// TokenRequest API and exchanges that token at IAM, through an OpenID
// Connect identity provider, for a temporary access key, secret key and
// security token (CreateTokenWithIdToken, then
// CreateTemporaryAccessKeyByToken, as the official Go SDK's federal
// credential provider does). Credentials are cached per (ServiceAccount,
// identity provider, IAM region) and refreshed well before they expire.
package identity

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"
	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"

	opsv1 "github.com/cloudop/cloudop/api/v1alpha1"
	"github.com/cloudop/cloudop/internal/cloud"
	"github.com/cloudop/cloudop/internal/readcache"
)

// Defaults of a Provider.
const (
	// DefaultAudience is the audience of the ServiceAccount tokens: the
	// IAM identity provider's client ID must be this value. A token bound
	// to it is useless against the kube-apiserver and anything else.
	DefaultAudience = "cloudop"
	// DefaultTokenLifetime is the ServiceAccount token's requested
	// lifetime, the shortest the API server grants; the token is used
	// once, right away.
	DefaultTokenLifetime = 10 * time.Minute
	// DefaultCredentialDuration is the temporary credentials' requested
	// lifetime, as the official SDK asks (6 h).
	DefaultCredentialDuration = 6 * time.Hour
	// DefaultRefreshBefore: credentials are refreshed when less than this
	// is left (the SDK's 40 min), or half their lifetime if that is less.
	DefaultRefreshBefore = 40 * time.Minute
	// DefaultServiceAccountTTL is how long a ServiceAccount read serves
	// other polls.
	DefaultServiceAccountTTL = 5 * time.Second
	// expiryMargin: credentials this close to expiring (or within a
	// quarter of their lifetime, if less) are not handed out, so a request
	// signed with them still arrives in time.
	expiryMargin = 30 * time.Second
)

// ErrorKind says what to do about a failure to obtain credentials.
type ErrorKind int

// Error kinds.
const (
	// KindInvalid: the ServiceAccount is missing or lacks an annotation,
	// or the manager may not mint its tokens (RBAC); its owner or the
	// install fixes it.
	KindInvalid ErrorKind = iota
	// KindRejected: IAM refused the token (unknown identity provider,
	// untrusted issuer or audience, no mapping rule); fixed in IAM.
	KindRejected
	// KindUnavailable: IAM throttled or failed, or the TokenRequest API
	// did; it passes.
	KindUnavailable
)

// Error is a failure to obtain credentials. Its message names the
// ServiceAccount, annotation or IAM answer, never a token or key.
type Error struct {
	Kind ErrorKind
	Msg  string
	// RetryAfter is IAM's requested wait, if any.
	RetryAfter time.Duration
	Err        error
}

// Error implements error.
func (e *Error) Error() string { return e.Msg }

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// KindOf returns err's kind and whether it is an identity Error.
func KindOf(err error) (ErrorKind, bool) {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind, true
	}
	return 0, false
}

// Key identifies one cache entry: a ServiceAccount, identity provider and
// IAM region.
type Key struct {
	ServiceAccount   types.NamespacedName
	IdentityProvider string
	Region           string
}

// Result is what a poll needs from the identity.
type Result struct {
	// Credentials sign the requests (temporary: with a security token).
	Credentials cloud.Credentials
	// ProjectID is the ServiceAccount's project annotation ("" if none).
	ProjectID string
	// Key is the cache entry used; Forget drops it.
	Key Key
}

// Provider obtains and caches temporary credentials. Its zero value is not
// usable: Reader, Tokens, Exchanger must be set.
type Provider struct {
	// Reader reads ServiceAccounts (get only; the manager gives its
	// uncached reader, so ServiceAccounts are never listed or watched).
	Reader client.Reader
	// Tokens creates ServiceAccount tokens (serviceaccounts/token create).
	Tokens client.SubResourceClientConstructor
	// Exchanger talks to IAM.
	Exchanger *Exchanger
	// Audience of the tokens; "" means DefaultAudience.
	Audience string
	// TokenLifetime of the ServiceAccount tokens; 0 means
	// DefaultTokenLifetime.
	TokenLifetime time.Duration
	// CredentialDuration asked of IAM; 0 means DefaultCredentialDuration.
	CredentialDuration time.Duration
	// RefreshBefore: see DefaultRefreshBefore; 0 means that.
	RefreshBefore time.Duration
	// ServiceAccountTTL: how long a ServiceAccount read is reused; 0 means
	// DefaultServiceAccountTTL, negative reads every time.
	ServiceAccountTTL time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time

	flight singleflight.Group
	mu     sync.Mutex
	creds  map[Key]*entry
	saOnce sync.Once
	sas    *readcache.Cache[corev1.ServiceAccount, *corev1.ServiceAccount]
}

type entry struct {
	creds     cloud.Credentials
	expires   time.Time
	refreshAt time.Time
	// usableUntil is expires less the safety margin.
	usableUntil time.Time
}

// Credentials returns temporary credentials for the ServiceAccount name in
// namespace, for an operation in region. Concurrent calls for the same
// entry share one exchange; a failed refresh while the cached credentials
// are still valid returns those.
func (p *Provider) Credentials(ctx context.Context, namespace, name, region string) (Result, error) {
	sa, err := p.serviceAccount(ctx, types.NamespacedName{Namespace: namespace, Name: name})
	if err != nil {
		return Result{}, err
	}
	ann := sa.GetAnnotations()
	idp := strings.TrimSpace(ann[opsv1.AnnotationIdentityProviderID])
	if idp == "" {
		return Result{}, &Error{Kind: KindInvalid, Msg: fmt.Sprintf("ServiceAccount %q has no annotation %s naming the IAM identity provider", name, opsv1.AnnotationIdentityProviderID)}
	}
	iamRegion := strings.TrimSpace(ann[opsv1.AnnotationIdentityRegion])
	if iamRegion == "" {
		iamRegion = region
	}
	key := Key{ServiceAccount: types.NamespacedName{Namespace: namespace, Name: name}, IdentityProvider: idp, Region: iamRegion}
	res := Result{ProjectID: strings.TrimSpace(ann[opsv1.AnnotationIdentityProjectID]), Key: key}
	now := p.now()
	old := p.cached(key)
	if old != nil && now.Before(old.refreshAt) {
		res.Credentials = old.creds
		return res, nil
	}
	v, err, _ := p.flight.Do(fmt.Sprintf("%s\x00%s\x00%s", key.ServiceAccount, idp, iamRegion), func() (any, error) {
		// Shared by every caller: not cancelled when the first one is.
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
		defer cancel()
		if e := p.cached(key); e != nil && p.now().Before(e.refreshAt) {
			return e, nil // refreshed by a flight that just ended
		}
		return p.refresh(ctx, key)
	})
	if err != nil {
		if old != nil && p.now().Before(old.usableUntil) {
			log.FromContext(ctx).Info("refreshing workload identity credentials failed; using the current ones until they expire",
				"serviceAccount", key.ServiceAccount.String(), "expires", old.expires, "error", err.Error())
			res.Credentials = old.creds
			return res, nil
		}
		return Result{}, err
	}
	res.Credentials = v.(*entry).creds
	return res, nil
}

// Forget drops the cached credentials of key, e.g. after the cloud
// rejected them; the next call exchanges again.
func (p *Provider) Forget(key Key) {
	p.mu.Lock()
	delete(p.creds, key)
	p.mu.Unlock()
	p.serviceAccounts().Forget(key.ServiceAccount)
}

func (p *Provider) cached(key Key) *entry {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.creds[key]
}

// refresh mints a token and exchanges it, then caches the result.
func (p *Provider) refresh(ctx context.Context, key Key) (*entry, error) {
	token, err := p.mintToken(ctx, key.ServiceAccount)
	if err != nil {
		return nil, err
	}
	c, expires, err := p.Exchanger.Exchange(ctx, key.Region, key.IdentityProvider, token, positiveOr(p.CredentialDuration, DefaultCredentialDuration))
	if err != nil {
		return nil, err
	}
	now := p.now()
	life := expires.Sub(now)
	if life <= time.Second {
		return nil, &Error{Kind: KindUnavailable, Msg: fmt.Sprintf("IAM issued credentials that expire at %s, too soon to use", expires.UTC().Format(time.RFC3339))}
	}
	ahead := min(positiveOr(p.RefreshBefore, DefaultRefreshBefore), life/2)
	e := &entry{creds: c, expires: expires, refreshAt: expires.Add(-ahead), usableUntil: expires.Add(-min(expiryMargin, life/4))}
	p.store(key, e, now)
	return e, nil
}

// store caches e under key and drops every entry that has expired, so the
// credentials of ServiceAccounts no longer used (deleted, or whose
// operations ended) leave memory within one credential lifetime. Stores
// are rare (one per ServiceAccount per refresh), so the sweep is cheap.
func (p *Provider) store(key Key, e *entry, now time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.creds == nil {
		p.creds = map[Key]*entry{}
	}
	for k, old := range p.creds {
		if !now.Before(old.expires) {
			delete(p.creds, k)
		}
	}
	p.creds[key] = e
}

// mintToken asks the API server for a token of the ServiceAccount, bound
// to the audience and valid for TokenLifetime.
func (p *Provider) mintToken(ctx context.Context, sa types.NamespacedName) (string, error) {
	seconds := int64(positiveOr(p.TokenLifetime, DefaultTokenLifetime) / time.Second)
	tr := &authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{
		Audiences:         []string{p.audience()},
		ExpirationSeconds: &seconds,
	}}
	obj := &corev1.ServiceAccount{}
	obj.Namespace, obj.Name = sa.Namespace, sa.Name
	if err := p.Tokens.SubResource("token").Create(ctx, obj, tr); err != nil {
		if apierrors.IsNotFound(err) {
			return "", &Error{Kind: KindInvalid, Msg: fmt.Sprintf("ServiceAccount %q not found in namespace %q", sa.Name, sa.Namespace)}
		}
		if apierrors.IsForbidden(err) {
			// RBAC, not a passing failure: the install must grant it (a
			// namespaced install grants it only in its watched namespaces).
			return "", &Error{Kind: KindInvalid, Msg: fmt.Sprintf("the manager may not create tokens for ServiceAccount %q in namespace %q (RBAC: serviceaccounts/token create)", sa.Name, sa.Namespace), Err: err}
		}
		return "", &Error{Kind: KindUnavailable, Msg: fmt.Sprintf("requesting a token for ServiceAccount %q failed", sa.Name), Err: err}
	}
	if tr.Status.Token == "" {
		return "", &Error{Kind: KindUnavailable, Msg: fmt.Sprintf("the API server returned no token for ServiceAccount %q", sa.Name)}
	}
	return tr.Status.Token, nil
}

// serviceAccount reads a ServiceAccount, reusing a read (or a "not
// found") younger than ServiceAccountTTL.
func (p *Provider) serviceAccount(ctx context.Context, key types.NamespacedName) (*corev1.ServiceAccount, error) {
	sa, err := p.serviceAccounts().Get(ctx, key)
	switch {
	case apierrors.IsNotFound(err):
		return nil, &Error{Kind: KindInvalid, Msg: fmt.Sprintf("ServiceAccount %q not found in namespace %q", key.Name, key.Namespace)}
	case err != nil:
		// Not cached: the next poll tries again.
		return nil, &Error{Kind: KindUnavailable, Msg: fmt.Sprintf("reading ServiceAccount %q failed", key.Name), Err: err}
	}
	return sa, nil
}

// serviceAccounts is the ServiceAccount read cache, made on first use from
// the Provider's settings.
func (p *Provider) serviceAccounts() *readcache.Cache[corev1.ServiceAccount, *corev1.ServiceAccount] {
	p.saOnce.Do(func() {
		ttl := p.ServiceAccountTTL
		if ttl == 0 {
			ttl = DefaultServiceAccountTTL
		}
		p.sas = &readcache.Cache[corev1.ServiceAccount, *corev1.ServiceAccount]{Reader: p.Reader, TTL: max(ttl, 0), KeepNotFound: true, Now: p.Now}
	})
	return p.sas
}

func (p *Provider) now() time.Time {
	if p.Now != nil {
		return p.Now()
	}
	return time.Now()
}

func (p *Provider) audience() string {
	if p.Audience != "" {
		return p.Audience
	}
	return DefaultAudience
}

// positiveOr is d, or def when d is not positive (an unset option).
func positiveOr(d, def time.Duration) time.Duration {
	if d > 0 {
		return d
	}
	return def
}

// statusError classifies a failed IAM answer.
func statusError(api string, status int, header http.Header, code, msg string) *Error {
	detail := strings.TrimSpace(code + ": " + msg)
	if code == "" {
		detail = strings.TrimSpace(msg)
	}
	text := fmt.Sprintf("IAM %s: %s (HTTP %d)", api, cloud.Excerpt(detail, 300), status)
	switch {
	case status == http.StatusTooManyRequests:
		return &Error{Kind: KindUnavailable, Msg: "IAM throttled " + api + fmt.Sprintf(" (HTTP %d)", status), RetryAfter: retryAfter(header)}
	case status >= 500:
		return &Error{Kind: KindUnavailable, Msg: text}
	case status == http.StatusBadRequest, status == http.StatusUnauthorized, status == http.StatusForbidden, status == http.StatusNotFound:
		return &Error{Kind: KindRejected, Msg: text}
	}
	return &Error{Kind: KindUnavailable, Msg: text}
}
