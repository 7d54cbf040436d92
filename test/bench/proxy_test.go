package main

import (
	"encoding/pem"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"

	"k8s.io/client-go/rest"
)

// TestAPICounter sends requests through the proxy to a stand-in API server
// and checks what was counted and what arrived.
func TestAPICounter(t *testing.T) {
	var mu sync.Mutex
	received := map[string]string{} // method and path → body, as the upstream saw them
	upstream := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		received[r.Method+" "+r.URL.Path] = string(body)
		mu.Unlock()
		_, _ = w.Write([]byte("{}"))
	}))
	defer upstream.Close()
	ca := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: upstream.Certificate().Raw})
	counter, err := startAPICounter(&rest.Config{Host: upstream.URL, TLSClientConfig: rest.TLSClientConfig{CAData: ca}})
	if err != nil {
		t.Fatal(err)
	}
	defer counter.close()
	transport, err := rest.TransportFor(counter.config())
	if err != nil {
		t.Fatal(err)
	}
	client := &http.Client{Transport: transport}

	const statusPatch = `{"status":{"phase":"Running"}}`
	requests := []struct {
		method, path, body string
		want               requestKind
	}{
		{"GET", "/apis/ops.cloudop.dev/v1alpha1/cloudoperations?limit=500", "", requestKind{"list", "cloudoperations", ""}},
		{"GET", "/apis/ops.cloudop.dev/v1alpha1/cloudoperations?watch=true", "", requestKind{"watch", "cloudoperations", ""}},
		{"PATCH", "/apis/ops.cloudop.dev/v1alpha1/namespaces/ns/cloudoperations/op/status", statusPatch, requestKind{"patch", "cloudoperations", "status"}},
		{"PATCH", "/apis/ops.cloudop.dev/v1alpha1/namespaces/ns/cloudoperations/op/status", "{}", requestKind{"patch", "cloudoperations", "status"}},
		{"POST", "/api/v1/namespaces/ns/events", `{"reason":"PhaseChanged"}`, requestKind{"create", "events", ""}},
		{"GET", "/api/v1/namespaces/ns/secrets/creds", "", requestKind{"get", "secrets", ""}},
		{"PUT", "/apis/coordination.k8s.io/v1/namespaces/ns/leases/lease", "{}", requestKind{"update", "leases", ""}},
		{"GET", "/api/v1/namespaces/ns", "", requestKind{"get", "namespaces", ""}},
		{"GET", "/apis", "", requestKind{"get", "/apis", ""}},
	}
	for _, r := range requests {
		req, err := http.NewRequest(r.method, counter.server.URL+r.path, strings.NewReader(r.body))
		if err != nil {
			t.Fatal(err)
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", r.method, r.path, err)
		}
		_ = resp.Body.Close()
		mu.Lock()
		got := received[r.method+" "+req.URL.Path]
		mu.Unlock()
		if got != r.body {
			t.Errorf("%s %s: upstream got body %q, want %q", r.method, r.path, got, r.body)
		}
	}

	counts := counter.snapshot()
	if got := counts.total(); got != len(requests) {
		t.Errorf("total %d, want %d", got, len(requests))
	}
	for _, r := range requests {
		if counts.tally[r.want].count == 0 {
			t.Errorf("%s %s not counted as %s; counted: %s", r.method, r.path, r.want, counts.list())
		}
	}
	status := counts.tally[requestKind{"patch", "cloudoperations", "status"}]
	if status.count != 2 || status.bytes != int64(len(statusPatch)+2) {
		t.Errorf("status patches: %d requests, %d bytes; want 2, %d", status.count, status.bytes, len(statusPatch)+2)
	}
	if mean, p99 := counts.statusPatchBytes(); mean != float64(len(statusPatch)+2)/2 || p99 != len(statusPatch) {
		t.Errorf("status patch bytes mean %.1f p99 %d", mean, p99)
	}
	// status patches, events, Secrets, lists and watches, leases, the rest
	if got, want := counts.byCategory(), []int{2, 1, 1, 2, 1, 2}; !slices.Equal(got, want) {
		t.Errorf("by category %v, want %v", got, want)
	}
	// Two patches of one object: one first status.
	if n, times := counter.firstStatusPatches(), counter.firstStatusPatchTimes(); n != 1 || times["op"].IsZero() {
		t.Errorf("first status patches: %d objects (want 1), times %v", n, times)
	}
}
