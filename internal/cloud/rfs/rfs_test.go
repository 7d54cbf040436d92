package rfs

import (
	"net/http"
	"net/http/httptest"
	"regexp"
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

// Names and IDs the fixtures share.
const (
	vpc      = "huaweicloud_vpc.vpc"
	subnet   = "huaweicloud_vpc_subnet.subnet"
	vpcID    = "6c1f0b2e-7d4a-4b8e-9f3c-1a2b3c4d5e01"
	subnetID = "2d3e4f5a-6b7c-4d8e-9f0a-1b2c3d4e5f03"
	eipID    = "4b5c6d7e-8f9a-4b0c-8d1e-2f3a4b5c6d04"
	summary  = "Apply complete! Resources: 4 added, 0 changed, 0 destroyed."
	dbFailed = "Error creating RDS instance: quota exceeded for resource type instances"
)

// The events of the fixtures: what each gives the steps and resources.
var (
	inProgressSteps = []cloud.Step{
		{Name: vpc, Phase: cloud.PhaseSucceeded, ServiceStatus: "CREATION_COMPLETE",
			StartTime: at("2024-05-14T02:10:02Z"), CompletionTime: at("2024-05-14T02:10:08Z")},
		{Name: subnet, Phase: cloud.PhaseRunning, ServiceStatus: "CREATION_IN_PROGRESS", StartTime: at("2024-05-14T02:10:09Z")},
	}
	completeSteps = []cloud.Step{
		inProgressSteps[0],
		{Name: subnet, Phase: cloud.PhaseSucceeded, ServiceStatus: "CREATION_COMPLETE",
			StartTime: at("2024-05-14T02:10:09Z"), CompletionTime: at("2024-05-14T02:10:18Z")},
		{Name: "huaweicloud_compute_instance.ecs[0]", Phase: cloud.PhaseSucceeded, ServiceStatus: "CREATION_COMPLETE",
			StartTime: at("2024-05-14T02:10:19Z"), CompletionTime: at("2024-05-14T02:12:20Z")},
		{Name: "huaweicloud_compute_instance.ecs[1]", Phase: cloud.PhaseSucceeded, ServiceStatus: "CREATION_COMPLETE",
			StartTime: at("2024-05-14T02:10:19Z"), CompletionTime: at("2024-05-14T02:12:29Z")},
	}
	completeResources = []cloud.Resource{
		res("huaweicloud_vpc", vpcID), res("huaweicloud_vpc_subnet", subnetID),
		res("huaweicloud_compute_instance", "9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c01"),
		res("huaweicloud_compute_instance", "9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c02"),
	}
	failedSteps = []cloud.Step{
		{Name: "huaweicloud_vpc_eip.eip", Phase: cloud.PhaseSucceeded, ServiceStatus: "UPDATE_COMPLETE",
			StartTime: at("2024-05-14T03:05:01Z"), CompletionTime: at("2024-05-14T03:05:12Z")},
		{Name: "huaweicloud_rds_instance.db", Phase: cloud.PhaseFailed, ServiceStatus: "CREATION_FAILED", Message: dbFailed,
			StartTime: at("2024-05-14T03:05:02Z"), CompletionTime: at("2024-05-14T03:05:29Z")},
	}
	failures = "huaweicloud_rds_instance.db: " + dbFailed + "; Error: 1 error occurred during apply."
)

// completePages are the two pages of the completed deployment's events.
var completePages = []string{"events_complete_page1.json", "events_complete_page2.json"}

// fixtures pair a metadata answer with the events pages (see
// testdata/README.md) and what they must give.
var fixtures = []struct {
	name     string
	metadata string
	events   []string
	want     *cloud.Operation
}{
	{"in progress", "metadata_deployment_in_progress.json", []string{"events_in_progress.json"}, &cloud.Operation{
		Phase: cloud.PhaseRunning, ServiceStatus: "DEPLOYMENT_IN_PROGRESS", Progress: pct(50), CurrentStep: subnet,
		Steps: inProgressSteps, StartTime: at("2024-05-14T02:10:01Z"),
		Resources: []cloud.Resource{res("huaweicloud_vpc", vpcID)},
	}},
	{"completed, two pages", "metadata_deployment_complete.json", completePages, &cloud.Operation{
		Phase: cloud.PhaseSucceeded, ServiceStatus: "DEPLOYMENT_COMPLETE", Progress: pct(100), Steps: completeSteps,
		StartTime: at("2024-05-14T02:10:01Z"), CompletionTime: at("2024-05-14T02:12:30Z"),
		Message: summary, Resources: completeResources,
	}},
	{"failed and rolled back", "metadata_rollback_complete.json", []string{"events_failed.json"}, &cloud.Operation{
		Phase: cloud.PhaseFailed, ServiceStatus: "ROLLBACK_COMPLETE", Progress: pct(50),
		CurrentStep: "huaweicloud_rds_instance.db", Steps: failedSteps,
		StartTime: at("2024-05-14T03:05:00Z"), CompletionTime: at("2024-05-14T03:05:30Z"),
		Message:   "Deployment failed: 1 resource failed to create; the stack was rolled back.; " + failures,
		Resources: []cloud.Resource{res("huaweicloud_vpc_eip", eipID)},
	}},
	{"failed, rolling back", "metadata_rollback_in_progress.json", []string{"events_failed.json"}, &cloud.Operation{
		Phase: cloud.PhaseRunning, ServiceStatus: "ROLLBACK_IN_PROGRESS", Progress: pct(50),
		CurrentStep: "huaweicloud_rds_instance.db", Steps: failedSteps, StartTime: at("2024-05-14T03:05:00Z"),
		Message: failures, Resources: []cloud.Resource{res("huaweicloud_vpc_eip", eipID)},
	}},
	{"unknown stack status", "metadata_unknown_status.json", []string{"events_in_progress.json"}, &cloud.Operation{
		Phase: cloud.PhaseUnknown, ServiceStatus: "DEPLOYMENT_PAUSED", Progress: pct(50), CurrentStep: subnet,
		Steps: inProgressSteps, StartTime: at("2024-05-14T02:10:01Z"), UnknownStatuses: []string{"DEPLOYMENT_PAUSED"},
		Resources: []cloud.Resource{res("huaweicloud_vpc", vpcID)},
	}},
	{"a newer deployment failed", "metadata_newer_deployment_failed.json", completePages, &cloud.Operation{
		Phase: cloud.PhaseSucceeded, ServiceStatus: "DEPLOYMENT_FAILED", Progress: pct(100), Steps: completeSteps,
		StartTime: at("2024-05-14T02:10:01Z"), CompletionTime: at("2024-05-14T02:12:30Z"),
		Message: summary, Resources: completeResources,
	}},
	{"a newer deployment runs", "metadata_deployment_in_progress.json", completePages, &cloud.Operation{
		Phase: cloud.PhaseSucceeded, ServiceStatus: "DEPLOYMENT_IN_PROGRESS", Progress: pct(100), Steps: completeSteps,
		StartTime: at("2024-05-14T02:10:01Z"), CompletionTime: at("2024-05-14T02:12:30Z"),
		Message: summary, Resources: completeResources,
	}},
	{"no events yet", "metadata_deployment_complete.json", []string{"events_none.json"}, &cloud.Operation{
		Phase: cloud.PhasePending, ServiceStatus: "DEPLOYMENT_COMPLETE",
		Message: "no events for this deployment yet: it is queued or has not started (the stack's status is its latest deployment's)",
	}},
}

// read returns the metadata and events files of a fixture.
func read(t testing.TB, metadata string, events []string) (meta []byte, pages [][]byte) {
	for _, e := range events {
		pages = append(pages, adaptertest.Read(t, e))
	}
	return adaptertest.Read(t, metadata), pages
}

// TestParseFixtures: each pair of metadata and events files.
func TestParseFixtures(t *testing.T) {
	for _, f := range fixtures {
		meta, pages := read(t, f.metadata, f.events)
		adaptertest.Run(t, func(events []byte) (*cloud.Operation, error) { return Parse(meta, pages...) },
			[]adaptertest.Case{{Name: f.name, Want: f.want}})
	}
}

// parser is Parse of one metadata answer and one events page, the page
// being the case's body.
func parser(metadata string) func([]byte) (*cloud.Operation, error) {
	return func(events []byte) (*cloud.Operation, error) { return Parse([]byte(metadata), events) }
}

// TestParse: the phase rules the fixtures do not reach, written inline.
func TestParse(t *testing.T) {
	const (
		complete   = `{"status":"DEPLOYMENT_COMPLETE"}`
		failed     = `{"status":"DEPLOYMENT_FAILED","status_message":"Error: provider failed"}`
		inProgress = `{"status":" deployment_in_progress "}`
		vpcDone    = `{"resource_type":"huaweicloud_vpc","resource_name":"vpc","resource_id_value":"v1","time":"2024-05-14T02:10:08.5+08:00","event_type":"CREATION_COMPLETE"}`
		vpcStarted = `{"resource_type":"huaweicloud_vpc","resource_name":"vpc","time":"2024-05-14T02:10:02Z","event_type":"CREATION_IN_PROGRESS"}`
	)
	vpcStep := cloud.Step{Name: vpc, Phase: cloud.PhaseSucceeded, ServiceStatus: "CREATION_COMPLETE",
		StartTime: at("2024-05-13T18:10:08.5Z"), CompletionTime: at("2024-05-13T18:10:08.5Z")}
	adaptertest.Run(t, parser(complete), []adaptertest.Case{
		{
			Name: "stack complete, no SUMMARY, nothing running: the stack's deployment is ours",
			Body: `{"stack_events":[` + vpcDone + `]}`,
			Want: &cloud.Operation{Phase: cloud.PhaseSucceeded, ServiceStatus: "DEPLOYMENT_COMPLETE", Progress: pct(100),
				Steps: []cloud.Step{vpcStep}, StartTime: vpcStep.StartTime, CompletionTime: vpcStep.StartTime,
				Resources: []cloud.Resource{res("huaweicloud_vpc", "v1")}},
		},
		{
			Name: "stack complete but a resource still in progress: Running until the events settle",
			Body: `{"stack_events":[` + vpcStarted + `]}`,
			Want: &cloud.Operation{Phase: cloud.PhaseRunning, ServiceStatus: "DEPLOYMENT_COMPLETE", Progress: pct(0), CurrentStep: vpc,
				Steps:     []cloud.Step{{Name: vpc, Phase: cloud.PhaseRunning, ServiceStatus: "CREATION_IN_PROGRESS", StartTime: at("2024-05-14T02:10:02Z")}},
				StartTime: at("2024-05-14T02:10:02Z")},
		},
		{
			Name: "only a SUMMARY (nothing to change): Succeeded, no progress",
			Body: `{"stack_events":[{"event_type":"SUMMARY","event_message":"No changes.","time":"2024-05-14T02:10:00Z"}],"page_info":null}`,
			Want: &cloud.Operation{Phase: cloud.PhaseSucceeded, ServiceStatus: "DEPLOYMENT_COMPLETE", Message: "No changes.",
				StartTime: at("2024-05-14T02:10:00Z"), CompletionTime: at("2024-05-14T02:10:00Z")},
		},
		{
			Name: "an ERROR on a resource fails it; a replacement ends with its creation; for_each key quoted",
			Body: `{"stack_events":[` +
				`{"resource_type":"t","resource_name":"b","resource_key":"k 1","event_type":"ERROR","event_message":"boom"},` +
				`{"resource_type":"t","resource_name":"a","event_type":"CREATION_COMPLETE","resource_id_value":"a2"},` +
				`{"resource_type":"t","resource_name":"a","event_type":"DELETION_COMPLETE","resource_id_value":"a1"},` +
				`{"resource_type":"t","resource_name":"a","event_type":"DELETION_IN_PROGRESS"}]}`,
			Want: &cloud.Operation{Phase: cloud.PhaseFailed, ServiceStatus: "DEPLOYMENT_COMPLETE", Progress: pct(50),
				CurrentStep: `t.b["k 1"]`, Message: `t.b["k 1"]: boom`,
				Steps: []cloud.Step{{Name: "t.a", Phase: cloud.PhaseSucceeded, ServiceStatus: "CREATION_COMPLETE"},
					{Name: `t.b["k 1"]`, Phase: cloud.PhaseFailed, ServiceStatus: "ERROR", Message: "boom"}},
				Resources: []cloud.Resource{res("t", "a1"), res("t", "a2")}},
		},
		{
			Name: "unknown event words and events without a type are recorded; empty events skipped; DRIFT ignored",
			Body: `{"stack_events":[{},null,"x",{"resource_name":"r","event_type":"IMPORT_COMPLETE"},{"event_message":"?"},` +
				`{"resource_type":"t","resource_name":"d","event_type":"DRIFT","resource_id_value":"d1"}]}`,
			Want: &cloud.Operation{Phase: cloud.PhaseSucceeded, ServiceStatus: "DEPLOYMENT_COMPLETE", Progress: pct(0), CurrentStep: "r",
				Steps:           []cloud.Step{{Name: "r", Phase: cloud.PhaseUnknown, ServiceStatus: "IMPORT_COMPLETE"}},
				UnknownStatuses: []string{"(missing)", "IMPORT_COMPLETE"}},
		},
	})
	adaptertest.Run(t, parser(failed), []adaptertest.Case{
		{
			Name: "stack failed and ours has no failure and no SUMMARY: taken as ours, Failed with the stack's message",
			Body: `{"stack_events":[{"event_type":"LOG","event_message":"Deployment started"}]}`,
			Want: &cloud.Operation{Phase: cloud.PhaseFailed, ServiceStatus: "DEPLOYMENT_FAILED", Message: "Error: provider failed"},
		},
		{
			Name: "failure without a resource or message; the stack's message repeated once",
			Body: `{"stack_events":[{"event_type":"ERROR","event_message":"Error: provider failed"},{"event_type":"ERROR"}]}`,
			Want: &cloud.Operation{Phase: cloud.PhaseFailed, ServiceStatus: "DEPLOYMENT_FAILED", Message: "Error: provider failed"},
		},
	})
	adaptertest.Run(t, parser(inProgress), []adaptertest.Case{
		{
			Name: "a failure seen while the stack still deploys: Running with the failure",
			Body: `{"stack_events":[{"resource_type":"t","resource_name":"a","event_type":"CREATION_FAILED","event_message":"x"}]}`,
			Want: &cloud.Operation{Phase: cloud.PhaseRunning, ServiceStatus: "deployment_in_progress", Progress: pct(0), CurrentStep: "t.a",
				Message: "t.a: x", Steps: []cloud.Step{{Name: "t.a", Phase: cloud.PhaseFailed, ServiceStatus: "CREATION_FAILED", Message: "x"}}},
		},
		{
			Name: "no events, stack_events missing",
			Body: `{"page_info":{"next_marker":"m"}}`,
			Want: &cloud.Operation{Phase: cloud.PhasePending, ServiceStatus: "deployment_in_progress",
				Message: "no events for this deployment yet: it is queued or has not started (the stack's status is its latest deployment's)"},
		},
	})
	adaptertest.Run(t, parser(`{"status":"CREATION_COMPLETE"}`), []adaptertest.Case{{
		Name: "events on a stack that reports no deployment: Running",
		Body: `{"stack_events":[` + vpcDone + `]}`,
		Want: &cloud.Operation{Phase: cloud.PhaseRunning, ServiceStatus: "CREATION_COMPLETE", Progress: pct(100),
			Steps: []cloud.Step{vpcStep}, StartTime: vpcStep.StartTime, Resources: []cloud.Resource{res("huaweicloud_vpc", "v1")}},
	}})
	adaptertest.Run(t, parser(`{"stack_name":"s"}`), []adaptertest.Case{{
		Name: "no status: Unknown, (missing)",
		Body: `{"stack_events":[]}`,
		Want: &cloud.Operation{Phase: cloud.PhaseUnknown, UnknownStatuses: []string{"(missing)"}},
	}})
	const rfsError = `{"error_code":"RF.0002","error_msg":"The request is throttled internally."}`
	adaptertest.Run(t, parser(rfsError), []adaptertest.Case{{
		Name: "error object for the metadata: Unknown, the error as the message",
		Body: `{"stack_events":[]}`,
		Want: &cloud.Operation{Phase: cloud.PhaseUnknown, UnknownStatuses: []string{"(missing)"},
			Message: "RF.0002: The request is throttled internally."},
	}})
	adaptertest.Run(t, parser(inProgress), []adaptertest.Case{{
		Name: "error object for the events: Unknown, the error as the message, not \"no events yet\"",
		Body: rfsError,
		Want: &cloud.Operation{Phase: cloud.PhaseUnknown, ServiceStatus: "deployment_in_progress",
			Message: "RF.0002: The request is throttled internally."},
	}})

	// Many failures are cut.
	var many []string
	for range 12 {
		many = append(many, `{"event_type":"ERROR","event_message":"e`+strings.Repeat("x", len(many))+`"}`)
	}
	op, err := Parse([]byte(failed), []byte(`{"stack_events":[`+strings.Join(many, ",")+`]}`))
	if err != nil || !strings.HasSuffix(op.Message, "; … 4 more failures") || strings.Count(op.Message, "; ") != 9 {
		t.Errorf("many failures: %v, %v", op, err)
	}

	for _, bodies := range [][]string{{``}, {`[]`}, {complete, `<html>`}, {complete, `{"stack_events":[]}`, `{"stack_events":`}} {
		var pages [][]byte
		for _, b := range bodies[1:] {
			pages = append(pages, []byte(b))
		}
		if _, err := Parse([]byte(bodies[0]), pages...); err == nil || cloud.KindOf(err) != cloud.KindTransient {
			t.Errorf("Parse(%q): want a transient error, got %v", bodies, err)
		}
	}
}

// TestTables: every status word of the SDK's enums is known.
func TestTables(t *testing.T) {
	for _, w := range []string{"CREATION_COMPLETE", "DEPLOYMENT_IN_PROGRESS", "DEPLOYMENT_FAILED", "DEPLOYMENT_COMPLETE",
		"ROLLBACK_IN_PROGRESS", "ROLLBACK_FAILED", "ROLLBACK_COMPLETE", "DELETION_IN_PROGRESS", "DELETION_FAILED"} {
		if _, ok := StackStatuses.Lookup(w); !ok {
			t.Errorf("stack status %s unknown", w)
		}
	}
	for _, w := range []string{"ERROR", "CREATION_IN_PROGRESS", "CREATION_FAILED", "CREATION_COMPLETE",
		"DELETION_IN_PROGRESS", "DELETION_FAILED", "DELETION_COMPLETE", "UPDATE_IN_PROGRESS", "UPDATE_FAILED", "UPDATE_COMPLETE"} {
		if _, ok := EventTypes.Lookup(w); !ok {
			t.Errorf("event type %s unknown", w)
		}
	}
}

// TestParseTime: RFC 3339 only.
func TestParseTime(t *testing.T) {
	adaptertest.Times(t, parseTime, map[string]string{
		"2024-05-14T02:10:08Z":          "2024-05-14 02:10:08 +0000 UTC",
		" 2024-05-14T10:10:08.25+08:00": "2024-05-14 02:10:08.25 +0000 UTC",
		"1970-01-01T00:00:00Z":          "<nil>",
		"2024-05-14T10:10:08+0800":      "<nil>",
		"2024-05-14 02:10:08":           "<nil>",
		"":                              "<nil>",
	})
}

var uuidPattern = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

// TestFetch: the metadata, then the events pages by next_marker, each a
// signed GET with X-Project-Id, Content-Type and its own Client-Request-Id;
// stack_id when pinned; a stack name in Chinese escaped in the path;
// targets that cannot be right are never sent.
func TestFetch(t *testing.T) {
	type request struct{ path, rawPath, query, requestID, project, contentType, auth string }
	var (
		got      []request
		metadata string
		events   []string
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = append(got, request{r.URL.Path, r.URL.EscapedPath(), r.URL.RawQuery, r.Header.Get("Client-Request-Id"),
			r.Header.Get("X-Project-Id"), r.Header.Get("Content-Type"), r.Header.Get("Authorization")})
		switch {
		case strings.HasSuffix(r.URL.Path, "/metadata"):
			w.Write(adaptertest.Read(t, metadata))
		case r.URL.Query().Get("marker") == "":
			w.Write(adaptertest.Read(t, events[0]))
		default:
			w.Write(adaptertest.Read(t, events[len(events)-1]))
		}
	}))
	defer srv.Close()
	target := cloud.Target{Service: cloud.ServiceRFS, Region: "cn-north-4", ProjectID: "p1", StackName: "demo-stack",
		OperationID: "d1", BaseURL: srv.URL, Credentials: cloud.Credentials{AccessKey: "AK", SecretKey: "SK"}}
	a := New(&transport.HTTPClient{})

	for _, f := range fixtures {
		got, metadata, events = nil, f.metadata, f.events
		adaptertest.Fetched(t, f.name, a, target, f.want)
		want := []string{"/v1/p1/stacks/demo-stack/metadata?", "/v1/p1/stacks/demo-stack/events?deployment_id=d1"}
		if len(f.events) == 2 {
			want = append(want, "/v1/p1/stacks/demo-stack/events?deployment_id=d1&marker=ZXZlbnQtMDAwNA%3D%3D")
		}
		if len(got) != len(want) {
			t.Fatalf("%s: %d requests, want %d: %v", f.name, len(got), len(want), got)
		}
		ids := map[string]bool{}
		for i, r := range got {
			if r.path+"?"+r.query != want[i] || r.project != "p1" || r.contentType != "application/json" ||
				!uuidPattern.MatchString(r.requestID) || ids[r.requestID] ||
				!strings.HasPrefix(r.auth, "SDK-HMAC-SHA256 Access=AK,") || !strings.Contains(r.auth, "client-request-id") {
				t.Errorf("%s: request %d: %+v, want %s", f.name, i, r, want[i])
			}
			ids[r.requestID] = true
		}
	}

	// Pinned to a stack ID, named in Chinese.
	got, metadata, events = nil, "metadata_deployment_complete.json", []string{"events_none.json"}
	tg := target
	tg.StackName, tg.StackID = "演示栈-01", "3f6e1c2a"
	if _, err := a.Fetch(t.Context(), tg); err != nil || len(got) != 2 {
		t.Fatalf("%v, %v", got, err)
	}
	const escaped = "/v1/p1/stacks/%E6%BC%94%E7%A4%BA%E6%A0%88-01/"
	if got[0].rawPath != escaped+"metadata" || got[0].query != "stack_id=3f6e1c2a" ||
		got[1].rawPath != escaped+"events" || got[1].query != "deployment_id=d1&stack_id=3f6e1c2a" {
		t.Errorf("pinned: %+v", got)
	}

	// Pages are bounded, and a marker seen before ends the reading.
	got, metadata, events = nil, "metadata_deployment_complete.json", []string{"events_complete_page1.json"}
	if _, err := a.Fetch(t.Context(), target); err != nil || len(got) != 3 {
		t.Errorf("repeated marker: %d requests, %v", len(got), err)
	}

	var rejected []cloud.Target
	for _, change := range []func(*cloud.Target){
		func(t *cloud.Target) { t.OperationID = "" },
		func(t *cloud.Target) { t.OperationID = "d 1" },
		func(t *cloud.Target) { t.OperationID = "../d1" },
		func(t *cloud.Target) { t.StackID = "s/1" },
		func(t *cloud.Target) { t.ProjectID = "" },
		func(t *cloud.Target) { t.OperationType = cloud.OperationTypeJob },
	} {
		tg := target
		change(&tg)
		rejected = append(rejected, tg)
	}
	for _, name := range []string{"", "a/b", "a b", "a?b", "a#b", "a%2Fb", ".."} {
		tg := target
		tg.StackName = name
		rejected = append(rejected, tg)
	}
	adaptertest.Rejected(t, New(nil), rejected)
}

// TestConformance: the adapter conformance suite on RFS deployments,
// whose fetch is two requests (the stack's metadata, then the
// deployment's events), each tried with every fault.
func TestConformance(t *testing.T) {
	bodies := func(files ...string) adaptertest.Answer { return adaptertest.Bodies(t, files...) }
	adaptertest.RunConformance(t, adaptertest.Conformance{
		New: func(c *transport.HTTPClient) cloud.Fetcher { return New(c) },
		Kinds: []adaptertest.Kind{{
			Name:    "RFS",
			Target:  cloud.Target{Service: cloud.ServiceRFS, Region: "cn-north-4", ProjectID: "p1", StackName: "demo-stack", OperationID: "d1"},
			Paths:   []string{"/v1/p1/stacks/demo-stack/metadata", "/v1/p1/stacks/demo-stack/events?deployment_id=d1"},
			Running: bodies("metadata_deployment_in_progress.json", "events_in_progress.json"),
			Succeeded: adaptertest.Answer{string(adaptertest.Read(t, "metadata_deployment_complete.json")),
				`{"stack_events":[{"event_type":"SUMMARY","event_message":"Apply complete! Resources: 1 added.","time":"2024-05-14T02:10:09Z"},` +
					`{"resource_type":"huaweicloud_vpc","resource_name":"vpc","resource_id_value":"v1","time":"2024-05-14T02:10:08Z","event_type":"CREATION_COMPLETE"}]}`},
			Failed:  bodies("metadata_rollback_complete.json", "events_failed.json"),
			Unknown: bodies("metadata_unknown_status.json", "events_in_progress.json"), UnknownWord: "DEPLOYMENT_PAUSED",
			// RFS's documented error shape.
			ErrorIn200: `{"error_code":"RF.0002","error_msg":"The request is throttled internally.","encoded_authorization_message":""}`,
			ErrorCode:  "RF.0002",
		}},
	})
}

// TestMaxEventPages: a deployment whose every page names a new next page
// is read MaxEventPages pages deep.
func TestMaxEventPages(t *testing.T) {
	n := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/metadata") {
			w.Write([]byte(`{"status":"DEPLOYMENT_IN_PROGRESS"}`))
			return
		}
		n++
		w.Write([]byte(`{"stack_events":[],"page_info":{"next_marker":"m` + strings.Repeat("x", n) + `"}}`))
	}))
	defer srv.Close()
	_, err := New(nil).Fetch(t.Context(), cloud.Target{Service: cloud.ServiceRFS, ProjectID: "p1", StackName: "s",
		OperationID: "d1", BaseURL: srv.URL, Credentials: cloud.Credentials{AccessKey: "AK", SecretKey: "SK"}})
	if err != nil || n != MaxEventPages {
		t.Errorf("%d pages, %v", n, err)
	}
}

func FuzzParse(f *testing.F) {
	for _, fx := range fixtures {
		meta, pages := read(f, fx.metadata, fx.events)
		f.Add(meta, pages[0])
	}
	f.Add([]byte(`{"status":"ROLLBACK_IN_PROGRESS"}`), []byte(`{"stack_events":[{"event_type":"ERROR"},{"resource_type":"t","resource_key":"`+"\x00"+`"}]}`))
	f.Add([]byte(`{"status":1}`), []byte(`{"stack_events":{},"page_info":[]}`))
	f.Fuzz(func(t *testing.T, metadata, events []byte) {
		op, err := Parse(metadata, events)
		if err != nil {
			if k := cloud.KindOf(err); k != cloud.KindTransient {
				t.Fatalf("error of kind %v: %v", k, err)
			}
			return
		}
		adaptertest.CheckInvariants(t, op)
		if op.CompletionTime != nil && !op.Phase.IsTerminal() {
			t.Fatalf("completion time while %s", op.Phase)
		}
	})
}
