package main

import (
	"bytes"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"sort"
	"strings"
	"sync"
	"time"

	"k8s.io/client-go/rest"
)

// requestKind is what a Kubernetes API request did: its verb (get, list,
// watch, create, patch, …) and the resource and subresource it addressed.
// Requests outside resources (discovery, /version) have the path's first
// segment as resource and verb "get".
type requestKind struct {
	verb, resource, subresource string
}

func (k requestKind) String() string {
	s := k.verb + " " + k.resource
	if k.subresource != "" {
		s += "/" + k.subresource
	}
	return s
}

// requestTally counts the requests of one kind and the bytes of their
// bodies.
type requestTally struct {
	count int
	bytes int64
}

// apiCounter is a TLS reverse proxy between the manager and the
// kube-apiserver that counts every request the manager sends. It
// terminates the manager's TLS with its own certificate and sends the
// request on with the benchmark's credentials (the manager ran as that
// user before, so nothing it may do changes). A watch is counted once,
// when it starts.
type apiCounter struct {
	server *httptest.Server

	mu          sync.Mutex
	tally       map[requestKind]requestTally
	statusBytes []int // body size of every CloudOperation status patch
	// firstStatusPatch is when each CloudOperation's first status patch
	// was sent: the manager's side of "first status", before the API
	// server delivers it to watchers.
	firstStatusPatch map[string]time.Time
}

// startAPICounter starts a counting proxy to the API server of upstream.
func startAPICounter(upstream *rest.Config) (*apiCounter, error) {
	target, err := url.Parse(upstream.Host)
	if err != nil {
		return nil, err
	}
	transport, err := rest.TransportFor(upstream)
	if err != nil {
		return nil, err
	}
	c := &apiCounter{tally: map[requestKind]requestTally{}, firstStatusPatch: map[string]time.Time{}}
	proxy := &httputil.ReverseProxy{
		Rewrite:       func(r *httputil.ProxyRequest) { r.SetURL(target) },
		Transport:     transport,
		FlushInterval: -1, // watches stream
	}
	c.server = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c.count(r)
		proxy.ServeHTTP(w, r)
	}))
	c.server.EnableHTTP2 = true
	c.server.StartTLS()
	return c, nil
}

// config is how the manager reaches the API server through the proxy. It
// has no credentials: the proxy adds its own.
func (c *apiCounter) config() *rest.Config {
	ca := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.server.Certificate().Raw})
	return &rest.Config{Host: c.server.URL, TLSClientConfig: rest.TLSClientConfig{CAData: ca}}
}

func (c *apiCounter) close() { c.server.Close() }

func (c *apiCounter) count(r *http.Request) {
	kind := classify(r)
	var size int64
	if r.Method == http.MethodPatch || r.Method == http.MethodPost || r.Method == http.MethodPut {
		body, err := io.ReadAll(r.Body)
		if err == nil {
			size = int64(len(body))
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		r.ContentLength = size
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	t := c.tally[kind]
	t.count++
	t.bytes += size
	c.tally[kind] = t
	if kind == (requestKind{"patch", "cloudoperations", "status"}) {
		c.statusBytes = append(c.statusBytes, int(size))
		if name := objectName(r); name != "" {
			if _, seen := c.firstStatusPatch[name]; !seen {
				c.firstStatusPatch[name] = time.Now()
			}
		}
	}
}

// objectName is the name in a .../RESOURCE/NAME/SUBRESOURCE path.
func objectName(r *http.Request) string {
	parts := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	if len(parts) < 2 {
		return ""
	}
	return parts[len(parts)-2]
}

// firstStatusPatches is how many objects got a status patch; cheap enough
// for a wait loop to ask often.
func (c *apiCounter) firstStatusPatches() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.firstStatusPatch)
}

// firstStatusPatchTimes is a copy of when each object got its first status
// patch.
func (c *apiCounter) firstStatusPatchTimes() map[string]time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make(map[string]time.Time, len(c.firstStatusPatch))
	for k, v := range c.firstStatusPatch {
		out[k] = v
	}
	return out
}

// classify reads the verb and resource from a request, the way the API
// server's request info does for the paths a controller uses:
// /api/v1/[namespaces/NS/]RESOURCE[/NAME[/SUB]] and
// /apis/GROUP/VERSION/[namespaces/NS/]RESOURCE[/NAME[/SUB]].
func classify(r *http.Request) requestKind {
	parts := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	var rest []string
	switch {
	case len(parts) >= 3 && parts[0] == "api":
		rest = parts[2:]
	case len(parts) >= 4 && parts[0] == "apis":
		rest = parts[3:]
	default:
		return requestKind{verb: "get", resource: "/" + parts[0]} // discovery, /version, …
	}
	if len(rest) >= 2 && rest[0] == "namespaces" && len(rest) != 2 {
		rest = rest[2:] // a namespaced resource, not a namespace itself
	}
	k := requestKind{resource: rest[0]}
	named := len(rest) >= 2
	if len(rest) >= 3 {
		k.subresource = rest[2]
	}
	q := r.URL.Query().Get("watch")
	switch r.Method {
	case http.MethodGet:
		switch {
		case q == "true" || q == "1":
			k.verb = "watch"
		case named:
			k.verb = "get"
		default:
			k.verb = "list"
		}
	case http.MethodPost:
		k.verb = "create"
	case http.MethodPut:
		k.verb = "update"
	case http.MethodPatch:
		k.verb = "patch"
	case http.MethodDelete:
		k.verb = "delete"
		if !named {
			k.verb = "deletecollection"
		}
	default:
		k.verb = strings.ToLower(r.Method)
	}
	return k
}

// apiCounts is a snapshot of what the proxy counted.
type apiCounts struct {
	tally       map[requestKind]requestTally
	statusBytes []int // sorted
}

func (c *apiCounter) snapshot() apiCounts {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := apiCounts{tally: make(map[requestKind]requestTally, len(c.tally)), statusBytes: append([]int(nil), c.statusBytes...)}
	for k, v := range c.tally {
		s.tally[k] = v
	}
	sort.Ints(s.statusBytes)
	return s
}

// apiCategory groups requests for the report.
type apiCategory struct {
	name  string
	match func(requestKind) bool
}

// apiCategories are the report's rows, in order; the last takes the rest.
var apiCategories = []apiCategory{
	{"CloudOperation status patches", func(k requestKind) bool { return k == requestKind{"patch", "cloudoperations", "status"} }},
	{"event creates", func(k requestKind) bool { return k.verb == "create" && k.resource == "events" }},
	{"Secret reads", func(k requestKind) bool { return k.resource == "secrets" && k.verb == "get" }},
	{"lists and watches", func(k requestKind) bool { return k.verb == "list" || k.verb == "watch" }},
	{"leases", func(k requestKind) bool { return k.resource == "leases" }},
	{"anything else", func(requestKind) bool { return true }},
}

// byCategory counts the requests of each of apiCategories.
func (s apiCounts) byCategory() []int {
	out := make([]int, len(apiCategories))
	for k, t := range s.tally {
		for i, c := range apiCategories {
			if c.match(k) {
				out[i] += t.count
				break
			}
		}
	}
	return out
}

func (s apiCounts) total() int {
	n := 0
	for _, t := range s.tally {
		n += t.count
	}
	return n
}

// statusPatchBytes is the mean and 99th percentile body size of the status
// patches.
func (s apiCounts) statusPatchBytes() (mean float64, p99 int) {
	if len(s.statusBytes) == 0 {
		return 0, 0
	}
	sum := 0
	for _, b := range s.statusBytes {
		sum += b
	}
	return float64(sum) / float64(len(s.statusBytes)), s.statusBytes[len(s.statusBytes)*99/100]
}

// list renders every kind of request with its count, most frequent first.
func (s apiCounts) list() string {
	kinds := make([]requestKind, 0, len(s.tally))
	for k := range s.tally {
		kinds = append(kinds, k)
	}
	sort.Slice(kinds, func(i, j int) bool {
		if a, b := s.tally[kinds[i]].count, s.tally[kinds[j]].count; a != b {
			return a > b
		}
		return kinds[i].String() < kinds[j].String()
	})
	var parts []string
	for _, k := range kinds {
		parts = append(parts, fmt.Sprintf("%s %d", k, s.tally[k].count))
	}
	return strings.Join(parts, ", ")
}
