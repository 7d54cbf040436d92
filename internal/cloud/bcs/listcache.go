package bcs

import (
	"context"
	"errors"
	"net/url"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"

	"github.com/cloudop/cloudop/internal/cloud"
	"github.com/cloudop/cloudop/internal/cloud/transport"
)

// DefaultListWindow is how long one parsed ListOpRecord answer serves the
// other operations of the same credentials, project and blockchain. Five
// seconds is far below any poll interval (at least 5 s, 30 s by default),
// so an operation is never shown more than one window late, while objects
// of one blockchain whose polls fall within the window share one call.
const DefaultListWindow = 5 * time.Second

// oversizeMemory is how long a list that exceeded the client's body limit
// is not asked for again (operations of it are fetched one by one).
const oversizeMemory = 10 * time.Minute

// ListCache lets one ListOpRecord call serve every CloudOperation of a
// (credentials, project, blockchain-or-whole-project): the list is asked
// for without the operation_id filter, parsed once, and each operation is
// picked from it with Lookup. Callers arriving while the call is in flight
// share it; a successful answer is then kept for Window. Errors are never
// kept: they reach only the callers of the failed call. Safe for
// concurrent use; the zero value is usable.
type ListCache struct {
	// Window is how long a parsed list answers lookups; 0 means
	// DefaultListWindow, a negative value keeps nothing (only callers of
	// the same in-flight call share it).
	Window time.Duration
	// Now is the cache's clock; nil means time.Now. Tests fix it.
	Now func() time.Time

	mu        sync.Mutex
	entries   map[string]*listEntry
	lastSweep time.Time
	flight    singleflight.Group
}

type listEntry struct {
	ops      map[string]*cloud.Operation
	fetched  time.Time
	tooLarge bool
}

// NewListCache returns a cache keeping each list for window (see
// ListCache.Window).
func NewListCache(window time.Duration) *ListCache { return &ListCache{Window: window} }

func (l *ListCache) now() time.Time {
	if l.Now != nil {
		return l.Now()
	}
	return time.Now()
}

func (l *ListCache) window() time.Duration {
	if l.Window == 0 {
		return DefaultListWindow
	}
	return l.Window
}

// listKey separates lists by credentials (fingerprint: a wrong secret
// never reads a list fetched with the right one), endpoint, project and
// blockchain.
func listKey(t cloud.Target, project string) string {
	return transport.Fingerprint(t.Credentials) + "\n" + t.BaseURL + "\n" + project + "\n" + t.BlockchainID
}

// errListTooLarge is returned while a list is remembered as too large.
var errListTooLarge = &cloud.Error{Kind: cloud.KindTransient, Message: "operation list too large", Err: transport.ErrResponseTooLarge}

// list returns the parsed operation list for t (shared, read-only).
func (l *ListCache) list(ctx context.Context, c *transport.HTTPClient, t cloud.Target, project string) (map[string]*cloud.Operation, error) {
	key := listKey(t, project)
	if ops, ok, err := l.cached(key); ok {
		if err == nil {
			transport.CountCoalesced(cloud.ServiceBCS, 1)
		}
		return ops, err
	}

	called := false
	ops, _, err := transport.Coalesce(ctx, &l.flight, key, func(ctx context.Context) (map[string]*cloud.Operation, error) {
		// A call that finished between the check above and this flight
		// may have stored the list already.
		if ops, ok, err := l.cached(key); ok {
			return ops, err
		}
		called = true
		started := l.now()
		q := url.Values{}
		if t.BlockchainID != "" {
			q.Set("blockchain_id", t.BlockchainID)
		}
		// ctx is not cancelled with the first caller (others may share
		// the call); the client's Timeout bounds it.
		body, err := c.Get(ctx, t, recordPath(project), q, nil)
		if err != nil {
			if errors.Is(err, transport.ErrResponseTooLarge) {
				l.store(key, &listEntry{fetched: started, tooLarge: true})
			}
			return nil, err
		}
		ops, err := ParseList(body)
		if err != nil {
			return nil, err
		}
		if l.window() > 0 {
			l.store(key, &listEntry{ops: ops, fetched: started})
		}
		return ops, nil
	}, nil)
	// called is read only once a result arrived (err is set when ctx
	// ended first), which happens after the function, if it was this
	// caller's, returned. The list is shared read-only: no clone.
	if err == nil && !called {
		transport.CountCoalesced(cloud.ServiceBCS, 1)
	}
	return ops, err
}

// cached returns a fresh list for key (ok true), or a copy of
// errListTooLarge while the list is remembered as too large.
func (l *ListCache) cached(key string) (ops map[string]*cloud.Operation, ok bool, err error) {
	now := l.now()
	l.mu.Lock()
	e := l.entries[key]
	l.mu.Unlock()
	switch {
	case e == nil:
	case e.tooLarge && now.Sub(e.fetched) < oversizeMemory:
		cp := *errListTooLarge
		return nil, true, &cp
	case !e.tooLarge && now.Sub(e.fetched) < l.window():
		return e.ops, true, nil
	}
	return nil, false, nil
}

// store saves an entry and, at most once per window, drops expired ones.
func (l *ListCache) store(key string, e *listEntry) {
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.entries == nil {
		l.entries = map[string]*listEntry{}
	}
	l.entries[key] = e
	w := l.window()
	if now.Sub(l.lastSweep) < max(w, time.Second) {
		return
	}
	l.lastSweep = now
	for k, v := range l.entries {
		if (v.tooLarge && now.Sub(v.fetched) >= oversizeMemory) || (!v.tooLarge && now.Sub(v.fetched) >= w) {
			delete(l.entries, k)
		}
	}
}
