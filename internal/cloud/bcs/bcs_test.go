package bcs

import (
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/cloudop/cloudop/internal/cloud"
	"github.com/cloudop/cloudop/internal/cloud/internal/adaptertest"
	"github.com/cloudop/cloudop/internal/cloud/transport"
)

// Shorthands for the expectations: ns and ts are times in nanoseconds
// and seconds since the epoch, as BCS writes them.
var pct = adaptertest.Pct

func ns(v int64) *time.Time   { return adaptertest.Unix(0, v) }
func ts(sec int64) *time.Time { return adaptertest.Unix(sec, 0) }

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
	files := []string{"000_list_op_record_200.json", "001_list_op_record_200.json"}
	var cases []adaptertest.Case
	for _, file := range files {
		cases = append(cases, adaptertest.Fixture(t, file, seedOperation()))
	}
	adaptertest.Run(t, Parse, cases)
	// The nanosecond values are read exactly (they exceed float64
	// precision).
	for _, file := range files {
		if op, err := Parse(adaptertest.Read(t, file)); err != nil || op.Steps[1].SubSteps[0].StartTime.UnixNano() != 1618219038464462600 {
			t.Errorf("%s: start time lost precision: %v, %v", file, op, err)
		}
	}
}

func TestParseListAndLookup(t *testing.T) {
	ops, err := ParseList(adaptertest.Read(t, "001_list_op_record_200.json"))
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
	adaptertest.Run(t, Parse, []adaptertest.Case{
		{
			Name: "failed with messages, serial ties ordered by name, epoch seconds",
			Body: `{"operation_records":[{"operation_id":"X","operation_status":"failed","message":null,"desc":null,
				"operation_process":{
					"b":{"step_name":"Beta","status":"failed","serial_num":1,"sub_steps":{
						"s":{"substep_name":"Sub","status":"failed","detail":"boom","message":["disk full","retry later"],"start_time":1700000000,"end_time":1700000060,"serial_num":1}}},
					"a":{"step_name":"Alpha","status":"finished","serial_num":1,"sub_steps":null}}}]}`,
			Want: &cloud.Operation{
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
			Name: "stop is cancelled; record message wins",
			Body: `{"operation_records":[{"operation_id":"X","operation_status":"stop","message":["stopped by user"],"desc":"upgrade"}]}`,
			Want: &cloud.Operation{Phase: cloud.PhaseCancelled, ServiceStatus: "stop", Message: "stopped by user"},
		},
		{
			Name: "finished is 100%, desc as message",
			Body: `{"operation_records":[{"operation_id":"X","operation_status":"finished","desc":"create chain"}]}`,
			Want: &cloud.Operation{Phase: cloud.PhaseSucceeded, ServiceStatus: "finished", Progress: pct(100), Message: "create chain"},
		},
		{
			Name: "waiting",
			Body: `{"operation_records":[{"operation_id":"X","operation_status":"waiting"}]}`,
			Want: &cloud.Operation{Phase: cloud.PhasePending, ServiceStatus: "waiting"},
		},
		{
			Name: "unknown words and bad timestamps",
			Body: `{"operation_records":[{"operation_id":"X","operation_status":"rebooting","operation_process":{
				"p":{"status":"paused","serial_num":"x","sub_steps":{"q":{"status":"weird","start_time":"yesterday","end_time":-1}}}}}]}`,
			Want: &cloud.Operation{
				Phase: cloud.PhaseUnknown, ServiceStatus: "rebooting", Progress: pct(0), CurrentStep: "p",
				UnknownStatuses: []string{"rebooting", "paused", "weird"},
				Steps: []cloud.Step{{Name: "p", Phase: cloud.PhaseUnknown, ServiceStatus: "paused",
					SubSteps: []cloud.Step{{Name: "q", Phase: cloud.PhaseUnknown, ServiceStatus: "weird"}}}},
			},
		},
		{
			Name: "missing status",
			Body: `{"operation_records":[{"operation_id":"X"}]}`,
			Want: &cloud.Operation{Phase: cloud.PhaseUnknown, UnknownStatuses: []string{"(missing)"}},
		},
	})
}

func TestParseErrors(t *testing.T) {
	for body, kind := range map[string]cloud.ErrorKind{
		`<html>oops</html>`:                  cloud.KindTransient,
		`{"operation_records":[`:             cloud.KindTransient,
		`{"count":0,"operation_records":[]}`: cloud.KindNotFound,
		`{}`:                                 cloud.KindNotFound,
		// The documented 400 body in a 200: the query failed.
		string(adaptertest.Read(t, "000_list_op_record_400.json")): cloud.KindTransient,
	} {
		if _, err := Parse([]byte(body)); cloud.KindOf(err) != kind {
			t.Errorf("%q: got %v, want %v", body, err, kind)
		}
	}
	if _, err := Parse(adaptertest.Read(t, "000_list_op_record_400.json")); err == nil || err.Error() != "BCS.4006005: keyType error, keyType: blok not supported" {
		t.Errorf("error object: got %v", err)
	}
}

// TestFetch: without a ListCache, one ListOpRecord call filtered by
// operation_id (and blockchain_id when set) per Fetch, whose record is
// picked even with the stray spaces of seed 001; the documented error
// bodies are classified with their codes; targets without an operation
// or a usable project are never sent.
func TestFetch(t *testing.T) {
	var gotPath, gotQuery, gotProject string
	status, file := 200, "000_list_op_record_200.json"
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gotPath, gotQuery, gotProject = r.URL.Path, r.URL.RawQuery, r.Header.Get("X-Project-Id")
		w.WriteHeader(status)
		w.Write(adaptertest.Read(t, file))
	}))
	defer srv.Close()

	// listcache_test.go covers the shared list.
	a := &Adapter{HTTP: &transport.HTTPClient{}}
	target := cloud.Target{
		Service: cloud.ServiceBCS, ProjectID: "051ddda57400d2982fccc014fab5749d", OperationID: "BCSSVC01-99-1618218591906093855",
		BlockchainID: "23604f57-eac9-3777-e9f5-ae87457f2338", BaseURL: srv.URL,
		Credentials: cloud.Credentials{AccessKey: "AK", SecretKey: "SK"},
	}
	adaptertest.Fetched(t, file, a, target, seedOperation())
	if gotPath != "/v2/051ddda57400d2982fccc014fab5749d/operation/record" ||
		gotQuery != "blockchain_id=23604f57-eac9-3777-e9f5-ae87457f2338&operation_id=BCSSVC01-99-1618218591906093855" ||
		gotProject != "051ddda57400d2982fccc014fab5749d" {
		t.Errorf("request: %s ? %s (project %q)", gotPath, gotQuery, gotProject)
	}

	// Seed 001's record is found although its ID has spaces.
	file = "001_list_op_record_200.json"
	adaptertest.Fetched(t, file, a, target, seedOperation())

	// Another operation_id in the answer: not found.
	other := target
	other.OperationID = "BCSSVC01-99-2"
	other.BlockchainID = ""
	if _, err := a.Fetch(t.Context(), other); cloud.KindOf(err) != cloud.KindNotFound {
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
		_, err := a.Fetch(t.Context(), target)
		ce, ok := err.(*cloud.Error)
		if !ok || ce.Kind != tc.kind || ce.Code != tc.code || ce.HTTPStatus != tc.status {
			t.Errorf("%s: got %#v", tc.file, err)
		}
	}

	adaptertest.Rejected(t, New(nil), []cloud.Target{
		{ProjectID: "p", OperationID: ""},
		{ProjectID: "", OperationID: "X"},
		{ProjectID: "../etc", OperationID: "X"},
	})
}

// TestConformance: the adapter conformance suite on BCS operations, read
// from the shared list (New) and, without a ListCache, one by one.
func TestConformance(t *testing.T) {
	record := func(status string) adaptertest.Answer {
		return adaptertest.Answer{`{"count":1,"operation_records":[{"operation_id":"X-1","blockchain_id":"bc1","operation_status":"` + status + `",` +
			`"operation_process":{"p":{"step_name":"Deploy","status":"` + status + `","serial_num":1}}}]}`}
	}
	kind := func(name, query string) adaptertest.Kind {
		return adaptertest.Kind{
			Name:      name,
			Target:    cloud.Target{Service: cloud.ServiceBCS, ProjectID: "p1", OperationID: "X-1", BlockchainID: "bc1"},
			Paths:     []string{"/v2/p1/operation/record?" + query},
			Running:   record("processing"),
			Succeeded: record("finished"),
			Failed:    record("failed"),
			Unknown:   record("rebooting"), UnknownWord: "rebooting",
			// The documented 400 body.
			ErrorIn200: string(adaptertest.Read(t, "000_list_op_record_400.json")), ErrorCode: "BCS.4006005",
		}
	}
	t.Run("list", func(t *testing.T) {
		adaptertest.RunConformance(t, adaptertest.Conformance{
			New:   func(c *transport.HTTPClient) cloud.Fetcher { return New(c) },
			Kinds: []adaptertest.Kind{kind("BCS", "blockchain_id=bc1")},
		})
	})
	t.Run("one by one", func(t *testing.T) {
		adaptertest.RunConformance(t, adaptertest.Conformance{
			New:   func(c *transport.HTTPClient) cloud.Fetcher { return &Adapter{HTTP: c} },
			Kinds: []adaptertest.Kind{kind("BCS", "blockchain_id=bc1&operation_id=X-1")},
		})
	})
}

func FuzzParse(f *testing.F) {
	for _, name := range []string{"000_list_op_record_200.json", "001_list_op_record_200.json", "000_list_op_record_400.json"} {
		f.Add(adaptertest.Read(f, name))
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
			adaptertest.CheckInvariants(t, op)
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
