package cloudsim

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// admin sends an unsigned admin request and decodes the JSON answer.
func (e *env) admin(method, path, body string, wantStatus int, out any) {
	e.t.Helper()
	r, err := http.NewRequest(method, e.srv.URL+path, strings.NewReader(body))
	if err != nil {
		e.t.Fatal(err)
	}
	resp, err := e.srv.Client().Do(r)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != wantStatus {
		e.t.Fatalf("%s %s: status %d, want %d; body %s", method, path, resp.StatusCode, wantStatus, data)
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			e.t.Fatalf("%s %s: decode %s: %v", method, path, data, err)
		}
	}
}

func TestAdminRoundTrip(t *testing.T) {
	e := newEnv(t, Config{Accounts: []Account{}})

	// Accounts: none yet, so a signed request fails.
	if s, _, _ := e.do(req{path: ccePath(testProject, "cl-1", "wf-1")}); s != 401 {
		t.Fatalf("before adding the account: %d", s)
	}
	e.admin("POST", "/admin/accounts", `{"accessKey":"`+testAK+`","secretKey":"`+testSK+`","projectIDs":["`+testProject+`"]}`, 201, nil)
	var accts struct {
		Accounts []map[string]any `json:"accounts"`
	}
	e.admin("GET", "/admin/accounts", "", 200, &accts)
	if len(accts.Accounts) != 1 || accts.Accounts[0]["accessKey"] != testAK || accts.Accounts[0]["secretKey"] != nil {
		t.Errorf("accounts %v (secrets must not be listed)", accts)
	}

	// Operations: one, a list, a template, and the combined form.
	e.admin("POST", "/admin/operations", `{"service":"CCE","id":"wf-1","projectID":"`+testProject+`","clusterID":"cl-1","scenario":"fail"}`, 201, nil)
	e.admin("POST", "/admin/operations", `[{"service":"BCS","id":"op-1","projectID":"`+testProject+`"},
		{"service":"AOS","id":"act-1","projectID":"`+testProject+`","stackID":"st-1"}]`, 201, nil)
	var added map[string]int
	e.admin("POST", "/admin/operations", `{"count":100,"operation":{"service":"DWS","id":"RESTORING","projectID":"`+testProject+`","clusterID":"cl-{{i}}"}}`, 201, &added)
	if added["added"] != 100 {
		t.Errorf("template added %v", added)
	}
	e.admin("POST", "/admin/operations", `{"operations":[{"service":"CCE","id":"wf-2","projectID":"`+testProject+`","clusterID":"cl-1"}],
		"templates":[{"count":2,"start":5,"operation":{"service":"BCS","id":"bulk","projectID":"`+testProject+`"}}]}`, 201, &added)
	if added["added"] != 3 {
		t.Errorf("combined added %v", added)
	}

	var list struct {
		Operations []OperationStatus `json:"operations"`
	}
	e.admin("GET", "/admin/operations", "", 200, &list)
	if len(list.Operations) != 106 || list.Operations[0].Key != "wf-1" || list.Operations[5].Key != "cl-2/RESTORING" {
		t.Fatalf("%d operations, first %+v, [5] %+v", len(list.Operations), list.Operations[0], list.Operations[5])
	}
	e.admin("GET", "/admin/operations?service=bcs", "", 200, &list)
	if len(list.Operations) != 3 || list.Operations[2].ID != "bulk-6" {
		t.Errorf("BCS operations %+v", list.Operations)
	}
	e.admin("GET", "/admin/operations?service=nope", "", 400, nil)

	// Speed and clock: 40s of simulated time makes the fail scenario fail.
	var clock ClockInfo
	e.admin("PUT", "/admin/speed", `{"speed": 2}`, 200, &clock)
	if clock.Speed != 2 {
		t.Errorf("speed %v", clock.Speed)
	}
	e.clock.Step(10 * time.Second) // 20 simulated seconds
	e.admin("POST", "/admin/advance", `{"by":"20s"}`, 200, &clock)
	if got := clock.SimulatedNow.Sub(clock.Now); got != 30*time.Second {
		t.Errorf("simulated clock ahead by %s, want 30s", got)
	}
	var st OperationStatus
	e.admin("GET", "/admin/operations/CCE/wf-1", "", 200, &st)
	if st.State != StateFailed || st.ServiceStatus != "Pending" || st.CurrentStep != "Cluster" || st.Elapsed.Duration != 40*time.Second {
		t.Errorf("wf-1 status %+v", st)
	}
	e.admin("GET", "/admin/operations/DWS/cl-3/RESTORING", "", 200, &st)
	if st.State != StateSucceeded || st.ServiceStatus != "SUCCESS" {
		t.Errorf("DWS status %+v", st)
	}
	e.admin("PUT", "/admin/speed", `{"speed": -1}`, 400, nil)
	e.admin("PUT", "/admin/speed", `{}`, 400, nil)

	// Faults on one operation, then globally.
	var faults struct {
		Faults []Fault `json:"faults"`
	}
	e.admin("PUT", "/admin/faults/CCE/wf-1", `[{"kind":"throttle","count":2,"retryAfter":"3s"}]`, 200, nil)
	status, _, resp := e.do(req{path: ccePath(testProject, "cl-1", "wf-1")})
	if status != 429 || resp.Header.Get("Retry-After") != "3" {
		t.Errorf("throttled: %d Retry-After %q", status, resp.Header.Get("Retry-After"))
	}
	e.admin("GET", "/admin/faults/CCE/wf-1", "", 200, &faults)
	if len(faults.Faults) != 1 || faults.Faults[0].Count != 1 {
		t.Errorf("one hit left, got %+v", faults.Faults)
	}
	e.admin("DELETE", "/admin/faults/CCE/wf-1", "", 204, nil)
	e.admin("PUT", "/admin/faults/CCE/nope", `[{"kind":"reset"}]`, 404, nil)
	e.admin("PUT", "/admin/faults/CCE/wf-1", `{"kind":"boom"}`, 400, nil)
	e.admin("POST", "/admin/faults", `{"kind":"error500","count":1}`, 200, nil)
	e.admin("POST", "/admin/faults", `{"faults":[{"kind":"notfound","count":1}]}`, 200, &faults)
	if len(faults.Faults) != 2 {
		t.Errorf("global faults %+v", faults.Faults)
	}
	for _, want := range []int{500, 404, 200} {
		if s, _, _ := e.do(req{path: ccePath(testProject, "cl-1", "wf-2")}); s != want {
			t.Errorf("global faults: %d, want %d", s, want)
		}
	}
	e.admin("DELETE", "/admin/faults", "", 204, nil)

	// Counts, then reset.
	var counts Counts
	e.admin("GET", "/admin/counts", "", 200, &counts)
	if c := counts.Operations[CCE]["wf-2"]; c.Total != 3 || c.ByStatus[500] != 1 || c.ByStatus[404] != 1 || c.ByStatus[200] != 1 {
		t.Errorf("wf-2 counts %+v", c)
	}
	if counts.Services[CCE].Total != 5 || counts.Total.ByStatus[401] != 1 {
		t.Errorf("counts %+v", counts)
	}
	e.admin("DELETE", "/admin/counts", "", 204, nil)
	counts = Counts{}
	e.admin("GET", "/admin/counts", "", 200, &counts)
	if counts.Total.Total != 0 || len(counts.Operations) != 0 {
		t.Errorf("after reset %+v", counts)
	}

	// Delete one, then all.
	e.admin("DELETE", "/admin/operations/CCE/wf-1", "", 204, nil)
	e.admin("DELETE", "/admin/operations/CCE/wf-1", "", 404, nil)
	if s, _, _ := e.do(req{path: ccePath(testProject, "cl-1", "wf-1")}); s != 404 {
		t.Errorf("deleted operation: %d", s)
	}
	e.admin("DELETE", "/admin/operations", "", 204, nil)
	e.admin("GET", "/admin/operations", "", 200, &list)
	if len(list.Operations) != 0 {
		t.Errorf("%d operations left", len(list.Operations))
	}

	e.admin("DELETE", "/admin/accounts/"+testAK, "", 204, nil)
	if s, _, _ := e.do(req{path: bcsPath(testProject)}); s != 401 {
		t.Errorf("removed account: %d", s)
	}
	e.admin("GET", "/admin/healthz", "", 200, nil)
	e.admin("GET", "/admin/nothing", "", 404, nil)
	e.admin("GET", "/admin/operations/XYZ/x", "", 400, nil)
}

// TestAdminAddOperationsRefused checks the status and error of each way
// POST /admin/operations refuses a body, and that a refused batch adds
// nothing.
func TestAdminAddOperationsRefused(t *testing.T) {
	e := newEnv(t, Config{Operations: []OperationSpec{{Service: CCE, ID: "wf-1", ProjectID: testProject, ClusterID: "cl-1"}}})
	cce := func(id string) string {
		return `{"service":"CCE","id":"` + id + `","projectID":"` + testProject + `","clusterID":"cl-1"}`
	}
	cases := []struct {
		name, body string
		status     int
		err        string
	}{
		{"key exists", cce("wf-1"), 409, `CCE operation "wf-1" already exists`},
		{"one of a batch exists", "[" + cce("wf-2") + "," + cce("wf-1") + "]", 409, `CCE operation "wf-1" already exists`},
		{"duplicate within the batch", "[" + cce("wf-3") + "," + cce("wf-3") + "]", 400, `operation 1: duplicate CCE operation "wf-3"`},
		{"unknown service", `{"service":"XYZ","id":"x","projectID":"p"}`, 400, `operation 0 (XYZ "x"): service "XYZ" unknown (want BCS, CCE, AOS, DWS, ECS, EVS, IMS, BMS, VPC, RDS, GaussDB, DDS, GaussDBforOpenGauss, GaussDBforNoSQL or RFS)`},
		{"classic job cancelled", `{"service":"EVS","id":"j","projectID":"p","scenario":"cancel"}`, 400,
			`operation 0 (EVS "j"): scenario cancel is not available for EVS jobs: the job API has no cancelled status (use fail, never or unknown-status)`},
		{"unknown field", `{"service":"CCE","id":"x","projectID":"p","clusterID":"c","bogus":1}`, 400, `decode operation: json: unknown field "bogus"`},
	}
	for _, tc := range cases {
		var body struct {
			Error string `json:"error"`
		}
		e.admin("POST", "/admin/operations", tc.body, tc.status, &body)
		if body.Error != tc.err {
			t.Errorf("%s: error %q, want %q", tc.name, body.Error, tc.err)
		}
	}
	if ops := e.sim.Operations(CCE); len(ops) != 1 {
		t.Errorf("refused batches added operations: %+v", ops)
	}
	if err := e.sim.AddOperation(OperationSpec{Service: CCE, ID: "wf-1", ProjectID: testProject, ClusterID: "cl-1"}); !errors.Is(err, ErrExists) {
		t.Errorf("adding an existing key: %v, want ErrExists", err)
	}
}

// TestRequestCounts checks the per-service, per-operation and BCS list
// counters through the Go API.
func TestRequestCounts(t *testing.T) {
	e := newEnv(t, Config{Operations: []OperationSpec{
		{Service: BCS, ID: "op-1", ProjectID: testProject, BlockchainID: "bc-1"},
		{Service: DWS, ID: "RESTORING", ProjectID: testProject, ClusterID: "cl-1"},
	}})
	do := func(r req, n int) {
		for range n {
			e.do(r)
		}
	}
	do(req{path: bcsPath(testProject)}, 2)
	do(req{path: bcsPath(testProject), query: map[string]string{"operation_id": "op-1"}}, 3)
	do(req{path: bcsPath(testProject), query: map[string]string{"blockchain_id": "bc-1"}}, 1)
	do(req{path: dwsPath(testProject, "cl-1", "RESTORING")}, 4)
	do(req{path: dwsPath(testProject, "cl-9", "RESTORING")}, 1)                      // unknown: 404
	do(req{path: dwsPath(testProject, "cl-1", "RESTORING"), sk: "x", ak: testAK}, 1) // 401
	do(req{path: "/v9/nothing"}, 2)

	if got := e.sim.RequestCount(BCS, "op-1"); got != 3 {
		t.Errorf("op-1: %d", got)
	}
	if got := e.sim.RequestCount(DWS, "cl-1/RESTORING"); got != 5 {
		t.Errorf("cl-1/RESTORING: %d", got)
	}
	c := e.sim.Counts()
	checks := []struct {
		name string
		got  RequestCounts
		want string
	}{
		{"total", c.Total, "14 map[200:10 401:1 404:3]"},
		{"BCS", c.Services[BCS], "6 map[200:6]"},
		{"DWS", c.Services[DWS], "6 map[200:4 401:1 404:1]"},
		{"CCE", c.Services[CCE], "0 map[]"},
		{"unknown DWS op", c.Operations[DWS]["cl-9/RESTORING"], "1 map[404:1]"},
		{"BCS project lists", c.BCSLists[testProject], "6 map[200:6]"},
		{"BCS blockchain lists", c.BCSLists[testProject+"/bc-1"], "1 map[200:1]"},
		{"unrouted", c.Unrouted, "2 map[404:2]"},
	}
	for _, ch := range checks {
		if got := fmt.Sprint(ch.got.Total, " ", ch.got.ByStatus); got != ch.want {
			t.Errorf("%s: %s, want %s", ch.name, got, ch.want)
		}
	}
	st, err := e.sim.Operation(DWS, "cl-1/RESTORING")
	if err != nil || st.Requests != 5 {
		t.Errorf("status requests %d, %v", st.Requests, err)
	}
	e.sim.ResetCounts()
	if e.sim.RequestCount(BCS, "op-1") != 0 || e.sim.Counts().Total.Total != 0 {
		t.Error("counts survived ResetCounts")
	}
}

// TestAdminJobs adds jobs of the new services through the admin API and
// reads them back, and refuses a job ID another classic service has.
func TestAdminJobs(t *testing.T) {
	e := newEnv(t, Config{})
	p := testProject
	e.admin("POST", "/admin/operations", `[{"service":"CCE","type":"Job","id":"job-1","projectID":"`+p+`"},
		{"service":"IMS","id":"job-2","projectID":"`+p+`","scenario":"fail","params":{"errorCode":"IMG.0001"}},
		{"service":"VPC","type":"Job","id":"job-3","projectID":"`+p+`"}]`, 201, nil)
	var st OperationStatus
	e.admin("GET", "/admin/operations/cce/job-1", "", 200, &st)
	if st.Type != TypeJob || st.ServiceStatus != "Running" || st.CurrentStep != "PlatformBootstrap" {
		t.Errorf("CCE job %+v", st)
	}
	e.clock.SetTime(t0.Add(time.Minute))
	e.admin("GET", "/admin/operations/IMS/job-2", "", 200, &st)
	if st.State != StateFailed || st.ServiceStatus != "FAIL" || st.CurrentStep != "imsImportDataImageJob" {
		t.Errorf("IMS job %+v", st)
	}
	var j map[string]any
	e.getJSON(req{path: jobPath(p, "job-2")}, &j)
	if j["error_code"] != "IMG.0001" {
		t.Errorf("IMS job answer %v", j)
	}
	var list struct {
		Operations []OperationStatus `json:"operations"`
	}
	e.admin("GET", "/admin/operations?service=vpc", "", 200, &list)
	if len(list.Operations) != 1 || list.Operations[0].Key != "job-3" || list.Operations[0].ServiceStatus != "SUCCESS" {
		t.Errorf("VPC operations %+v", list.Operations)
	}
	var body struct {
		Error string `json:"error"`
	}
	e.admin("POST", "/admin/operations", `{"service":"BMS","id":"job-3","projectID":"`+p+`"}`, 409, &body)
	if body.Error != `VPC operation "job-3" already exists` {
		t.Errorf("BMS job with a VPC job's ID: %q", body.Error)
	}
	e.admin("PUT", "/admin/faults/VPC/job-3", `{"kind":"notfound","count":1}`, 200, nil)
	status, resp, _ := e.do(req{path: jobPath(p, "job-3")})
	if shape, code, _ := errorOf(t, resp); status != 404 || shape != "code" || code != "VPC.0404" {
		t.Errorf("notfound fault on a VPC job: %d %s", status, resp)
	}
	e.admin("DELETE", "/admin/operations/VPC/job-3", "", 204, nil)
	e.admin("POST", "/admin/operations", `{"service":"BMS","id":"job-3","projectID":"`+p+`"}`, 201, nil)
}
