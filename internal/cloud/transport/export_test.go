package transport

import "time"

// Test-only accessors: the production code never needs them, so they are
// declared here, where only this package's tests see them.

// Rate returns the current rate of key's bucket in requests per second:
// QPS unless throttling slowed it.
func (l *RateLimiter) Rate(key BucketKey) float64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	if b, ok := l.buckets[key]; ok {
		return b.qps
	}
	return l.cfg.QPS
}

// PausedFor returns how long key's bucket stays paused after a throttled
// answer; zero when it is not paused.
func (l *RateLimiter) PausedFor(key BucketKey) time.Duration {
	now := l.cfg.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	if b, ok := l.buckets[key]; ok && b.blockedUntil.After(now) {
		return b.blockedUntil.Sub(now)
	}
	return 0
}
