package cloudsim

import (
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"
)

func faultConfig() Config {
	return Config{Operations: []OperationSpec{
		{Service: CCE, ID: "wf-1", ProjectID: testProject, ClusterID: "cl-1"},
		{Service: CCE, ID: "wf-2", ProjectID: testProject, ClusterID: "cl-1"},
		{Service: BCS, ID: "op-1", ProjectID: testProject},
		{Service: AOS, ID: "act-1", ProjectID: testProject, StackID: "st-1"},
		{Service: DWS, ID: "RESTORING", ProjectID: testProject, ClusterID: "cl-1"},
		{Service: ECS, ID: "job-ecs", ProjectID: testProject},
		{Service: EVS, ID: "job-evs", ProjectID: testProject},
		{Service: IMS, ID: "job-ims", ProjectID: testProject},
		{Service: BMS, ID: "job-bms", ProjectID: testProject},
		{Service: VPC, ID: "job-vpc", ProjectID: testProject},
		{Service: CCE, Type: TypeJob, ID: "job-cce", ProjectID: testProject},
	}}
}

// TestFaultKinds checks what each fault kind answers, per service (and
// for CCE jobs), in each service's error shape.
func TestFaultKinds(t *testing.T) {
	type target struct {
		svc Service
		key string
		req req
	}
	targets := map[string]target{
		"BCS":     {BCS, "op-1", req{path: bcsPath(testProject), query: map[string]string{"operation_id": "op-1"}}},
		"CCE":     {CCE, "wf-1", req{path: ccePath(testProject, "cl-1", "wf-1")}},
		"AOS":     {AOS, "act-1", aosReq("st-1", "act-1")},
		"DWS":     {DWS, "cl-1/RESTORING", req{path: dwsPath(testProject, "cl-1", "RESTORING")}},
		"ECS":     {ECS, "job-ecs", req{path: jobPath(testProject, "job-ecs")}},
		"EVS":     {EVS, "job-evs", req{path: jobPath(testProject, "job-evs")}},
		"IMS":     {IMS, "job-ims", req{path: jobPath(testProject, "job-ims")}},
		"BMS":     {BMS, "job-bms", req{path: jobPath(testProject, "job-bms")}},
		"VPC":     {VPC, "job-vpc", req{path: jobPath(testProject, "job-vpc")}},
		"CCE job": {CCE, "job-cce", req{path: cceJobPath(testProject, "job-cce")}},
	}
	gateway := func(code string) map[string]string {
		m := map[string]string{}
		for name := range targets {
			m[name] = code
		}
		return m
	}
	tests := []struct {
		kind   FaultKind
		status int
		codes  map[string]string
	}{
		{FaultThrottle, 429, gateway("APIGW.0308")},
		{FaultError500, 500, map[string]string{"BCS": "BCS.5000500", "CCE": "CCE.01500001", "AOS": "AOS.0500", "DWS": "DWS.0000",
			"ECS": "Ecs.0500", "EVS": "EVS.0500", "IMS": "IMG.0500", "BMS": "BMS.0500", "VPC": "VPC.0500", "CCE job": "CCE.01500001"}},
		{FaultNotFound, 404, map[string]string{"BCS": "BCS.4040404", "CCE": "CCE.01404001", "AOS": "AOS.0404", "DWS": "DWS.0001",
			"ECS": "Ecs.0114", "EVS": "EVS.0404", "IMS": "IMG.0404", "BMS": "BMS.0404", "VPC": "VPC.0404", "CCE job": "CCE.01404001"}},
		{FaultUnauthorized, 401, gateway("APIGW.0301")},
	}
	// The shape each answer must have: the gateway's codes are always
	// flat; a service's own follow the service.
	shapes := map[string]string{"ECS": "nested", "EVS": "nested", "IMS": "nested", "BMS": "nested", "VPC": "code"}
	e := newEnv(t, faultConfig())
	for _, tt := range tests {
		for name, tg := range targets {
			t.Run(string(tt.kind)+"/"+name, func(t *testing.T) {
				if err := e.sim.SetFaults(tg.svc, tg.key, Fault{Kind: tt.kind, Count: 1}); err != nil {
					t.Fatal(err)
				}
				status, body, resp := e.do(tg.req)
				shape, code, msg := errorOf(t, body)
				wantShape := "flat"
				if !strings.HasPrefix(tt.codes[name], "APIGW.") {
					wantShape = or(shapes[name], "flat")
				}
				if status != tt.status || code != tt.codes[name] || msg == "" || shape != wantShape {
					t.Fatalf("%d %s, want %d %s in the %s shape", status, body, tt.status, tt.codes[name], wantShape)
				}
				if resp.Header.Get("X-Request-Id") == "" {
					t.Error("no X-Request-Id")
				}
				if tt.kind == FaultThrottle && !strings.Contains(msg, "The throttling threshold has been reached") {
					t.Errorf("throttle message %q", msg)
				}
				// Count 1: the next request goes through.
				if status, body, _ := e.do(tg.req); status != 200 {
					t.Fatalf("after the fault: %d %s", status, body)
				}
			})
		}
	}
}

func TestFaultMalformed(t *testing.T) {
	e := newEnv(t, faultConfig())
	if err := e.sim.AddFault(CCE, "wf-1", Fault{Kind: FaultMalformed, Count: 1}); err != nil {
		t.Fatal(err)
	}
	status, body, resp := e.do(req{path: ccePath(testProject, "cl-1", "wf-1")})
	var v any
	if status != 200 || json.Unmarshal(body, &v) == nil || !strings.HasPrefix(string(body), `{"kind":"WorkFlowTask"`) {
		t.Fatalf("want 200 with truncated JSON, got %d %s", status, body)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("Content-Type %q", ct)
	}
}

func TestFaultReset(t *testing.T) {
	e := newEnv(t, faultConfig())
	if err := e.sim.SetFaults(CCE, "wf-1", Fault{Kind: FaultReset, Count: 2}); err != nil {
		t.Fatal(err)
	}
	for i := range 2 {
		resp, err := e.srv.Client().Do(e.sdkRequest(req{path: ccePath(testProject, "cl-1", "wf-1")}))
		if err == nil {
			resp.Body.Close()
			t.Fatalf("request %d: got status %d, want a connection error", i, resp.StatusCode)
		}
	}
	if status, _, _ := e.do(req{path: ccePath(testProject, "cl-1", "wf-1")}); status != 200 {
		t.Fatalf("after two resets: %d", status)
	}
	c := e.sim.Counts().Operations[CCE]["wf-1"]
	if c.Total != 3 || c.ByStatus[StatusReset] != 2 || c.ByStatus[200] != 1 {
		t.Errorf("counts %+v", c)
	}
}

func TestFaultLatency(t *testing.T) {
	e := newEnv(t, faultConfig())
	if err := e.sim.SetFaults("", "", Fault{Kind: FaultLatency, Latency: D(150 * time.Millisecond), Count: 1}); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if status, _, _ := e.do(req{path: ccePath(testProject, "cl-1", "wf-1")}); status != 200 {
		t.Fatalf("status %d", status)
	}
	if d := time.Since(start); d < 150*time.Millisecond {
		t.Errorf("took %s, want at least 150ms", d)
	}

	// A client that gives up during the delay gets nothing.
	if err := e.sim.SetFaults("", "", Fault{Kind: FaultLatency, Latency: D(10 * time.Second)}); err != nil {
		t.Fatal(err)
	}
	client := *e.srv.Client()
	client.Timeout = 100 * time.Millisecond
	if _, err := client.Do(e.sdkRequest(req{path: ccePath(testProject, "cl-1", "wf-1")})); err == nil {
		t.Error("want a client timeout")
	}
}

// TestFaultBudgets makes "fails twice then recovers" and "works three
// times then fails" deterministic, and checks ordering and scoping.
func TestFaultBudgets(t *testing.T) {
	e := newEnv(t, faultConfig())
	wf1 := req{path: ccePath(testProject, "cl-1", "wf-1")}
	wf2 := req{path: ccePath(testProject, "cl-1", "wf-2")}
	statuses := func(r req, n int) string {
		var out []string
		for range n {
			s, _, _ := e.do(r)
			out = append(out, http.StatusText(s))
		}
		return strings.Join(out, ",")
	}

	// Fails twice, then recovers; wf-2 is not affected.
	if err := e.sim.SetFaults(CCE, "wf-1", Fault{Kind: FaultError500, Count: 2}); err != nil {
		t.Fatal(err)
	}
	if got := statuses(wf2, 1); got != "OK" {
		t.Errorf("wf-2: %s", got)
	}
	if got := statuses(wf1, 3); got != "Internal Server Error,Internal Server Error,OK" {
		t.Errorf("count 2: %s", got)
	}
	if fs, _ := e.sim.Faults(CCE, "wf-1"); len(fs) != 0 {
		t.Errorf("a spent fault is dropped, got %v", fs)
	}

	// Lets three through, then throttles once.
	if err := e.sim.SetFaults(CCE, "wf-1", Fault{Kind: FaultThrottle, After: 3, Count: 1}); err != nil {
		t.Fatal(err)
	}
	if got := statuses(wf1, 5); got != "OK,OK,OK,Too Many Requests,OK" {
		t.Errorf("after 3: %s", got)
	}

	// The operation's faults come first; a global one answers the rest.
	if err := e.sim.SetFaults(CCE, "wf-1", Fault{Kind: FaultNotFound, Count: 1}); err != nil {
		t.Fatal(err)
	}
	if err := e.sim.SetFaults("", "", Fault{Kind: FaultThrottle, Count: 2}); err != nil {
		t.Fatal(err)
	}
	if got := statuses(wf1, 4); got != "Not Found,Too Many Requests,Too Many Requests,OK" {
		t.Errorf("op then global: %s", got)
	}

	// Unlimited until cleared.
	if err := e.sim.SetFaults(CCE, "wf-1", Fault{Kind: FaultUnauthorized}); err != nil {
		t.Fatal(err)
	}
	if got := statuses(wf1, 3); got != "Unauthorized,Unauthorized,Unauthorized" {
		t.Errorf("unlimited: %s", got)
	}
	if err := e.sim.SetFaults(CCE, "wf-1"); err != nil {
		t.Fatal(err)
	}
	if got := statuses(wf1, 1); got != "OK" {
		t.Errorf("cleared: %s", got)
	}

	if err := e.sim.SetFaults(CCE, "nope", Fault{Kind: FaultReset}); !errors.Is(err, ErrNotFound) {
		t.Errorf("fault on a missing operation: %v", err)
	}
	if err := e.sim.SetFaults("", "", Fault{Kind: "explode"}); err == nil || !strings.Contains(err.Error(), `unknown fault kind "explode"`) {
		t.Errorf("bad kind: %v", err)
	}
}

// TestFaultProbability checks that a seeded simulator hits exactly the
// requests its seed picks: one draw per request, a hit below the
// probability.
func TestFaultProbability(t *testing.T) {
	const seed, p = 42, 0.3
	e := newEnv(t, faultConfig(), WithSeed(seed))
	if err := e.sim.SetFaults(CCE, "wf-1", Fault{Kind: FaultError500, Probability: p}); err != nil {
		t.Fatal(err)
	}
	mark := func(hit bool) byte {
		if hit {
			return 'x'
		}
		return '.'
	}
	rng := seededRand(seed)
	var got, want strings.Builder
	for range 200 {
		s, _, _ := e.do(req{path: ccePath(testProject, "cl-1", "wf-1")})
		got.WriteByte(mark(s == 500))
		want.WriteByte(mark(rng.Float64() < p))
	}
	if !strings.Contains(want.String(), "x") || !strings.Contains(want.String(), ".") {
		t.Fatalf("seed %d draws no mix of hits and misses: %s", seed, want.String())
	}
	if got.String() != want.String() {
		t.Errorf("hits (x) with seed %d:\n%s\nwant\n%s", seed, got.String(), want.String())
	}
}

func TestRateLimit(t *testing.T) {
	cfg := faultConfig()
	cfg.Settings.RateLimit = &RateLimit{RPS: 1, Burst: 2}
	e := newEnv(t, cfg)
	r := req{path: ccePath(testProject, "cl-1", "wf-1")}
	var got []int
	for range 3 {
		s, _, _ := e.do(r)
		got = append(got, s)
	}
	if got[0] != 200 || got[1] != 200 || got[2] != 429 {
		t.Fatalf("statuses %v, want 200 200 429", got)
	}
	// Another account has its own bucket.
	if s, _, _ := e.do(req{path: r.path, ak: tempAK, sk: tempSK, token: tempToken}); s != 200 {
		t.Errorf("other account: %d", s)
	}
	e.clock.Step(time.Second)
	if s, body, _ := e.do(r); s != 200 {
		t.Errorf("after a second: %d %s", s, body)
	}
}

// TestBCSListTakesItsBlockchainsFaults: a list call of a whole blockchain
// serves every operation of it, so a fault set on one of them hits it;
// other blockchains' lists do not.
func TestBCSListTakesItsBlockchainsFaults(t *testing.T) {
	e := newEnv(t, Config{Operations: []OperationSpec{
		{Service: BCS, ID: "op-1", ProjectID: testProject, BlockchainID: "bc-1"},
		{Service: BCS, ID: "op-2", ProjectID: testProject, BlockchainID: "bc-1"},
		{Service: BCS, ID: "op-3", ProjectID: testProject, BlockchainID: "bc-2"},
	}})
	list := func(blockchain string) req {
		q := map[string]string{}
		if blockchain != "" {
			q["blockchain_id"] = blockchain
		}
		return req{path: bcsPath(testProject), query: q}
	}
	if err := e.sim.SetFaults(BCS, "op-2", Fault{Kind: FaultError500, Count: 2}); err != nil {
		t.Fatal(err)
	}
	steps := []struct {
		req  req
		want int
	}{
		{list("bc-2"), 200}, // another blockchain
		{list("bc-1"), 500}, // op-2's blockchain
		{list(""), 500},     // the whole project holds op-2
		{list("bc-1"), 200}, // budget spent
	}
	for i, st := range steps {
		if status, body, _ := e.do(st.req); status != st.want {
			t.Fatalf("request %d (%v): %d %s, want %d", i+1, st.req.query, status, body, st.want)
		}
	}
}
