package cloudsim

import (
	"encoding/json"
	"fmt"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	ctsmodel "github.com/huaweicloud/huaweicloud-sdk-go-v3/services/cts/v3/model"
)

func ctsPath(project string) string { return "/v3/" + project + "/traces" }

// traces GETs a page of the test project's system traces through the
// SDK's model, after checking the model knows every field.
func (e *env) traces(query map[string]string) ctsmodel.ListTracesResponse {
	e.t.Helper()
	q := map[string]string{"trace_type": "system"}
	for k, v := range query {
		q[k] = v
	}
	status, body, _ := e.do(req{path: ctsPath(testProject), query: q})
	if status != http.StatusOK {
		e.t.Fatalf("traces %v: %d %s", q, status, body)
	}
	var l ctsmodel.ListTracesResponse
	assertSDKFields(e.t, body, &l)
	return l
}

// traceList renders traces as "SERVICE trace_name code", newest first.
func traceList(l ctsmodel.ListTracesResponse) []string {
	var out []string
	for _, tr := range *l.Traces {
		out = append(out, *tr.ServiceType+" "+*tr.TraceName+" "+*tr.Code)
	}
	return out
}

func traceIDs(l ctsmodel.ListTracesResponse) []string {
	var out []string
	for _, tr := range *l.Traces {
		out = append(out, *tr.TraceId)
	}
	return out
}

func ms(t time.Time) string { return strconv.FormatInt(t.UnixMilli(), 10) }

// TestCTSListTraces: each job is recorded by a trace whose response names
// its job_id, and by a synchronous call without one, newest first, in
// the default window of the last hour; filters, time bounds and traces
// that appear when their job starts.
func TestCTSListTraces(t *testing.T) {
	e := newEnv(t, Config{Operations: []OperationSpec{
		{Service: ECS, ID: "ecs-1", ProjectID: testProject},
		{Service: RDS, ID: "rds-1", ProjectID: testProject, StartedAgo: D(10 * time.Minute)},
		{Service: DDS, ID: "dds-1", ProjectID: testProject, StartedAgo: D(20 * time.Minute), Params: Params{TraceName: "restoreInstance"}},
		{Service: EVS, ID: "evs-1", ProjectID: testProject, StartsIn: D(2 * time.Minute)},
		{Service: ECS, ID: "ecs-old", ProjectID: testProject, StartedAgo: D(2 * time.Hour)},
		{Service: CCE, ID: "wf-1", ProjectID: testProject, ClusterID: "cl-1"},
		{Service: IMS, ID: "ims-other", ProjectID: "p-other"},
	}})
	e.clock.SetTime(t0.Add(30 * time.Second))

	l := e.traces(map[string]string{"limit": "200"})
	want := []string{
		"ECS createServer 202", "ECS updateServer 200",
		"RDS createInstance 202", "RDS updateInstanceName 200",
		"DDS restoreInstance 202", "DDS updateInstanceName 200",
	}
	if got := traceList(l); !reflect.DeepEqual(got, want) {
		t.Fatalf("traces %v, want %v", got, want)
	}
	if *l.MetaData.Count != 6 || l.MetaData.Marker != nil {
		t.Errorf("meta_data %v", l.MetaData)
	}

	// The ECS job's trace: its job_id and servers, as the job reports
	// them, in a JSON string.
	ecs := (*l.Traces)[0]
	if *ecs.ResourceType != "ecs" || *ecs.TraceType != "ApiCall" || ecs.TraceRating.Value() != "normal" ||
		*ecs.Time != t0.UnixMilli() || *ecs.RecordTime != t0.UnixMilli() || *ecs.User.Domain.Id != "d0123456789abcdef" {
		t.Errorf("ECS trace %v", ecs)
	}
	if !strings.Contains(*ecs.Response, `"job_id":"ecs-1"`) {
		t.Errorf("ECS response %s", *ecs.Response)
	}
	var resp struct {
		JobID     string   `json:"job_id"`
		ServerIDs []string `json:"serverIds"`
	}
	if err := json.Unmarshal([]byte(*ecs.Response), &resp); err != nil {
		t.Fatal(err)
	}
	job := e.getJob(classicJobCases[0], "ecs-1")
	var servers []string
	for _, sj := range dig(job, "entities", "sub_jobs").([]any) {
		servers = append(servers, dig(sj, "entities", "server_id").(string))
	}
	if !reflect.DeepEqual(resp.ServerIDs, servers) || *ecs.ResourceId != servers[0] || !json.Valid([]byte(*ecs.Request)) {
		t.Errorf("ECS trace names servers %v, resource %s, the job %v", resp.ServerIDs, *ecs.ResourceId, servers)
	}
	// The database job's trace names its instance; the synchronous calls
	// have no job.
	rds, rdsSync := (*l.Traces)[2], (*l.Traces)[3]
	var rdsJob map[string]any
	e.getJSON(dbJobReq(testProject, "rds-1"), &rdsJob)
	if inst := dig(rdsJob, "job", "instance", "id"); *rds.ResourceId != inst || *rds.Time != t0.Add(-10*time.Minute).UnixMilli() ||
		!strings.Contains(*rds.Response, `"job_id":"rds-1"`) || !strings.Contains(*rds.Response, `"instance":{"id":"`+inst.(string)) {
		t.Errorf("RDS trace %v, job instance %v", rds, inst)
	}
	if strings.Contains(*rdsSync.Response, "job_id") || *rdsSync.Time != t0.Add(-10*time.Minute-time.Second).UnixMilli() {
		t.Errorf("RDS sync trace %v", rdsSync)
	}
	if dds := (*l.Traces)[4]; !strings.Contains(*dds.Response, `"job_id":"dds-1"`) || strings.Contains(*dds.Response, "instance") {
		t.Errorf("DDS response %s", *dds.Response)
	}

	for _, c := range []struct {
		name  string
		query map[string]string
		want  []string
	}{
		{"service_type", map[string]string{"service_type": "ECS"}, want[:2]},
		{"trace_name", map[string]string{"trace_name": "createInstance"}, want[2:3]},
		{"resource_type", map[string]string{"resource_type": "instance"}, want[2:]},
		{"resource_id", map[string]string{"resource_id": servers[0]}, want[:1]},
		{"trace_id: nothing else applies", map[string]string{"trace_id": *rds.TraceId, "service_type": "ECS", "to": "1"}, want[2:3]},
		{"from, exclusive", map[string]string{"from": ms(t0.Add(-10 * time.Minute))}, want[:2]},
		{"to, exclusive", map[string]string{"to": ms(t0)}, want[1:]},
		{"from and to", map[string]string{"from": ms(t0.Add(-15 * time.Minute)), "to": ms(t0.Add(-time.Minute))}, want[2:4]},
		{"from older than the default hour", map[string]string{"from": ms(t0.Add(-3 * time.Hour)), "service_type": "ECS"},
			[]string{"ECS createServer 202", "ECS updateServer 200", "ECS createServer 202", "ECS updateServer 200"}},
		{"data traces", map[string]string{"trace_type": "data"}, nil},
	} {
		if got := traceList(e.traces(c.query)); !reflect.DeepEqual(got, c.want) {
			t.Errorf("%s: %v, want %v", c.name, got, c.want)
		}
	}

	// The EVS job started from the console appears when it starts, on
	// top, recorded now.
	if err := e.sim.Advance(2 * time.Minute); err != nil {
		t.Fatal(err)
	}
	l = e.traces(nil)
	if got := traceList(l); !reflect.DeepEqual(got[:3], []string{"EVS createVolume 202", "EVS updateVolume 200", "ECS createServer 202"}) ||
		*(*l.Traces)[0].Time != e.clock.Now().UnixMilli() || !strings.Contains(*(*l.Traces)[0].Response, `"job_id":"evs-1","volume_ids":[`) {
		t.Errorf("after evs-1 started: %v", got)
	}

	// A deleted job takes its traces along; other projects' are not
	// listed, and one that is not the account's is refused.
	if err := e.sim.DeleteOperation(RDS, "rds-1"); err != nil {
		t.Fatal(err)
	}
	if got := traceList(e.traces(map[string]string{"service_type": "RDS"})); got != nil {
		t.Errorf("RDS after deleting rds-1: %v", got)
	}
	if got := traceList(e.traces(map[string]string{"service_type": "IMS"})); got != nil {
		t.Errorf("another project's IMS job: %v", got)
	}
	// The service types of the GaussDB family.
	for svc, st := range map[Service]string{GaussDB: "GaussDB", GaussDBforOpenGauss: "GaussDBforopenGauss", GaussDBforNoSQL: "NoSQL"} {
		if err := e.sim.AddOperation(OperationSpec{Service: svc, ID: "db-" + string(svc), ProjectID: testProject}); err != nil {
			t.Fatal(err)
		}
		l := e.traces(map[string]string{"service_type": st, "trace_name": "createInstance"})
		if got := traceList(l); len(got) != 1 || !strings.Contains(*(*l.Traces)[0].Response, `"job_id":"db-`+string(svc)+`"`) {
			t.Errorf("%s: %v", svc, got)
		}
	}
	if status, body, _ := e.do(req{path: ctsPath("p-other"), query: map[string]string{"trace_type": "system"}}); status != http.StatusForbidden {
		t.Errorf("a project not the account's: %d %s", status, body)
	}
}

// TestCTSPaging pages with limit and next; the marker is the last trace
// of a page while more follow, null on the last page.
func TestCTSPaging(t *testing.T) {
	e := newEnv(t, Config{Templates: []Template{{Count: 12, Operation: OperationSpec{Service: IMS, ID: "img-{{i}}", ProjectID: testProject}}}})
	all := e.traces(map[string]string{"limit": "200"})
	if len(*all.Traces) != 24 {
		t.Fatalf("%d traces", len(*all.Traces))
	}
	for _, c := range []struct {
		query map[string]string
		pages []int
	}{
		{nil, []int{10, 10, 4}}, // the default limit
		{map[string]string{"limit": "12"}, []int{12, 12}},
		{map[string]string{"limit": "5", "trace_name": "createImage"}, []int{5, 5, 2}},
	} {
		var ids []string
		var sizes []int
		next := ""
		for range 10 {
			q := map[string]string{}
			for k, v := range c.query {
				q[k] = v
			}
			if next != "" {
				q["next"] = next
			}
			l := e.traces(q)
			ids = append(ids, traceIDs(l)...)
			sizes = append(sizes, int(*l.MetaData.Count))
			if l.MetaData.Marker == nil {
				break
			}
			if *l.MetaData.Marker != ids[len(ids)-1] {
				t.Errorf("%v: marker %s, last trace %s", c.query, *l.MetaData.Marker, ids[len(ids)-1])
			}
			next = *l.MetaData.Marker
			// Time passing between pages changes nothing.
			e.clock.Step(time.Second)
		}
		wantIDs := traceIDs(all)
		if c.query["trace_name"] != "" {
			wantIDs = traceIDs(e.traces(map[string]string{"limit": "200", "trace_name": "createImage"}))
		}
		if fmt.Sprint(sizes) != fmt.Sprint(c.pages) || !reflect.DeepEqual(ids, wantIDs) {
			t.Errorf("%v: pages %v, want %v; ids %v, want %v", c.query, sizes, c.pages, ids, wantIDs)
		}
	}
}

// TestCTSErrors: a bad query is a 400 in CTS's error shape.
func TestCTSErrors(t *testing.T) {
	e := newEnv(t, Config{Operations: []OperationSpec{{Service: ECS, ID: "ecs-1", ProjectID: testProject}}})
	for _, q := range []map[string]string{
		{}, {"trace_type": "management"},
		{"trace_type": "system", "limit": "0"}, {"trace_type": "system", "limit": "201"}, {"trace_type": "system", "limit": "ten"},
		{"trace_type": "system", "from": "yesterday"}, {"trace_type": "system", "to": "-5"},
		{"trace_type": "system", "from": "2000", "to": "1000"},
		{"trace_type": "system", "next": "00000000-0000-0000-0000-000000000000"},
	} {
		status, body, _ := e.do(req{path: ctsPath(testProject), query: q})
		if shape, code, msg := errorOf(t, body); status != http.StatusBadRequest || shape != "flat" || code != "CTS.0003" || msg == "" {
			t.Errorf("%v: %d %s", q, status, body)
		}
	}
	if err := e.sim.SetFaults("", "", Fault{Kind: FaultError500, Count: 1}); err != nil {
		t.Fatal(err)
	}
	status, body, _ := e.do(req{path: ctsPath(testProject), query: map[string]string{"trace_type": "system"}})
	if _, code, _ := errorOf(t, body); status != http.StatusInternalServerError || code != "CTS.0005" {
		t.Errorf("error500 fault: %d %s", status, body)
	}
}

// TestCTSCounts: CTS requests count in Total and Counts.CTS, not as a
// service's, and as list calls of the project and of the service_type.
func TestCTSCounts(t *testing.T) {
	e := newEnv(t, Config{Operations: []OperationSpec{{Service: ECS, ID: "ecs-1", ProjectID: testProject}}})
	e.traces(nil)
	e.traces(map[string]string{"service_type": "ECS"})
	e.traces(map[string]string{"service_type": "ECS", "limit": "1"})
	e.do(req{path: ctsPath(testProject)}) // 400
	e.do(req{path: jobPath(testProject, "ecs-1")})
	c := e.sim.Counts()
	if c.CTS.Total != 4 || c.CTS.ByStatus[400] != 1 || c.Total.Total != 5 || c.Services[ECS].Total != 1 {
		t.Errorf("CTS %v, total %v, ECS %v", c.CTS, c.Total, c.Services[ECS])
	}
	if _, ok := c.Services[CTS]; ok {
		t.Error("CTS among the services")
	}
	if e.sim.ListCount(CTS, testProject) != 4 || e.sim.ListCount(CTS, testProject+"/ECS") != 2 || e.sim.RequestCount(ECS, "ecs-1") != 1 {
		t.Errorf("lists %v, ecs-1 %d", c.Lists, e.sim.RequestCount(ECS, "ecs-1"))
	}
}
