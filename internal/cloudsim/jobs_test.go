package cloudsim

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"testing"
	"time"

	bmsmodel "github.com/huaweicloud/huaweicloud-sdk-go-v3/services/bms/v1/model"
	ccemodel "github.com/huaweicloud/huaweicloud-sdk-go-v3/services/cce/v3/model"
	ecsmodel "github.com/huaweicloud/huaweicloud-sdk-go-v3/services/ecs/v2/model"
	eipmodel "github.com/huaweicloud/huaweicloud-sdk-go-v3/services/eip/v2/model"
	evsmodel "github.com/huaweicloud/huaweicloud-sdk-go-v3/services/evs/v2/model"
	imsmodel "github.com/huaweicloud/huaweicloud-sdk-go-v3/services/ims/v2/model"
)

// assertSDKFields decodes body into the SDK's response model, encodes the
// model again and checks that every non-null field of body survived: a
// field the model does not know (a misspelt name) would be lost.
func assertSDKFields(t *testing.T, body []byte, model any) {
	t.Helper()
	sdkDecode(t, body, model)
	back, err := json.Marshal(model)
	if err != nil {
		t.Fatal(err)
	}
	var ours, theirs any
	if err := json.Unmarshal(body, &ours); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(back, &theirs); err != nil {
		t.Fatal(err)
	}
	if lost := lostFields("", ours, theirs); len(lost) > 0 {
		sort.Strings(lost)
		t.Errorf("fields the SDK model %T does not know: %v", model, lost)
	}
}

func lostFields(path string, ours, theirs any) []string {
	var lost []string
	switch o := ours.(type) {
	case map[string]any:
		tm, _ := theirs.(map[string]any)
		for k, v := range o {
			tv, ok := tm[k]
			switch {
			case v == nil:
			case !ok:
				lost = append(lost, path+"/"+k)
			default:
				lost = append(lost, lostFields(path+"/"+k, v, tv)...)
			}
		}
	case []any:
		ta, _ := theirs.([]any)
		for i, v := range o {
			if i >= len(ta) {
				return append(lost, fmt.Sprintf("%s[%d]", path, i))
			}
			lost = append(lost, lostFields(fmt.Sprintf("%s[%d]", path, i), v, ta[i])...)
		}
	}
	return lost
}

// classicJobCase is one classic job service: its SDK model, where its
// sub-jobs are, the field naming their resource, and its defaults.
type classicJobCase struct {
	svc      Service
	model    func() any
	subJobs  string
	resource string
	jobType  string
	subTypes [2]string
	failCode string
	// notYet is begin_time/end_time before they happen.
	notYet any
}

var classicJobCases = []classicJobCase{
	{ECS, func() any { return &ecsmodel.ShowJobResponse{} }, "sub_jobs", "server_id", "createServer",
		[2]string{"createSingleServer", "createSingleServer"}, "Ecs.0002", nil},
	{EVS, func() any { return &evsmodel.ShowJobResponse{} }, "sub_jobs", "volume_id", "batchCreateVolume",
		[2]string{"createVolume", "createVolume"}, "EVS.9999", ""},
	{IMS, func() any { return &imsmodel.ShowJobResponse{} }, "sub_jobs_result", "image_id", "imsImportOvaImageJob",
		[2]string{"imsImportImageJob", "imsImportDataImageJob"}, "IMG.9999", nil},
	{BMS, func() any { return &bmsmodel.ShowJobInfosResponse{} }, "sub_jobs", "server_id", "baremetalBatchCreate",
		[2]string{"baremetalSingleCreate", "baremetalSingleCreate"}, "BMS.9999", nil},
	{VPC, func() any { return &eipmodel.ShowResourcesJobDetailResponse{} }, "sub_jobs", "publicip_id", "createBatchPublicip",
		[2]string{"createPublicip", "createPublicip"}, "VPC.9999", nil},
}

// getJob GETs a classic job, checks that the service's SDK model knows
// every field, and returns the answer as a generic map.
func (e *env) getJob(c classicJobCase, id string) map[string]any {
	e.t.Helper()
	status, body, _ := e.do(req{path: jobPath(testProject, id)})
	if status != http.StatusOK {
		e.t.Fatalf("%s job %s: %d %s", c.svc, id, status, body)
	}
	assertSDKFields(e.t, body, c.model())
	var out map[string]any
	if err := json.Unmarshal(body, &out); err != nil {
		e.t.Fatal(err)
	}
	return out
}

func jobTS(d time.Duration) string { return t0.Add(d).Format("2006-01-02T15:04:05.000Z") }

// TestClassicJobsOverTime follows a succeeding job (queued 5s, then two
// 10s sub-jobs) and a failing one of every classic service through time.
func TestClassicJobsOverTime(t *testing.T) {
	var ops []OperationSpec
	for _, c := range classicJobCases {
		ops = append(ops,
			OperationSpec{Service: c.svc, ID: string(c.svc) + "-ok", ProjectID: testProject, Params: Params{Wait: D(5 * time.Second)}},
			OperationSpec{Service: c.svc, ID: string(c.svc) + "-fail", ProjectID: testProject, Scenario: ScenarioFail,
				Params: Params{Message: "Insufficient EIP quota: quota exceeded"}})
	}
	e := newEnv(t, Config{Operations: ops})

	// One row per instant of the succeeding job: the job's status, each
	// sub-job's, whether each sub-job has its resource yet, the end time.
	steps := []struct {
		at       time.Duration
		status   string
		sub      [2]string
		resource [2]bool
		end      time.Duration // -1: not yet
		percent  float64
	}{
		{2 * time.Second, "INIT", [2]string{"INIT", "INIT"}, [2]bool{false, false}, -1, 0},
		{10 * time.Second, "RUNNING", [2]string{"RUNNING", "INIT"}, [2]bool{true, false}, -1, 0.25},
		{20 * time.Second, "RUNNING", [2]string{"SUCCESS", "RUNNING"}, [2]bool{true, true}, -1, 0.75},
		{30 * time.Second, "SUCCESS", [2]string{"SUCCESS", "SUCCESS"}, [2]bool{true, true}, 25 * time.Second, 1},
	}
	for _, c := range classicJobCases {
		for _, st := range steps {
			e.clock.SetTime(t0.Add(st.at))
			j := e.getJob(c, string(c.svc)+"-ok")
			where := fmt.Sprintf("%s at %s", c.svc, st.at)
			if j["status"] != st.status || j["job_id"] != string(c.svc)+"-ok" || j["job_type"] != c.jobType ||
				j["begin_time"] != jobTS(0) || j["error_code"] != nil || j["fail_reason"] != nil {
				t.Errorf("%s: job %v", where, j)
			}
			wantEnd := c.notYet
			if st.end >= 0 {
				wantEnd = jobTS(st.end)
			}
			if j["end_time"] != wantEnd {
				t.Errorf("%s: end_time %#v, want %#v", where, j["end_time"], wantEnd)
			}
			subs, _ := dig(j, "entities", c.subJobs).([]any)
			if len(subs) != 2 {
				t.Fatalf("%s: entities.%s = %v", where, c.subJobs, dig(j, "entities"))
			}
			for i, s := range subs {
				sj := s.(map[string]any)
				_, hasResource := dig(sj, "entities", c.resource).(string)
				if sj["status"] != st.sub[i] || sj["job_type"] != c.subTypes[i] || hasResource != st.resource[i] || len(sj["job_id"].(string)) != 32 {
					t.Errorf("%s: sub-job %d = %v", where, i, sj)
				}
			}
			switch c.svc {
			case IMS:
				ids, _ := dig(j, "entities", "sub_jobs_list").([]any)
				if len(ids) != 2 || ids[0] != subs[0].(map[string]any)["job_id"] || dig(j, "entities", "process_percent") != st.percent {
					t.Errorf("%s: IMS entities %v", where, dig(j, "entities"))
				}
			case ECS, BMS:
				if dig(j, "entities", "sub_jobs_total") != float64(2) {
					t.Errorf("%s: sub_jobs_total %v", where, dig(j, "entities", "sub_jobs_total"))
				}
			}
		}

		// The failing job fails at the end of its second sub-job (20s).
		e.clock.SetTime(t0.Add(25 * time.Second))
		j := e.getJob(c, string(c.svc)+"-fail")
		if j["status"] != "FAIL" || j["error_code"] != c.failCode || j["fail_reason"] != "Insufficient EIP quota: quota exceeded" ||
			j["end_time"] != jobTS(20*time.Second) {
			t.Errorf("%s: failed job %v", c.svc, j)
		}
		subs := dig(j, "entities", c.subJobs).([]any)
		first, second := subs[0].(map[string]any), subs[1].(map[string]any)
		if first["status"] != "SUCCESS" || first["error_code"] != nil || first["end_time"] != jobTS(10*time.Second) {
			t.Errorf("%s: first sub-job %v", c.svc, first)
		}
		if second["status"] != "FAIL" || second["error_code"] != c.failCode || second["fail_reason"] != "Insufficient EIP quota: quota exceeded" ||
			second["begin_time"] != jobTS(10*time.Second) || second["end_time"] != jobTS(20*time.Second) {
			t.Errorf("%s: failed sub-job %v", c.svc, second)
		}
		if c.svc == ECS && dig(second, "entities", "errorcode_message") != "Insufficient EIP quota: quota exceeded" {
			t.Errorf("ECS sub-job entities %v", second["entities"])
		}
	}
}

// TestJobStatusWords walks the job kinds through the scenarios they
// support.
func TestJobStatusWords(t *testing.T) {
	scenarios := []ScenarioKind{ScenarioSuccess, ScenarioFail, ScenarioNever, ScenarioUnknownStatus}
	kinds := []OperationSpec{
		{Service: ECS}, {Service: EVS}, {Service: IMS}, {Service: BMS}, {Service: VPC},
		{Service: CCE, Type: TypeJob},
	}
	var ops []OperationSpec
	for _, k := range kinds {
		for _, sc := range scenarios {
			o := k
			o.ID, o.ProjectID, o.Scenario = fmt.Sprintf("%s-%s", o.Service, sc), testProject, sc
			ops = append(ops, o)
		}
	}
	e := newEnv(t, Config{Operations: ops})
	// Two 10s sub-jobs; the event is in the second (10-20s), all is over
	// by 20s.
	classic := map[ScenarioKind][3]string{
		ScenarioSuccess:       {"RUNNING", "SUCCESS", "SUCCESS"},
		ScenarioFail:          {"RUNNING", "FAIL", "FAIL"},
		ScenarioNever:         {"RUNNING", "RUNNING", "RUNNING"},
		ScenarioUnknownStatus: {"RUNNING", "PAUSED", "PAUSED"},
	}
	cce := map[ScenarioKind][3]string{
		ScenarioSuccess:       {"Running", "Success", "Success"},
		ScenarioFail:          {"Running", "Failed", "Failed"},
		ScenarioNever:         {"Running", "Running", "Running"},
		ScenarioUnknownStatus: {"Running", "Paused", "Paused"},
	}
	for i, at := range []time.Duration{5 * time.Second, 25 * time.Second, time.Hour} {
		e.clock.SetTime(t0.Add(at))
		for _, o := range ops {
			var got, want string
			if o.Service == CCE {
				var j ccemodel.ShowJobResponse
				status, body, _ := e.do(req{path: cceJobPath(testProject, o.ID)})
				if status != 200 {
					t.Fatalf("%s: %d %s", o.ID, status, body)
				}
				sdkDecode(t, body, &j)
				got, want = *j.Status.Phase, cce[o.Scenario][i]
			} else {
				var j map[string]any
				e.getJSON(req{path: jobPath(testProject, o.ID)}, &j)
				got, want = fmt.Sprint(j["status"]), classic[o.Scenario][i]
			}
			if got != want {
				t.Errorf("%s at %s: %s, want %s", o.ID, at, got, want)
			}
			if st, _ := e.sim.Operation(o.Service, o.ID); st.ServiceStatus != want {
				t.Errorf("%s at %s: admin serviceStatus %s, want %s", o.ID, at, st.ServiceStatus, want)
			}
		}
	}
}

func (e *env) cceJob(id string) ccemodel.ShowJobResponse {
	e.t.Helper()
	status, body, _ := e.do(req{path: cceJobPath(testProject, id)})
	if status != http.StatusOK {
		e.t.Fatalf("CCE job %s: %d %s", id, status, body)
	}
	var out ccemodel.ShowJobResponse
	assertSDKFields(e.t, body, &out)
	return out
}

func jobPhases(jobs *[]ccemodel.Job) string {
	var out []string
	for _, j := range *jobs {
		out = append(out, *j.Spec.Type+"="+*j.Status.Phase)
	}
	return strings.Join(out, ",")
}

func TestCCEJobShape(t *testing.T) {
	e := newEnv(t, Config{Operations: []OperationSpec{
		{Service: CCE, Type: TypeJob, ID: "73ce052c-8b1b-11e8-8f9d-0255ac10193f", ProjectID: testProject,
			ClusterID: "6951bb4d-9628-11e8-8f9d-0255ac10193f", Params: Params{ClusterName: "cluster-test", Wait: D(5 * time.Second)}},
		{Service: CCE, Type: TypeJob, ID: "pool-job", ProjectID: testProject, Scenario: ScenarioFail,
			Params: Params{JobType: "CreateNodePool", Message: "node quota exceeded"},
			Steps:  []StepSpec{{Name: "CreateNode", SubSteps: []StepSpec{{Name: "InstallNode"}, {Name: "RegisterNode"}}}, {Name: "CreateNode"}}},
		// A workflow with the same cluster: the job path does not find it.
		{Service: CCE, ID: "wf-1", ProjectID: testProject, ClusterID: "6951bb4d-9628-11e8-8f9d-0255ac10193f"},
	}})
	id := "73ce052c-8b1b-11e8-8f9d-0255ac10193f"
	steps := []struct {
		at     time.Duration
		phase  string
		subs   string
		update time.Duration
	}{
		{2 * time.Second, "Initializing", "PlatformBootstrap=Initializing,CreatePSMCert=Initializing", 0},
		{10 * time.Second, "Running", "PlatformBootstrap=Running,CreatePSMCert=Initializing", 5 * time.Second},
		{20 * time.Second, "Running", "PlatformBootstrap=Success,CreatePSMCert=Running", 15 * time.Second},
		{time.Hour, "Success", "PlatformBootstrap=Success,CreatePSMCert=Success", 25 * time.Second},
	}
	for _, st := range steps {
		e.clock.SetTime(t0.Add(st.at))
		j := e.cceJob(id)
		if *j.Kind != "Job" || *j.ApiVersion != "v3" || *j.Metadata.Uid != id ||
			*j.Metadata.CreationTimestamp != cceTime(t0) || *j.Metadata.UpdateTimestamp != cceTime(t0.Add(st.update)) ||
			*j.Spec.Type != "CreateCluster" || *j.Spec.ClusterUID != "6951bb4d-9628-11e8-8f9d-0255ac10193f" ||
			*j.Spec.ResourceID != "6951bb4d-9628-11e8-8f9d-0255ac10193f" || *j.Spec.ResourceName != "cluster-test" ||
			*j.Status.Phase != st.phase || j.Status.Reason != nil {
			t.Errorf("at %s: job %v", st.at, j)
		}
		if got := jobPhases(j.Spec.SubJobs); got != st.subs {
			t.Errorf("at %s: sub-jobs %s, want %s", st.at, got, st.subs)
		}
		if !cceTimeRE.MatchString(*j.Metadata.UpdateTimestamp) {
			t.Errorf("updateTimestamp %q not in CCE's format", *j.Metadata.UpdateTimestamp)
		}
		for _, sj := range *j.Spec.SubJobs {
			if *sj.Kind != "Job" || *sj.Spec.ClusterUID != *j.Spec.ClusterUID || len(*sj.Metadata.Uid) != 36 || sj.Spec.SubJobs != nil {
				t.Errorf("at %s: sub-job %v", st.at, sj)
			}
		}
	}

	// The node pool job fails in its second sub-job; the first one's
	// explicit sub-steps are its own subJobs.
	j := e.cceJob("pool-job")
	if *j.Spec.Type != "CreateNodePool" || *j.Status.Phase != "Failed" || *j.Status.Reason != "node quota exceeded" ||
		!strings.HasPrefix(*j.Spec.ResourceName, "nodepool-") || len(*j.Spec.ClusterUID) != 36 {
		t.Errorf("failed job %v", j)
	}
	subs := *j.Spec.SubJobs
	if got := jobPhases(&subs); got != "CreateNode=Success,CreateNode=Failed" || *subs[1].Status.Reason != "node quota exceeded" {
		t.Errorf("sub-jobs %s, %v", got, subs[1].Status)
	}
	if subs[0].Spec.SubJobs == nil || jobPhases(subs[0].Spec.SubJobs) != "InstallNode=Success,RegisterNode=Success" {
		t.Errorf("nested sub-jobs %v", subs[0].Spec.SubJobs)
	}

	// Job and workflow paths do not find each other's operations.
	for _, p := range []string{cceJobPath(testProject, "wf-1"), cceJobPath(testProject, "nope"), ccePath(testProject, "6951bb4d-9628-11e8-8f9d-0255ac10193f", id)} {
		status, body, _ := e.do(req{path: p})
		if shape, code, _ := errorOf(t, body); status != 404 || shape != "flat" || code != "CCE.01404001" {
			t.Errorf("%s: %d %s", p, status, body)
		}
	}
}

// routeCase is one request on a job family's shared path: the answer it
// must get, and the service (and job key, "" for none) it must count for.
type routeCase struct {
	name   string
	r      req
	status int
	code   string // the error code; "" for 200
	svc    Service
	key    string
}

// checkRoutes sends each case's request and checks its status, error code
// (any shape) and where it was counted.
func (e *env) checkRoutes(cases []routeCase) {
	e.t.Helper()
	for _, tt := range cases {
		before, beforeSvc := e.sim.RequestCount(tt.svc, tt.key), e.sim.Counts().Services[tt.svc].Total
		status, body, _ := e.do(tt.r)
		if status != tt.status {
			e.t.Errorf("%s: %d %s, want %d", tt.name, status, body, tt.status)
			continue
		}
		if tt.code != "" {
			if _, code, msg := errorOf(e.t, body); code != tt.code || msg == "" {
				e.t.Errorf("%s: %s, want %s", tt.name, body, tt.code)
			}
		}
		if got := e.sim.Counts().Services[tt.svc].Total; got != beforeSvc+1 {
			e.t.Errorf("%s: counted %d requests for %s, want %d", tt.name, got, tt.svc, beforeSvc+1)
		}
		if got := e.sim.RequestCount(tt.svc, tt.key); tt.key != "" && got != before+1 {
			e.t.Errorf("%s: counted %d requests for %s %s, want %d", tt.name, got, tt.svc, tt.key, before+1)
		}
	}
}

// onHost sends r with the given Host header (signed as it was).
func onHost(r req, host string) req {
	r.tamper = func(hr *http.Request) { hr.Host = host }
	return r
}

// TestClassicJobRouting: one path serves the five services, by job ID; a
// real-looking Host must name the job's service.
func TestClassicJobRouting(t *testing.T) {
	e := newEnv(t, Config{Operations: []OperationSpec{
		{Service: ECS, ID: "job-1", ProjectID: testProject},
		{Service: VPC, ID: "job-2", ProjectID: testProject, Faults: []Fault{{Kind: FaultError500, Count: 1}}},
		{Service: EVS, ID: "job-3", ProjectID: "otherproject"},
	}})
	e.checkRoutes([]routeCase{
		{"by ID", req{path: jobPath(testProject, "job-1")}, 200, "", ECS, "job-1"},
		{"a fault on the job", req{path: jobPath(testProject, "job-2")}, 500, "VPC.0500", VPC, "job-2"},
		{"fault spent", req{path: jobPath(testProject, "job-2")}, 200, "", VPC, "job-2"},
		{"the job's own host", onHost(req{path: jobPath(testProject, "job-1")}, "ecs.cn-north-4.myhuaweicloud.com:443"), 200, "", ECS, "job-1"},
		{"another service's host", onHost(req{path: jobPath(testProject, "job-1")}, "evs.cn-north-4.myhuaweicloud.com"), 404, "EVS.0404", EVS, "job-1"},
		{"unknown job", req{path: jobPath(testProject, "job-9")}, 404, "Ecs.0114", ECS, "job-9"},
		{"unknown job on the VPC host", onHost(req{path: jobPath(testProject, "job-9")}, "vpc.eu-de.otc.t-systems.com"), 404, "VPC.0404", VPC, "job-9"},
		{"another project's job", req{path: jobPath(testProject, "job-3")}, 404, "Ecs.0114", ECS, "job-3"},
		{"a project not the account's", req{path: jobPath("otherproject", "job-3")}, 403, "APIGW.0302", EVS, "job-3"},
		{"bad signature", req{path: jobPath(testProject, "job-1"), sk: "wrong", ak: testAK}, 401, "APIGW.0301", ECS, "job-1"},
	})
}

func TestParseConfigJobs(t *testing.T) {
	sim := parseSim(t, `
operations:
  - {service: CCE, type: Job, id: j1, projectID: p}                  # no cluster needed
  - {service: CCE, type: UpgradeWorkflow, id: w1, projectID: p, clusterID: c}
  - {service: ECS, id: j1, projectID: p, scenario: fail, params: {errorCode: Ecs.0001, jobType: createServer}}
  - {service: VPC, type: Job, id: j2, projectID: p, scenario: unknown-status}
  - {service: BMS, id: j3, projectID: p, steps: [{name: baremetalSingleCreate}]}
`)
	if st, err := sim.Operation(CCE, "j1"); err != nil || st.Type != TypeJob || st.ServiceStatus != "Running" {
		t.Errorf("CCE job: %+v, %v", st, err)
	}
	// A job ID is unique among the classic services, at run time too.
	err := sim.AddOperation(OperationSpec{Service: EVS, ID: "j1", ProjectID: "p"})
	if !errors.Is(err, ErrExists) || !strings.Contains(err.Error(), `ECS operation "j1"`) {
		t.Errorf("EVS job with an ECS job's ID: %v", err)
	}
}
