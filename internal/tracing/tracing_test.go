package tracing

import (
	"context"
	"testing"
	"time"

	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	opsv1 "github.com/cloudop/cloudop/api/v1alpha1"
)

var t0 = time.Date(2026, 12, 7, 3, 0, 0, 0, time.UTC)

func at(d time.Duration) *metav1.Time { return &metav1.Time{Time: t0.Add(d)} }

// finished is a failed CCE upgrade: two tasks, the second with two
// sub-steps, the last of which failed.
func finished() *opsv1.CloudOperation {
	return &opsv1.CloudOperation{
		ObjectMeta: metav1.ObjectMeta{Namespace: "team-a", Name: "upgrade", UID: "0b4c2a51-7d7e-4a9c-9f0e-2f6b5d1c3e11", CreationTimestamp: metav1.Time{Time: t0.Add(-time.Minute)}},
		Spec:       opsv1.CloudOperationSpec{Service: opsv1.ServiceCCE, Region: "cn-north-4", OperationID: "wf-1", ClusterID: "c1"},
		Status: opsv1.CloudOperationStatus{
			Phase: opsv1.PhaseFailed, ServiceStatus: "Pending", Message: "task Nodes failed", StartTime: at(0), CompletionTime: at(40 * time.Minute),
			Resources: []opsv1.ResourceReference{{Type: "cluster", ID: "c1"}},
			Steps: []opsv1.OperationStep{
				{StepStatus: opsv1.StepStatus{Name: "Cluster", Phase: opsv1.PhaseSucceeded, StartTime: at(0), CompletionTime: at(25 * time.Minute)}},
				{StepStatus: opsv1.StepStatus{Name: "Nodes", Phase: opsv1.PhaseFailed, StartTime: at(25 * time.Minute), CompletionTime: at(40 * time.Minute), Message: "node-2 failed"},
					SubSteps: []opsv1.StepStatus{
						{Name: "node-1", Phase: opsv1.PhaseSucceeded, StartTime: at(25 * time.Minute), CompletionTime: at(30 * time.Minute)},
						{Name: "node-2", Phase: opsv1.PhaseFailed},  // no times: its step's
						{Name: "node-3", Phase: opsv1.PhasePending}, // never ran: no span
					}},
				{StepStatus: opsv1.StepStatus{Name: "PostCheck", Phase: opsv1.PhasePending}}, // never ran
			},
		},
	}
}

// TestExportSpanTree: one trace with the operation's root span, one span
// per step and sub-step under it with the cloud's times, attributes and
// error status; the same object exported again gets the same IDs.
func TestExportSpanTree(t *testing.T) {
	mem := tracetest.NewInMemoryExporter()
	e := New(mem)
	defer e.Shutdown(context.Background())
	obj := finished()
	if err := e.Export(context.Background(), obj); err != nil {
		t.Fatal(err)
	}
	spans := mem.GetSpans()
	if len(spans) != 5 {
		t.Fatalf("%d spans, want 5 (operation, 2 steps, 2 sub-steps; none for the steps that never ran)", len(spans))
	}
	byName := map[string]tracetest.SpanStub{}
	for _, s := range spans {
		byName[s.Name] = s
		if s.SpanContext.TraceID() != TraceID(obj.UID) {
			t.Errorf("%s: trace %s, want %s", s.Name, s.SpanContext.TraceID(), TraceID(obj.UID))
		}
	}
	root := byName["CCE wf-1"]
	for _, tc := range []struct {
		name       string
		parent     string
		start, end time.Duration
		code       codes.Code
	}{
		{"CCE wf-1", "", 0, 40 * time.Minute, codes.Error},
		{"Cluster", "CCE wf-1", 0, 25 * time.Minute, codes.Ok},
		{"Nodes", "CCE wf-1", 25 * time.Minute, 40 * time.Minute, codes.Error},
		{"node-1", "Nodes", 25 * time.Minute, 30 * time.Minute, codes.Ok},
		{"node-2", "Nodes", 25 * time.Minute, 40 * time.Minute, codes.Error},
	} {
		s, ok := byName[tc.name]
		if !ok {
			t.Errorf("no span %q", tc.name)
			continue
		}
		if !s.StartTime.Equal(t0.Add(tc.start)) || !s.EndTime.Equal(t0.Add(tc.end)) {
			t.Errorf("%s: %v – %v, want %v – %v", tc.name, s.StartTime, s.EndTime, t0.Add(tc.start), t0.Add(tc.end))
		}
		if s.Status.Code != tc.code {
			t.Errorf("%s: status %v, want %v", tc.name, s.Status.Code, tc.code)
		}
		wantParent := root.SpanContext.SpanID()
		if tc.parent == "" {
			if s.Parent.IsValid() {
				t.Errorf("root span has a parent")
			}
			continue
		}
		wantParent = byName[tc.parent].SpanContext.SpanID()
		if s.Parent.SpanID() != wantParent {
			t.Errorf("%s: parent %s, want %s's", tc.name, s.Parent.SpanID(), tc.parent)
		}
	}
	attrs := map[string]string{}
	for _, kv := range root.Attributes {
		attrs[string(kv.Key)] = kv.Value.Emit()
	}
	for k, v := range map[string]string{
		"cloud.provider": "huawei_cloud", "cloud.region": "cn-north-4", "cloud.resource_id": "c1",
		"k8s.namespace.name": "team-a", "cloudop.object": "upgrade", "cloudop.service": "CCE",
		"cloudop.operation.id": "wf-1", "cloudop.phase": "Failed", "cloudop.service_status": "Pending",
		"cloudop.resources": `["cluster/c1"]`,
	} {
		if attrs[k] != v {
			t.Errorf("root attribute %s = %q, want %q", k, attrs[k], v)
		}
	}

	// Exported again (a restart before the status write): the same IDs.
	first := map[string]string{}
	for _, s := range spans {
		first[s.Name] = s.SpanContext.SpanID().String()
	}
	mem.Reset()
	if err := e.Export(context.Background(), finished()); err != nil {
		t.Fatal(err)
	}
	for _, s := range mem.GetSpans() {
		if first[s.Name] != s.SpanContext.SpanID().String() {
			t.Errorf("%s: span ID %s the second time, %s the first", s.Name, s.SpanContext.SpanID(), first[s.Name])
		}
	}
}

// TestConfigured: tracing is on when an OTLP endpoint is set.
func TestConfigured(t *testing.T) {
	for _, tc := range []struct {
		env  map[string]string
		want bool
	}{
		{map[string]string{}, false},
		{map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"}, true},
		{map[string]string{"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://collector:4318/v1/traces"}, true},
		{map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318", "OTEL_TRACES_EXPORTER": "none"}, false},
	} {
		for _, k := range []string{"OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_TRACES_EXPORTER"} {
			t.Setenv(k, tc.env[k])
		}
		if got := Configured(); got != tc.want {
			t.Errorf("%v: Configured() = %v", tc.env, got)
		}
	}
	t.Setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "thrift")
	if _, err := NewFromEnv(context.Background()); err == nil {
		t.Error("an unknown protocol is accepted")
	}
}
