package classicjob

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

// fixtures are the testdata answers (see testdata/README.md) and what
// each must give.
var fixtures = []struct {
	service cloud.Service
	file    string
	want    *cloud.Operation
}{
	{cloud.ServiceECS, "ecs_create_servers_success.json", &cloud.Operation{
		Phase: cloud.PhaseSucceeded, ServiceStatus: "SUCCESS", Progress: pct(100),
		StartTime: at("2024-05-14T08:10:19.802Z"), CompletionTime: at("2024-05-14T08:12:06.455Z"),
		Steps: []cloud.Step{
			{Name: "createSingleServer (server 3c0a6e3a-52c7-4b7e-9f4e-2b1c8f0d9a01)", Phase: cloud.PhaseSucceeded, ServiceStatus: "SUCCESS",
				StartTime: at("2024-05-14T08:10:19.951Z"), CompletionTime: at("2024-05-14T08:11:42.318Z")},
			{Name: "createSingleServer (server 7d5e1f20-6a3b-4c8d-b1e2-9f0a3c4d5e02)", Phase: cloud.PhaseSucceeded, ServiceStatus: "SUCCESS",
				StartTime: at("2024-05-14T08:10:20.104Z"), CompletionTime: at("2024-05-14T08:12:05.870Z")},
		},
		Resources: []cloud.Resource{res("server", "3c0a6e3a-52c7-4b7e-9f4e-2b1c8f0d9a01"), res("server", "7d5e1f20-6a3b-4c8d-b1e2-9f0a3c4d5e02")},
	}},
	{cloud.ServiceECS, "ecs_create_servers_failed.json", &cloud.Operation{
		Phase: cloud.PhaseFailed, ServiceStatus: "FAIL", Progress: pct(50),
		CurrentStep: "createSingleServer",
		StartTime:   at("2024-05-14T09:00:00.987Z"), CompletionTime: at("2024-05-14T09:01:15.650Z"),
		Message: "Ecs.0013: Insufficient EIP quota.",
		Steps: []cloud.Step{
			{Name: "createSingleServer (server 9a8b7c6d-1e2f-4a3b-8c4d-5e6f7a8b9c03)", Phase: cloud.PhaseSucceeded, ServiceStatus: "SUCCESS",
				StartTime: at("2024-05-14T09:00:01.120Z"), CompletionTime: at("2024-05-14T09:01:15.004Z")},
			{Name: "createSingleServer", Phase: cloud.PhaseFailed, ServiceStatus: "FAIL",
				Message:   "Ecs.0013: Insufficient EIP quota.; The EIP quota of the project is insufficient.",
				StartTime: at("2024-05-14T09:00:01.305Z"), CompletionTime: at("2024-05-14T09:00:48.771Z")},
		},
		Resources: []cloud.Resource{res("server", "9a8b7c6d-1e2f-4a3b-8c4d-5e6f7a8b9c03")},
	}},
	{cloud.ServiceECS, "ecs_unknown_status.json", &cloud.Operation{
		Phase: cloud.PhaseUnknown, ServiceStatus: "PENDING_APPROVAL", Progress: pct(0),
		CurrentStep:     "attachNic (nic 0e1d2c3b-4a59-4687-9a8b-7c6d5e4f3a05)",
		UnknownStatuses: []string{"PENDING_APPROVAL", "QUEUED"},
		Steps: []cloud.Step{
			{Name: "attachNic (nic 0e1d2c3b-4a59-4687-9a8b-7c6d5e4f3a05)", Phase: cloud.PhaseUnknown, ServiceStatus: "QUEUED"},
		},
		Resources: []cloud.Resource{res("server", "5f4e3d2c-1b0a-4f9e-8d7c-6b5a4f3e2d04"), res("nic", "0e1d2c3b-4a59-4687-9a8b-7c6d5e4f3a05")},
	}},
	{cloud.ServiceEVS, "evs_batch_create_volumes_running.json", &cloud.Operation{
		Phase: cloud.PhaseRunning, ServiceStatus: "RUNNING", Progress: pct(50), CurrentStep: "createVolume",
		StartTime: at("2024-05-14T10:20:30.992Z"),
		Steps: []cloud.Step{
			{Name: "createVolume (volume 1b2c3d4e-5f60-4718-92a3-b4c5d6e7f801)", Phase: cloud.PhaseSucceeded, ServiceStatus: "SUCCESS",
				StartTime: at("2024-05-14T10:20:31.208Z"), CompletionTime: at("2024-05-14T10:20:44.590Z")},
			{Name: "createVolume", Phase: cloud.PhaseRunning, ServiceStatus: "RUNNING", StartTime: at("2024-05-14T10:20:31.377Z")},
		},
		Resources: []cloud.Resource{res("volume", "1b2c3d4e-5f60-4718-92a3-b4c5d6e7f801")},
	}},
	{cloud.ServiceIMS, "ims_create_image_running.json", &cloud.Operation{
		Phase: cloud.PhaseRunning, ServiceStatus: "RUNNING", Progress: pct(42),
		CurrentStep: "CreateImageTask:SnapshotDataTask",
		StartTime:   at("2015-06-04T18:11:06.586Z"),
		Resources:   []cloud.Resource{res("image", "e9e91bff-14b6-4a0b-8377-4ed0813e3360")},
	}},
	{cloud.ServiceIMS, "ims_copy_image_success.json", &cloud.Operation{
		Phase: cloud.PhaseSucceeded, ServiceStatus: "SUCCESS", Progress: pct(100),
		StartTime: at("2024-05-14T11:02:10.114Z"), CompletionTime: at("2024-05-14T11:09:57.630Z"),
		Steps: []cloud.Step{
			{Name: "imsCopyImageJob (image d2e3f4a5-b6c7-4d8e-9f0a-1b2c3d4e5f62)", Phase: cloud.PhaseSucceeded, ServiceStatus: "success",
				StartTime: at("2024-05-14T11:02:11.020Z"), CompletionTime: at("2024-05-14T11:09:55.301Z")},
		},
		Resources: []cloud.Resource{res("image", "c1d2e3f4-a5b6-4c7d-8e9f-0a1b2c3d4e61"), res("image", "d2e3f4a5-b6c7-4d8e-9f0a-1b2c3d4e5f62")},
	}},
	{cloud.ServiceBMS, "bms_batch_create_init.json", &cloud.Operation{
		Phase: cloud.PhasePending, ServiceStatus: "INIT", StartTime: at("2019-04-25T20:04:47.591Z"),
	}},
	{cloud.ServiceVPC, "vpc_eip_batch_create_success.json", &cloud.Operation{
		Phase: cloud.PhaseSucceeded, ServiceStatus: "SUCCESS", Progress: pct(100),
		StartTime: at("2024-05-14T12:30:05.112Z"), CompletionTime: at("2024-05-14T12:30:07.480Z"),
	}},
	// The documented IMS example: SUCCESS with process_percent 0.20 (a
	// fraction, and stale): 100 %, not 20 % nor 0 %.
	{cloud.ServiceIMS, "doc_ims_show_job_success.json", &cloud.Operation{
		Phase: cloud.PhaseSucceeded, ServiceStatus: "SUCCESS", Progress: pct(100),
		StartTime: at("2015-06-04T18:11:06.586Z"),
		Resources: []cloud.Resource{res("image", "e9e91bff-14b6-4a0b-8377-4ed0813e3360"), res("image", "49e9447f-7dff-41e0-8036-f66fe5488c8b")},
	}},
	// The documented EVS error answer: no status, the error object's
	// code and message as the message.
	{cloud.ServiceEVS, "doc_evs_show_job_error.json", &cloud.Operation{
		Phase: cloud.PhaseUnknown, UnknownStatuses: []string{"(missing)"}, Message: "XXX: XXXX",
	}},
}

// TestParse: the fixtures, then answers written inline for the rules they
// do not reach.
func TestParse(t *testing.T) {
	var cases []adaptertest.Case
	for _, f := range fixtures {
		cases = append(cases, adaptertest.Fixture(t, f.file, f.want))
	}
	adaptertest.Run(t, Parse, append(cases, []adaptertest.Case{
		{
			Name: "ECS pending payment",
			Body: `{"status":"PENDING_PAYMENT","job_type":"createServer","begin_time":"2024-05-14T08:00:00.000Z","end_time":""}`,
			Want: &cloud.Operation{Phase: cloud.PhasePending, ServiceStatus: "PENDING_PAYMENT", StartTime: at("2024-05-14T08:00:00Z")},
		},
		{
			Name: "lower-case words, offset without colon, nested sub-jobs as sub-steps",
			Body: `{"status":"running","begin_time":"2018-08-06T10:41:14.000+0800","entities":{"sub_jobs":[
				{"status":"success","job_type":"baremetalSingleCreate","begin_time":"2018-08-06T10:41:15.000+0800","end_time":"2018-08-06T10:45:00.000+0800",
				 "entities":{"server_id":"s1","sub_jobs":[{"status":"success","job_type":"attachVolume","entities":{"volume_id":"v1"}}]}},
				{"status":"init","job_type":"baremetalSingleCreate"}]}}`,
			Want: &cloud.Operation{
				Phase: cloud.PhaseRunning, ServiceStatus: "running", Progress: pct(50), CurrentStep: "baremetalSingleCreate",
				StartTime: at("2018-08-06T02:41:14Z"),
				Steps: []cloud.Step{
					{Name: "baremetalSingleCreate (server s1)", Phase: cloud.PhaseSucceeded, ServiceStatus: "success",
						StartTime: at("2018-08-06T02:41:15Z"), CompletionTime: at("2018-08-06T02:45:00Z"),
						SubSteps: []cloud.Step{{Name: "attachVolume (volume v1)", Phase: cloud.PhaseSucceeded, ServiceStatus: "success"}}},
					{Name: "baremetalSingleCreate", Phase: cloud.PhasePending, ServiceStatus: "init"},
				},
				Resources: []cloud.Resource{res("server", "s1"), res("volume", "v1")},
			},
		},
		{
			Name: "sub_jobs_total counts sub-jobs not listed yet",
			Body: `{"status":"RUNNING","entities":{"sub_jobs_total":4,"sub_jobs":[{"status":"SUCCESS","job_id":"j1"}]}}`,
			Want: &cloud.Operation{Phase: cloud.PhaseRunning, ServiceStatus: "RUNNING", Progress: pct(25),
				Steps: []cloud.Step{{Name: "j1", Phase: cloud.PhaseSucceeded, ServiceStatus: "SUCCESS"}}},
		},
		{
			Name: "IMS failure details from entities, percent as a string",
			Body: `{"status":"FAIL","job_type":"imsImportImageJob","error_code":"IMG.0001","fail_reason":"import failed",
				"entities":{"error_code":"IMG.0102","error":"the image file is not valid","addition_error_code":"IMG.0001","addition_error_msg":"import failed",
				"process_percent":"60.0","current_task":"ImportImageTask:ObtainImageInfoTask",
				"results":[{"image_id":"i1","project_id":"p1","status":"FAIL"}]}}`,
			Want: &cloud.Operation{Phase: cloud.PhaseFailed, ServiceStatus: "FAIL", Progress: pct(60),
				CurrentStep: "ImportImageTask:ObtainImageInfoTask",
				Message:     "IMG.0001: import failed; IMG.0102: the image file is not valid",
				Resources:   []cloud.Resource{res("image", "i1")}},
		},
		{
			Name: "IMS process_percent is a fraction of 1 while running (0.24, the progress query's documented value)",
			Body: `{"status":"RUNNING","entities":{"process_percent":0.24,"current_task":"ImportImageTask:ObtainImageInfoTask"}}`,
			Want: &cloud.Operation{Phase: cloud.PhaseRunning, ServiceStatus: "RUNNING", Progress: pct(24),
				CurrentStep: "ImportImageTask:ObtainImageInfoTask"},
		},
		{
			Name: "IMS fraction without float noise (0.29 is 29, not 28)",
			Body: `{"status":"RUNNING","entities":{"process_percent":0.29}}`,
			Want: &cloud.Operation{Phase: cloud.PhaseRunning, ServiceStatus: "RUNNING", Progress: pct(29)},
		},
		{
			Name: "IMS fraction 1 is 100, as a string too",
			Body: `{"status":"RUNNING","entities":{"process_percent":"1"}}`,
			Want: &cloud.Operation{Phase: cloud.PhaseRunning, ServiceStatus: "RUNNING", Progress: pct(100)},
		},
		{
			Name: "IMS process_percent below 0 is 0, and still wins over the sub-jobs' count",
			Body: `{"status":"FAIL","entities":{"process_percent":-0.5,"sub_jobs_result":[{"status":"SUCCESS","job_id":"j1"},{"status":"FAIL","job_id":"j2"}]}}`,
			Want: &cloud.Operation{Phase: cloud.PhaseFailed, ServiceStatus: "FAIL", Progress: pct(0), CurrentStep: "j2",
				Message: "j2 failed",
				Steps: []cloud.Step{{Name: "j1", Phase: cloud.PhaseSucceeded, ServiceStatus: "SUCCESS"},
					{Name: "j2", Phase: cloud.PhaseFailed, ServiceStatus: "FAIL"}}},
		},
		{
			Name: "IMS unreadable process_percent falls back to the sub-jobs",
			Body: `{"status":"RUNNING","entities":{"process_percent":"N/A","sub_jobs_result":[{"status":"SUCCESS","job_id":"j1"},{"status":"RUNNING","job_id":"j2"}]}}`,
			Want: &cloud.Operation{Phase: cloud.PhaseRunning, ServiceStatus: "RUNNING", Progress: pct(50), CurrentStep: "j2",
				Steps: []cloud.Step{{Name: "j1", Phase: cloud.PhaseSucceeded, ServiceStatus: "SUCCESS"},
					{Name: "j2", Phase: cloud.PhaseRunning, ServiceStatus: "RUNNING"}}},
		},
		{
			Name: "SUCCESS is 100 even when sub_jobs_total says more are to come",
			Body: `{"status":"SUCCESS","entities":{"sub_jobs_total":4,"sub_jobs":[{"status":"SUCCESS","job_id":"j1"}]}}`,
			Want: &cloud.Operation{Phase: cloud.PhaseSucceeded, ServiceStatus: "SUCCESS", Progress: pct(100),
				Steps: []cloud.Step{{Name: "j1", Phase: cloud.PhaseSucceeded, ServiceStatus: "SUCCESS"}}},
		},
		{
			Name: "EVS failed job: its reason and the error object, each once",
			Body: `{"status":"FAIL","job_type":"extendVolume","error_code":"EVS.2024","fail_reason":"quota exceeded",
				"error":{"message":"quota exceeded","code":"EVS.2024"},"entities":{"volume_id":"v1"}}`,
			Want: &cloud.Operation{Phase: cloud.PhaseFailed, ServiceStatus: "FAIL", Message: "EVS.2024: quota exceeded",
				Resources: []cloud.Resource{res("volume", "v1")}},
		},
		{
			Name: "EVS error object with only a code",
			Body: `{"status":"FAIL","error":{"code":"EVS.5400"}}`,
			Want: &cloud.Operation{Phase: cloud.PhaseFailed, ServiceStatus: "FAIL", Message: "EVS.5400"},
		},
		{
			Name: "EVS error as a bare string",
			Body: `{"error":"the job does not exist"}`,
			Want: &cloud.Operation{Phase: cloud.PhaseUnknown, UnknownStatuses: []string{"(missing)"}, Message: "the job does not exist"},
		},
		{
			Name: "EVS error of an odd shape is ignored",
			Body: `{"status":"RUNNING","error":[{"code":"x"}]}`,
			Want: &cloud.Operation{Phase: cloud.PhaseRunning, ServiceStatus: "RUNNING"},
		},
		{
			Name: "failed without a reason names the failed sub-job",
			Body: `{"status":"FAIL","entities":{"sub_jobs":[{"status":"SUCCESS","job_type":"a"},{"status":"FAIL","job_type":"b","error_code":"Ecs.0001"}]}}`,
			Want: &cloud.Operation{Phase: cloud.PhaseFailed, ServiceStatus: "FAIL", Progress: pct(50), CurrentStep: "b",
				Message: "b failed: Ecs.0001",
				Steps: []cloud.Step{{Name: "a", Phase: cloud.PhaseSucceeded, ServiceStatus: "SUCCESS"},
					{Name: "b", Phase: cloud.PhaseFailed, ServiceStatus: "FAIL", Message: "Ecs.0001"}}},
		},
		{
			Name: "query error in a 200, missing status",
			Body: `{"code":"Ecs.0114","message":"the job does not exist"}`,
			Want: &cloud.Operation{Phase: cloud.PhaseUnknown, UnknownStatuses: []string{"(missing)"},
				Message: "Ecs.0114: the job does not exist"},
		},
		{
			Name: "odd shapes are absent: entities a string, a sub-job null, bad times",
			Body: `{"status":"SUCCESS","begin_time":"yesterday","end_time":0,"entities":"none"}`,
			Want: &cloud.Operation{Phase: cloud.PhaseSucceeded, ServiceStatus: "SUCCESS", Progress: pct(100)},
		},
		{
			Name: "null and unnamed sub-jobs",
			Body: `{"status":"RUNNING","entities":{"sub_jobs":[null,{"status":"RUNNING"}],"sub_jobs_result":"x"}}`,
			Want: &cloud.Operation{Phase: cloud.PhaseRunning, ServiceStatus: "RUNNING", Progress: pct(0), CurrentStep: "sub-job-1",
				Steps: []cloud.Step{{Name: "sub-job-1", Phase: cloud.PhaseRunning, ServiceStatus: "RUNNING"}}},
		},
	}...))
	for _, body := range []string{``, `[]`, `<html>`, `{"status":`, `{"status":"x","entities":{}} trailing`} {
		if _, err := Parse([]byte(body)); err == nil || cloud.KindOf(err) != cloud.KindTransient {
			t.Errorf("Parse(%q): want a transient error, got %v", body, err)
		}
	}
}

func TestStatuses(t *testing.T) {
	for word, want := range map[string]cloud.Phase{
		"SUCCESS": cloud.PhaseSucceeded, "success": cloud.PhaseSucceeded, "RUNNING": cloud.PhaseRunning,
		"FAIL": cloud.PhaseFailed, "fail": cloud.PhaseFailed, "INIT": cloud.PhasePending, "PENDING_PAYMENT": cloud.PhasePending,
	} {
		if got, ok := Statuses.Lookup(word); !ok || got != want {
			t.Errorf("%s: got %v, %v", word, got, ok)
		}
	}
}

// TestParseTime: the forms the services print read as the same instant;
// empty and unreadable values give nil.
func TestParseTime(t *testing.T) {
	adaptertest.Times(t, parseTime, map[string]string{
		"2019-04-25T20:04:47.591Z":      "2019-04-25 20:04:47.591 +0000 UTC",
		"2019-04-25T20:04:47Z":          "2019-04-25 20:04:47 +0000 UTC",
		"2019-04-26T04:04:47.591+08:00": "2019-04-25 20:04:47.591 +0000 UTC",
		"2019-04-26T04:04:47.591+0800":  "2019-04-25 20:04:47.591 +0000 UTC",
		"2019-04-25T20:04:47.591":       "2019-04-25 20:04:47.591 +0000 UTC",
		"2019-04-25 20:04:47":           "2019-04-25 20:04:47 +0000 UTC",
		" 04-Jun-2015 18:11:06:586 ":    "2015-06-04 18:11:06.586 +0000 UTC",
		"4-Jun-2015 18:11:06:5":         "2015-06-04 18:11:06.5 +0000 UTC",
		"04-Jun-2015 18:11:06.586":      "2015-06-04 18:11:06.586 +0000 UTC",
		"":                              "<nil>",
		"null":                          "<nil>",
		"04-Jun-2015 18:11:06:":         "<nil>",
		"0001-01-01T00:00:00Z":          "<nil>",
	})
}

// TestFetch: each service's job is read from its own host at
// /v1/{project}/jobs/{job} with X-Project-Id; IDs that cannot be a path
// segment never leave the process.
func TestFetch(t *testing.T) {
	var path, project string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		path, project = r.URL.Path, r.Header.Get("X-Project-Id")
		w.Write(adaptertest.Read(t, strings.TrimPrefix(r.URL.Path, "/v1/p1/jobs/")))
	}))
	defer srv.Close()
	a := New(&transport.HTTPClient{})
	for _, f := range fixtures {
		target := cloud.Target{Service: f.service, Region: "cn-north-4", ProjectID: "p1", OperationID: f.file,
			BaseURL: srv.URL, Credentials: cloud.Credentials{AccessKey: "AK", SecretKey: "SK"}}
		if f.service == cloud.ServiceECS {
			target.OperationType = cloud.OperationTypeJob
		}
		adaptertest.Fetched(t, f.file, a, target, f.want)
		if path != "/v1/p1/jobs/"+f.file || project != "p1" {
			t.Errorf("%s: path %q project %q", f.file, path, project)
		}
	}

	workflow := cloud.Target{Service: cloud.ServiceBMS, ProjectID: "p1", OperationID: "j1", OperationType: "Workflow"}
	adaptertest.Rejected(t, New(nil), []cloud.Target{
		{Service: cloud.ServiceEVS, ProjectID: "p1", OperationID: ""},
		{Service: cloud.ServiceEVS, ProjectID: "p1", OperationID: "../../v2/x"},
		{Service: cloud.ServiceEVS, ProjectID: "p1", OperationID: "a b"},
		{Service: cloud.ServiceEVS, ProjectID: "", OperationID: "j1"},
		{Service: cloud.ServiceIMS, ProjectID: "p1", OperationID: "j1", OperationType: cloud.OperationTypeUpgradeWorkflow},
		workflow,
	})
	if _, err := New(nil).Fetch(t.Context(), workflow); err == nil || !strings.Contains(err.Error(), "spec.operationType") {
		t.Errorf("got %v", err)
	}
}

// TestConformance: the adapter conformance suite on the job of each
// service, with its own answers and its own error shape.
func TestConformance(t *testing.T) {
	job := func(status string) adaptertest.Answer {
		return adaptertest.Answer{`{"status":"` + status + `","job_id":"j1","job_type":"createX","begin_time":"2024-05-14T08:00:00.000Z",` +
			`"end_time":"2024-05-14T08:05:00.000Z","entities":{"sub_jobs":[{"status":"` + status + `","job_type":"createY"}]}}`}
	}
	file := func(name string) adaptertest.Answer { return adaptertest.Bodies(t, name) }
	// ECS and BMS answer a failed query with {code, message}, EVS and IMS
	// nest it under "error", VPC's EIP jobs with {code, message}.
	services := []struct {
		service                             cloud.Service
		running, succeeded, failed, unknown adaptertest.Answer
		unknownWord, errorIn200, errorCode  string
	}{
		{cloud.ServiceECS, job("RUNNING"), file("ecs_create_servers_success.json"), file("ecs_create_servers_failed.json"),
			file("ecs_unknown_status.json"), "PENDING_APPROVAL", `{"code":"Ecs.0114","message":"Job does not exist."}`, "Ecs.0114"},
		{cloud.ServiceEVS, file("evs_batch_create_volumes_running.json"), job("SUCCESS"), job("FAIL"),
			job("PAUSED"), "PAUSED", `{"error":{"message":"The job does not exist.","code":"EVS.2030"}}`, "EVS.2030"},
		{cloud.ServiceIMS, file("ims_create_image_running.json"), file("ims_copy_image_success.json"), job("FAIL"),
			job("PAUSED"), "PAUSED", `{"error":{"code":"IMG.0001","message":"The job does not exist."}}`, "IMG.0001"},
		{cloud.ServiceBMS, file("bms_batch_create_init.json"), job("SUCCESS"), job("FAIL"),
			job("PAUSED"), "PAUSED", `{"code":"BMS.0114","message":"The job does not exist."}`, "BMS.0114"},
		{cloud.ServiceVPC, job("RUNNING"), file("vpc_eip_batch_create_success.json"), job("FAIL"),
			job("PAUSED"), "PAUSED", `{"code":"VPC.0114","message":"The job does not exist."}`, "VPC.0114"},
	}
	var kinds []adaptertest.Kind
	for _, s := range services {
		kinds = append(kinds, adaptertest.Kind{
			Name:    string(s.service),
			Target:  cloud.Target{Service: s.service, Region: "cn-north-4", ProjectID: "p1", OperationID: "j1"},
			Paths:   []string{"/v1/p1/jobs/j1"},
			Running: s.running, Succeeded: s.succeeded, Failed: s.failed,
			Unknown: s.unknown, UnknownWord: s.unknownWord,
			ErrorIn200: s.errorIn200, ErrorCode: s.errorCode,
		})
	}
	if len(kinds) != len(Services) {
		t.Errorf("%d services tried, the adapter serves %d", len(kinds), len(Services))
	}
	adaptertest.RunConformance(t, adaptertest.Conformance{
		New:   func(c *transport.HTTPClient) cloud.Fetcher { return New(c) },
		Kinds: kinds,
	})
}

func FuzzParse(f *testing.F) {
	for _, fx := range fixtures {
		f.Add(adaptertest.Read(f, fx.file))
	}
	f.Add([]byte(`{"status":"RUNNING","entities":{"sub_jobs_total":"9e18","process_percent":-1e300,"sub_jobs":[{"entities":{"sub_jobs":[{"entities":{"sub_jobs":[{}]}}]}}]}}`))
	f.Add([]byte(`{"status":"RUNNING","error":{"code":7,"message":null},"entities":{"process_percent":"0.999999999"}}`))
	f.Add([]byte(`{"error":"x","entities":{"process_percent":1e400}}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		if op, err := Parse(body); err == nil {
			adaptertest.CheckInvariants(t, op)
		}
	})
}
