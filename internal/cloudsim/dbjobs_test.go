package cloudsim

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	ddsmodel "github.com/huaweicloud/huaweicloud-sdk-go-v3/services/dds/v3/model"
	gaussdbmodel "github.com/huaweicloud/huaweicloud-sdk-go-v3/services/gaussdb/v3/model"
	nosqlmodel "github.com/huaweicloud/huaweicloud-sdk-go-v3/services/gaussdbfornosql/v3/model"
	opengaussmodel "github.com/huaweicloud/huaweicloud-sdk-go-v3/services/gaussdbforopengauss/v3/model"
	rdsmodel "github.com/huaweicloud/huaweicloud-sdk-go-v3/services/rds/v3/model"
)

// dbJobCase is one database service: its SDK model and how it names and
// fills its fields.
type dbJobCase struct {
	svc   Service
	model func() any
	// progress, created and ended are the service's field names.
	progress, created, ended string
	// queued is the status of a job still queued (params.wait).
	queued   string
	name     string // default job name
	idSuffix string // what the default instance ID ends with
}

var dbJobCases = []dbJobCase{
	{RDS, func() any { return &rdsmodel.ListJobInfoResponse{} }, "process", "created", "ended", "Running", "CreateMysqlInstance", "in01"},
	{GaussDB, func() any { return &gaussdbmodel.ShowGaussMySqlJobInfoResponse{} }, "process", "created", "ended", "Pending", "CreateGaussDBInstance", "in07"},
	{DDS, func() any { return &ddsmodel.ShowJobDetailResponse{} }, "progress", "created", "ended", "Running", "CreateMongoDB", "in02"},
	{GaussDBforOpenGauss, func() any { return &opengaussmodel.ShowJobDetailResponse{} }, "progress", "created", "ended", "Running", "CreateGaussDBV5Instance", "in14"},
	{GaussDBforNoSQL, func() any { return &nosqlmodel.ListJobsResponse{} }, "progress", "start_time", "end_time", "Running", "CreateInstance", "in06"},
}

// getDBJob GETs a database job, checks that the service's SDK model knows
// every field and the wrapper ({"job":…}, NoSQL's one-element list), and
// returns the job as a generic map.
func (e *env) getDBJob(c dbJobCase, id string) map[string]any {
	e.t.Helper()
	status, body, _ := e.do(dbJobReq(testProject, id))
	if status != http.StatusOK {
		e.t.Fatalf("%s job %s: %d %s", c.svc, id, status, body)
	}
	assertSDKFields(e.t, body, c.model())
	var out struct {
		Job        map[string]any   `json:"job"`
		Jobs       []map[string]any `json:"jobs"`
		TotalCount *int             `json:"total_count"`
	}
	if err := json.Unmarshal(body, &out); err != nil {
		e.t.Fatal(err)
	}
	if c.svc == GaussDBforNoSQL {
		if len(out.Jobs) != 1 || out.TotalCount == nil || *out.TotalCount != 1 || out.Job != nil {
			e.t.Fatalf("%s: want one job in jobs with total_count 1: %s", c.svc, body)
		}
		return out.Jobs[0]
	}
	if out.Job == nil || out.Jobs != nil || out.TotalCount != nil {
		e.t.Fatalf("%s: want {\"job\": …}: %s", c.svc, body)
	}
	return out.Job
}

func dbTS(d time.Duration) string { return t0.Add(d).In(dbZone).Format("2006-01-02T15:04:05-0700") }

// TestDBJobsOverTime follows a succeeding job (queued 2s, then 8s of
// work) and a failing one of every database service through time.
func TestDBJobsOverTime(t *testing.T) {
	if got := dbTS(0); got != "2025-05-19T17:05:10+0800" {
		t.Fatalf("database job time %q, want UTC+8 with an offset without colon", got)
	}
	var ops []OperationSpec
	for _, c := range dbJobCases {
		ops = append(ops,
			OperationSpec{Service: c.svc, ID: string(c.svc) + "-ok", ProjectID: testProject,
				Params: Params{Wait: D(2 * time.Second), StepDuration: D(8 * time.Second)}},
			OperationSpec{Service: c.svc, ID: string(c.svc) + "-fail", ProjectID: testProject, Scenario: ScenarioFail,
				Params: Params{StepDuration: D(8 * time.Second), After: &Duration{6 * time.Second},
					Message: "Insufficient quota: quota exceeded", InstanceName: "db-prod", JobType: "ResizeInstance"}})
	}
	e := newEnv(t, Config{Operations: ops})

	steps := []struct {
		at       time.Duration
		status   string // "" is the service's queued word
		progress string // "" is the queued job's: "" when Pending, else 0%
		ended    time.Duration
	}{
		{1 * time.Second, "", "", -1},
		{5 * time.Second, "Running", "37%", -1}, // 3s of 8
		{6 * time.Second, "Running", "50%", -1},
		{10 * time.Second, "Completed", "", 10 * time.Second},
		{time.Hour, "Completed", "", 10 * time.Second},
	}
	for _, c := range dbJobCases {
		for _, st := range steps {
			e.clock.SetTime(t0.Add(st.at))
			j := e.getDBJob(c, string(c.svc)+"-ok")
			where := fmt.Sprintf("%s at %s", c.svc, st.at)
			status, progress := st.status, st.progress
			if status == "" {
				status = c.queued
				if c.queued == "Running" {
					progress = "0%"
				}
			}
			if c.svc == RDS && progress == "37%" {
				progress = "37% " // RDS pads odd percentages with a space
			}
			inst, _ := j["instance"].(map[string]any)
			if j["id"] != string(c.svc)+"-ok" || j["name"] != c.name || j["status"] != status || j[c.progress] != progress ||
				j[c.created] != dbTS(0) || len(inst) != 2 || !strings.HasSuffix(fmt.Sprint(inst["id"]), c.idSuffix) || inst["name"] == "" {
				t.Errorf("%s: job %v, want status %q, %s %q", where, j, status, c.progress, progress)
			}
			ended, has := j[c.ended]
			if st.ended < 0 && has || st.ended >= 0 && ended != dbTS(st.ended) {
				t.Errorf("%s: %s = %v, want %v", where, c.ended, ended, st.ended)
			}
			if _, has := j["fail_reason"]; has {
				t.Errorf("%s: fail_reason before any failure: %v", where, j)
			}
			_, entities := j["entities"]
			if entities != (c.svc == RDS) {
				t.Errorf("%s: entities %v (only RDS has them)", where, j["entities"])
			}
		}

		// The failing job fails 6s into its 8s of work.
		e.clock.SetTime(t0.Add(3 * time.Second))
		if j := e.getDBJob(c, string(c.svc)+"-fail"); j["status"] != "Running" || j["fail_reason"] != nil || j["name"] != "ResizeInstance" {
			t.Errorf("%s: failing job while running: %v", c.svc, j)
		}
		e.clock.SetTime(t0.Add(time.Minute))
		j := e.getDBJob(c, string(c.svc)+"-fail")
		if j["status"] != "Failed" || j["fail_reason"] != "Insufficient quota: quota exceeded" || j[c.progress] != "" ||
			j[c.ended] != dbTS(6*time.Second) || dig(j, "instance", "name") != "db-prod" {
			t.Errorf("%s: failed job %v", c.svc, j)
		}
	}
	if got := dig(e.getDBJob(dbJobCases[0], "RDS-ok"), "entities", "resource_ids"); len(got.([]any)) != 2 {
		t.Errorf("RDS entities.resource_ids %v", got)
	}
}

// TestDBJobStatusWords walks the database jobs through the scenarios they
// support (one 10s step; unknown-status strikes 8s in).
func TestDBJobStatusWords(t *testing.T) {
	want := map[ScenarioKind][3]string{
		ScenarioSuccess:       {"Running", "Completed", "Completed"},
		ScenarioFail:          {"Running", "Failed", "Failed"},
		ScenarioNever:         {"Running", "Running", "Running"},
		ScenarioUnknownStatus: {"Running", "Paused", "Paused"},
	}
	var ops []OperationSpec
	for _, c := range dbJobCases {
		for sc := range want {
			o := OperationSpec{Service: c.svc, ID: fmt.Sprintf("%s-%s", c.svc, sc), ProjectID: testProject, Scenario: sc}
			if sc == ScenarioUnknownStatus {
				o.Params.After = &Duration{8 * time.Second}
			}
			ops = append(ops, o)
		}
	}
	e := newEnv(t, Config{Operations: ops})
	for i, at := range []time.Duration{5 * time.Second, 25 * time.Second, time.Hour} {
		e.clock.SetTime(t0.Add(at))
		for _, c := range dbJobCases {
			for sc, words := range want {
				id := fmt.Sprintf("%s-%s", c.svc, sc)
				j := e.getDBJob(c, id)
				if j["status"] != words[i] {
					t.Errorf("%s at %s: %v, want %s", id, at, j["status"], words[i])
				}
				if st, _ := e.sim.Operation(c.svc, id); st.ServiceStatus != words[i] {
					t.Errorf("%s at %s: admin serviceStatus %s, want %s", id, at, st.ServiceStatus, words[i])
				}
				// A job that never ends creeps to 99%; one in an
				// unknown status reports no progress.
				wantProgress := map[ScenarioKind]string{ScenarioNever: "99%"}[sc]
				if sc == ScenarioNever && i == 0 {
					wantProgress = "50%"
				}
				if sc == ScenarioNever && c.svc == RDS && i > 0 {
					wantProgress = "99% "
				}
				if i > 0 && j[c.progress] != wantProgress {
					t.Errorf("%s at %s: %s %q, want %q", id, at, c.progress, j[c.progress], wantProgress)
				}
			}
		}
	}
}

// TestDBJobRouting: one path serves the five database services, by job
// ID; a real-looking Host must name the job's service.
func TestDBJobRouting(t *testing.T) {
	e := newEnv(t, Config{Operations: []OperationSpec{
		{Service: RDS, ID: "job-1", ProjectID: testProject},
		{Service: DDS, ID: "job-2", ProjectID: testProject, Faults: []Fault{{Kind: FaultError500, Count: 1}, {Kind: FaultNotFound, Count: 1}}},
		{Service: GaussDBforNoSQL, ID: "job-3", ProjectID: "otherproject"},
		{Service: GaussDBforOpenGauss, ID: "job-4", ProjectID: testProject},
		// The same ID as a classic job: another path, another family.
		{Service: ECS, ID: "job-1", ProjectID: testProject},
	}})
	e.checkRoutes([]routeCase{
		{"by ID", dbJobReq(testProject, "job-1"), 200, "", RDS, "job-1"},
		{"a fault on the job", dbJobReq(testProject, "job-2"), 500, "DBS.0500", DDS, "job-2"},
		{"a notfound fault", dbJobReq(testProject, "job-2"), 404, "DBS.0404", DDS, "job-2"},
		{"faults spent", dbJobReq(testProject, "job-2"), 200, "", DDS, "job-2"},
		{"the job's own host", onHost(dbJobReq(testProject, "job-4"), "gaussdb-opengauss.cn-north-4.myhuaweicloud.com:443"), 200, "", GaussDBforOpenGauss, "job-4"},
		{"another database service's host", onHost(dbJobReq(testProject, "job-4"), "gaussdb.cn-north-4.myhuaweicloud.com"), 404, "DBS.0404", GaussDB, "job-4"},
		{"a classic service's host is not checked here", onHost(dbJobReq(testProject, "job-1"), "ecs.cn-north-4.myhuaweicloud.com"), 200, "", RDS, "job-1"},
		{"unknown job", dbJobReq(testProject, "job-9"), 404, "DBS.0404", RDS, "job-9"},
		{"unknown job on the NoSQL host", onHost(dbJobReq(testProject, "job-9"), "gaussdb-nosql.eu-west-101.myhuaweicloud.eu"), 404, "DBS.0404", GaussDBforNoSQL, "job-9"},
		{"another project's job", dbJobReq(testProject, "job-3"), 404, "DBS.0404", RDS, "job-3"},
		{"a project not the account's", dbJobReq("otherproject", "job-3"), 403, "APIGW.0302", GaussDBforNoSQL, "job-3"},
		{"bad signature", withTamper(dbJobReq(testProject, "job-1"), func(r *http.Request) { r.URL.RawQuery = "id=job-4" }), 401, "APIGW.0301", GaussDBforOpenGauss, "job-4"},
		{"no id", req{path: "/v3/" + testProject + "/jobs"}, 400, "DBS.200001", RDS, ""},
	})
	// The database services' error bodies are flat; a 404 names the job.
	status, body, _ := e.do(dbJobReq(testProject, "job-9"))
	if shape, _, msg := errorOf(t, body); status != 404 || shape != "flat" || msg != "Job job-9 not found" {
		t.Errorf("unknown job: %d %s", status, body)
	}
	// The classic job with the same ID is still the classic path's.
	var j map[string]any
	e.getJSON(req{path: jobPath(testProject, "job-1")}, &j)
	if j["job_id"] != "job-1" || j["job_type"] != "createServer" {
		t.Errorf("classic job-1: %v", j)
	}
}

func withTamper(r req, f func(*http.Request)) req {
	r.tamper = f
	return r
}

// TestDBJobConfig: the five services are accepted in scenario files and
// by the admin API; a job ID is unique among the five.
func TestDBJobConfig(t *testing.T) {
	sim := parseSim(t, `
operations:
  - {service: RDS, id: j1, projectID: p}
  - {service: GaussDB, type: Job, id: j2, projectID: p, params: {wait: 5s}}
  - {service: DDS, id: j3, projectID: p, scenario: fail, params: {message: "disk full", after: 3s}}
  - {service: GaussDBforOpenGauss, id: j4, projectID: p, scenario: never, params: {stepDuration: 1m}}
  - {service: GaussDBforNoSQL, id: j5, projectID: p, scenario: unknown-status, params: {status: Frozen, instanceID: i-1, instanceName: nosql-1, jobType: EnlargeInstance}}
  - {service: ECS, id: j1, projectID: p}     # another path: the ID may repeat
`)
	if st, err := sim.Operation(GaussDB, "j2"); err != nil || st.Type != TypeJob || st.ServiceStatus != "Pending" || st.CurrentStep != "" {
		t.Errorf("GaussDB job: %+v, %v", st, err)
	}
	if st, err := sim.Operation(GaussDBforNoSQL, "j5"); err != nil || st.ServiceStatus != "Frozen" || st.CurrentStep != "EnlargeInstance" {
		t.Errorf("NoSQL job: %+v, %v", st, err)
	}
	err := sim.AddOperation(OperationSpec{Service: DDS, ID: "j1", ProjectID: "q"})
	if !errors.Is(err, ErrExists) || !strings.Contains(err.Error(), `RDS operation "j1"`) {
		t.Errorf("DDS job with an RDS job's ID: %v", err)
	}

	// The admin API takes the mixed-case names in any case.
	e := newEnv(t, Config{})
	var added struct{ Added int }
	e.admin("POST", "/admin/operations", `{"service":"GaussDBforNoSQL","id":"n1","projectID":"p"}`, http.StatusCreated, &added)
	var st OperationStatus
	e.admin("GET", "/admin/operations/gaussdbfornosql/n1", "", http.StatusOK, &st)
	if added.Added != 1 || st.Service != GaussDBforNoSQL || st.ServiceStatus != "Running" {
		t.Errorf("admin: added %d, status %+v", added.Added, st)
	}
	var refused struct{ Error string }
	e.admin("POST", "/admin/operations", `{"service":"RDS","id":"r1","projectID":"p","scenario":"resume"}`, http.StatusBadRequest, &refused)
	if !strings.Contains(refused.Error, "scenario resume is not available for RDS jobs") {
		t.Errorf("admin: resume an RDS job: %q", refused.Error)
	}
}
