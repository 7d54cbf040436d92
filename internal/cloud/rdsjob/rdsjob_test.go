package rdsjob

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/cloudop/cloudop/internal/cloud"
	"github.com/cloudop/cloudop/internal/cloud/internal/adaptertest"
	"github.com/cloudop/cloudop/internal/cloud/transport"
)

// Shorthands for the expectations.
var (
	at  = adaptertest.At
	pct = adaptertest.Pct
	res = adaptertest.Res
)

// IDs that more than one fixture uses.
const (
	rdsInstance   = "5d7f9b1c3e5a4c6e8a0b2d4f6a8c0e12in01"
	nosqlInstance = "e2f3a4b5c6d74e8f9a0b1c2d3e4f5a6bin06"
	rdsCreateJob  = "2b4c6d8e-1a3f-4e5b-9c7d-0f1e2d3c4b01"
)

// fixtures are the testdata answers (see testdata/README.md), the job ID
// each answers for, and what each must give.
var fixtures = []struct {
	service cloud.Service
	file    string
	id      string
	want    *cloud.Operation
}{
	{cloud.ServiceRDS, "rds_create_instance_running.json", rdsCreateJob, &cloud.Operation{
		Phase: cloud.PhaseRunning, ServiceStatus: "Running", Progress: pct(60), CurrentStep: "CreateMySQLInstance",
		StartTime: at("2024-05-14T00:10:19Z"),
		Resources: []cloud.Resource{res("instance", rdsInstance)},
	}},
	{cloud.ServiceRDS, "rds_create_instance_completed.json", rdsCreateJob, &cloud.Operation{
		Phase: cloud.PhaseSucceeded, ServiceStatus: "Completed", Progress: pct(100),
		StartTime: at("2024-05-14T00:10:19Z"), CompletionTime: at("2024-05-14T00:24:51Z"),
		Resources: []cloud.Resource{res("instance", rdsInstance),
			res("resource", "7e1a2b3c-4d5e-4f60-8a9b-0c1d2e3f4a51"), res("resource", "7e1a2b3c-4d5e-4f60-8a9b-0c1d2e3f4a52")},
	}},
	{cloud.ServiceRDS, "rds_enlarge_volume_failed.json", "8c0d2e4f-6a7b-4c9d-8e1f-3a5b7c9d1e03", &cloud.Operation{
		Phase: cloud.PhaseFailed, ServiceStatus: "Failed", CurrentStep: "EnlargeVolume",
		StartTime: at("2024-05-14T09:00:02Z"), CompletionTime: at("2024-05-14T09:03:40Z"),
		Message:   "The storage space cannot be scaled up: the DB instance is not available.",
		Resources: []cloud.Resource{res("instance", rdsInstance)},
	}},
	{cloud.ServiceGaussDB, "gaussdb_create_instance_pending.json", "0a9b8c7d-6e5f-4a3b-9c2d-1e0f9a8b7c04", &cloud.Operation{
		Phase: cloud.PhasePending, ServiceStatus: "Pending", CurrentStep: "CreateGaussDBforMySQLInstance",
		Resources: []cloud.Resource{res("instance", "3e5a7c9b1d2f4e6a8c0b2d4f6a8c1e34in07")},
	}},
	{cloud.ServiceDDS, "dds_create_instance_completed.json", "4f6a8c0e-2b3d-4f5a-8b6c-7d8e9f0a1b05", &cloud.Operation{
		Phase: cloud.PhaseSucceeded, ServiceStatus: "Completed", Progress: pct(100),
		StartTime: at("2024-05-14T02:20:30Z"), CompletionTime: at("2024-05-14T02:31:05Z"),
		Resources: []cloud.Resource{res("instance", "9b1d3f5a7c9e4b6d8f0a2c4e6b8d0f56in02")},
	}},
	{cloud.ServiceGaussDBforOpenGauss, "opengauss_unknown_status.json", "6b8d0f2a-4c5e-4a7b-9d0e-1f2a3b4c5d06", &cloud.Operation{
		Phase: cloud.PhaseUnknown, ServiceStatus: "Paused", Progress: pct(30), CurrentStep: "CreateGaussDBV5Instance",
		StartTime: at("2024-05-14T03:00:00Z"), UnknownStatuses: []string{"Paused"},
		Resources: []cloud.Resource{res("instance", "1c3e5a7b9d0f4c2e8a6b4d2f0e8c6a78in14")},
	}},
	{cloud.ServiceGaussDBforNoSQL, "nosql_list_jobs_failed.json", "d1e2f3a4-b5c6-4d7e-8f9a-0b1c2d3e4f07", &cloud.Operation{
		Phase: cloud.PhaseFailed, ServiceStatus: "Failed", CurrentStep: "CreateInstance",
		StartTime: at("2024-05-14T04:00:00Z"), CompletionTime: at("2024-05-14T04:07:45Z"),
		Message:   "Insufficient resources in the selected AZ.",
		Resources: []cloud.Resource{res("instance", nosqlInstance)},
	}},
	{cloud.ServiceGaussDBforNoSQL, "nosql_list_jobs_running.json", "f4a5b6c7-d8e9-4f0a-9b1c-2d3e4f5a6b08", &cloud.Operation{
		Phase: cloud.PhaseRunning, ServiceStatus: "Running", Progress: pct(45), CurrentStep: "ResizeInstanceVolume",
		StartTime: at("2024-05-14T05:15:00Z"),
		Resources: []cloud.Resource{res("instance", nosqlInstance)},
	}},
}

// parser is Parse for one service and job ID, in adaptertest's shape.
func parser(s cloud.Service, id string) func([]byte) (*cloud.Operation, error) {
	return func(body []byte) (*cloud.Operation, error) { return Parse(s, id, body) }
}

// TestParseFixtures: each fixture read as its own service's answer.
func TestParseFixtures(t *testing.T) {
	for _, f := range fixtures {
		adaptertest.Run(t, parser(f.service, f.id), []adaptertest.Case{adaptertest.Fixture(t, f.file, f.want)})
	}
}

// TestParse: answers written inline for the rules the fixtures do not
// reach, per service.
func TestParse(t *testing.T) {
	adaptertest.Run(t, parser(cloud.ServiceRDS, "j1"), []adaptertest.Case{
		{
			Name: "offset with a colon, a fraction, lower-case word, progress as a number",
			Body: `{"job":{"id":"j1","name":"CreateReadReplica","status":"running","created":"2024-05-14T08:10:19.250+08:00","process":42}}`,
			Want: &cloud.Operation{Phase: cloud.PhaseRunning, ServiceStatus: "running", Progress: pct(42),
				CurrentStep: "CreateReadReplica", StartTime: at("2024-05-14T00:10:19.25Z")},
		},
		{
			Name: "Z time, end ignored while running, progress over 100 and with a fraction",
			Body: `{"job":{"status":"Running","created":"2024-05-14T00:10:19Z","ended":"2024-05-14T00:20:00Z","process":" 150.7 % "}}`,
			Want: &cloud.Operation{Phase: cloud.PhaseRunning, ServiceStatus: "Running", Progress: pct(100),
				StartTime: at("2024-05-14T00:10:19Z")},
		},
		{
			Name: "completed with a progress keeps it",
			Body: `{"job":{"status":"Completed","process":"100%"}}`,
			Want: &cloud.Operation{Phase: cloud.PhaseSucceeded, ServiceStatus: "Completed", Progress: pct(100)},
		},
		{
			Name: "failed without a reason names the job",
			Body: `{"job":{"name":"RestartInstance","status":"Failed","process":"","fail_reason":"  "}}`,
			Want: &cloud.Operation{Phase: cloud.PhaseFailed, ServiceStatus: "Failed", CurrentStep: "RestartInstance",
				Message: "RestartInstance failed"},
		},
		{
			Name: "Pending is GaussDB's word only",
			Body: `{"job":{"status":"Pending"}}`,
			Want: &cloud.Operation{Phase: cloud.PhaseUnknown, ServiceStatus: "Pending", UnknownStatuses: []string{"Pending"}},
		},
		{
			Name: "query error in a 200, no job",
			Body: `{"error_code":"DBS.200823","error_msg":"The job does not exist."}`,
			Want: &cloud.Operation{Phase: cloud.PhaseUnknown, UnknownStatuses: []string{"(missing)"},
				Message: "DBS.200823: The job does not exist."},
		},
		{
			Name: "odd shapes are absent: instance a string, entities a list, unreadable progress and times",
			Body: `{"job":{"status":"Completed","instance":"i1","entities":[1],"process":"sixty%","created":"2024-05-14 08:10:19","ended":"yesterday"}}`,
			Want: &cloud.Operation{Phase: cloud.PhaseSucceeded, ServiceStatus: "Completed", Progress: pct(100)},
		},
		{
			Name: "job not an object, jobs not a list",
			Body: `{"job":"j1","jobs":{"id":"j1"}}`,
			Want: &cloud.Operation{Phase: cloud.PhaseUnknown, UnknownStatuses: []string{"(missing)"}},
		},
		{
			Name: "non-finite and negative progress",
			Body: `{"job":{"status":"Running","process":"Inf%","entities":{"resource_ids":"r1"}}}`,
			Want: &cloud.Operation{Phase: cloud.PhaseRunning, ServiceStatus: "Running",
				Resources: []cloud.Resource{res("resource", "r1")}},
		},
		{
			Name: "negative progress is 0",
			Body: `{"job":{"status":"Running","process":"-5%"}}`,
			Want: &cloud.Operation{Phase: cloud.PhaseRunning, ServiceStatus: "Running", Progress: pct(0)},
		},
	})
	adaptertest.Run(t, parser(cloud.ServiceGaussDBforNoSQL, "j2"), []adaptertest.Case{
		{
			Name: "the listed job with the ID asked for",
			Body: `{"jobs":[null,"x",{"id":"j1","status":"Failed"},{"id":" j2 ","status":"Completed","start_time":"2024-05-14T08:00:00+0800","end_time":"2024-05-14T08:05:00+0800"}],"total_count":3}`,
			Want: &cloud.Operation{Phase: cloud.PhaseSucceeded, ServiceStatus: "Completed", Progress: pct(100),
				StartTime: at("2024-05-14T00:00:00Z"), CompletionTime: at("2024-05-14T00:05:00Z")},
		},
		{
			Name: "a single job object is read too",
			Body: `{"job":{"id":"j2","status":"Running","progress":"10%","created":"2024-05-14T08:00:00+0800"}}`,
			Want: &cloud.Operation{Phase: cloud.PhaseRunning, ServiceStatus: "Running", Progress: pct(10),
				StartTime: at("2024-05-14T00:00:00Z")},
		},
	})
	adaptertest.Run(t, parser(cloud.ServiceDDS, "j1"), []adaptertest.Case{
		{
			Name: "DDS has no Pending; process and progress both read",
			Body: `{"job":{"status":"Running","progress":"","process":"","name":"CreateMongoDB"}}`,
			Want: &cloud.Operation{Phase: cloud.PhaseRunning, ServiceStatus: "Running", CurrentStep: "CreateMongoDB"},
		},
	})

	for _, body := range []string{`{"jobs":[],"total_count":0}`, `{"jobs":[{"id":"j1","status":"Running"}]}`} {
		if _, err := Parse(cloud.ServiceGaussDBforNoSQL, "j2", []byte(body)); cloud.KindOf(err) != cloud.KindNotFound ||
			!strings.Contains(err.Error(), `"j2"`) {
			t.Errorf("Parse(%q): want NotFound naming j2, got %v", body, err)
		}
	}
	for _, body := range []string{``, `[]`, `<html>`, `{"job":`, `{"job":{}} trailing`} {
		if _, err := Parse(cloud.ServiceRDS, "j1", []byte(body)); err == nil || cloud.KindOf(err) != cloud.KindTransient {
			t.Errorf("Parse(%q): want a transient error, got %v", body, err)
		}
	}
	if _, err := Parse(cloud.ServiceECS, "j1", []byte(`{"job":{}}`)); cloud.KindOf(err) != cloud.KindPermanent {
		t.Errorf("ECS: got %v", err)
	}
}

// TestStatuses: each service's table, case ignored.
func TestStatuses(t *testing.T) {
	for _, s := range Services {
		for word, want := range map[string]cloud.Phase{
			"Running": cloud.PhaseRunning, "COMPLETED": cloud.PhaseSucceeded, "failed": cloud.PhaseFailed,
		} {
			if got, ok := services[s].statuses.Lookup(word); !ok || got != want {
				t.Errorf("%s %s: got %v, %v", s, word, got, ok)
			}
		}
		_, ok := services[s].statuses.Lookup("Pending")
		if ok != (s == cloud.ServiceGaussDB) {
			t.Errorf("%s knows Pending: %v", s, ok)
		}
	}
	if len(services) != len(Services) {
		t.Errorf("%d services in the table, %d listed", len(services), len(Services))
	}
}

// TestParseTime: the forms read as the same instant; empty and
// unreadable values give nil.
func TestParseTime(t *testing.T) {
	adaptertest.Times(t, parseTime, map[string]string{
		"2018-08-06T10:41:14+0000":      "2018-08-06 10:41:14 +0000 UTC",
		"2018-08-06T18:41:14+0800":      "2018-08-06 10:41:14 +0000 UTC",
		"2018-08-06T11:41:14+0100":      "2018-08-06 10:41:14 +0000 UTC",
		"2018-08-06T18:41:14+08:00":     "2018-08-06 10:41:14 +0000 UTC",
		"2018-08-06T18:41:14.500+0800":  "2018-08-06 10:41:14.5 +0000 UTC",
		"2018-08-06T10:41:14Z":          "2018-08-06 10:41:14 +0000 UTC",
		"2018-08-06T10:41:14.123456Z":   "2018-08-06 10:41:14.123456 +0000 UTC",
		"2018-08-06T10:41:14":           "<nil>",
		"2018-08-06 10:41:14+0800":      "<nil>",
		"":                              "<nil>",
		"null":                          "<nil>",
		"0001-01-01T00:00:00+0000":      "<nil>",
		"2018-08-06T10:41:14+0000 UTC ": "<nil>",
	})
}

// TestFetch: each service's job is read from its own host at
// /v3/{project}/jobs?id={job} with X-Project-Id and Content-Type (and
// X-Language where the SDK declares it); targets that cannot be right
// never leave the process.
func TestFetch(t *testing.T) {
	var serve string
	var got *http.Request
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = r
		w.Write(adaptertest.Read(t, serve))
	}))
	defer srv.Close()
	target := func(s cloud.Service, id string) cloud.Target {
		return cloud.Target{Service: s, Region: "cn-north-4", ProjectID: "p1", OperationID: id,
			BaseURL: srv.URL, Credentials: cloud.Credentials{AccessKey: "AK", SecretKey: "SK"}}
	}
	a := New(&transport.HTTPClient{})
	for i, f := range fixtures {
		serve, got = f.file, nil
		tg := target(f.service, f.id)
		if i%2 == 0 {
			tg.OperationType = cloud.OperationTypeJob
		}
		adaptertest.Fetched(t, f.file, a, tg, f.want)
		wantLanguage := ""
		if f.service == cloud.ServiceRDS || f.service == cloud.ServiceGaussDB {
			wantLanguage = "en-us"
		}
		if got.URL.Path != "/v3/p1/jobs" || got.URL.RawQuery != "id="+f.id || got.Header.Get("X-Project-Id") != "p1" ||
			got.Header.Get("Content-Type") != "application/json" || got.Header.Get("X-Language") != wantLanguage {
			t.Errorf("%s: %s %s?%s headers %v", f.file, got.Method, got.URL.Path, got.URL.RawQuery, got.Header)
		}
	}

	serve = "nosql_list_jobs_running.json"
	if _, err := a.Fetch(t.Context(), target(cloud.ServiceGaussDBforNoSQL, "j-other")); cloud.KindOf(err) != cloud.KindNotFound {
		t.Errorf("NoSQL job not listed: got %v", err)
	}

	// An ID that passes the segment rule goes into the query escaped.
	serve = "rds_create_instance_running.json"
	if _, err := a.Fetch(t.Context(), target(cloud.ServiceRDS, "j1&id=j2")); err != nil || got.URL.RawQuery != "id=j1%26id%3Dj2" {
		t.Errorf("query %q, %v", got.URL.RawQuery, err)
	}

	adaptertest.Rejected(t, New(nil), []cloud.Target{
		{Service: cloud.ServiceRDS, ProjectID: "p1", OperationID: ""},
		{Service: cloud.ServiceGaussDB, ProjectID: "p1", OperationID: "a b"},
		{Service: cloud.ServiceDDS, ProjectID: "p1", OperationID: "../x"},
		{Service: cloud.ServiceGaussDBforNoSQL, ProjectID: "", OperationID: "j1"},
		{Service: cloud.ServiceGaussDBforOpenGauss, ProjectID: "p1", OperationID: "j1", OperationType: cloud.OperationTypeUpgradeWorkflow},
		{Service: cloud.ServiceECS, ProjectID: "p1", OperationID: "j1"},
	})
}

// TestConformance: the adapter conformance suite on the job query of
// each database service; NoSQL lists the jobs found.
func TestConformance(t *testing.T) {
	answer := func(s cloud.Service, status string) adaptertest.Answer {
		j := `{"id":"j1","name":"CreateInstance","status":"` + status + `","created":"2024-05-14T08:00:00+0800","ended":"2024-05-14T08:05:00+0800",` +
			`"process":"50%","instance":{"id":"i1","name":"db-1"}}`
		if s == cloud.ServiceGaussDBforNoSQL {
			return adaptertest.Answer{`{"jobs":[` + j + `],"total_count":1}`}
		}
		return adaptertest.Answer{`{"job":` + j + `}`}
	}
	var kinds []adaptertest.Kind
	for _, s := range Services {
		kinds = append(kinds, adaptertest.Kind{
			Name:      string(s),
			Target:    cloud.Target{Service: s, Region: "cn-north-4", ProjectID: "p1", OperationID: "j1"},
			Paths:     []string{"/v3/p1/jobs?id=j1"},
			Running:   answer(s, "Running"),
			Succeeded: answer(s, "Completed"),
			Failed:    answer(s, "Failed"),
			Unknown:   answer(s, "Paused"), UnknownWord: "Paused",
			// The database services' documented error shape.
			ErrorIn200: `{"error_code":"DBS.200823","error_msg":"The job does not exist."}`, ErrorCode: "DBS.200823",
		})
	}
	adaptertest.RunConformance(t, adaptertest.Conformance{
		New:   func(c *transport.HTTPClient) cloud.Fetcher { return New(c) },
		Kinds: kinds,
	})
}

func FuzzParse(f *testing.F) {
	index := map[cloud.Service]uint8{}
	for i, s := range Services {
		index[s] = uint8(i)
	}
	for _, fx := range fixtures {
		f.Add(adaptertest.Read(f, fx.file), index[fx.service], fx.id)
	}
	f.Add([]byte(`{"job":{"status":"Running","process":"1e400%","created":"9999-12-31T23:59:59-2359","entities":{"resource_ids":[[],{}]}}}`), uint8(0), "j1")
	f.Add([]byte(`{"jobs":[{"id":"","status":"Completed"}]}`), uint8(4), "")
	f.Fuzz(func(t *testing.T, body []byte, svc uint8, id string) {
		op, err := Parse(Services[int(svc)%len(Services)], id, body)
		if err != nil {
			if k := cloud.KindOf(err); k != cloud.KindTransient && k != cloud.KindNotFound {
				t.Fatalf("error of kind %v: %v", k, err)
			}
			return
		}
		adaptertest.CheckInvariants(t, op)
		if len(op.Steps) > 0 {
			t.Fatalf("steps %v", op.Steps)
		}
	})
}
