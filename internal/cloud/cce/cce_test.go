package cce

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"reflect"
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

func at(s string) *time.Time {
	t := parseTime(s)
	if t == nil {
		panic(s)
	}
	return t
}

func pct(v int32) *int32 { return &v }

func seedOperation() *cloud.Operation {
	return &cloud.Operation{
		Phase:          cloud.PhaseFailed,
		ServiceStatus:  "Pending",
		Resumable:      true,
		Progress:       pct(25),
		CurrentStep:    "Cluster",
		StartTime:      at("2023-11-25 06:32:34.923248 +0000 UTC"),
		CompletionTime: at("2023-11-25 07:58:35.507243 +0000 UTC"),
		Message:        "upgrade v1.17.17-r0 to v1.19.16-r80; task Cluster failed; the workflow can be resumed",
		Steps: []cloud.Step{
			{Name: "PreCheck", Phase: cloud.PhaseSucceeded, ServiceStatus: "Success",
				StartTime: at("2023-11-25 07:20:04.592972 +0000 UTC"), CompletionTime: at("2023-11-25 07:21:05.518966 +0000 UTC")},
			{Name: "Snapshot", Phase: cloud.PhasePending},
			{Name: "Cluster", Phase: cloud.PhaseFailed, ServiceStatus: "Failed",
				StartTime: at("2023-11-25 07:49:30.283459 +0000 UTC"), CompletionTime: at("2023-11-25 07:58:35.507243 +0000 UTC")},
			{Name: "PostCheck", Phase: cloud.PhasePending},
		},
	}
}

func TestParseSeed(t *testing.T) {
	got, err := Parse(read(t, "002_show_upgrade_workflow_200.json"))
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(seedOperation(), got); d != "" {
		t.Errorf("(-want +got)\n%s", d)
	}
}

func TestParsePhases(t *testing.T) {
	tests := []struct {
		body      string
		phase     cloud.Phase
		resumable bool
		progress  *int32
		unknown   []string
		current   string
	}{
		{`{"status":{"phase":"Init","pointStatuses":[{"taskType":"PreCheck","status":"Init"}]}}`, cloud.PhasePending, false, pct(0), nil, "PreCheck"},
		{`{"status":{"phase":"Running","pointStatuses":[{"taskType":"PreCheck","status":"Success"},{"taskType":"Cluster","status":"Queuing"}]}}`, cloud.PhaseRunning, false, pct(50), nil, "Cluster"},
		{`{"status":{"phase":"Success","pointStatuses":[{"taskType":"PreCheck","status":"Success"},{"taskType":"Cluster","status":"Success"}]}}`, cloud.PhaseSucceeded, false, pct(100), nil, ""},
		{`{"status":{"phase":"Success"}}`, cloud.PhaseSucceeded, false, pct(100), nil, ""},
		{`{"status":{"phase":"Cancel","pointStatuses":[{"taskType":"PreCheck","status":"Running"}]}}`, cloud.PhaseCancelled, false, pct(0), nil, "PreCheck"},
		{`{"status":{"phase":"Paused","pointStatuses":[{"taskType":"PreCheck","status":"Skipped"}]}}`, cloud.PhaseUnknown, false, pct(0), []string{"Paused", "Skipped"}, "PreCheck"},
		{`{"status":{}}`, cloud.PhaseUnknown, false, nil, []string{"(missing)"}, ""},
		{`{"status":"broken"}`, "", false, nil, nil, ""}, // shape error
	}
	for _, tt := range tests {
		op, err := Parse([]byte(tt.body))
		if tt.phase == "" {
			if cloud.KindOf(err) != cloud.KindTransient || err == nil {
				t.Errorf("%s: want a transient error, got %v", tt.body, err)
			}
			continue
		}
		if err != nil {
			t.Fatalf("%s: %v", tt.body, err)
		}
		if op.Phase != tt.phase || op.Resumable != tt.resumable || !reflect.DeepEqual(op.Progress, tt.progress) ||
			!reflect.DeepEqual(op.UnknownStatuses, tt.unknown) || op.CurrentStep != tt.current {
			t.Errorf("%s:\n got phase=%v resumable=%v progress=%v unknown=%q current=%q", tt.body, op.Phase, op.Resumable, op.Progress, op.UnknownStatuses, op.CurrentStep)
		}
	}
}

func TestTopoOrder(t *testing.T) {
	tests := []struct {
		name  string
		types []string
		edges [][2]string
		want  []int
	}{
		{"seed", []string{"PreCheck", "Snapshot", "Cluster", "PostCheck"},
			[][2]string{{"PreCheck", "Cluster"}, {"Cluster", "PostCheck"}}, []int{0, 1, 2, 3}},
		{"list reversed", []string{"PostCheck", "Cluster", "PreCheck"},
			[][2]string{{"PreCheck", "Cluster"}, {"Cluster", "PostCheck"}}, []int{2, 1, 0}},
		{"off-line task keeps list order", []string{"PostCheck", "Snapshot", "PreCheck"},
			[][2]string{{"PreCheck", "PostCheck"}}, []int{1, 2, 0}},
		{"cycle", []string{"A", "B", "C"}, [][2]string{{"A", "B"}, {"B", "C"}, {"C", "A"}}, []int{0, 1, 2}},
		{"self loop and unknown types", []string{"A", "B"}, [][2]string{{"A", "A"}, {"X", "A"}, {"B", "Y"}, {"B", "A"}}, []int{1, 0}},
		{"duplicates", []string{"A", "A", "B"}, [][2]string{{"B", "A"}, {"B", "A"}}, []int{1, 2, 0}},
		{"empty", nil, nil, []int{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := TopoOrder(tt.types, tt.edges); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}

func TestFetch(t *testing.T) {
	var path, ct string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		path, ct = r.URL.Path, r.Header.Get("Content-Type")
		switch {
		case strings.HasSuffix(path, "/missing"):
			w.WriteHeader(404)
			w.Write([]byte(`{"errorCode":"CCE.01404001","errorMessage":"Resource not found"}`))
		default:
			w.Write(read(t, "002_show_upgrade_workflow_200.json"))
		}
	}))
	defer srv.Close()
	target := cloud.Target{
		Service: cloud.ServiceCCE, ProjectID: "p1", ClusterID: "b4b9e60f-8aa2-11ee-af09-0255ac10004f", OperationID: "c271e39e-1a6e-4d3d-8fa8-2a36329c68d1",
		BaseURL: srv.URL, Credentials: cloud.Credentials{AccessKey: "AK", SecretKey: "SK"},
	}
	op, err := New(&transport.HTTPClient{}).Fetch(context.Background(), target)
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(seedOperation(), op); d != "" {
		t.Errorf("(-want +got)\n%s", d)
	}
	if path != "/api/v3/projects/p1/clusters/b4b9e60f-8aa2-11ee-af09-0255ac10004f/operation/upgradeworkflows/c271e39e-1a6e-4d3d-8fa8-2a36329c68d1" || ct != "application/json" {
		t.Errorf("path %q content-type %q", path, ct)
	}

	explicit := target
	explicit.OperationType = cloud.OperationTypeUpgradeWorkflow
	if op, err := New(nil).Fetch(context.Background(), explicit); err != nil || op.ServiceStatus != "Pending" {
		t.Errorf("operationType UpgradeWorkflow: %v, %v", op, err)
	}

	missing := target
	missing.OperationID = "missing"
	if _, err := New(nil).Fetch(context.Background(), missing); cloud.KindOf(err) != cloud.KindNotFound {
		t.Errorf("got %v", err)
	}
	noCluster := target
	noCluster.ClusterID = ""
	if _, err := New(nil).Fetch(context.Background(), noCluster); cloud.KindOf(err) != cloud.KindPermanent || !strings.Contains(err.Error(), "spec.clusterID") {
		t.Errorf("got %v", err)
	}
	slash := target
	slash.OperationID = "a/../../x"
	if _, err := New(nil).Fetch(context.Background(), slash); cloud.KindOf(err) != cloud.KindPermanent {
		t.Errorf("got %v", err)
	}
}

func FuzzParse(f *testing.F) {
	f.Add(read(f, "002_show_upgrade_workflow_200.json"))
	f.Add([]byte(`{"status":{"phase":"Pending","pointStatuses":[{"taskType":"A"},{"taskType":"A"}],"lineStatuses":[{"startPoint":{"taskType":"A"},"endPoint":{"taskType":"A"}}]}}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		op, err := Parse(body)
		if err != nil {
			return
		}
		if op.Progress != nil && (*op.Progress < 0 || *op.Progress > 100) {
			t.Fatalf("progress %d", *op.Progress)
		}
		if len(op.Steps) > MaxTasks {
			t.Fatalf("%d steps", len(op.Steps))
		}
	})
}

// TestParseTime: CCE's time.Time.String() form and its variants read as
// the same instant; placeholders and other text give nil.
func TestParseTime(t *testing.T) {
	want := time.Date(2023, 11, 25, 6, 32, 34, 923248000, time.UTC)
	for _, in := range []string{
		"2023-11-25 06:32:34.923248 +0000 UTC",
		"2023-11-25 14:32:34.923248 +0800 CST",
		"2023-11-25 06:32:34.923248 +0000 UTC m=+0.000123",
		"2023-11-25 06:32:34.923248 +0000",
		"2023-11-25T06:32:34.923248Z",
	} {
		if got := parseTime(in); got == nil || !got.Equal(want) {
			t.Errorf("parseTime(%q) = %v, want %v", in, got, want)
		}
	}
	for _, in := range []string{"", "yesterday", "0001-01-01 00:00:00 +0000 UTC"} {
		if got := parseTime(in); got != nil {
			t.Errorf("parseTime(%q) = %v, want nil", in, got)
		}
	}
}
