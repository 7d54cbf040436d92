package aos

import (
	"net/http"
	"net/http/httptest"
	"reflect"
	"testing"

	"github.com/cloudop/cloudop/internal/cloud"
	"github.com/cloudop/cloudop/internal/cloud/internal/adaptertest"
	"github.com/cloudop/cloudop/internal/cloud/transport"
)

// Shorthands for the expectations.
var (
	at  = adaptertest.At
	pct = adaptertest.Pct
)

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
	adaptertest.Run(t, Parse, []adaptertest.Case{adaptertest.Fixture(t, "003_execution_200.json", seedOperation())})
}

func TestParseCases(t *testing.T) {
	adaptertest.Run(t, Parse, []adaptertest.Case{
		{
			Name: "running, ordered by createAt, failed sub-object",
			Body: `{"spec":{"actionName":"upgrade"},"status":{"progress":40,
				"objectStatus":{"phase":"Running","updateAt":"2020-01-01T00:00:09Z"},
				"subObjectStatuses":{
					"db":{"phase":"Failed","reason":"ImagePullBackOff","message":"image not found","createAt":"2020-01-01T00:00:02Z","updateAt":"2020-01-01T00:00:08Z"},
					"app":{"phase":"Running","createAt":"2020-01-01T00:00:05Z","updateAt":"2020-01-01T00:00:06Z"},
					"net":{"phase":"Pending"},
					"cfg":{"phase":"","createAt":"2020-01-01T00:00:02Z"}}}}`,
			Want: &cloud.Operation{
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
			Name: "failed with reason and message, progress clamped",
			Body: `{"status":{"actionName":"delete","progress":250,"objectStatus":{"phase":"Failed","reason":"Timeout","message":"took too long","updateAt":"2020-01-01T01:00:00Z"}}}`,
			Want: &cloud.Operation{Phase: cloud.PhaseFailed, ServiceStatus: "Failed", Progress: pct(100),
				CompletionTime: at("2020-01-01T01:00:00Z"), Message: "action delete: Timeout: took too long"},
		},
		{
			Name: "canceled spelling",
			Body: `{"status":{"objectStatus":{"phase":"Canceled"}}}`,
			Want: &cloud.Operation{Phase: cloud.PhaseCancelled, ServiceStatus: "Canceled"},
		},
		{
			Name: "unknown words and bad times",
			Body: `{"metadata":{"creationTimestamp":"yesterday"},"status":{"progress":"n/a","objectStatus":{"phase":"Hibernating","updateAt":42},"subObjectStatuses":{"x":{"phase":"Melting","createAt":"nope"}}}}`,
			Want: &cloud.Operation{Phase: cloud.PhaseUnknown, ServiceStatus: "Hibernating", CurrentStep: "x",
				UnknownStatuses: []string{"Hibernating", "Melting"},
				Steps:           []cloud.Step{{Name: "x", Phase: cloud.PhaseUnknown, ServiceStatus: "Melting"}}},
		},
		{
			Name: "error object in a 200: Unknown, the code and message as the message",
			Body: `{"code":"SVCSTG.AOS.4000010","extend":"","message":"Bad request, request parameter error, please check.","showdetail":false}`,
			Want: &cloud.Operation{Phase: cloud.PhaseUnknown, UnknownStatuses: []string{"(missing)"},
				Message: "SVCSTG.AOS.4000010: Bad request, request parameter error, please check."},
		},
		{
			Name: "recognised Unknown is not reported",
			Body: `{"status":{"objectStatus":{"phase":"Unknown"}}}`,
			Want: &cloud.Operation{Phase: cloud.PhaseUnknown, ServiceStatus: "Unknown"},
		},
	})
}

// TestFetch: the execution is read from /v2/stacks/{stack}/actions/
// {action}, the project in X-Project-Id only; targets whose IDs cannot be
// path segments are never sent.
func TestFetch(t *testing.T) {
	var path, project string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		path, project = r.URL.Path, r.Header.Get("X-Project-Id")
		w.Write(adaptertest.Read(t, "003_execution_200.json"))
	}))
	defer srv.Close()
	target := cloud.Target{Service: cloud.ServiceAOS, ProjectID: "p9", StackID: "trim", OperationID: "trim-4074942376",
		BaseURL: srv.URL, Credentials: cloud.Credentials{AccessKey: "AK", SecretKey: "SK"}}
	adaptertest.Fetched(t, "seed", New(&transport.HTTPClient{}), target, seedOperation())
	if path != "/v2/stacks/trim/actions/trim-4074942376" || project != "p9" {
		t.Errorf("path %q project %q", path, project)
	}
	adaptertest.Rejected(t, New(nil), []cloud.Target{
		{ProjectID: "p9", StackID: "", OperationID: "x"},
		{ProjectID: "p9", StackID: "s", OperationID: ""},
		{ProjectID: "p9", StackID: "..", OperationID: "x"},
	})
}

// TestConformance: the adapter conformance suite on AOS executions.
func TestConformance(t *testing.T) {
	execution := func(phase string) adaptertest.Answer {
		return adaptertest.Answer{`{"metadata":{"creationTimestamp":"2020-01-01T00:00:00Z"},"status":{"actionName":"create",` +
			`"objectStatus":{"phase":"` + phase + `","updateAt":"2020-01-01T00:05:00Z"},` +
			`"subObjectStatuses":{"app":{"phase":"` + phase + `","createAt":"2020-01-01T00:00:01Z"}}}}`}
	}
	adaptertest.RunConformance(t, adaptertest.Conformance{
		New: func(c *transport.HTTPClient) cloud.Fetcher { return New(c) },
		Kinds: []adaptertest.Kind{{
			Name:      "AOS",
			Target:    cloud.Target{Service: cloud.ServiceAOS, ProjectID: "p1", StackID: "trim", OperationID: "trim-4074942376"},
			Paths:     []string{"/v2/stacks/trim/actions/trim-4074942376"},
			Running:   execution("Running"),
			Succeeded: adaptertest.Bodies(t, "003_execution_200.json"),
			Failed:    execution("Failed"),
			Unknown:   execution("Hibernating"), UnknownWord: "Hibernating",
			// AOS's documented error shape.
			ErrorIn200: `{"code":"SVCSTG.AOS.4000010","extend":"","message":"Bad request, request parameter error, please check.","showdetail":false}`,
			ErrorCode:  "SVCSTG.AOS.4000010",
		}},
	})
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
	f.Add(adaptertest.Read(f, "003_execution_200.json"))
	f.Add([]byte(`{"status":{"progress":-5,"subObjectStatuses":{"a":{"createAt":"2020-01-01T00:00:00Z"},"b":{"updateAt":"2020-01-01T00:00:00Z"}}}}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		if op, err := Parse(body); err == nil {
			adaptertest.CheckInvariants(t, op)
		}
	})
}

// TestParseTime: RFC 3339 with or without fractional seconds, trimmed
// and converted to UTC; nothing else.
func TestParseTime(t *testing.T) {
	adaptertest.Times(t, parseTime, map[string]string{
		" 2016-12-27T20:12:32.5+08:00 ": "2016-12-27 12:12:32.5 +0000 UTC",
		"2016-12-27T20:12:32Z":          "2016-12-27 20:12:32 +0000 UTC",
		"2016-12-27 20:12:32":           "<nil>",
	})
}
