package bcs

import (
	"context"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
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

func ns(v int64) *time.Time { return parseEpoch(v) }

func pct(v int32) *int32 { return &v }

// seedOperation is what seeds 000 and 001 describe: the second step is
// processing, its second sub-step has not started.
func seedOperation() *cloud.Operation {
	return &cloud.Operation{
		Phase:         cloud.PhaseRunning,
		ServiceStatus: "processing",
		Progress:      pct(66), // 2 of 3 sub-steps finished
		CurrentStep:   "Create Other Dependent Resource",
		StartTime:     ns(1618218591951266000),
		Steps: []cloud.Step{
			{
				Name: "Preparation", Phase: cloud.PhaseSucceeded, ServiceStatus: "finished",
				StartTime: ns(1618218591951266000), CompletionTime: ns(1618218591951266000),
				SubSteps: []cloud.Step{{
					Name: "Generate basic configurations", Phase: cloud.PhaseSucceeded, ServiceStatus: "finished",
					StartTime: ns(1618218591951266000), CompletionTime: ns(1618218591951266000),
				}},
			},
			{
				Name: "Create Other Dependent Resource", Phase: cloud.PhaseRunning, ServiceStatus: "processing",
				StartTime: ns(1618219038464462600),
				SubSteps: []cloud.Step{
					{
						Name: "Create EIP", Phase: cloud.PhaseSucceeded, ServiceStatus: "finished",
						StartTime: ns(1618219038464462600), CompletionTime: ns(1618219038464462600),
					},
					{Name: "Create network storage", Phase: cloud.PhasePending, ServiceStatus: "", Message: "waiting"},
				},
			},
		},
	}
}

func TestParseSeeds(t *testing.T) {
	for _, file := range []string{"000_list_op_record_200.json", "001_list_op_record_200.json"} {
		t.Run(file, func(t *testing.T) {
			got, err := Parse(read(t, file))
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(seedOperation(), got); d != "" {
				t.Errorf("(-want +got)\n%s", d)
			}
			// The nanosecond values are read exactly (they exceed float64
			// precision).
			if got.Steps[1].SubSteps[0].StartTime.UnixNano() != 1618219038464462600 {
				t.Errorf("start time lost precision: %d", got.Steps[1].SubSteps[0].StartTime.UnixNano())
			}
		})
	}
}

func TestParseListAndLookup(t *testing.T) {
	ops, err := ParseList(read(t, "001_list_op_record_200.json"))
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := ops[" BCS SVC01-99-1618218591906093855"]; !ok || len(ops) != 1 {
		t.Fatalf("keys: %v", keys(ops))
	}
	for _, id := range []string{
		" BCS SVC01-99-1618218591906093855", // exact
		"BCSSVC01-99-1618218591906093855",   // spaces ignored
		"BCS SVC01-99-1618218591906093855",
	} {
		if op, err := Lookup(ops, id); err != nil || op.Phase != cloud.PhaseRunning {
			t.Errorf("Lookup(%q) = %v, %v", id, op, err)
		}
	}
	if _, err := Lookup(ops, "BCSSVC01-99-1"); cloud.KindOf(err) != cloud.KindNotFound {
		t.Errorf("missing ID: got %v", err)
	}

	two := `{"operation_records":[
		{"operation_id":"A-1","operation_status":"finished"},
		{"operation_id":" A-1 ","operation_status":"failed"},
		{"operation_id":"A - 1","operation_status":"stop"},
		{"operation_id":"","operation_status":"stop"}]}`
	ops, err = ParseList([]byte(two))
	if err != nil || len(ops) != 3 {
		t.Fatalf("got %v, %v", keys(ops), err)
	}
	if op, _ := Lookup(ops, "A-1"); op.Phase != cloud.PhaseSucceeded {
		t.Errorf("exact match must win, got %v", op.Phase)
	}
	if _, err := Lookup(ops, "A -1"); cloud.KindOf(err) != cloud.KindPermanent {
		t.Errorf("ambiguous match: got %v", err)
	}
	if _, err := Parse([]byte(two)); cloud.KindOf(err) != cloud.KindPermanent {
		t.Errorf("Parse of several records: got %v", err)
	}
}

func keys(m map[string]*cloud.Operation) []string {
	var k []string
	for s := range m {
		k = append(k, s)
	}
	return k
}

func TestParseCases(t *testing.T) {
	tests := []struct {
		name string
		body string
		want *cloud.Operation
	}{
		{
			name: "failed with messages, serial ties ordered by name, epoch seconds",
			body: `{"operation_records":[{"operation_id":"X","operation_status":"failed","message":null,"desc":null,
				"operation_process":{
					"b":{"step_name":"Beta","status":"failed","serial_num":1,"sub_steps":{
						"s":{"substep_name":"Sub","status":"failed","detail":"boom","message":["disk full","retry later"],"start_time":1700000000,"end_time":1700000060,"serial_num":1}}},
					"a":{"step_name":"Alpha","status":"finished","serial_num":1,"sub_steps":null}}}]}`,
			want: &cloud.Operation{
				Phase: cloud.PhaseFailed, ServiceStatus: "failed", Progress: pct(50), CurrentStep: "Beta",
				StartTime: ts(1700000000), CompletionTime: ts(1700000060),
				Message: "Beta / Sub failed: boom; disk full; retry later",
				Steps: []cloud.Step{
					{Name: "Alpha", Phase: cloud.PhaseSucceeded, ServiceStatus: "finished"},
					{Name: "Beta", Phase: cloud.PhaseFailed, ServiceStatus: "failed", StartTime: ts(1700000000), CompletionTime: ts(1700000060),
						SubSteps: []cloud.Step{{Name: "Sub", Phase: cloud.PhaseFailed, ServiceStatus: "failed", Message: "boom; disk full; retry later",
							StartTime: ts(1700000000), CompletionTime: ts(1700000060)}}},
				},
			},
		},
		{
			name: "stop is cancelled; record message wins",
			body: `{"operation_records":[{"operation_id":"X","operation_status":"stop","message":["stopped by user"],"desc":"upgrade"}]}`,
			want: &cloud.Operation{Phase: cloud.PhaseCancelled, ServiceStatus: "stop", Message: "stopped by user"},
		},
		{
			name: "finished is 100%, desc as message",
			body: `{"operation_records":[{"operation_id":"X","operation_status":"finished","desc":"create chain"}]}`,
			want: &cloud.Operation{Phase: cloud.PhaseSucceeded, ServiceStatus: "finished", Progress: pct(100), Message: "create chain"},
		},
		{
			name: "waiting",
			body: `{"operation_records":[{"operation_id":"X","operation_status":"waiting"}]}`,
			want: &cloud.Operation{Phase: cloud.PhasePending, ServiceStatus: "waiting"},
		},
		{
			name: "unknown words and bad timestamps",
			body: `{"operation_records":[{"operation_id":"X","operation_status":"rebooting","operation_process":{
				"p":{"status":"paused","serial_num":"x","sub_steps":{"q":{"status":"weird","start_time":"yesterday","end_time":-1}}}}}]}`,
			want: &cloud.Operation{
				Phase: cloud.PhaseUnknown, ServiceStatus: "rebooting", Progress: pct(0), CurrentStep: "p",
				UnknownStatuses: []string{"rebooting", "paused", "weird"},
				Steps: []cloud.Step{{Name: "p", Phase: cloud.PhaseUnknown, ServiceStatus: "paused",
					SubSteps: []cloud.Step{{Name: "q", Phase: cloud.PhaseUnknown, ServiceStatus: "weird"}}}},
			},
		},
		{
			name: "missing status",
			body: `{"operation_records":[{"operation_id":"X"}]}`,
			want: &cloud.Operation{Phase: cloud.PhaseUnknown, UnknownStatuses: []string{"(missing)"}},
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

func ts(sec int64) *time.Time { return parseEpoch(sec) }

func TestParseErrors(t *testing.T) {
	for body, kind := range map[string]cloud.ErrorKind{
		`<html>oops</html>`:                  cloud.KindTransient,
		`{"operation_records":[`:             cloud.KindTransient,
		`{"count":0,"operation_records":[]}`: cloud.KindNotFound,
		`{}`:                                 cloud.KindNotFound,
	} {
		if _, err := Parse([]byte(body)); cloud.KindOf(err) != kind {
			t.Errorf("%q: got %v, want %v", body, err, kind)
		}
	}
}

func TestFetch(t *testing.T) {
	var gotPath, gotQuery, gotProject string
	status, file := 200, "000_list_op_record_200.json"
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gotPath, gotQuery, gotProject = r.URL.Path, r.URL.RawQuery, r.Header.Get("X-Project-Id")
		if !strings.HasPrefix(r.Header.Get("Authorization"), "SDK-HMAC-SHA256 Access=AK,") {
			w.WriteHeader(401)
			return
		}
		w.WriteHeader(status)
		w.Write(read(t, file))
	}))
	defer srv.Close()

	// Without a ListCache: one call filtered by operation_id per Fetch
	// (listcache_test.go covers the shared list).
	a := &Adapter{HTTP: &transport.HTTPClient{}}
	target := cloud.Target{
		Service: cloud.ServiceBCS, ProjectID: "051ddda57400d2982fccc014fab5749d", OperationID: "BCSSVC01-99-1618218591906093855",
		BlockchainID: "23604f57-eac9-3777-e9f5-ae87457f2338", BaseURL: srv.URL,
		Credentials: cloud.Credentials{AccessKey: "AK", SecretKey: "SK"},
	}
	op, err := a.Fetch(context.Background(), target)
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(seedOperation(), op); d != "" {
		t.Errorf("(-want +got)\n%s", d)
	}
	if gotPath != "/v2/051ddda57400d2982fccc014fab5749d/operation/record" ||
		gotQuery != "blockchain_id=23604f57-eac9-3777-e9f5-ae87457f2338&operation_id=BCSSVC01-99-1618218591906093855" ||
		gotProject != "051ddda57400d2982fccc014fab5749d" {
		t.Errorf("request: %s ? %s (project %q)", gotPath, gotQuery, gotProject)
	}

	// Seed 001's record is found although its ID has spaces.
	file = "001_list_op_record_200.json"
	if op, err := a.Fetch(context.Background(), target); err != nil || op.Phase != cloud.PhaseRunning {
		t.Errorf("seed 001: %v, %v", op, err)
	}

	// Another operation_id in the answer: not found.
	other := target
	other.OperationID = "BCSSVC01-99-2"
	other.BlockchainID = ""
	if _, err := a.Fetch(context.Background(), other); cloud.KindOf(err) != cloud.KindNotFound {
		t.Errorf("other ID: %v", err)
	}
	if strings.Contains(gotQuery, "blockchain_id") {
		t.Errorf("blockchain_id sent although unset: %s", gotQuery)
	}

	for _, tc := range []struct {
		status int
		file   string
		kind   cloud.ErrorKind
		code   string
	}{
		{400, "000_list_op_record_400.json", cloud.KindPermanent, "BCS.4006005"},
		{401, "000_list_op_record_401.json", cloud.KindAuth, "BCS.4010401"},
		{403, "000_list_op_record_403.json", cloud.KindAuth, "BCS.4030403"},
		{404, "000_list_op_record_404.json", cloud.KindNotFound, "BCS.4040404"},
		{500, "000_list_op_record_500.json", cloud.KindTransient, "BCS.5000500"},
		{400, "001_list_op_record_400.json", cloud.KindPermanent, "B CS .4006005"},
	} {
		status, file = tc.status, tc.file
		_, err := a.Fetch(context.Background(), target)
		ce, ok := err.(*cloud.Error)
		if !ok || ce.Kind != tc.kind || ce.Code != tc.code || ce.HTTPStatus != tc.status {
			t.Errorf("%s: got %#v", tc.file, err)
		}
	}
}

func TestFetchInvalidTargets(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "not json")
	}))
	defer srv.Close()
	base := cloud.Target{ProjectID: "p", OperationID: "X", BaseURL: srv.URL, Credentials: cloud.Credentials{AccessKey: "AK", SecretKey: "SK"}}
	noOp := base
	noOp.OperationID = ""
	noProject := base
	noProject.ProjectID = ""
	badProject := base
	badProject.ProjectID = "../etc"
	for name, tc := range map[string]struct {
		t    cloud.Target
		kind cloud.ErrorKind
	}{
		"no operation": {noOp, cloud.KindPermanent},
		"no project":   {noProject, cloud.KindPermanent},
		"bad project":  {badProject, cloud.KindPermanent},
		"non-JSON 200": {base, cloud.KindTransient},
	} {
		if _, err := New(nil).Fetch(context.Background(), tc.t); cloud.KindOf(err) != tc.kind {
			t.Errorf("%s: got %v, want %v", name, err, tc.kind)
		}
	}
}

func FuzzParse(f *testing.F) {
	for _, name := range []string{"000_list_op_record_200.json", "001_list_op_record_200.json", "000_list_op_record_400.json"} {
		f.Add(read(f, name))
	}
	f.Add([]byte(`{"operation_records":[{"operation_id":"x","operation_process":{"a":{"sub_steps":{"b":{"start_time":9223372036854775807}}}}}]}`))
	f.Add([]byte(strings.Repeat("[", 20000)))
	f.Fuzz(func(t *testing.T, body []byte) {
		ops, err := ParseList(body)
		if err != nil {
			if _, ok := err.(*cloud.Error); !ok {
				t.Fatalf("error is %T", err)
			}
			return
		}
		for id, op := range ops {
			if op == nil || id == "" {
				t.Fatal("nil operation or empty ID")
			}
			if op.Progress != nil && (*op.Progress < 0 || *op.Progress > 100) {
				t.Fatalf("progress %d", *op.Progress)
			}
			_, _ = Lookup(ops, id)
		}
		_, _ = Parse(body)
	})
}

func TestParseEpoch(t *testing.T) {
	for in, want := range map[int64]string{
		0:                   "",
		-5:                  "",
		1618218591:          "2021-04-12T09:09:51Z",           // seconds
		1618218591906:       "2021-04-12T09:09:51.906Z",       // milliseconds
		1618218591906093:    "2021-04-12T09:09:51.906093Z",    // microseconds
		1618219038464462600: "2021-04-12T09:17:18.4644626Z",   // nanoseconds (seed 000)
		1618218591951266000: "2021-04-12T09:09:51.951266Z",    // seed 000
		99999999999:         "5138-11-16T09:46:39Z",           // largest "seconds"
		100000000000:        "1973-03-03T09:46:40Z",           // smallest "milliseconds"
		math.MaxInt64:       "2262-04-11T23:47:16.854775807Z", // nanoseconds, no overflow
	} {
		got := ""
		if p := parseEpoch(in); p != nil {
			got = p.Format(time.RFC3339Nano)
		}
		if got != want {
			t.Errorf("parseEpoch(%d) = %q, want %q", in, got, want)
		}
	}
}

func FuzzParseEpoch(f *testing.F) {
	f.Add(int64(1618219038464462600))
	f.Add(int64(0))
	f.Add(int64(-1))
	f.Fuzz(func(t *testing.T, v int64) {
		if got := parseEpoch(v); got != nil && got.Location() != time.UTC {
			t.Fatalf("non-UTC time %v", got)
		}
	})
}
