// Package readcache keeps short-lived answers of single-object reads from
// the Kubernetes API, so thousands of CloudOperations sharing one Secret or
// ServiceAccount cost one "get" per TTL instead of one per poll, without
// listing or watching those objects cluster-wide.
package readcache

import (
	"context"
	"sync"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/cloudop/cloudop/internal/quietlog"
)

// Cache reads objects of one kind (T, through its pointer type PT) with an
// uncached reader and keeps each answer for TTL. Failed reads are not
// kept, except "not found" when KeepNotFound is set; Forget drops an entry,
// e.g. when the cloud rejected the credentials it held.
type Cache[T any, PT interface {
	*T
	client.Object
}] struct {
	// Reader fetches the objects (the manager's API reader: a plain "get").
	Reader client.Reader
	// TTL is how long an answer is reused; zero disables caching.
	TTL time.Duration
	// KeepNotFound keeps a "not found" answer for TTL too, so an object
	// naming something missing does not cost a read per poll.
	KeepNotFound bool
	// Now is the time source; nil means time.Now.
	Now func() time.Time

	mu        sync.Mutex
	entries   map[types.NamespacedName]entry[PT]
	lastSweep time.Time
}

type entry[PT any] struct {
	obj     PT
	err     error // a kept "not found"
	fetched time.Time
}

// Get returns the object, from the cache when fresh.
func (c *Cache[T, PT]) Get(ctx context.Context, key types.NamespacedName) (PT, error) {
	now := c.now()
	c.mu.Lock()
	e, ok := c.entries[key]
	c.mu.Unlock()
	if ok && now.Sub(e.fetched) < c.TTL {
		return e.obj, e.err
	}
	obj := PT(new(T))
	// The answer may be a Secret's data: no body dump may log it.
	err := c.Reader.Get(quietlog.Context(ctx), key, obj)
	switch {
	case err != nil && !(c.KeepNotFound && apierrors.IsNotFound(err)):
		return nil, err
	case err != nil:
		obj = nil
	}
	if c.TTL > 0 {
		c.mu.Lock()
		if c.entries == nil {
			c.entries = map[types.NamespacedName]entry[PT]{}
		}
		c.entries[key] = entry[PT]{obj: obj, err: err, fetched: now}
		if now.Sub(c.lastSweep) >= c.TTL {
			c.sweepLocked(now)
		}
		c.mu.Unlock()
	}
	return obj, err
}

// Forget drops an object from the cache, so the next read fetches it
// again.
func (c *Cache[T, PT]) Forget(key types.NamespacedName) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.entries, key)
}

// sweepLocked drops expired entries, at most once per TTL, so deleted
// objects do not stay in memory.
func (c *Cache[T, PT]) sweepLocked(now time.Time) {
	c.lastSweep = now
	for k, e := range c.entries {
		if now.Sub(e.fetched) >= c.TTL {
			delete(c.entries, k)
		}
	}
}

func (c *Cache[T, PT]) now() time.Time {
	if c.Now != nil {
		return c.Now()
	}
	return time.Now()
}
