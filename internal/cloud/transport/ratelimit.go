package transport

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/cloudop/cloudop/internal/cloud"
)

// Rate-limit defaults, modelled on the Huawei Cloud cloud-controller
// manager's client-side buckets (GET: 10 QPS, burst 15).
const (
	// DefaultQPS is the steady rate of one (access key, service, region)
	// bucket.
	DefaultQPS = 10.0
	// DefaultBurst is the burst of one bucket.
	DefaultBurst = 15
	// DefaultGlobalQPS is the steady rate of the bucket every request
	// shares, whatever its credentials.
	DefaultGlobalQPS = 100.0
	// DefaultGlobalBurst is the burst of the global bucket.
	DefaultGlobalBurst = 200
	// DefaultMinQPS is the floor a throttled bucket never slows below.
	DefaultMinQPS = 0.5
	// DefaultRecoveryStep is the share of QPS a slowed bucket regains
	// after each successful request (0.05: twenty successes from the
	// floor back to full speed).
	DefaultRecoveryStep = 0.05
	// DefaultThrottlePause is how long a bucket sends nothing after a
	// throttled answer that carried no Retry-After.
	DefaultThrottlePause = time.Second
	// DefaultMaxWait is the longest a request waits for a token before it
	// is deferred with a cloud.ErrRateLimited error instead.
	DefaultMaxWait = 10 * time.Second
)

// bucketIdleTTL is how long an idle bucket at full speed is kept.
const bucketIdleTTL = 10 * time.Minute

// RateLimitConfig configures a RateLimiter. Zero fields take the Default*
// values above.
type RateLimitConfig struct {
	// QPS and Burst size each (access key, service, region) bucket.
	// rate.Inf (math.Inf(1)) disables the per-bucket rate; a bucket is
	// then only paused after throttling.
	QPS   float64
	Burst int
	// GlobalQPS and GlobalBurst size the bucket all requests share.
	// rate.Inf disables it.
	GlobalQPS   float64
	GlobalBurst int
	// MinQPS is the floor a throttled bucket's rate is halved down to.
	MinQPS float64
	// RecoveryStep is the fraction of QPS a slowed bucket regains after
	// each successful request.
	RecoveryStep float64
	// ThrottlePause is how long a bucket is paused after a throttled
	// answer without Retry-After; with Retry-After the bucket is paused
	// for the longer of the two.
	ThrottlePause time.Duration
	// MaxWait is the longest a request waits for a token. A request whose
	// token is further away (or beyond its context's deadline) is not
	// sent: it fails at once with a KindThrottled error wrapping
	// cloud.ErrRateLimited whose RetryAfter says when to come back, so
	// that a paused bucket does not hold reconcile workers. A negative
	// MaxWait never waits.
	MaxWait time.Duration
	// Now is the limiter's clock; nil means time.Now. Tests fix it.
	Now func() time.Time
}

// Split returns the share of c one of n instances gets when they spend
// one account's budget together: the per-account and global rates and the
// throttled floor (defaults filled in) divided by n, the bursts rounded
// down, never below 1, so the instances together never burst past the
// account's burst (unless it is below n). Huawei's gateway throttles per
// account, not per client, and each instance keeps its own token buckets:
// n instances with the whole budget would spend n times it. Unlimited
// rates (rate.Inf) stay unlimited; n <= 1 returns c unchanged.
func (c RateLimitConfig) Split(n int) RateLimitConfig {
	if n <= 1 {
		return c
	}
	d := c.withDefaults()
	f := float64(n)
	c.QPS, c.GlobalQPS, c.MinQPS = d.QPS/f, d.GlobalQPS/f, d.MinQPS/f
	c.Burst, c.GlobalBurst = max(d.Burst/n, 1), max(d.GlobalBurst/n, 1)
	return c
}

// withDefaults fills zero fields.
func (c RateLimitConfig) withDefaults() RateLimitConfig {
	if c.QPS <= 0 {
		c.QPS = DefaultQPS
	}
	if c.Burst <= 0 {
		c.Burst = DefaultBurst
	}
	if c.GlobalQPS <= 0 {
		c.GlobalQPS = DefaultGlobalQPS
	}
	if c.GlobalBurst <= 0 {
		c.GlobalBurst = DefaultGlobalBurst
	}
	if c.MinQPS <= 0 {
		c.MinQPS = DefaultMinQPS
	}
	c.MinQPS = math.Min(c.MinQPS, c.QPS)
	if c.RecoveryStep <= 0 {
		c.RecoveryStep = DefaultRecoveryStep
	}
	if c.ThrottlePause <= 0 {
		c.ThrottlePause = DefaultThrottlePause
	}
	if c.MaxWait == 0 {
		c.MaxWait = DefaultMaxWait
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return c
}

// BucketKey names one rate-limit bucket. The gateway throttles per user
// and API; the signing key pair is the closest identity the operator sees.
type BucketKey struct {
	// Signer identifies the credentials that sign the requests (their
	// Fingerprint), not the access key alone: an access key is no secret,
	// and a tenant who copied another team's into its own Secret must not
	// share, and drain, that team's bucket. Requests it signs with a
	// secret key of its own draw from a bucket of their own; every
	// namespace holding the same key pair shares one, as the account's
	// budget at the gateway is one.
	Signer  string
	Service cloud.Service
	Region  string
}

// bucketKeyOf returns the bucket a target's requests draw from.
func bucketKeyOf(t cloud.Target) BucketKey {
	return BucketKey{Signer: Fingerprint(t.Credentials), Service: t.Service, Region: t.Region}
}

// RateLimiter is a set of token buckets, one per BucketKey plus one global
// bucket. A throttled answer slows the whole bucket it came from, so every
// object sharing those credentials slows down, not just the one that got
// the 429. Safe for concurrent use.
type RateLimiter struct {
	cfg    RateLimitConfig
	global *rate.Limiter

	mu        sync.Mutex
	buckets   map[BucketKey]*bucket
	lastPrune time.Time
}

type bucket struct {
	lim *rate.Limiter
	// qps is the current rate (cfg.QPS unless throttled).
	qps float64
	// blockedUntil is the end of the pause after a throttled answer.
	blockedUntil time.Time
	lastUsed     time.Time
}

// NewRateLimiter returns a limiter configured by cfg (zero fields take
// their defaults).
func NewRateLimiter(cfg RateLimitConfig) *RateLimiter {
	cfg = cfg.withDefaults()
	return &RateLimiter{
		cfg:     cfg,
		global:  rate.NewLimiter(rate.Limit(cfg.GlobalQPS), cfg.GlobalBurst),
		buckets: map[BucketKey]*bucket{},
	}
}

// bucketLocked returns key's bucket, creating it at full speed. l.mu held.
func (l *RateLimiter) bucketLocked(key BucketKey, now time.Time) *bucket {
	b, ok := l.buckets[key]
	if !ok {
		l.pruneLocked(now)
		b = &bucket{lim: rate.NewLimiter(rate.Limit(l.cfg.QPS), l.cfg.Burst), qps: l.cfg.QPS}
		l.buckets[key] = b
	}
	b.lastUsed = now
	return b
}

// pruneLocked drops buckets idle for bucketIdleTTL that are back at full
// speed, at most once per bucketIdleTTL. l.mu held.
func (l *RateLimiter) pruneLocked(now time.Time) {
	if now.Sub(l.lastPrune) < bucketIdleTTL {
		return
	}
	l.lastPrune = now
	for k, b := range l.buckets {
		if now.Sub(b.lastUsed) > bucketIdleTTL && b.qps >= l.cfg.QPS && !now.Before(b.blockedUntil) {
			delete(l.buckets, k)
		}
	}
}

// Wait blocks until key's bucket and the global bucket both grant a token,
// or returns a KindThrottled error wrapping cloud.ErrRateLimited (nothing
// sent, RetryAfter set) when that is further away than MaxWait or the
// context's deadline. A context cancelled while waiting gives a
// KindTransient error.
func (l *RateLimiter) Wait(ctx context.Context, key BucketKey) error {
	svc := serviceLabel(key.Service)
	waited := false
	start := l.cfg.Now()
	defer func() {
		if waited {
			throttledWaitSeconds.WithLabelValues(svc).Add(l.cfg.Now().Sub(start).Seconds())
		}
	}()

	// A paused bucket hands out no tokens: wait out the pause first.
	if err := l.waitPause(ctx, key, svc, &waited); err != nil {
		return err
	}

	now := l.cfg.Now()
	l.mu.Lock()
	b := l.bucketLocked(key, now)
	l.mu.Unlock()
	r := b.lim.ReserveN(now, 1)
	g := l.global.ReserveN(now, 1)
	cancel := func() {
		t := l.cfg.Now()
		r.CancelAt(t)
		g.CancelAt(t)
	}
	delay := max(r.DelayFrom(now), g.DelayFrom(now))
	if delay <= 0 {
		return nil
	}
	if !waited {
		waited = true
		throttledWaits.WithLabelValues(svc).Inc()
	}
	if !l.canWait(ctx, delay) {
		cancel()
		return l.deferred(svc, delay)
	}
	if err := sleep(ctx, delay); err != nil {
		cancel()
		return ClassifyTransport(err)
	}
	// The bucket may have been paused while this request slept (a sibling
	// got a 429): honour that pause too; the token is already spent.
	return l.waitPause(ctx, key, svc, &waited)
}

// waitPause waits until key's bucket is no longer paused (or defers).
func (l *RateLimiter) waitPause(ctx context.Context, key BucketKey, svc string, waited *bool) error {
	for {
		now := l.cfg.Now()
		l.mu.Lock()
		pause := l.bucketLocked(key, now).blockedUntil.Sub(now)
		l.mu.Unlock()
		if pause <= 0 {
			return nil
		}
		if !*waited {
			*waited = true
			throttledWaits.WithLabelValues(svc).Inc()
		}
		if !l.canWait(ctx, pause) {
			return l.deferred(svc, pause)
		}
		if err := sleep(ctx, pause); err != nil {
			return ClassifyTransport(err)
		}
	}
}

// canWait reports whether a wait of d fits MaxWait and ctx's deadline.
func (l *RateLimiter) canWait(ctx context.Context, d time.Duration) bool {
	if l.cfg.MaxWait < 0 || d > l.cfg.MaxWait {
		return false
	}
	if dl, ok := ctx.Deadline(); ok && time.Until(dl) < d {
		return false
	}
	return true
}

func (l *RateLimiter) deferred(svc string, d time.Duration) error {
	deferredRequests.WithLabelValues(svc).Inc()
	d = d.Round(time.Millisecond) + time.Millisecond
	return &cloud.Error{
		Kind:       cloud.KindThrottled,
		Message:    fmt.Sprintf("client-side rate limit for these credentials: next request slot in %s", d),
		RetryAfter: d,
		Err:        cloud.ErrRateLimited,
	}
}

// Record feeds the outcome of one request back into key's bucket. A
// throttled answer from the service (KindThrottled, not a local
// cloud.ErrRateLimited) halves the bucket's rate (down to MinQPS), shrinks
// its burst to match, spends the tokens it holds and pauses it for the
// longer of RetryAfter and ThrottlePause; further throttled answers during
// that pause (requests already in flight) only extend it. A success raises a
// slowed bucket's rate by RecoveryStep×QPS. Other errors change nothing.
func (l *RateLimiter) Record(key BucketKey, err error) {
	now := l.cfg.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.bucketLocked(key, now)
	switch {
	case err == nil:
		if b.qps < l.cfg.QPS {
			l.setRateLocked(b, math.Min(l.cfg.QPS, b.qps+l.cfg.QPS*l.cfg.RecoveryStep), now)
		}
	case cloud.KindOf(err) == cloud.KindThrottled && !cloud.IsRateLimited(err):
		pause := l.cfg.ThrottlePause
		var ce *cloud.Error
		if errors.As(err, &ce) && ce.RetryAfter > pause {
			pause = ce.RetryAfter
		}
		if !now.Before(b.blockedUntil) {
			// A new throttling episode: slow down. Answers to requests
			// sent before the pause began do not halve again.
			l.setRateLocked(b, math.Max(l.cfg.MinQPS, b.qps/2), now)
			if tokens := b.lim.TokensAt(now); tokens >= 1 {
				b.lim.ReserveN(now, int(tokens))
			}
		}
		if until := now.Add(pause); until.After(b.blockedUntil) {
			b.blockedUntil = until
		}
	}
}

// setRateLocked sets b's rate and a burst in proportion to it. l.mu held.
func (l *RateLimiter) setRateLocked(b *bucket, qps float64, now time.Time) {
	b.qps = qps
	b.lim.SetLimitAt(now, rate.Limit(qps))
	burst := l.cfg.Burst
	if !math.IsInf(l.cfg.QPS, 1) {
		burst = max(1, int(math.Round(float64(l.cfg.Burst)*qps/l.cfg.QPS)))
	}
	b.lim.SetBurstAt(now, burst)
}

// sleep waits for d or until ctx is done.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
