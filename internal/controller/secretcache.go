package controller

import (
	"context"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// SecretCache reads credentials Secrets through an uncached reader and
// keeps each answer for a short time, so thousands of operations sharing
// one Secret cost one API request per TTL instead of one per poll, without
// listing or watching Secrets cluster-wide. Failed reads are not kept, and
// an entry is dropped when the cloud rejects its credentials.
type SecretCache struct {
	// Reader fetches Secrets (the manager's API reader: a plain "get").
	Reader client.Reader
	// TTL is how long an answer is reused; zero disables caching.
	TTL time.Duration
	// Now is the time source; nil means time.Now.
	Now func() time.Time

	mu        sync.Mutex
	entries   map[types.NamespacedName]cachedSecret
	lastSweep time.Time
}

type cachedSecret struct {
	secret  *corev1.Secret
	fetched time.Time
}

// Get returns the Secret, from the cache when fresh.
func (c *SecretCache) Get(ctx context.Context, key types.NamespacedName) (*corev1.Secret, error) {
	now := c.now()
	c.mu.Lock()
	e, ok := c.entries[key]
	c.mu.Unlock()
	if ok && now.Sub(e.fetched) < c.TTL {
		return e.secret, nil
	}
	secret := &corev1.Secret{}
	if err := c.Reader.Get(ctx, key, secret); err != nil {
		return nil, err
	}
	if c.TTL > 0 {
		c.mu.Lock()
		if c.entries == nil {
			c.entries = map[types.NamespacedName]cachedSecret{}
		}
		c.entries[key] = cachedSecret{secret: secret, fetched: now}
		if now.Sub(c.lastSweep) >= c.TTL {
			c.sweepLocked(now)
		}
		c.mu.Unlock()
	}
	return secret, nil
}

// Forget drops a Secret from the cache, so the next read fetches it again.
func (c *SecretCache) Forget(key types.NamespacedName) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.entries, key)
}

// sweepLocked drops expired entries, at most once per TTL, so deleted
// Secrets do not stay in memory.
func (c *SecretCache) sweepLocked(now time.Time) {
	c.lastSweep = now
	for k, e := range c.entries {
		if now.Sub(e.fetched) >= c.TTL {
			delete(c.entries, k)
		}
	}
}

func (c *SecretCache) now() time.Time {
	if c.Now != nil {
		return c.Now()
	}
	return time.Now()
}
