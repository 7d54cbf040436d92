package cloudsim

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/huaweicloud/huaweicloud-sdk-go-v3/core/utils"
	bcsmodel "github.com/huaweicloud/huaweicloud-sdk-go-v3/services/bcs/v2/model"
	ccemodel "github.com/huaweicloud/huaweicloud-sdk-go-v3/services/cce/v3/model"
	dwsmodel "github.com/huaweicloud/huaweicloud-sdk-go-v3/services/dws/v2/model"
)

var update = flag.Bool("update", false, "rewrite testdata/golden files")

// sdkDecode decodes like the SDK's client does (jsoniter, UseNumber), into
// the SDK's own response models: what the SDK cannot read, cloudop's SDK
// based code could not either.
func sdkDecode(t *testing.T, body []byte, v any) {
	t.Helper()
	if err := utils.Unmarshal(body, v); err != nil {
		t.Fatalf("SDK model cannot decode %s: %v", body, err)
	}
}

func (e *env) bcsList(query map[string]string) bcsmodel.ListOpRecordResponse {
	e.t.Helper()
	status, body, _ := e.do(req{path: bcsPath(testProject), query: query})
	if status != http.StatusOK {
		e.t.Fatalf("BCS list: %d %s", status, body)
	}
	var out bcsmodel.ListOpRecordResponse
	sdkDecode(e.t, body, &out)
	return out
}

func (e *env) cceWorkflow(cluster, id string) ccemodel.ShowUpgradeWorkFlowResponse {
	e.t.Helper()
	status, body, _ := e.do(req{path: ccePath(testProject, cluster, id)})
	if status != http.StatusOK {
		e.t.Fatalf("CCE: %d %s", status, body)
	}
	var out ccemodel.ShowUpgradeWorkFlowResponse
	sdkDecode(e.t, body, &out)
	return out
}

func (e *env) dwsAction(cluster, action string, headers map[string]string) dwsmodel.ListClusterActionsResponse {
	e.t.Helper()
	status, body, _ := e.do(req{path: dwsPath(testProject, cluster, action), headers: headers})
	if status != http.StatusOK {
		e.t.Fatalf("DWS: %d %s", status, body)
	}
	var out dwsmodel.ListClusterActionsResponse
	sdkDecode(e.t, body, &out)
	return out
}

// aosExec decodes an AOS execution generically (the SDK has no model).
func (e *env) aosExec(stack, id string) map[string]any {
	e.t.Helper()
	var out map[string]any
	e.getJSON(aosReq(stack, id), &out)
	return out
}

func dig(v any, path ...string) any {
	for _, p := range path {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[p]
	}
	return v
}

// TestStatusWordsOverTime walks every service through every scenario and
// checks the status word the API reports at several instants.
func TestStatusWordsOverTime(t *testing.T) {
	scenarios := []ScenarioKind{ScenarioSuccess, ScenarioFail, ScenarioResume, ScenarioCancel, ScenarioNever, ScenarioUnknownStatus}
	var ops []OperationSpec
	for _, k := range scenarios {
		id := strings.ReplaceAll(string(k), "-", "")
		ops = append(ops,
			OperationSpec{Service: BCS, ID: "bcs-" + id, ProjectID: testProject, Scenario: k},
			OperationSpec{Service: CCE, ID: "cce-" + id, ProjectID: testProject, ClusterID: "cl-1", Scenario: k},
			OperationSpec{Service: AOS, ID: "aos-" + id, ProjectID: testProject, StackID: "st-1", Scenario: k},
			OperationSpec{Service: DWS, ID: "RESTORING", ProjectID: testProject, ClusterID: "cl-" + id, Scenario: k},
		)
	}
	e := newEnv(t, Config{Operations: ops})

	// Default steps are 10s each. BCS: Preparation 0-10s, Create Other
	// Dependent Resource 10-30s (focus), Deploy Blockchain 30-50s. CCE:
	// PreCheck, Snapshot, Cluster (focus, 20-30s), PostCheck. AOS:
	// hello-app, hello-package (focus, 10-20s), hello-component. DWS
	// RESTORING: Prepare 0-10s, Restore 10-30s (focus).
	type want struct{ bcs, cce, aos, dws string }
	table := map[ScenarioKind]map[time.Duration]want{
		ScenarioSuccess: {
			5 * time.Second:   {"processing", "Running", "Running", "RUNNING"},
			25 * time.Second:  {"processing", "Running", "Running", "RUNNING"},
			200 * time.Second: {"finished", "Success", "Succeeded", "SUCCESS"},
		},
		ScenarioFail: {
			5 * time.Second:   {"processing", "Running", "Running", "RUNNING"},
			25 * time.Second:  {"processing", "Running", "Failed", "RUNNING"},
			200 * time.Second: {"failed", "Pending", "Failed", "FAILED"},
		},
		ScenarioResume: {
			5 * time.Second:   {"processing", "Running", "Running", "RUNNING"},
			60 * time.Second:  {"failed", "Pending", "Failed", "FAILED"},
			85 * time.Second:  {"failed", "Pending", "Running", "FAILED"},
			200 * time.Second: {"finished", "Success", "Succeeded", "SUCCESS"},
		},
		ScenarioCancel: {
			5 * time.Second:   {"processing", "Running", "Running", "RUNNING"},
			25 * time.Second:  {"stop", "Cancel", "Cancelled", "ROLLBACK_SUCCESS"},
			200 * time.Second: {"stop", "Cancel", "Cancelled", "ROLLBACK_SUCCESS"},
		},
		ScenarioNever: {
			5 * time.Second:   {"processing", "Running", "Running", "RUNNING"},
			200 * time.Second: {"processing", "Running", "Running", "RUNNING"},
		},
		ScenarioUnknownStatus: {
			5 * time.Second:   {"processing", "Running", "Running", "RUNNING"},
			25 * time.Second:  {"paused", "Paused", "Paused", "PAUSED"},
			200 * time.Second: {"paused", "Paused", "Paused", "PAUSED"},
		},
	}
	for _, at := range []time.Duration{5 * time.Second, 25 * time.Second, 60 * time.Second, 85 * time.Second, 200 * time.Second} {
		e.clock.SetTime(t0.Add(at))
		records := map[string]string{}
		for _, r := range *e.bcsList(nil).OperationRecords {
			records[*r.OperationId] = *r.OperationStatus
		}
		for _, k := range scenarios {
			w, ok := table[k][at]
			if !ok {
				continue
			}
			id := strings.ReplaceAll(string(k), "-", "")
			got := want{
				bcs: records["bcs-"+id],
				cce: e.cceWorkflow("cl-1", "cce-"+id).Status.Phase.Value(),
				aos: fmt.Sprint(dig(e.aosExec("st-1", "aos-"+id), "status", "objectStatus", "phase")),
				dws: *e.dwsAction("cl-"+id, "RESTORING", nil).Status,
			}
			if got != w {
				t.Errorf("%s at %s: got %+v, want %+v", k, at, got, w)
			}
		}
	}
}

func TestBCSShape(t *testing.T) {
	e := newEnv(t, Config{Operations: []OperationSpec{
		{Service: BCS, ID: "op-fail", ProjectID: testProject, BlockchainID: "bc-1", Scenario: ScenarioFail,
			Params: Params{Message: "EIP quota exceeded"}},
		{Service: BCS, ID: "op-ok", ProjectID: testProject, BlockchainID: "bc-2", ClusterID: "cce-cluster-1",
			Params: Params{ResourceType: "PLUGIN01", OperationType: "01", BlockchainName: "chain", ClusterName: "cce-a"}},
		{Service: BCS, ID: "op-elsewhere", ProjectID: "otherproject"},
	}})
	e.clock.SetTime(t0.Add(35 * time.Second))

	all := e.bcsList(nil)
	if *all.Count != 2 || len(*all.OperationRecords) != 2 {
		t.Fatalf("count %d, want the 2 operations of the project", *all.Count)
	}
	rec := (*all.OperationRecords)[0]
	if *rec.OperationId != "op-fail" || *rec.OperationStatus != "failed" || *rec.DomainId != "d0123456789abcdef" ||
		*rec.ProjectId != testProject || *rec.BlockchainId != "bc-1" || *rec.RecordTime != t0.UnixNano() {
		t.Errorf("record = %v", rec)
	}
	if rec.Message == nil || (*rec.Message)[0] != "EIP quota exceeded" {
		t.Errorf("message = %v", rec.Message)
	}
	step := rec.OperationProcess["Create Other Dependent Resource"]
	sub := step.SubSteps["Create network storage"]
	if *step.Status != "failed" || *step.SerialNum != 2 || *sub.Status != "failed" || *sub.Detail != "EIP quota exceeded" ||
		*sub.StartTime != t0.Add(20*time.Second).UnixNano() || *sub.EndTime != t0.Add(30*time.Second).UnixNano() {
		t.Errorf("failed step = %v", step)
	}
	next := rec.OperationProcess["Deploy Blockchain"]
	if *next.Status != "" || *next.Detail != "waiting" || *next.SubSteps["Deploy peer nodes"].StartTime != 0 ||
		*next.SubSteps["Deploy peer nodes"].Detail != "waiting" {
		t.Errorf("step not started = %v", next)
	}
	ok := (*all.OperationRecords)[1]
	if *ok.ResourceType != "PLUGIN01" || *ok.OperationType != "01" || *ok.BlockchainName != "chain" ||
		*ok.ClusterInfo.ClusterId != "cce-cluster-1" || *ok.ClusterInfo.Name != "cce-a" || *ok.OperationStatus != "processing" {
		t.Errorf("record = %v", ok)
	}

	filters := []struct {
		query map[string]string
		want  []string
	}{
		{map[string]string{"operation_id": "op-ok"}, []string{"op-ok"}},
		{map[string]string{"operation_id": "op-nope"}, nil},
		{map[string]string{"operation_id": "op-elsewhere"}, nil},
		{map[string]string{"blockchain_id": "bc-1"}, []string{"op-fail"}},
		{map[string]string{"operation_status": "processing"}, []string{"op-ok"}},
		{map[string]string{"operation_status": "failed", "blockchain_id": "bc-2"}, nil},
		{map[string]string{"resource_type": "PLUGIN01"}, []string{"op-ok"}},
		{map[string]string{"operation_type": "99"}, []string{"op-fail"}},
	}
	for _, f := range filters {
		got := e.bcsList(f.query)
		var ids []string
		for _, r := range *got.OperationRecords {
			ids = append(ids, *r.OperationId)
		}
		if int(*got.Count) != len(f.want) || strings.Join(ids, ",") != strings.Join(f.want, ",") {
			t.Errorf("filter %v: count %d ids %v, want %v", f.query, *got.Count, ids, f.want)
		}
	}
}

var cceTimeRE = regexp.MustCompile(`^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(\.\d{1,6})? \+0000 UTC$`)

func TestCCEShape(t *testing.T) {
	e := newEnv(t, Config{Operations: []OperationSpec{
		{Service: CCE, ID: "wf-1", ProjectID: testProject, ClusterID: "cl-1", Scenario: ScenarioResume,
			StartedAgo: D(1500 * time.Millisecond), Params: Params{ResumeAfter: D(time.Minute), TargetVersion: "v1.31.1-r0"}},
	}})
	start := t0.Add(-1500 * time.Millisecond)
	ts := func(d time.Duration) string { return cceTime(start.Add(d)) }

	e.clock.SetTime(start.Add(25 * time.Second))
	wf := e.cceWorkflow("cl-1", "wf-1")
	if *wf.Kind != "WorkFlowTask" || *wf.ApiVersion != "v3" || *wf.Metadata.Uid != "wf-1" ||
		*wf.Metadata.CreationTimestamp != ts(0) || *wf.Metadata.UpdateTimestamp != ts(20*time.Second) ||
		*wf.Spec.ClusterID != "cl-1" || wf.Spec.TargetVersion != "v1.31.1-r0" || wf.Status.Phase.Value() != "Running" {
		t.Errorf("workflow = %v", wf)
	}
	if !cceTimeRE.MatchString(*wf.Metadata.CreationTimestamp) || !strings.Contains(*wf.Metadata.CreationTimestamp, ".5 +0000") {
		t.Errorf("creationTimestamp %q not in CCE's format", *wf.Metadata.CreationTimestamp)
	}
	pts := *wf.Status.PointStatuses
	if len(pts) != 4 || pts[0].TaskType.Value() != "PreCheck" || pts[0].Status.Value() != "Success" ||
		*pts[0].EndTimeStamp != ts(10*time.Second) || *pts[0].ExpireTimeStamp != ts(10*time.Second+time.Hour) {
		t.Errorf("PreCheck = %v", pts[0])
	}
	if pts[2].TaskType.Value() != "Cluster" || pts[2].Status.Value() != "Running" || *pts[2].StartTimeStamp != ts(20*time.Second) || pts[2].EndTimeStamp != nil {
		t.Errorf("Cluster = %v", pts[2])
	}
	if pts[3].TaskType.Value() != "PostCheck" || pts[3].TaskID != nil || pts[3].Status != nil {
		t.Errorf("a task not started has only its type: %v", pts[3])
	}
	lines := *wf.Status.LineStatuses
	if len(lines) != 3 || lines[2].StartPoint.TaskType.Value() != "Cluster" || lines[2].EndPoint.TaskType.Value() != "PostCheck" {
		t.Errorf("lineStatuses = %v", lines)
	}
	firstRun := *pts[2].TaskID

	e.clock.SetTime(start.Add(60 * time.Second)) // failed, waiting to resume
	wf = e.cceWorkflow("cl-1", "wf-1")
	pts = *wf.Status.PointStatuses
	if wf.Status.Phase.Value() != "Pending" || pts[2].Status.Value() != "Failed" || *pts[2].EndTimeStamp != ts(30*time.Second) {
		t.Errorf("at 60s: phase %s, Cluster %v", wf.Status.Phase.Value(), pts[2])
	}

	e.clock.SetTime(start.Add(95 * time.Second)) // resumed at 90s
	wf = e.cceWorkflow("cl-1", "wf-1")
	pts = *wf.Status.PointStatuses
	if wf.Status.Phase.Value() != "Running" || pts[2].Status.Value() != "Running" || *pts[2].StartTimeStamp != ts(90*time.Second) ||
		*pts[2].TaskID == firstRun {
		t.Errorf("at 95s: phase %s, Cluster %v", wf.Status.Phase.Value(), pts[2])
	}

	e.clock.SetTime(start.Add(time.Hour))
	if wf = e.cceWorkflow("cl-1", "wf-1"); wf.Status.Phase.Value() != "Success" || (*wf.Status.PointStatuses)[3].Status.Value() != "Success" {
		t.Errorf("at 1h: %v", wf.Status)
	}

	// An unknown workflow, or the right one on the wrong cluster, is a
	// service 404 in both CCE error shapes.
	for _, p := range []string{ccePath(testProject, "cl-1", "wf-2"), ccePath(testProject, "cl-2", "wf-1")} {
		status, body, _ := e.do(req{path: p})
		eb := errBody(t, body)
		if status != 404 || eb.ErrorCode != "CCE.01404001" || eb.CCEErrorCode != "CCE.01404001" || eb.CCEErrorMsg == "" {
			t.Errorf("%s: %d %s", p, status, body)
		}
	}
}

func TestAOSShape(t *testing.T) {
	e := newEnv(t, Config{Operations: []OperationSpec{
		{Service: AOS, ID: "trim-4074942376", ProjectID: testProject, StackID: "cb2cdea0-cc70-11e6-8448-0242ac001004",
			Scenario: ScenarioFail, Params: Params{StackName: "trim", Message: "quota exceeded"}},
	}})
	stack := "cb2cdea0-cc70-11e6-8448-0242ac001004"
	e.clock.SetTime(t0.Add(15 * time.Second))
	ex := e.aosExec(stack, "trim-4074942376")
	checks := map[string]any{
		"kind":                                            "Execution",
		"apiVersion":                                      "paas/v1alpha1",
		"metadata/name":                                   "trim-4074942376",
		"metadata/namespace":                              testProject,
		"metadata/creationTimestamp":                      "2025-05-19T09:05:10Z",
		"metadata/labels/stackname":                       "trim",
		"spec/objectReference/uid":                        stack,
		"spec/objectReference/name":                       "trim",
		"spec/actionName":                                 "create",
		"status/progress":                                 float64(50),
		"status/objectStatus/phase":                       "Running",
		"status/subObjectStatuses/hello-app/phase":        "Succeeded",
		"status/subObjectStatuses/hello-app/updateAt":     "2025-05-19T09:05:20Z",
		"status/subObjectStatuses/hello-app/createAt":     "2025-05-19T09:05:10Z",
		"status/subObjectStatuses/hello-component/phase":  "Running",
		"status/subObjectStatuses/hello-package/phase":    "Pending",
		"status/subObjectStatuses/hello-package/createAt": nil,
	}
	for path, want := range checks {
		if got := dig(ex, strings.Split(path, "/")...); got != want {
			t.Errorf("at 15s %s = %v, want %v", path, got, want)
		}
	}
	if dig(ex, "spec", "metadata", "creationTimestamp") != nil {
		t.Error("spec.metadata.creationTimestamp should be null as in the reference")
	}

	e.clock.SetTime(t0.Add(time.Minute))
	ex = e.aosExec(stack, "trim-4074942376")
	checks = map[string]any{
		"status/objectStatus/phase":                        "Failed",
		"status/objectStatus/message":                      "quota exceeded",
		"status/objectStatus/reason":                       "ExecutionFailed",
		"status/objectStatus/updateAt":                     "2025-05-19T09:05:30Z",
		"status/progress":                                  float64(66),
		"status/subObjectStatuses/hello-component/phase":   "Failed",
		"status/subObjectStatuses/hello-component/message": "quota exceeded",
	}
	for path, want := range checks {
		if got := dig(ex, strings.Split(path, "/")...); got != want {
			t.Errorf("at 1m %s = %v, want %v", path, got, want)
		}
	}
	if _, err := time.Parse(time.RFC3339, fmt.Sprint(dig(ex, "status", "objectStatus", "updateAt"))); err != nil {
		t.Error(err)
	}
}

func TestDWSShape(t *testing.T) {
	e := newEnv(t, Config{Operations: []OperationSpec{
		{Service: DWS, ID: "RESTORING", ProjectID: testProject, ClusterID: "cl-1", Params: Params{ClusterName: "cluster_779"}},
		{Service: DWS, ID: "RESTORING", ProjectID: testProject, ClusterID: "cl-2", Params: Params{UnknownEstimate: true}},
		{Service: DWS, ID: "SNAPSHOTTING_FAILED", ProjectID: testProject, ClusterID: "cl-1", Scenario: ScenarioFail,
			Params: Params{Message: "host-172-16-13-211 FAILED"}},
	}})
	e.clock.SetTime(t0.Add(12*time.Second + 500*time.Millisecond))
	a := e.dwsAction("cl-1", "RESTORING", nil)
	if *a.ActionName != "RESTORING" || *a.Status != "RUNNING" || *a.ClusterName != "cluster_779" || *a.SubmitTime != "2025-05-19 09:05:10.0" || len(*a.Id) != 36 {
		t.Errorf("action = %v", a)
	}
	items := *a.Items
	if len(items) != 2 || *items[0].ItemName != "Prepare" || *items[1].ItemName != "Restore" {
		t.Fatalf("items = %v", items)
	}
	done, running, waiting := (*items[0].SubItems)[0], (*items[1].SubItems)[0], (*items[1].SubItems)[1]
	if *done.Status != "SUCCESS" || *done.BeginTime != "2025-05-19 09:05:10.0" || *done.EndTime != "2025-05-19 09:05:20.0" || *done.EstimatedTime != -1 {
		t.Errorf("finished sub-item = %v", done)
	}
	// 2.5s into a 10s sub-item: 7.5s left, rounded up.
	if *running.Status != "RUNNING" || *running.SubItemName != "Restore metadata" || running.EndTime != nil || *running.EstimatedTime != 8 {
		t.Errorf("running sub-item = %v", running)
	}
	if *waiting.Status != "WAITING" || waiting.BeginTime != nil || waiting.Detail != nil || *waiting.EstimatedTime != -1 {
		t.Errorf("waiting sub-item = %v", waiting)
	}
	// detail is a JSON string holding a JSON string.
	var outer struct {
		ProgressInfo string `json:"progressInfo"`
	}
	if err := json.Unmarshal([]byte(*running.Detail), &outer); err != nil {
		t.Fatalf("detail %q: %v", *running.Detail, err)
	}
	var info map[string]any
	if err := json.Unmarshal([]byte(outer.ProgressInfo), &info); err != nil {
		t.Fatalf("progressInfo %q: %v", outer.ProgressInfo, err)
	}
	if info["progress"] != "25.00%" || info["currentStep"] != "RUNNING" || info["actionType"] != "Restore" {
		t.Errorf("progressInfo = %v", info)
	}

	// At speed 2 the same simulated time left takes half the real time.
	if err := e.sim.SetSpeed(2); err != nil {
		t.Fatal(err)
	}
	if got := *(*e.dwsAction("cl-1", "RESTORING", nil).Items)[1].SubItems; *got[0].EstimatedTime != 4 {
		t.Errorf("estimated_time at speed 2 = %d, want 4", *got[0].EstimatedTime)
	}
	if got := *(*e.dwsAction("cl-2", "RESTORING", nil).Items)[1].SubItems; *got[0].EstimatedTime != -1 {
		t.Errorf("unknownEstimate: estimated_time = %d, want -1", *got[0].EstimatedTime)
	}

	zh := e.dwsAction("cl-1", "RESTORING", map[string]string{"X-Language": "zh-cn"})
	if *(*zh.Items)[1].ItemName != "恢复" || *(*(*zh.Items)[1].SubItems)[0].SubItemName != "恢复元数据" {
		t.Errorf("x-language zh-cn: %v", zh.Items)
	}

	e.clock.SetTime(t0.Add(time.Hour))
	f := e.dwsAction("cl-1", "SNAPSHOTTING_FAILED", nil)
	sub := (*(*f.Items)[0].SubItems)[0]
	if *f.Status != "FAILED" || *sub.Status != "FAILED" || *sub.EstimatedTime != -1 {
		t.Errorf("failed action = %v", f)
	}
	if err := json.Unmarshal([]byte(*sub.Detail), &outer); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal([]byte(outer.ProgressInfo), &info); err != nil {
		t.Fatal(err)
	}
	if info["errorMsg"] != "host-172-16-13-211 FAILED" || info["failedStep"] != "EXECUTE_BACKUP" || info["progress"] != "100.00%" {
		t.Errorf("failed progressInfo = %v", info)
	}

	status, body, _ := e.do(req{path: dwsPath(testProject, "cl-1", "GROWING")})
	if eb := errBody(t, body); status != 404 || eb.ErrorCode != "DWS.0001" {
		t.Errorf("unknown action: %d %s", status, body)
	}
}

func TestTimeFormats(t *testing.T) {
	at := time.Date(2023, 11, 25, 6, 32, 34, 923248123, time.UTC)
	if got := cceTime(at); got != "2023-11-25 06:32:34.923248 +0000 UTC" {
		t.Errorf("cceTime = %q", got)
	}
	for in, want := range map[time.Time]string{
		time.Date(2025, 5, 19, 9, 6, 18, 0, time.UTC):           "2025-05-19 09:06:18.0",
		time.Date(2025, 5, 19, 9, 6, 18, 120_000_000, time.UTC): "2025-05-19 09:06:18.12",
		time.Date(2025, 5, 19, 9, 6, 18, 7_654_321, time.UTC):   "2025-05-19 09:06:18.007",
	} {
		if got := dwsTime(in); got != want {
			t.Errorf("dwsTime(%s) = %q, want %q", in, got, want)
		}
	}
}

// TestGolden pins each service's complete answer at one instant, so any
// change to field names, nesting, types or formats shows up as a diff.
// Regenerate with: go test ./internal/cloudsim -run TestGolden -update
func TestGolden(t *testing.T) {
	e := newEnv(t, Config{Operations: []OperationSpec{
		{Service: BCS, ID: "BCSSVC01-99-1618218591906093855", ProjectID: testProject, BlockchainID: "23604f57-eac9-3777-e9f5-ae87457f2338", Scenario: ScenarioFail},
		{Service: CCE, ID: "c271e39e-1a6e-4d3d-8fa8-2a36329c68d1", ProjectID: testProject, ClusterID: "b4b9e60f-8aa2-11ee-af09-0255ac10004f", Scenario: ScenarioFail},
		{Service: AOS, ID: "trim-4074942376", ProjectID: testProject, StackID: "cb2cdea0-cc70-11e6-8448-0242ac001004", Params: Params{StackName: "trim"}},
		{Service: DWS, ID: "RESTORING", ProjectID: testProject, ClusterID: "9f76c502-fc9c-4a52-8656-65d0da6e3d57"},
		{Service: ECS, ID: "2c9eb2c5544cbf6101544f0602af2b4f", ProjectID: testProject, Params: Params{StepDuration: D(20 * time.Second)}},
		{Service: EVS, ID: "ff80808288d41e1b018a1a7f1c3f4d1d", ProjectID: testProject, Params: Params{StepDuration: D(20 * time.Second)}},
		{Service: IMS, ID: "ff8080814dbd65d7014dbe0d84db0013", ProjectID: testProject, Params: Params{StepDuration: D(20 * time.Second)}},
		{Service: BMS, ID: "2c9eb2c56a8e2a0f016a8f1ba3c90b6e", ProjectID: testProject, Params: Params{StepDuration: D(20 * time.Second)}},
		{Service: VPC, ID: "ff808082843684110184e155fdb36461", ProjectID: testProject, Scenario: ScenarioFail,
			Params: Params{Message: "Insufficient EIP quota: quota exceeded"}},
		{Service: CCE, Type: TypeJob, ID: "73ce052c-8b1b-11e8-8f9d-0255ac10193f", ProjectID: testProject,
			ClusterID: "6951bb4d-9628-11e8-8f9d-0255ac10193f", Params: Params{StepDuration: D(20 * time.Second), ClusterName: "cluster-test"}},
		{Service: RDS, ID: "dff1d289-4d03-4942-8b9f-463ea07c000d", ProjectID: testProject, Params: Params{StepDuration: D(time.Minute)}},
		{Service: GaussDB, ID: "31b8ae23-c687-4d80-b7b4-42a66c9bb886", ProjectID: testProject, Params: Params{Wait: D(time.Minute)}},
		{Service: DDS, ID: "c010abd0-48cf-4fa8-8cbc-090f093eaa2f", ProjectID: testProject, Params: Params{StepDuration: D(40 * time.Second)}},
		{Service: GaussDBforOpenGauss, ID: "a9767ede-fe0f-4888-9003-e843a4c90514", ProjectID: testProject},
		{Service: GaussDBforNoSQL, ID: "ee5e5b83-8a37-4a5e-8f2f-7e0c2d7c9b4e", ProjectID: testProject, Scenario: ScenarioFail,
			Params: Params{Message: "Insufficient quota: quota exceeded", InstanceName: "nosql-prod"}},
	}})
	e.clock.SetTime(t0.Add(25*time.Second + 923248*time.Microsecond))
	cases := []struct {
		name string
		r    req
	}{
		{"bcs_list_processing", req{path: bcsPath(testProject)}},
		{"cce_workflow_running", req{path: ccePath(testProject, "b4b9e60f-8aa2-11ee-af09-0255ac10004f", "c271e39e-1a6e-4d3d-8fa8-2a36329c68d1")}},
		{"aos_execution_running", aosReq("cb2cdea0-cc70-11e6-8448-0242ac001004", "trim-4074942376")},
		{"dws_action_running", req{path: dwsPath(testProject, "9f76c502-fc9c-4a52-8656-65d0da6e3d57", "RESTORING")}},
		{"ecs_job_running", req{path: jobPath(testProject, "2c9eb2c5544cbf6101544f0602af2b4f")}},
		{"evs_job_running", req{path: jobPath(testProject, "ff80808288d41e1b018a1a7f1c3f4d1d")}},
		{"ims_job_running", req{path: jobPath(testProject, "ff8080814dbd65d7014dbe0d84db0013")}},
		{"bms_job_running", req{path: jobPath(testProject, "2c9eb2c56a8e2a0f016a8f1ba3c90b6e")}},
		{"vpc_job_failed", req{path: jobPath(testProject, "ff808082843684110184e155fdb36461")}},
		{"cce_job_running", req{path: cceJobPath(testProject, "73ce052c-8b1b-11e8-8f9d-0255ac10193f")}},
		{"rds_job_running", dbJobReq(testProject, "dff1d289-4d03-4942-8b9f-463ea07c000d")},
		{"gaussdb_job_pending", dbJobReq(testProject, "31b8ae23-c687-4d80-b7b4-42a66c9bb886")},
		{"dds_job_running", dbJobReq(testProject, "c010abd0-48cf-4fa8-8cbc-090f093eaa2f")},
		{"gaussdbforopengauss_job_completed", dbJobReq(testProject, "a9767ede-fe0f-4888-9003-e843a4c90514")},
		{"gaussdbfornosql_job_failed", dbJobReq(testProject, "ee5e5b83-8a37-4a5e-8f2f-7e0c2d7c9b4e")},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			status, body, _ := e.do(c.r)
			if status != 200 {
				t.Fatalf("%d %s", status, body)
			}
			var pretty bytes.Buffer
			if err := json.Indent(&pretty, body, "", "  "); err != nil {
				t.Fatal(err)
			}
			pretty.WriteByte('\n')
			file := filepath.Join("testdata", "golden", c.name+".json")
			if *update {
				if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(file, pretty.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(file)
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			if !bytes.Equal(pretty.Bytes(), want) {
				t.Errorf("answer differs from %s:\n%s", file, pretty.String())
			}
		})
	}
}

func TestBCSNotFoundSetting(t *testing.T) {
	e := newEnv(t, Config{Settings: Settings{BCSNotFound: true}, Operations: []OperationSpec{
		{Service: BCS, ID: "op-1", ProjectID: testProject, BlockchainID: "bc-1"},
	}})
	status, body, _ := e.do(req{path: bcsPath(testProject), query: map[string]string{"operation_id": "op-2"}})
	if eb := errBody(t, body); status != 404 || eb.ErrorCode != "BCS.4040404" || eb.ErrorMsg != "Not Found:the url is not found" {
		t.Errorf("unknown operation_id: %d %s", status, body)
	}
	// Filters other than operation_id still answer an empty list.
	if got := e.bcsList(map[string]string{"blockchain_id": "bc-9"}); *got.Count != 0 {
		t.Errorf("count %d", *got.Count)
	}
	if got := e.bcsList(map[string]string{"operation_id": "op-1"}); *got.Count != 1 {
		t.Errorf("count %d", *got.Count)
	}
}
