package dws

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/cloudop/cloudop/internal/cloud"
	"github.com/cloudop/cloudop/internal/cloud/internal/adaptertest"
	"github.com/cloudop/cloudop/internal/cloud/transport"
)

// Shorthands for the expectations.
var (
	at  = adaptertest.At
	pct = adaptertest.Pct
)

const seedSubMessage = "current step FINISH; failed step INIT; host-172-16-13-211 SUCCESS host-172-16-47-24 SUCCESS host-172-16-19-132 SUCCESS"

func seedOperation() *cloud.Operation {
	return &cloud.Operation{
		Phase:         cloud.PhaseFailed,
		ServiceStatus: "FAILED",
		Progress:      pct(100), // from the detail's progressInfo
		CurrentStep:   "创建快照",
		StartTime:     at("2025-05-19 09:05:10.0"),
		Message:       "执行备份: " + seedSubMessage,
		Steps: []cloud.Step{{
			Name: "创建快照", Phase: cloud.PhaseFailed, StartTime: at("2025-05-19 09:06:18.0"),
			SubSteps: []cloud.Step{{
				Name: "执行备份", Phase: cloud.PhaseFailed, ServiceStatus: "FAILED",
				StartTime: at("2025-05-19 09:06:18.0"), Message: seedSubMessage,
			}},
		}},
	}
}

func TestParseSeed(t *testing.T) {
	adaptertest.Run(t, Parse, []adaptertest.Case{adaptertest.Fixture(t, "004_list_cluster_actions_200.json", seedOperation())})
}

func TestParseCases(t *testing.T) {
	adaptertest.Run(t, Parse, []adaptertest.Case{
		{
			Name: "running with estimate, items derived",
			Body: `{"status":"RUNNING","submit_time":"2025-01-01 00:00:00.0","items":[
				{"item_name":"Prepare","sub_items":[
					{"sub_item_name":"check","status":"SUCCESS","begin_time":"2025-01-01 00:00:01.0","end_time":"2025-01-01 00:00:05.0","estimated_time":-1},
					{"sub_item_name":"lock","status":"SUCCESS","begin_time":"2025-01-01 00:00:05.0","end_time":"2025-01-01 00:00:06","estimated_time":-1}]},
				{"item_name":"Restore","sub_items":[
					{"sub_item_name":"copy","status":"RUNNING","begin_time":"2025-01-01 00:00:07.0","end_time":null,"estimated_time":600,
					 "detail":"{\"progressInfo\":{\"progress\":\"42.5%\",\"currentStep\":\"COPY\"}}"},
					{"sub_item_name":"verify","status":"RUNNING","estimated_time":900,"detail":"plain words"},
					{"sub_item_name":"finish","status":"WAITING","estimated_time":5000}]},
				{"item_name":"Cleanup","sub_items":[]}]}`,
			Want: &cloud.Operation{
				Phase: cloud.PhaseRunning, ServiceStatus: "RUNNING", Progress: pct(42), CurrentStep: "Restore",
				StartTime: at("2025-01-01 00:00:00"), EstimatedRemaining: 15 * time.Minute,
				Message: "copy: current step COPY",
				Steps: []cloud.Step{
					{Name: "Prepare", Phase: cloud.PhaseSucceeded, StartTime: at("2025-01-01 00:00:01"), CompletionTime: at("2025-01-01 00:00:06"),
						SubSteps: []cloud.Step{
							{Name: "check", Phase: cloud.PhaseSucceeded, ServiceStatus: "SUCCESS", StartTime: at("2025-01-01 00:00:01"), CompletionTime: at("2025-01-01 00:00:05")},
							{Name: "lock", Phase: cloud.PhaseSucceeded, ServiceStatus: "SUCCESS", StartTime: at("2025-01-01 00:00:05"), CompletionTime: at("2025-01-01 00:00:06")},
						}},
					{Name: "Restore", Phase: cloud.PhaseRunning, StartTime: at("2025-01-01 00:00:07"),
						SubSteps: []cloud.Step{
							{Name: "copy", Phase: cloud.PhaseRunning, ServiceStatus: "RUNNING", StartTime: at("2025-01-01 00:00:07"), Message: "current step COPY"},
							{Name: "verify", Phase: cloud.PhaseRunning, ServiceStatus: "RUNNING", Message: "plain words"},
							{Name: "finish", Phase: cloud.PhasePending, ServiceStatus: "WAITING"},
						}},
					{Name: "Cleanup", Phase: cloud.PhasePending},
				},
			},
		},
		{
			Name: "rollback running",
			Body: `{"status":"ROLLBACK_RUNNING","items":[{"item_name":"Resize","sub_items":[{"sub_item_name":"undo","status":"ROLLBACK_RUNNING"}]}]}`,
			Want: &cloud.Operation{Phase: cloud.PhaseRunning, ServiceStatus: "ROLLBACK_RUNNING", CurrentStep: "Resize",
				Message: "the action failed and is rolling back",
				Steps: []cloud.Step{{Name: "Resize", Phase: cloud.PhaseRunning,
					SubSteps: []cloud.Step{{Name: "undo", Phase: cloud.PhaseRunning, ServiceStatus: "ROLLBACK_RUNNING"}}}}},
		},
		{
			Name: "rollback success is failed",
			Body: `{"status":"ROLLBACK_SUCCESS"}`,
			Want: &cloud.Operation{Phase: cloud.PhaseFailed, ServiceStatus: "ROLLBACK_SUCCESS", Message: "the action failed and was rolled back"},
		},
		{
			Name: "rollback fail",
			Body: `{"status":"ROLLBACK_FAIL"}`,
			Want: &cloud.Operation{Phase: cloud.PhaseFailed, ServiceStatus: "ROLLBACK_FAIL", Message: "the action failed and its rollback failed"},
		},
		{
			Name: "success without progress is 100",
			Body: `{"status":"SUCCESS","items":[{"item_name":"A","sub_items":[{"sub_item_name":"a","status":"SUCCESS","end_time":"2025-01-01 00:00:09.0"}]}]}`,
			Want: &cloud.Operation{Phase: cloud.PhaseSucceeded, ServiceStatus: "SUCCESS", Progress: pct(100), CompletionTime: at("2025-01-01 00:00:09"),
				Steps: []cloud.Step{{Name: "A", Phase: cloud.PhaseSucceeded, CompletionTime: at("2025-01-01 00:00:09"),
					SubSteps: []cloud.Step{{Name: "a", Phase: cloud.PhaseSucceeded, ServiceStatus: "SUCCESS", CompletionTime: at("2025-01-01 00:00:09")}}}}},
		},
		{
			Name: "unknown words, broken detail, bad times",
			Body: `{"status":"FROZEN","submit_time":"soon","items":[{"item_name":"A","sub_items":[
				{"sub_item_name":"a","status":"MELTING","begin_time":"yesterday","detail":"{\"progressInfo\":\"{not json\"}","estimated_time":"x"},
				{"sub_item_name":"b","status":"","detail":"{\"progressInfo\":\"{\\\"progress\\\":\\\"N/A\\\"}\"}"}]}]}`,
			Want: &cloud.Operation{Phase: cloud.PhaseUnknown, ServiceStatus: "FROZEN", CurrentStep: "A",
				UnknownStatuses: []string{"FROZEN", "MELTING"},
				Steps: []cloud.Step{{Name: "A", Phase: cloud.PhasePending, SubSteps: []cloud.Step{
					{Name: "a", Phase: cloud.PhaseUnknown, ServiceStatus: "MELTING"},
					{Name: "b", Phase: cloud.PhasePending},
				}}}},
		},
		{
			Name: "error object in a 200: Unknown, the code and message as the message",
			Body: `{"error_code":"DWS.0015","error_msg":"The cluster does not exist."}`,
			Want: &cloud.Operation{Phase: cloud.PhaseUnknown, UnknownStatuses: []string{"(missing)"},
				Message: "DWS.0015: The cluster does not exist."},
		},
	})
}

func TestParseDetail(t *testing.T) {
	tests := []struct {
		in       string
		progress string
		isJSON   bool
		isNil    bool
	}{
		{`{"progressInfo":"{\"progress\":\"100.00%\"}"}`, "100.00%", true, false},
		{`{"progressInfo":{"progress":"5%"}}`, "5%", true, false},
		{`{"progress":7}`, "7", true, false},
		{`{"progressInfo":"not json"}`, "", true, true},
		{`{"other":1}`, "", true, true},
		{`{"progressInfo":42}`, "", true, true},
		{`waiting`, "", false, true},
		{``, "", false, true},
		{`{broken`, "", false, true},
	}
	for _, tt := range tests {
		info, isJSON := ParseDetail(tt.in)
		if isJSON != tt.isJSON || (info == nil) != tt.isNil || (info != nil && string(info.Progress) != tt.progress) {
			t.Errorf("ParseDetail(%q) = %+v, %v", tt.in, info, isJSON)
		}
	}
}

// TestFetch: the action is read from /v1/{project}/clusters/{cluster}/
// actions/{action} in English (X-Language); targets without a cluster
// are never sent.
func TestFetch(t *testing.T) {
	var path, lang string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		path, lang = r.URL.Path, r.Header.Get("X-Language")
		w.Write(adaptertest.Read(t, "004_list_cluster_actions_200.json"))
	}))
	defer srv.Close()
	target := cloud.Target{Service: cloud.ServiceDWS, ProjectID: "05f2cff45100d5112f4bc00b794ea08e", ClusterID: "9f76c502-fc9c-4a52-8656-65d0da6e3d57",
		OperationID: "SNAPSHOTTING_FAILED", BaseURL: srv.URL, Credentials: cloud.Credentials{AccessKey: "AK", SecretKey: "SK"}}
	adaptertest.Fetched(t, "seed", New(&transport.HTTPClient{}), target, seedOperation())
	if path != "/v1/05f2cff45100d5112f4bc00b794ea08e/clusters/9f76c502-fc9c-4a52-8656-65d0da6e3d57/actions/SNAPSHOTTING_FAILED" || lang != "en-us" {
		t.Errorf("path %q x-language %q", path, lang)
	}
	adaptertest.Rejected(t, New(nil), []cloud.Target{
		{ProjectID: "p1", ClusterID: "", OperationID: "RESTORING"},
		{ProjectID: "p1", ClusterID: "c/1", OperationID: "RESTORING"},
		{ProjectID: "p1", ClusterID: "c1", OperationID: ""},
		{ProjectID: "", ClusterID: "c1", OperationID: "RESTORING"},
	})
}

// TestConformance: the adapter conformance suite on DWS cluster actions.
func TestConformance(t *testing.T) {
	action := func(status string) adaptertest.Answer {
		return adaptertest.Answer{`{"action_name":"RESTORING","status":"` + status + `","submit_time":"2025-01-01 00:00:00.0","items":[` +
			`{"item_name":"Restore","sub_items":[{"sub_item_name":"copy","status":"` + status + `","begin_time":"2025-01-01 00:00:01.0",` +
			`"end_time":"2025-01-01 00:05:00.0","estimated_time":-1}]}]}`}
	}
	adaptertest.RunConformance(t, adaptertest.Conformance{
		New: func(c *transport.HTTPClient) cloud.Fetcher { return New(c) },
		Kinds: []adaptertest.Kind{{
			Name:      "DWS",
			Target:    cloud.Target{Service: cloud.ServiceDWS, ProjectID: "p1", ClusterID: "c1", OperationID: "RESTORING"},
			Paths:     []string{"/v1/p1/clusters/c1/actions/RESTORING"},
			Running:   action("RUNNING"),
			Succeeded: action("SUCCESS"),
			Failed:    adaptertest.Bodies(t, "004_list_cluster_actions_200.json"),
			Unknown:   action("FROZEN"), UnknownWord: "FROZEN",
			ErrorIn200: `{"error_code":"DWS.0015","error_msg":"The cluster does not exist."}`, ErrorCode: "DWS.0015",
		}},
	})
}

func FuzzParse(f *testing.F) {
	f.Add(adaptertest.Read(f, "004_list_cluster_actions_200.json"))
	f.Add([]byte(`{"status":"RUNNING","items":[{"sub_items":[{"status":"RUNNING","estimated_time":2147483647,"detail":"{\"progressInfo\":\"{\\\"progress\\\":\\\"1e400%\\\"}\"}"}]}]}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		op, err := Parse(body)
		if err != nil {
			return
		}
		adaptertest.CheckInvariants(t, op)
		if op.EstimatedRemaining < 0 || op.EstimatedRemaining > maxEstimate {
			t.Fatalf("estimate %v", op.EstimatedRemaining)
		}
	})
}

func FuzzParseDetail(f *testing.F) {
	f.Add(`{"progressInfo":"{\"progress\":\"100.00%\"}"}`)
	f.Fuzz(func(t *testing.T, detail string) {
		_, _ = ParseDetail(detail)
	})
}

// TestParseTime: DWS's zone-less times (with a space or a T, with or
// without a fraction) are UTC; RFC 3339 is converted; the rest is nil.
func TestParseTime(t *testing.T) {
	adaptertest.Times(t, parseTime, map[string]string{
		"2025-05-19 09:06:18.0":     "2025-05-19 09:06:18 +0000 UTC",
		"2025-05-19 09:05:10.0":     "2025-05-19 09:05:10 +0000 UTC",
		"2025-05-19 09:07:42":       "2025-05-19 09:07:42 +0000 UTC",
		"2025-05-19 09:07:42.123":   "2025-05-19 09:07:42.123 +0000 UTC",
		"2025-05-19T09:07:42":       "2025-05-19 09:07:42 +0000 UTC",
		"2025-05-19T09:07:42+08:00": "2025-05-19 01:07:42 +0000 UTC",
		"":                          "<nil>",
		"null":                      "<nil>",
		"N/A":                       "<nil>",
		"2025-13-45 99:99:99":       "<nil>",
	})
}
