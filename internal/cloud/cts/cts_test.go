package cts

import (
	"testing"
	"time"

	"github.com/cloudop/cloudop/internal/cloud"
)

func TestJobID(t *testing.T) {
	for _, tc := range []struct{ response, want string }{
		{`{"job_id":"ff8080828a07ffea018a52ac6e1e3a37","serverIds":["s1"]}`, "ff8080828a07ffea018a52ac6e1e3a37"},
		{`{"instance":{"id":"i1"},"job_id":"dff1d289-4d03-4942-8b9f-463ea07c000d"}`, "dff1d289-4d03-4942-8b9f-463ea07c000d"},
		{` {"job_id": 12345} `, "12345"},
		{`{"serverIds":["s1"]}`, ""},
		{`{"job_id":"../admin"}`, ""},
		{`{"job_id":""}`, ""},
		{`not json`, ""},
		{``, ""},
		{`["job_id"]`, ""},
	} {
		if got := JobID(tc.response); got != tc.want {
			t.Errorf("JobID(%q) = %q, want %q", tc.response, got, tc.want)
		}
	}
}

func TestParsePage(t *testing.T) {
	body := []byte(`{"traces":[
		{"trace_id":"t3","trace_name":"createServer","service_type":"ECS","resource_type":"ecs","resource_id":"s1","code":"202","time":1700000300000,
		 "response":"{\"job_id\":\"job-3\",\"serverIds\":[\"s1\"]}"},
		{"trace_id":"t2","trace_name":"updateServer","service_type":"ECS","code":"200","time":1700000200000,"response":"{\"server\":{}}"},
		{"trace_id":"t1","trace_name":"createServer","service_type":"ECS","code":"400","time":1700000100000,"response":"{\"job_id\":\"job-1\"}"},
		{"trace_id":"t0","trace_name":"deleteServers","service_type":"ECS","time":1700000000000,"response":"{\"job_id\":\"job-0\"}"}
	],"meta_data":{"count":4,"marker":"t0"}}`)
	for _, tc := range []struct {
		name       string
		traceNames []string
		want       []string
	}{
		{"every call with a job", nil, []string{"job-3", "job-0"}},
		{"only createServer", []string{"createServer"}, []string{"job-3"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			jobs, next, err := ParsePage(body, cloud.ServiceECS, tc.traceNames)
			if err != nil {
				t.Fatal(err)
			}
			if next != "t0" {
				t.Errorf("next = %q, want t0", next)
			}
			var ids []string
			for _, j := range jobs {
				ids = append(ids, j.ID)
				if j.Service != cloud.ServiceECS || !j.StartOnly || j.Operation.Phase != cloud.PhaseUnknown {
					t.Errorf("%s: %+v", j.ID, j)
				}
			}
			if len(ids) != len(tc.want) {
				t.Fatalf("jobs %v, want %v", ids, tc.want)
			}
			for i := range ids {
				if ids[i] != tc.want[i] {
					t.Fatalf("jobs %v, want %v", ids, tc.want)
				}
			}
			if got := *jobs[0].Operation.StartTime; !got.Equal(time.UnixMilli(1700000300000)) {
				t.Errorf("start %v", got)
			}
		})
	}
	// The last page has no marker; an empty page ends the list too.
	for _, last := range []string{`{"traces":[],"meta_data":{"count":0,"marker":"t0"}}`, `{"traces":[{"trace_id":"x","time":1}],"meta_data":{"count":1}}`} {
		if _, next, err := ParsePage([]byte(last), cloud.ServiceECS, nil); err != nil || next != "" {
			t.Errorf("%s: next %q, %v", last, next, err)
		}
	}
	if _, _, err := ParsePage([]byte(`<html>`), cloud.ServiceECS, nil); cloud.KindOf(err) != cloud.KindTransient {
		t.Errorf("an HTML page: %v", err)
	}
}

// TestParsePageRFS: an RFS deployment's trace names its deployment and,
// as the resource, its stack; a trace of no valid stack is left out.
func TestParsePageRFS(t *testing.T) {
	body := []byte(`{"traces":[
		{"trace_id":"t2","trace_name":"deployStack","service_type":"RFS","resource_type":"stack","resource_name":"web","code":"200","time":1700000200000,
		 "response":"{\"deployment_id\":\"7c4ddcb8-8f4e-4e2a-9d0a-3b5a9f3a2c11\"}"},
		{"trace_id":"t1","trace_name":"deployStack","service_type":"RFS","resource_type":"stack","resource_name":"../x","code":"200","time":1700000100000,
		 "response":"{\"deployment_id\":\"d2\"}"},
		{"trace_id":"t0","trace_name":"createStack","service_type":"RFS","resource_type":"stack","resource_name":"api","code":"200","time":1700000000000,
		 "response":"{\"stack_id\":\"s1\",\"deployment_id\":\"d3\"}"}
	],"meta_data":{"count":3}}`)
	jobs, _, err := ParsePage(body, cloud.ServiceRFS, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(jobs) != 2 || jobs[0].ID != "7c4ddcb8-8f4e-4e2a-9d0a-3b5a9f3a2c11" || jobs[0].StackName != "web" || jobs[1].ID != "d3" || jobs[1].StackName != "api" {
		t.Errorf("deployments %+v", jobs)
	}
}
