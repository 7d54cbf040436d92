package aos

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"reflect"
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

func seedOperation() *cloud.Operation {
	return &cloud.Operation{
		Phase:          cloud.PhaseSucceeded,
		ServiceStatus:  "Succeeded",
		Progress:       pct(100),
		StartTime:      at("2016-12-27T20:12:32Z"),
		CompletionTime: at("2016-12-27T20:12:47Z"),
		Message:        "action create",
		Steps: []cloud.Step{
			{Name: "hello-app", Phase: cloud.PhaseSucceeded, ServiceStatus: "Succeeded", CompletionTime: at("2016-12-27T20:12:33Z")},
			{Name: "hello-package", Phase: cloud.PhaseSucceeded, ServiceStatus: "Succeeded", CompletionTime: at("2016-12-27T20:12:34Z")},
			{Name: "hello-component", Phase: cloud.PhaseSucceeded, ServiceStatus: "Succeeded", CompletionTime: at("2016-12-27T20:12:47Z")},
		},
	}
}

func TestParseSeed(t *testing.T) {
	got, err := Parse(read(t, "003_execution_200.json"))
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
			name: "running, ordered by createAt, failed sub-object",
			body: `{"spec":{"actionName":"upgrade"},"status":{"progress":40,
				"objectStatus":{"phase":"Running","updateAt":"2020-01-01T00:00:09Z"},
				"subObjectStatuses":{
					"db":{"phase":"Failed","reason":"ImagePullBackOff","message":"image not found","createAt":"2020-01-01T00:00:02Z","updateAt":"2020-01-01T00:00:08Z"},
					"app":{"phase":"Running","createAt":"2020-01-01T00:00:05Z","updateAt":"2020-01-01T00:00:06Z"},
					"net":{"phase":"Pending"},
					"cfg":{"phase":"","createAt":"2020-01-01T00:00:02Z"}}}}`,
			want: &cloud.Operation{
				Phase: cloud.PhaseRunning, ServiceStatus: "Running", Progress: pct(40), CurrentStep: "db",
				StartTime: at("2020-01-01T00:00:02Z"),
				Message:   "action upgrade",
				Steps: []cloud.Step{
					{Name: "cfg", Phase: cloud.PhasePending, StartTime: at("2020-01-01T00:00:02Z")},
					{Name: "db", Phase: cloud.PhaseFailed, ServiceStatus: "Failed", Message: "ImagePullBackOff: image not found",
						StartTime: at("2020-01-01T00:00:02Z"), CompletionTime: at("2020-01-01T00:00:08Z")},
					{Name: "app", Phase: cloud.PhaseRunning, ServiceStatus: "Running", StartTime: at("2020-01-01T00:00:05Z")},
					{Name: "net", Phase: cloud.PhasePending, ServiceStatus: "Pending"},
				},
			},
		},
		{
			name: "failed with reason and message, progress clamped",
			body: `{"status":{"actionName":"delete","progress":250,"objectStatus":{"phase":"Failed","reason":"Timeout","message":"took too long","updateAt":"2020-01-01T01:00:00Z"}}}`,
			want: &cloud.Operation{Phase: cloud.PhaseFailed, ServiceStatus: "Failed", Progress: pct(100),
				CompletionTime: at("2020-01-01T01:00:00Z"), Message: "action delete: Timeout: took too long"},
		},
		{
			name: "canceled spelling",
			body: `{"status":{"objectStatus":{"phase":"Canceled"}}}`,
			want: &cloud.Operation{Phase: cloud.PhaseCancelled, ServiceStatus: "Canceled"},
		},
		{
			name: "unknown words and bad times",
			body: `{"metadata":{"creationTimestamp":"yesterday"},"status":{"progress":"n/a","objectStatus":{"phase":"Hibernating","updateAt":42},"subObjectStatuses":{"x":{"phase":"Melting","createAt":"nope"}}}}`,
			want: &cloud.Operation{Phase: cloud.PhaseUnknown, ServiceStatus: "Hibernating", CurrentStep: "x",
				UnknownStatuses: []string{"Hibernating", "Melting"},
				Steps:           []cloud.Step{{Name: "x", Phase: cloud.PhaseUnknown, ServiceStatus: "Melting"}}},
		},
		{
			name: "recognised Unknown is not reported",
			body: `{"status":{"objectStatus":{"phase":"Unknown"}}}`,
			want: &cloud.Operation{Phase: cloud.PhaseUnknown, ServiceStatus: "Unknown"},
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

func TestFetch(t *testing.T) {
	var path, project string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		path, project = r.URL.Path, r.Header.Get("X-Project-Id")
		if r.URL.Path == "/v2/stacks/trim/actions/gone" {
			w.WriteHeader(404)
			w.Write([]byte(`{"code":"AOS.1404","message":"stack not found"}`))
			return
		}
		w.Write(read(t, "003_execution_200.json"))
	}))
	defer srv.Close()
	target := cloud.Target{Service: cloud.ServiceAOS, ProjectID: "p9", StackID: "trim", OperationID: "trim-4074942376",
		BaseURL: srv.URL, Credentials: cloud.Credentials{AccessKey: "AK", SecretKey: "SK"}}
	op, err := New(&transport.HTTPClient{}).Fetch(context.Background(), target)
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(seedOperation(), op); d != "" {
		t.Errorf("(-want +got)\n%s", d)
	}
	if path != "/v2/stacks/trim/actions/trim-4074942376" || project != "p9" {
		t.Errorf("path %q project %q", path, project)
	}
	gone := target
	gone.OperationID = "gone"
	_, err = New(nil).Fetch(context.Background(), gone)
	if ce, ok := err.(*cloud.Error); !ok || ce.Kind != cloud.KindNotFound || ce.Code != "AOS.1404" {
		t.Errorf("got %#v", err)
	}
	for _, bad := range []cloud.Target{{StackID: "", OperationID: "x"}, {StackID: "s", OperationID: ""}, {StackID: "..", OperationID: "x"}} {
		if _, err := New(nil).Fetch(context.Background(), bad); cloud.KindOf(err) != cloud.KindPermanent {
			t.Errorf("%+v: got %v", bad, err)
		}
	}
}

func TestPhasesTable(t *testing.T) {
	want := map[string]cloud.Phase{"pending": cloud.PhasePending, "RUNNING": cloud.PhaseRunning, "succeeded": cloud.PhaseSucceeded,
		"failed": cloud.PhaseFailed, "cancelled": cloud.PhaseCancelled, "canceled": cloud.PhaseCancelled}
	got := map[string]cloud.Phase{}
	for w := range want {
		got[w], _ = Phases.Lookup(w)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %v", got)
	}
}

func FuzzParse(f *testing.F) {
	f.Add(read(f, "003_execution_200.json"))
	f.Add([]byte(`{"status":{"progress":-5,"subObjectStatuses":{"a":{"createAt":"2020-01-01T00:00:00Z"},"b":{"updateAt":"2020-01-01T00:00:00Z"}}}}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		op, err := Parse(body)
		if err != nil {
			return
		}
		if op.Progress != nil && (*op.Progress < 0 || *op.Progress > 100) {
			t.Fatalf("progress %d", *op.Progress)
		}
	})
}

// TestParseTime: RFC 3339 with or without fractional seconds, trimmed
// and converted to UTC; nothing else.
func TestParseTime(t *testing.T) {
	if got := parseTime(" 2016-12-27T20:12:32.5+08:00 "); got == nil || !got.Equal(time.Date(2016, 12, 27, 12, 12, 32, 5e8, time.UTC)) {
		t.Errorf("fractional seconds with offset: got %v", got)
	}
	if got := parseTime("2016-12-27T20:12:32Z"); got == nil || !got.Equal(time.Date(2016, 12, 27, 20, 12, 32, 0, time.UTC)) {
		t.Errorf("whole seconds: got %v", got)
	}
	if got := parseTime("2016-12-27 20:12:32"); got != nil {
		t.Errorf("a time without the T: got %v, want nil", got)
	}
}
