package dws

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/cloudop/cloudop/internal/cloud"
	"github.com/cloudop/cloudop/internal/cloud/transport"
)

func read(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func at(s string) *time.Time { return parseTime(s) }

func pct(v int32) *int32 { return &v }

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
	got, err := Parse(read(t, "004_list_cluster_actions_200.json"))
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(seedOperation(), got); d != "" {
		t.Errorf("(-want +got)\n%s", d)
	}
}

func TestParseCases(t *testing.T) {
	tests := []struct {
		name string
		body string
		want *cloud.Operation
	}{
		{
			name: "running with estimate, items derived",
			body: `{"status":"RUNNING","submit_time":"2025-01-01 00:00:00.0","items":[
				{"item_name":"Prepare","sub_items":[
					{"sub_item_name":"check","status":"SUCCESS","begin_time":"2025-01-01 00:00:01.0","end_time":"2025-01-01 00:00:05.0","estimated_time":-1},
					{"sub_item_name":"lock","status":"SUCCESS","begin_time":"2025-01-01 00:00:05.0","end_time":"2025-01-01 00:00:06","estimated_time":-1}]},
				{"item_name":"Restore","sub_items":[
					{"sub_item_name":"copy","status":"RUNNING","begin_time":"2025-01-01 00:00:07.0","end_time":null,"estimated_time":600,
					 "detail":"{\"progressInfo\":{\"progress\":\"42.5%\",\"currentStep\":\"COPY\"}}"},
					{"sub_item_name":"verify","status":"RUNNING","estimated_time":900,"detail":"plain words"},
					{"sub_item_name":"finish","status":"WAITING","estimated_time":5000}]},
				{"item_name":"Cleanup","sub_items":[]}]}`,
			want: &cloud.Operation{
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
			name: "rollback running",
			body: `{"status":"ROLLBACK_RUNNING","items":[{"item_name":"Resize","sub_items":[{"sub_item_name":"undo","status":"ROLLBACK_RUNNING"}]}]}`,
			want: &cloud.Operation{Phase: cloud.PhaseRunning, ServiceStatus: "ROLLBACK_RUNNING", CurrentStep: "Resize",
				Message: "the action failed and is rolling back",
				Steps: []cloud.Step{{Name: "Resize", Phase: cloud.PhaseRunning,
					SubSteps: []cloud.Step{{Name: "undo", Phase: cloud.PhaseRunning, ServiceStatus: "ROLLBACK_RUNNING"}}}}},
		},
		{
			name: "rollback success is failed",
			body: `{"status":"ROLLBACK_SUCCESS"}`,
			want: &cloud.Operation{Phase: cloud.PhaseFailed, ServiceStatus: "ROLLBACK_SUCCESS", Message: "the action failed and was rolled back"},
		},
		{
			name: "rollback fail",
			body: `{"status":"ROLLBACK_FAIL"}`,
			want: &cloud.Operation{Phase: cloud.PhaseFailed, ServiceStatus: "ROLLBACK_FAIL", Message: "the action failed and its rollback failed"},
		},
		{
			name: "success without progress is 100",
			body: `{"status":"SUCCESS","items":[{"item_name":"A","sub_items":[{"sub_item_name":"a","status":"SUCCESS","end_time":"2025-01-01 00:00:09.0"}]}]}`,
			want: &cloud.Operation{Phase: cloud.PhaseSucceeded, ServiceStatus: "SUCCESS", Progress: pct(100), CompletionTime: at("2025-01-01 00:00:09"),
				Steps: []cloud.Step{{Name: "A", Phase: cloud.PhaseSucceeded, CompletionTime: at("2025-01-01 00:00:09"),
					SubSteps: []cloud.Step{{Name: "a", Phase: cloud.PhaseSucceeded, ServiceStatus: "SUCCESS", CompletionTime: at("2025-01-01 00:00:09")}}}}},
		},
		{
			name: "unknown words, broken detail, bad times",
			body: `{"status":"FROZEN","submit_time":"soon","items":[{"item_name":"A","sub_items":[
				{"sub_item_name":"a","status":"MELTING","begin_time":"yesterday","detail":"{\"progressInfo\":\"{not json\"}","estimated_time":"x"},
				{"sub_item_name":"b","status":"","detail":"{\"progressInfo\":\"{\\\"progress\\\":\\\"N/A\\\"}\"}"}]}]}`,
			want: &cloud.Operation{Phase: cloud.PhaseUnknown, ServiceStatus: "FROZEN", CurrentStep: "A",
				UnknownStatuses: []string{"FROZEN", "MELTING"},
				Steps: []cloud.Step{{Name: "A", Phase: cloud.PhasePending, SubSteps: []cloud.Step{
					{Name: "a", Phase: cloud.PhaseUnknown, ServiceStatus: "MELTING"},
					{Name: "b", Phase: cloud.PhasePending},
				}}}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Parse([]byte(tt.body))
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(tt.want, got); d != "" {
				t.Errorf("(-want +got)\n%s", d)
			}
		})
	}
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

func TestFetch(t *testing.T) {
	var path, lang string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		path, lang = r.URL.Path, r.Header.Get("X-Language")
		if r.URL.Path == "/v1/p1/clusters/c1/actions/RESTORING" {
			w.WriteHeader(503)
			w.Write([]byte(`{"error_code":"DWS.0001","error_msg":"busy"}`))
			return
		}
		w.Write(read(t, "004_list_cluster_actions_200.json"))
	}))
	defer srv.Close()
	target := cloud.Target{Service: cloud.ServiceDWS, ProjectID: "05f2cff45100d5112f4bc00b794ea08e", ClusterID: "9f76c502-fc9c-4a52-8656-65d0da6e3d57",
		OperationID: "SNAPSHOTTING_FAILED", BaseURL: srv.URL, Credentials: cloud.Credentials{AccessKey: "AK", SecretKey: "SK"}}
	op, err := New(&transport.HTTPClient{}).Fetch(context.Background(), target)
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(seedOperation(), op); d != "" {
		t.Errorf("(-want +got)\n%s", d)
	}
	if path != "/v1/05f2cff45100d5112f4bc00b794ea08e/clusters/9f76c502-fc9c-4a52-8656-65d0da6e3d57/actions/SNAPSHOTTING_FAILED" || lang != "en-us" {
		t.Errorf("path %q x-language %q", path, lang)
	}
	busy := cloud.Target{ProjectID: "p1", ClusterID: "c1", OperationID: "RESTORING", BaseURL: srv.URL, Credentials: target.Credentials}
	if _, err := New(nil).Fetch(context.Background(), busy); cloud.KindOf(err) != cloud.KindTransient {
		t.Errorf("got %v", err)
	}
	noCluster := busy
	noCluster.ClusterID = ""
	if _, err := New(nil).Fetch(context.Background(), noCluster); cloud.KindOf(err) != cloud.KindPermanent {
		t.Errorf("got %v", err)
	}
}

func FuzzParse(f *testing.F) {
	f.Add(read(f, "004_list_cluster_actions_200.json"))
	f.Add([]byte(`{"status":"RUNNING","items":[{"sub_items":[{"status":"RUNNING","estimated_time":2147483647,"detail":"{\"progressInfo\":\"{\\\"progress\\\":\\\"1e400%\\\"}\"}"}]}]}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		op, err := Parse(body)
		if err != nil {
			return
		}
		if op.Progress != nil && (*op.Progress < 0 || *op.Progress > 100) {
			t.Fatalf("progress %d", *op.Progress)
		}
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
	for in, want := range map[string]string{
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
	} {
		if got := fmt.Sprint(parseTime(in)); got != want {
			t.Errorf("parseTime(%q) = %s, want %s", in, got, want)
		}
	}
}
