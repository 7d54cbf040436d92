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
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"
	"golang.org/x/time/rate"
	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"

	opsv1 "github.com/cloudop/cloudop/api/v1alpha1"
	"github.com/cloudop/cloudop/internal/cloud"
	"github.com/cloudop/cloudop/internal/quietlog"
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
	// DefaultMinExchangeInterval is the shortest time between two IAM
	// exchanges for one ServiceAccount: credentials the cloud rejected
	// (a 401/403, e.g. an object pointed at a project the ServiceAccount
	// has no rights in) are replaced at most this often, so a tenant's
	// objects cannot turn every poll into a TokenRequest and an exchange.
	DefaultMinExchangeInterval = time.Minute
	// DefaultRejectionTTL is how long IAM's refusal (or a refused
	// TokenRequest) is answered from memory before asking again.
	DefaultRejectionTTL = time.Minute
	// DefaultFailureTTL is how long a passing failure (IAM down, the
	// TokenRequest API failing) is answered from memory when IAM named no
	// Retry-After: long enough that the polls of many objects sharing one
	// ServiceAccount cost one attempt.
	DefaultFailureTTL = 5 * time.Second
	// maxFailureTTL bounds a replayed failure, whatever Retry-After IAM
	// sent.
	maxFailureTTL = 10 * time.Minute
	// DefaultExchangeQPS and DefaultExchangeBurst bound the IAM exchanges
	// of all ServiceAccounts together, so one tenant's many ServiceAccounts
	// cannot spend the IAM budget every tenant depends on.
	DefaultExchangeQPS   = 1.0
	DefaultExchangeBurst = 10
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
// ServiceAccount, annotation or IAM answer, never a token or key. An IAM
// answer's classified *cloud.Error is its cause, so IAM's Retry-After
// reaches the poll policy the way a service's does; a wait imposed by the
// manager's own exchange budget wraps cloud.ErrRateLimited, like a
// request the transport's limiter held back.
type Error struct {
	Kind ErrorKind
	Msg  string
	Err  error
}

// RetryAfter is the wait the cause asked for (IAM's Retry-After or the
// exchange budget's), or zero.
func (e *Error) RetryAfter() time.Duration {
	var ce *cloud.Error
	if errors.As(e.Err, &ce) {
		return ce.RetryAfter
	}
	return 0
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
	// MinExchangeInterval: see DefaultMinExchangeInterval; 0 means that.
	MinExchangeInterval time.Duration
	// RejectionTTL: see DefaultRejectionTTL; 0 means that.
	RejectionTTL time.Duration
	// FailureTTL: see DefaultFailureTTL; 0 means that.
	FailureTTL time.Duration
	// ExchangeQPS and ExchangeBurst size the bucket every exchange takes a
	// token from; 0 means DefaultExchangeQPS and DefaultExchangeBurst.
	ExchangeQPS   float64
	ExchangeBurst int
	// Now is the clock; nil means time.Now.
	Now func() time.Time

	flight     singleflight.Group
	mu         sync.Mutex
	creds      map[Key]*entry
	saOnce     sync.Once
	sas        *readcache.Cache[corev1.ServiceAccount, *corev1.ServiceAccount]
	bucketOnce sync.Once
	bucket     *rate.Limiter
}

// entry is what the Provider remembers of one Key: the credentials last
// issued, and the last failure, replayed until retryAt.
type entry struct {
	creds     cloud.Credentials
	expires   time.Time
	refreshAt time.Time
	// usableUntil is expires less the safety margin.
	usableUntil time.Time
	// exchanged is when the last exchange was attempted (success or not).
	exchanged time.Time
	// rejected: the cloud refused these credentials (Forget); they are
	// replaced once MinExchangeInterval after exchanged has passed.
	rejected bool

	err     error
	retryAt time.Time
}

// fresh reports whether e holds credentials that need no exchange at now:
// not due for refresh and not rejected by the cloud.
func (e *entry) fresh(now time.Time) bool {
	return e != nil && e.creds.AccessKey != "" && now.Before(e.refreshAt) && !e.rejected
}

// valid reports whether e holds credentials still usable at now.
func (e *entry) valid(now time.Time) bool {
	return e != nil && e.creds.AccessKey != "" && now.Before(e.usableUntil)
}

// Credentials returns temporary credentials for the ServiceAccount name in
// namespace, for an operation in region. Concurrent calls for the same
// entry share one exchange; a failed refresh while the cached credentials
// are still valid returns those.
func (p *Provider) Credentials(ctx context.Context, namespace, name, region string) (Result, error) {
	saName := types.NamespacedName{Namespace: namespace, Name: name}
	sa, err := p.serviceAccount(ctx, saName)
	if err != nil {
		return Result{}, err
	}
	key, res, err := keyOf(saName, sa, region)
	if err != nil {
		return Result{}, err
	}
	now := p.now()
	old := p.cached(key)
	switch {
	case old.fresh(now):
		res.Credentials = old.creds
		return res, nil
	case old != nil && old.err != nil && now.Before(old.retryAt):
		// A recent failure: answered from memory, no TokenRequest, no IAM
		// call, until it may have passed.
		if old.valid(now) {
			res.Credentials = old.creds
			return res, nil
		}
		return Result{}, old.err
	case old.valid(now) && old.rejected && now.Before(old.refreshAt) && now.Sub(old.exchanged) < p.minExchangeInterval():
		// Rejected by the cloud (Forget) right after an exchange, and no
		// refresh due: keep these until the interval is over.
		res.Credentials = old.creds
		return res, nil
	}
	v, err, _ := p.flight.Do(fmt.Sprintf("%s\x00%s\x00%s", key.ServiceAccount, key.IdentityProvider, key.Region), func() (any, error) {
		// Shared by every caller: not cancelled when the first one is.
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
		defer cancel()
		if e := p.cached(key); e.fresh(p.now()) {
			return e, nil // refreshed by a flight that just ended
		}
		return p.refresh(ctx, key)
	})
	if err != nil {
		if old.valid(p.now()) {
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

// keyOf reads the identity annotations of sa: the cache key and what a
// poll learns besides credentials. Annotation values go into a header, a
// host name and a URL path, so each is checked here and a bad one is
// KindInvalid naming the annotation, never a request that fails forever.
func keyOf(name types.NamespacedName, sa *corev1.ServiceAccount, region string) (Key, Result, error) {
	ann := sa.GetAnnotations()
	invalid := func(annotation, problem string) error {
		return &Error{Kind: KindInvalid, Msg: fmt.Sprintf("ServiceAccount %q: annotation %s %s", name.Name, annotation, problem)}
	}
	idp := strings.TrimSpace(ann[opsv1.AnnotationIdentityProviderID])
	if idp == "" {
		return Key{}, Result{}, &Error{Kind: KindInvalid, Msg: fmt.Sprintf("ServiceAccount %q has no annotation %s naming the IAM identity provider", name.Name, opsv1.AnnotationIdentityProviderID)}
	}
	if err := cloud.CheckToken(idp); err != nil {
		return Key{}, Result{}, invalid(opsv1.AnnotationIdentityProviderID, err.Error())
	}
	iamRegion := strings.TrimSpace(ann[opsv1.AnnotationIdentityRegion])
	if iamRegion == "" {
		iamRegion = region
	} else if err := cloud.CheckToken(iamRegion); err != nil {
		return Key{}, Result{}, invalid(opsv1.AnnotationIdentityRegion, err.Error())
	}
	project := strings.TrimSpace(ann[opsv1.AnnotationIdentityProjectID])
	if project != "" && !cloud.ValidPathSegment(project) {
		return Key{}, Result{}, invalid(opsv1.AnnotationIdentityProjectID, "is not a valid project ID")
	}
	key := Key{ServiceAccount: name, IdentityProvider: idp, Region: iamRegion}
	return key, Result{ProjectID: project, Key: key}, nil
}

// Forget marks the credentials of key for replacement, e.g. after the
// cloud rejected them: the next call exchanges again, but not sooner than
// MinExchangeInterval after the last exchange (until then the current
// credentials serve), so a 401/403 per poll costs one exchange per
// interval, not one per poll. The ServiceAccount is read again too.
func (p *Provider) Forget(key Key) {
	p.mu.Lock()
	if e, ok := p.creds[key]; ok {
		cp := *e
		cp.rejected = true
		p.creds[key] = &cp
	}
	p.mu.Unlock()
	p.serviceAccounts().Forget(key.ServiceAccount)
}

func (p *Provider) cached(key Key) *entry {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.creds[key]
}

// refresh mints a token and exchanges it, then caches the result; a
// failure is cached too, for a time that depends on its kind (see
// failureTTL), so that the polls which follow replay it.
func (p *Provider) refresh(ctx context.Context, key Key) (*entry, error) {
	now := p.now()
	if r := p.exchangeBucket().ReserveN(now, 1); !r.OK() || r.DelayFrom(now) > 0 {
		wait := time.Second
		if r.OK() {
			wait = r.DelayFrom(now)
			r.CancelAt(now)
		}
		exchanges.WithLabelValues(resultRateLimited).Inc()
		return nil, &Error{Kind: KindUnavailable, Msg: "IAM exchanges are rate-limited by the manager; retrying shortly",
			Err: &cloud.Error{Kind: cloud.KindThrottled, Message: "IAM exchange budget", RetryAfter: wait, Err: cloud.ErrRateLimited}}
	}
	e, err := p.exchange(ctx, key, now)
	if err != nil {
		exchanges.WithLabelValues(resultLabel(err)).Inc()
		p.storeFailure(key, err, now)
		return nil, err
	}
	exchanges.WithLabelValues(resultOK).Inc()
	p.store(key, e, now)
	return e, nil
}

// exchange mints a token and exchanges it at IAM.
func (p *Provider) exchange(ctx context.Context, key Key, now time.Time) (*entry, error) {
	token, err := p.mintToken(ctx, key.ServiceAccount)
	if err != nil {
		return nil, err
	}
	c, expires, err := p.Exchanger.Exchange(ctx, key.Region, key.IdentityProvider, token, positiveOr(p.CredentialDuration, DefaultCredentialDuration))
	if err != nil {
		return nil, err
	}
	now = p.now()
	life := expires.Sub(now)
	if life <= time.Second {
		return nil, &Error{Kind: KindUnavailable, Msg: fmt.Sprintf("IAM issued credentials that expire at %s, too soon to use", expires.UTC().Format(time.RFC3339))}
	}
	ahead := min(positiveOr(p.RefreshBefore, DefaultRefreshBefore), life/2)
	return &entry{creds: c, expires: expires, refreshAt: expires.Add(-ahead), usableUntil: expires.Add(-min(expiryMargin, life/4)), exchanged: now}, nil
}

// failureTTL is how long a failure is replayed: IAM's refusal and a
// refused TokenRequest for RejectionTTL, a passing failure until IAM's
// Retry-After (at most maxFailureTTL) or FailureTTL.
func (p *Provider) failureTTL(err error) time.Duration {
	var e *Error
	if !errors.As(err, &e) {
		return positiveOr(p.FailureTTL, DefaultFailureTTL)
	}
	switch {
	case e.Kind != KindUnavailable:
		return positiveOr(p.RejectionTTL, DefaultRejectionTTL)
	case e.RetryAfter() > 0:
		return min(e.RetryAfter(), maxFailureTTL)
	}
	return positiveOr(p.FailureTTL, DefaultFailureTTL)
}

// storeFailure remembers err for key until it may have passed, keeping
// the credentials of an earlier exchange for as long as they are usable.
func (p *Provider) storeFailure(key Key, err error, now time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.creds == nil {
		p.creds = map[Key]*entry{}
	}
	e := &entry{}
	if old, ok := p.creds[key]; ok {
		cp := *old
		e = &cp
	}
	e.err, e.retryAt, e.exchanged = err, now.Add(p.failureTTL(err)), now
	p.creds[key] = e
}

func (p *Provider) minExchangeInterval() time.Duration {
	return positiveOr(p.MinExchangeInterval, DefaultMinExchangeInterval)
}

// exchangeBucket is the token bucket of all exchanges, made on first use.
func (p *Provider) exchangeBucket() *rate.Limiter {
	p.bucketOnce.Do(func() {
		qps := p.ExchangeQPS
		if qps <= 0 {
			qps = DefaultExchangeQPS
		}
		burst := p.ExchangeBurst
		if burst <= 0 {
			burst = DefaultExchangeBurst
		}
		p.bucket = rate.NewLimiter(rate.Limit(qps), burst)
	})
	return p.bucket
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
		if !now.Before(old.expires) && !now.Before(old.retryAt) {
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
	// The answer carries the token: no body dump may log it.
	if err := p.Tokens.SubResource("token").Create(quietlog.Context(ctx), obj, tr); err != nil {
		if apierrors.IsNotFound(err) {
			return "", &Error{Kind: KindInvalid, Msg: fmt.Sprintf("ServiceAccount %q not found in namespace %q", sa.Name, sa.Namespace)}
		}
		if apierrors.IsForbidden(err) || apierrors.IsInvalid(err) {
			// RBAC or the install's admission policy, not a passing
			// failure: a namespaced install grants tokens only in its
			// watched namespaces, and the policy only in namespaces a
			// cluster admin labelled.
			return "", &Error{Kind: KindInvalid, Msg: fmt.Sprintf("the manager may not create tokens for ServiceAccount %q in namespace %q: the namespace needs label %s=%s (cluster admin), and the manager serviceaccounts/token create there (RBAC)", sa.Name, sa.Namespace, opsv1.LabelWorkloadIdentity, opsv1.LabelWorkloadIdentityEnabled), Err: err}
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

// statusError classifies a failed IAM answer, read by the transport's
// classifier (every body shape IAM uses, Retry-After capped).
func statusError(api string, ce *cloud.Error) *Error {
	detail := ce.Message
	if ce.Code != "" {
		detail = ce.Code + ": " + ce.Message
	}
	text := fmt.Sprintf("IAM %s: %s (HTTP %d)", api, cloud.Excerpt(detail, 300), ce.HTTPStatus)
	switch ce.Kind {
	case cloud.KindThrottled:
		return &Error{Kind: KindUnavailable, Msg: fmt.Sprintf("IAM throttled %s (HTTP %d)", api, ce.HTTPStatus), Err: ce}
	case cloud.KindPermanent, cloud.KindAuth, cloud.KindNotFound:
		return &Error{Kind: KindRejected, Msg: text, Err: ce}
	}
	return &Error{Kind: KindUnavailable, Msg: text, Err: ce}
}
