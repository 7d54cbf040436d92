package cloudsim

import (
	"encoding/json"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	ccemodel "github.com/huaweicloud/huaweicloud-sdk-go-v3/services/cce/v3/model"
)

// TestStartsInHidesTheOperationUntilItStarts: before its start an
// operation added with startsIn is answered exactly as if it did not
// exist (same status and body as a simulator without it), left out of
// lists and counted as unknown; at its start its timeline begins.
func TestStartsInHidesTheOperationUntilItStarts(t *testing.T) {
	const later = time.Minute
	cases := []struct {
		name string
		spec OperationSpec
		req  req
		// key is where requests count once the operation exists.
		svc Service
		key string
	}{
		{"CCE workflow", OperationSpec{Service: CCE, ID: "wf-1", ClusterID: "cl-1"}, req{path: ccePath(testProject, "cl-1", "wf-1")}, CCE, "wf-1"},
		{"CCE job", OperationSpec{Service: CCE, Type: TypeJob, ID: "cj-1"}, req{path: cceJobPath(testProject, "cj-1")}, CCE, "cj-1"},
		{"EVS job", OperationSpec{Service: EVS, ID: "job-1"}, req{path: jobPath(testProject, "job-1")}, EVS, "job-1"},
		{"GaussDB job", OperationSpec{Service: GaussDB, ID: "db-1"}, dbJobReq(testProject, "db-1"), GaussDB, "db-1"},
		{"AOS", OperationSpec{Service: AOS, ID: "act-1", StackID: "st-1"}, aosReq("st-1", "act-1"), AOS, "act-1"},
		{"DWS", OperationSpec{Service: DWS, ID: "RESTORING", ClusterID: "cl-1"}, req{path: dwsPath(testProject, "cl-1", "RESTORING")}, DWS, "cl-1/RESTORING"},
		{"BCS by operation_id", OperationSpec{Service: BCS, ID: "op-1", BlockchainID: "bc-1"}, req{path: bcsPath(testProject), query: map[string]string{"operation_id": "op-1"}}, BCS, "op-1"},
		{"BCS list", OperationSpec{Service: BCS, ID: "op-1", BlockchainID: "bc-1"}, req{path: bcsPath(testProject), query: map[string]string{"blockchain_id": "bc-1"}}, BCS, ""},
		{"RFS metadata", OperationSpec{Service: RFS, ID: "dep-1", StackName: "web"}, rfsReq("web", "metadata", nil), RFS, "dep-1"},
		{"RFS events", OperationSpec{Service: RFS, ID: "dep-1", StackName: "web"}, rfsReq("web", "events", map[string]string{"deployment_id": "dep-1"}), RFS, "dep-1"},
		{"CCE list", OperationSpec{Service: CCE, ID: "wf-1", ClusterID: "cl-1"}, req{path: cceListPath(testProject, "cl-1")}, CCE, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			spec := c.spec
			spec.ProjectID, spec.StartsIn = testProject, D(later)
			// A fault of the operation must not fire before it exists.
			spec.Faults = []Fault{{Kind: FaultError500, Count: 1}}
			e := newEnv(t, Config{Operations: []OperationSpec{spec}})
			empty := newEnv(t, Config{})
			wantStatus, wantBody, _ := empty.do(c.req)
			status, body, _ := e.do(c.req)
			if status != wantStatus || string(body) != string(wantBody) {
				t.Errorf("before the start: %d %s, want %d %s", status, body, wantStatus, wantBody)
			}
			if c.key != "" && e.sim.RequestCount(c.svc, c.key) != empty.sim.RequestCount(c.svc, c.key) {
				t.Errorf("counted under %s %s: %d, as unknown: %d", c.svc, c.key, e.sim.RequestCount(c.svc, c.key), empty.sim.RequestCount(c.svc, c.key))
			}
			st, err := e.sim.Operation(spec.Service, spec.Key())
			if err != nil || st.State != StateNotStarted || st.StartsIn.Duration != later || st.ServiceStatus != "" || st.Elapsed.Duration != 0 {
				t.Errorf("status before the start: %+v, %v", st, err)
			}

			// 1s before the start it is still unknown; at the start it
			// exists, at the beginning of its timeline.
			if err := e.sim.Advance(later - time.Second); err != nil {
				t.Fatal(err)
			}
			if status, body, _ = e.do(c.req); status != wantStatus || string(body) != string(wantBody) {
				t.Errorf("1s before the start: %d %s", status, body)
			}
			before := e.sim.RequestCount(c.svc, c.key)
			if err := e.sim.Advance(time.Second); err != nil {
				t.Fatal(err)
			}
			if status, body, _ = e.do(c.req); status != http.StatusInternalServerError {
				t.Errorf("at the start, the operation's fault: %d %s", status, body)
			}
			if status, body, _ = e.do(c.req); status != http.StatusOK || string(body) == string(wantBody) {
				t.Errorf("at the start: %d %s", status, body)
			}
			st, _ = e.sim.Operation(spec.Service, spec.Key())
			if st.State != StateRunning && st.State != StateWaiting || st.Elapsed.Duration != 0 || st.StartsIn.Duration != 0 || st.Progress != 0 {
				t.Errorf("status at the start: %+v", st)
			}
			if c.key != "" && e.sim.RequestCount(c.svc, c.key) != before+2 {
				t.Errorf("requests after the start: %d", e.sim.RequestCount(c.svc, c.key))
			}
		})
	}
}

// TestStartsInConfig: startsIn is read from the scenario file and the
// admin API, validated, and shown in the operation views.
func TestStartsInConfig(t *testing.T) {
	cfg, err := ParseConfig([]byte(`
accounts: [{accessKey: AK, secretKey: SK, projectIDs: [p1]}]
operations:
  - {service: ECS, id: job-1, projectID: p1, startsIn: 10m}
  - {service: ECS, id: job-2, projectID: p1}
`))
	if err != nil {
		t.Fatal(err)
	}
	sim, err := New(cfg, WithClock(func() time.Time { return t0 }))
	if err != nil {
		t.Fatal(err)
	}
	ops := sim.Operations(ECS)
	if len(ops) != 2 || ops[0].State != StateNotStarted || ops[0].StartsIn.Duration != 10*time.Minute || ops[1].State == StateNotStarted {
		t.Errorf("operations %+v", ops)
	}
	b, _ := json.Marshal(ops[0])
	if !strings.Contains(string(b), `"state":"NotStarted"`) || !strings.Contains(string(b), `"startsIn":"10m0s"`) {
		t.Errorf("JSON %s", b)
	}
	if b, _ = json.Marshal(ops[1]); strings.Contains(string(b), "startsIn") {
		t.Errorf("a started operation shows startsIn: %s", b)
	}

	for _, bad := range []struct{ yaml, want string }{
		{`{service: ECS, id: j, projectID: p1, startsIn: -1m}`, "startsIn is negative"},
		{`{service: ECS, id: j, projectID: p1, startsIn: 1m, startedAgo: 1m}`, "startsIn and startedAgo exclude each other"},
		{`{service: CCE, id: j, projectID: p1, clusterID: c, params: {traceName: createX}}`, "params.traceName applies to the jobs"},
		{`{service: ECS, id: j, projectID: p1, params: {traceName: 1abc}}`, "must start with a letter"},
	} {
		_, err := ParseConfig([]byte("operations: [" + bad.yaml + "]"))
		if err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("%s: %v, want %q", bad.yaml, err, bad.want)
		}
	}

	e := newEnv(t, Config{})
	e.admin("POST", "/admin/operations", `{"service":"CCE","id":"wf-1","projectID":"`+testProject+`","clusterID":"cl-1","startsIn":"90s"}`, 201, nil)
	var st OperationStatus
	e.admin("GET", "/admin/operations/CCE/wf-1", "", 200, &st)
	if st.State != StateNotStarted || st.StartsIn.Duration != 90*time.Second {
		t.Errorf("admin status %+v", st)
	}
	e.admin("POST", "/admin/operations", `{"service":"CCE","id":"wf-2","projectID":"`+testProject+`","clusterID":"cl-1","startsIn":"-5s"}`, 400, nil)
	e.admin("POST", "/admin/advance", `{"by":"90s"}`, 200, nil)
	e.admin("GET", "/admin/operations/CCE/wf-1", "", 200, &st)
	if st.State != StateRunning || st.Elapsed.Duration != 0 {
		t.Errorf("admin status after advance %+v", st)
	}
}

func cceListPath(project, cluster string) string {
	return "/api/v3/projects/" + project + "/clusters/" + cluster + "/operation/upgradeworkflows"
}

// cceList GETs a cluster's upgrade workflows, checks that the SDK's model
// knows every field, and returns the raw items too.
func (e *env) cceList(project, cluster string) (ccemodel.ListUpgradeWorkFlowsResponse, []json.RawMessage) {
	e.t.Helper()
	status, body, _ := e.do(req{path: cceListPath(project, cluster)})
	if status != http.StatusOK {
		e.t.Fatalf("CCE list of %s: %d %s", cluster, status, body)
	}
	var l ccemodel.ListUpgradeWorkFlowsResponse
	assertSDKFields(e.t, body, &l)
	var raw struct {
		Items []json.RawMessage `json:"items"`
	}
	if err := json.Unmarshal(body, &raw); err != nil || raw.Items == nil {
		e.t.Fatalf("items of %s: %v", body, err)
	}
	return l, raw.Items
}

// TestCCEListUpgradeWorkFlows: the list has the cluster's started
// upgrade workflows, newest first, each exactly as its own GET answers,
// and counts as a list call, not as a request of any workflow.
func TestCCEListUpgradeWorkFlows(t *testing.T) {
	e := newEnv(t, Config{Operations: []OperationSpec{
		{Service: CCE, ID: "wf-old", ProjectID: testProject, ClusterID: "cl-1", StartedAgo: D(time.Hour)},
		{Service: CCE, ID: "wf-new", ProjectID: testProject, ClusterID: "cl-1", Scenario: ScenarioFail},
		{Service: CCE, ID: "wf-later", ProjectID: testProject, ClusterID: "cl-1", StartsIn: D(time.Minute)},
		{Service: CCE, ID: "wf-other", ProjectID: testProject, ClusterID: "cl-2"},
		{Service: CCE, Type: TypeJob, ID: "job-1", ProjectID: testProject, ClusterID: "cl-1"},
		{Service: DWS, ID: "RESTORING", ProjectID: testProject, ClusterID: "cl-1"},
	}})
	e.clock.Step(25 * time.Second)
	ids := func(l ccemodel.ListUpgradeWorkFlowsResponse) []string {
		var out []string
		for _, wf := range *l.Items {
			out = append(out, *wf.Metadata.Uid)
		}
		return out
	}
	l, raw := e.cceList(testProject, "cl-1")
	if *l.Kind != "List" || *l.ApiVersion != "v3" || !reflect.DeepEqual(ids(l), []string{"wf-new", "wf-old"}) {
		t.Fatalf("list %v", l)
	}
	for i, id := range ids(l) {
		_, one, _ := e.do(req{path: ccePath(testProject, "cl-1", id)})
		var a, b any
		_ = json.Unmarshal(raw[i], &a)
		_ = json.Unmarshal(one, &b)
		if !reflect.DeepEqual(a, b) {
			t.Errorf("item %s: %s, its GET: %s", id, raw[i], one)
		}
	}
	if (*l.Items)[0].Status.Phase.Value() != "Running" || (*l.Items)[1].Status.Phase.Value() != "Success" {
		t.Errorf("phases %v", l.Items)
	}

	// The StartsIn workflow joins the list, at the top, when it starts.
	if err := e.sim.Advance(time.Minute); err != nil {
		t.Fatal(err)
	}
	if l, _ = e.cceList(testProject, "cl-1"); !reflect.DeepEqual(ids(l), []string{"wf-later", "wf-new", "wf-old"}) {
		t.Errorf("after wf-later started: %v", ids(l))
	}
	// A cluster without workflows, known or not: an empty list.
	if l, raw = e.cceList(testProject, "cl-9"); len(*l.Items) != 0 || len(raw) != 0 {
		t.Errorf("unknown cluster: %v", l)
	}
	if l, _ = e.cceList(testProject, "cl-2"); !reflect.DeepEqual(ids(l), []string{"wf-other"}) {
		t.Errorf("cl-2: %v", ids(l))
	}

	// Counting: as list calls of the cluster, never as a workflow's.
	if n := e.sim.ListCount(CCE, testProject+"/cl-1"); n != 2 {
		t.Errorf("list calls of cl-1: %d", n)
	}
	if n := e.sim.ListCount(CCE, testProject+"/cl-9"); n != 1 {
		t.Errorf("list calls of cl-9: %d", n)
	}
	if n := e.sim.RequestCount(CCE, "wf-new"); n != 1 {
		t.Errorf("wf-new counted %d (its own GET only)", n)
	}
	if c := e.sim.Counts(); c.Lists[CCE][testProject+"/cl-2"].Total != 1 || c.Services[CCE].Total != 6 {
		t.Errorf("counts lists %v, CCE %v", c.Lists, c.Services[CCE])
	}

	// Auth and project checks, and the workflows' faults, as for a GET.
	if status, body, _ := e.do(req{path: cceListPath("otherproject", "cl-1")}); status != http.StatusForbidden {
		t.Errorf("another project: %d %s", status, body)
	}
	if err := e.sim.SetFaults(CCE, "wf-old", Fault{Kind: FaultNotFound, Count: 1}); err != nil {
		t.Fatal(err)
	}
	status, body, _ := e.do(req{path: cceListPath(testProject, "cl-1")})
	if eb := errBody(t, body); status != http.StatusNotFound || eb.ErrorCode != "CCE.01404001" || eb.ErrorMsg != "Cluster cl-1 not found" {
		t.Errorf("notfound fault on a workflow of the cluster: %d %s", status, body)
	}
	if n := e.sim.RequestCount(CCE, "wf-old"); n != 1 {
		t.Errorf("the fault's list call counted for wf-old: %d requests (1: its GET)", n)
	}
}

// TestListCounts: list calls count per listed resource, the BCS and RFS
// calls that address one operation do not, and the admin API shows them.
func TestListCounts(t *testing.T) {
	e := newEnv(t, Config{Operations: []OperationSpec{
		{Service: BCS, ID: "op-1", ProjectID: testProject, BlockchainID: "bc-1"},
		{Service: RFS, ID: "dep-1", ProjectID: testProject, StackName: "web"},
	}})
	e.do(req{path: bcsPath(testProject)})
	e.do(req{path: bcsPath(testProject), query: map[string]string{"blockchain_id": "bc-1"}})
	e.do(req{path: bcsPath(testProject), query: map[string]string{"operation_id": "op-1"}})
	e.do(rfsReq("web", "events", nil))
	e.do(rfsReq("web", "events", map[string]string{"deployment_id": "dep-1"}))
	e.do(rfsReq("web", "metadata", nil))
	e.do(rfsReq("nostack", "events", nil))
	for _, c := range []struct {
		svc      Service
		resource string
		want     int
	}{
		{BCS, testProject, 2},
		{BCS, testProject + "/bc-1", 1},
		{RFS, testProject + "/web", 1},
		{RFS, testProject + "/nostack", 1},
		{CCE, testProject + "/cl-1", 0},
	} {
		if got := e.sim.ListCount(c.svc, c.resource); got != c.want {
			t.Errorf("ListCount(%s, %s) = %d, want %d", c.svc, c.resource, got, c.want)
		}
	}
	// The per-operation counts are as before: the RFS list call counts
	// under the stack's deployment, BCS lists only with operation_id.
	if e.sim.RequestCount(BCS, "op-1") != 1 || e.sim.RequestCount(RFS, "dep-1") != 3 {
		t.Errorf("op-1 %d, dep-1 %d", e.sim.RequestCount(BCS, "op-1"), e.sim.RequestCount(RFS, "dep-1"))
	}
	var c struct {
		Lists map[string]map[string]RequestCounts `json:"lists"`
	}
	e.admin("GET", "/admin/counts", "", 200, &c)
	if c.Lists["BCS"][testProject+"/bc-1"].Total != 1 || c.Lists["RFS"][testProject+"/web"].ByStatus[200] != 1 {
		t.Errorf("admin lists %v", c.Lists)
	}
	e.sim.ResetCounts()
	if e.sim.ListCount(BCS, testProject) != 0 {
		t.Error("list counts survived ResetCounts")
	}
}
