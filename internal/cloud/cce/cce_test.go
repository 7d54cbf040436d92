package cce

import (
	"net/http"
	"net/http/httptest"
	"reflect"
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
	adaptertest.Run(t, Parse, []adaptertest.Case{adaptertest.Fixture(t, "002_show_upgrade_workflow_200.json", seedOperation()),
		{
			Name: "error object in a 200: Unknown, the code and message as the message",
			Body: `{"errorCode":"CCE.01404001","errorMessage":"Upgrade workflow not found"}`,
			Want: &cloud.Operation{Phase: cloud.PhaseUnknown, UnknownStatuses: []string{"(missing)"},
				Message: "CCE.01404001: Upgrade workflow not found", Steps: []cloud.Step{}},
		},
	})
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

// TestFetch: an upgrade workflow (operationType empty or
// UpgradeWorkflow) is read from /api/v3/projects/{project}/clusters/
// {cluster}/operation/upgradeworkflows/{id} with Content-Type; targets
// without a cluster, or with IDs that cannot be path segments, are never
// sent.
func TestFetch(t *testing.T) {
	var path, ct string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		path, ct = r.URL.Path, r.Header.Get("Content-Type")
		w.Write(adaptertest.Read(t, "002_show_upgrade_workflow_200.json"))
	}))
	defer srv.Close()
	target := cloud.Target{
		Service: cloud.ServiceCCE, ProjectID: "p1", ClusterID: "b4b9e60f-8aa2-11ee-af09-0255ac10004f", OperationID: "c271e39e-1a6e-4d3d-8fa8-2a36329c68d1",
		BaseURL: srv.URL, Credentials: cloud.Credentials{AccessKey: "AK", SecretKey: "SK"},
	}
	a := New(&transport.HTTPClient{})
	for _, typ := range []cloud.OperationType{"", cloud.OperationTypeUpgradeWorkflow} {
		target.OperationType = typ
		adaptertest.Fetched(t, "seed, operationType "+string(typ), a, target, seedOperation())
		if path != "/api/v3/projects/p1/clusters/b4b9e60f-8aa2-11ee-af09-0255ac10004f/operation/upgradeworkflows/c271e39e-1a6e-4d3d-8fa8-2a36329c68d1" || ct != "application/json" {
			t.Errorf("path %q content-type %q", path, ct)
		}
	}

	target.OperationType = ""
	noCluster, slash := target, target
	noCluster.ClusterID = ""
	slash.OperationID = "a/../../x"
	adaptertest.Rejected(t, New(nil), []cloud.Target{noCluster, slash})
	if _, err := New(nil).Fetch(t.Context(), noCluster); err == nil || !strings.Contains(err.Error(), "spec.clusterID") {
		t.Errorf("got %v", err)
	}
}

// TestConformance: the adapter conformance suite on both kinds of CCE
// operation.
func TestConformance(t *testing.T) {
	workflow := func(phase string) adaptertest.Answer {
		return adaptertest.Answer{`{"metadata":{"creationTimestamp":"2023-11-25 06:32:34.923248 +0000 UTC"},"spec":{"clusterVersion":"v1.27","targetVersion":"v1.28"},` +
			`"status":{"phase":"` + phase + `","pointStatuses":[{"taskType":"PreCheck","status":"Success"},{"taskType":"Cluster","status":"Running"}]}}`}
	}
	// CCE's documented error shape.
	const errorIn200 = `{"errorCode":"CCE.01400001","errorMessage":"Invalid request."}`
	adaptertest.RunConformance(t, adaptertest.Conformance{
		New: func(c *transport.HTTPClient) cloud.Fetcher { return New(c) },
		Kinds: []adaptertest.Kind{
			{
				Name:      "UpgradeWorkflow",
				Target:    cloud.Target{Service: cloud.ServiceCCE, ProjectID: "p1", ClusterID: "c1", OperationID: "w1"},
				Paths:     []string{"/api/v3/projects/p1/clusters/c1/operation/upgradeworkflows/w1"},
				Running:   workflow("Running"),
				Succeeded: workflow("Success"),
				Failed:    adaptertest.Bodies(t, "002_show_upgrade_workflow_200.json"),
				Unknown:   workflow("Paused"), UnknownWord: "Paused",
				ErrorIn200: errorIn200, ErrorCode: "CCE.01400001",
			},
			{
				Name:      "Job",
				Target:    cloud.Target{Service: cloud.ServiceCCE, ProjectID: "p1", OperationType: cloud.OperationTypeJob, OperationID: "j1"},
				Paths:     []string{"/api/v3/projects/p1/jobs/j1"},
				Running:   adaptertest.Bodies(t, "job_create_cluster_running.json"),
				Succeeded: adaptertest.Bodies(t, "job_create_nodepool_success.json"),
				Failed:    adaptertest.Bodies(t, "job_create_node_failed.json"),
				Unknown:   adaptertest.Answer{`{"spec":{"type":"CreateCluster","clusterUID":"c1"},"status":{"phase":"Paused"}}`}, UnknownWord: "Paused",
				ErrorIn200: errorIn200, ErrorCode: "CCE.01400001",
			},
		},
	})
}

func FuzzParse(f *testing.F) {
	f.Add(adaptertest.Read(f, "002_show_upgrade_workflow_200.json"))
	f.Add([]byte(`{"status":{"phase":"Pending","pointStatuses":[{"taskType":"A"},{"taskType":"A"}],"lineStatuses":[{"startPoint":{"taskType":"A"},"endPoint":{"taskType":"A"}}]}}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		op, err := Parse(body)
		if err != nil {
			return
		}
		adaptertest.CheckInvariants(t, op)
		if len(op.Steps) > MaxTasks {
			t.Fatalf("%d steps", len(op.Steps))
		}
	})
}

// TestParseTime: CCE's time.Time.String() form and its variants read as
// the same instant; placeholders and other text give nil.
func TestParseTime(t *testing.T) {
	const want = "2023-11-25 06:32:34.923248 +0000 UTC"
	adaptertest.Times(t, parseTime, map[string]string{
		"2023-11-25 06:32:34.923248 +0000 UTC":             want,
		"2023-11-25 14:32:34.923248 +0800 CST":             want,
		"2023-11-25 06:32:34.923248 +0000 UTC m=+0.000123": want,
		"2023-11-25 06:32:34.923248 +0000":                 want,
		"2023-11-25T06:32:34.923248Z":                      want,
		"":                                                 "<nil>",
		"yesterday":                                        "<nil>",
		"0001-01-01 00:00:00 +0000 UTC":                    "<nil>",
	})
}
