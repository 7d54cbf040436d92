package cloudsim

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"testing"
)

// TestRequestLogRemoteAddr: each request log entry names the client
// address the request came from, in the Go API and the admin API, so
// requests of several clients can be told apart.
func TestRequestLogRemoteAddr(t *testing.T) {
	e := newEnv(t, Config{Operations: []OperationSpec{{Service: ECS, ID: "job-1", ProjectID: testProject}}})
	// Two clients, each on connections of its own; record the local
	// address of every connection each dials.
	client := func(dialed *[]string) *http.Client {
		return &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
			if err == nil {
				*dialed = append(*dialed, c.LocalAddr().String())
			}
			return c, err
		}}}
	}
	var dialedA, dialedB []string
	a, b := client(&dialedA), client(&dialedB)
	for _, c := range []*http.Client{a, b, a} {
		resp, err := c.Do(e.sdkRequest(req{path: jobPath(testProject, "job-1")}))
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("status %d", resp.StatusCode)
		}
	}
	if len(dialedA) != 1 || len(dialedB) != 1 {
		t.Fatalf("connections dialed: %v and %v, want one each (keep-alive)", dialedA, dialedB)
	}
	want := []string{dialedA[0], dialedB[0], dialedA[0]}
	log := e.sim.Requests()
	if len(log) != len(want) {
		t.Fatalf("request log has %d entries, want %d", len(log), len(want))
	}
	for i, r := range log {
		if r.RemoteAddr != want[i] {
			t.Errorf("entry %d: remoteAddr %q, want %q (the client's connection)", i, r.RemoteAddr, want[i])
		}
	}

	resp, err := http.Get(e.srv.URL + "/admin/requests")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct {
		Requests []struct {
			RemoteAddr string `json:"remoteAddr"`
		} `json:"requests"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatal(err)
	}
	if len(body.Requests) != len(want) || body.Requests[1].RemoteAddr != want[1] {
		t.Errorf("GET /admin/requests: %+v, want remoteAddr %v", body.Requests, want)
	}
}
