package chart

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"
)

// ruleFile is the shape of files/prometheus-rules.yaml: a PrometheusRule
// spec.
type ruleFile struct {
	Groups []struct {
		Name  string `json:"name"`
		Rules []struct {
			Alert       string            `json:"alert"`
			Expr        string            `json:"expr"`
			For         string            `json:"for"`
			Labels      map[string]string `json:"labels"`
			Annotations map[string]string `json:"annotations"`
		} `json:"rules"`
	} `json:"groups"`
}

// TestAlertRules checks the alerts the issue asks for exist, each with a
// severity, a summary and a runbook-like description, and that the chart
// ships files/prometheus-rules.yaml unchanged as its PrometheusRule spec.
// (Parsing the expressions and checking their metric names against a
// running manager is a separate test.)
func TestAlertRules(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join(chartDir, "files", "prometheus-rules.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var rules ruleFile
	if err := yaml.UnmarshalStrict(raw, &rules); err != nil {
		t.Fatalf("files/prometheus-rules.yaml: %v", err)
	}
	var alerts []string
	for _, g := range rules.Groups {
		for _, r := range g.Rules {
			alerts = append(alerts, r.Alert)
			if r.Expr == "" || r.Labels["severity"] == "" || r.Annotations["summary"] == "" || len(r.Annotations["description"]) < 80 {
				t.Errorf("alert %q lacks an expression, a severity, a summary or a description that says what to do", r.Alert)
			}
		}
	}
	for _, want := range []string{"CloudopManagerAbsent", "CloudopCloudThrottled", "CloudopCloudAuthFailures", "CloudopOperationsStalled", "CloudopReconcileErrors", "CloudopStepSlow"} {
		if !slices.Contains(alerts, want) {
			t.Errorf("no alert %s among %v", want, alerts)
		}
	}

	needHelm(t)
	objs := decode(t, render(t, release, namespace, valuesFile("metrics")))
	rule := find(objs, "PrometheusRule", namespace, "cloudop-manager")
	if rule == nil {
		t.Fatal("metrics render has no PrometheusRule cloudop-manager")
	}
	var want map[string]any
	if err := yaml.Unmarshal(raw, &want); err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(want, rule.Object["spec"]); d != "" {
		t.Errorf("PrometheusRule spec differs from files/prometheus-rules.yaml (-file +rendered):\n%s", d)
	}
}

// TestDashboard checks the Grafana dashboard is valid JSON whose panels all
// query Prometheus, covers what the issue lists, and ships unchanged in the
// ConfigMap the Grafana sidecar picks up.
func TestDashboard(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join(chartDir, "dashboards", "cloudop.json"))
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		UID    string `json:"uid"`
		Panels []struct {
			Title   string `json:"title"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	if err := json.Unmarshal(raw, &dash); err != nil {
		t.Fatalf("dashboards/cloudop.json: %v", err)
	}
	var titles []string
	for _, p := range dash.Panels {
		titles = append(titles, p.Title)
		if len(p.Targets) == 0 {
			t.Errorf("panel %q has no query", p.Title)
		}
		for _, q := range p.Targets {
			if q.Expr == "" {
				t.Errorf("panel %q has an empty query", p.Title)
			}
		}
	}
	for _, want := range []string{"Operations by phase", "Cloud calls by service and code", "Client-side throttling", "Status writes and events", "Reconcile latency (p50, p99)", "Work queue depth",
		"Operation duration by outcome (p50, p90)", "Step duration by step (p50, p90)", "Running steps by age"} {
		if !slices.Contains(titles, want) {
			t.Errorf("no panel %q among %v", want, titles)
		}
	}

	needHelm(t)
	objs := decode(t, render(t, release, namespace, valuesFile("metrics")))
	cm := find(objs, "ConfigMap", namespace, "cloudop-dashboard")
	if cm == nil {
		t.Fatal("metrics render has no ConfigMap cloudop-dashboard")
	}
	if cm.GetLabels()["grafana_dashboard"] != "1" {
		t.Errorf("dashboard ConfigMap labels %v lack grafana_dashboard=1", cm.GetLabels())
	}
	shipped, _, _ := unstructured.NestedString(cm.Object, "data", "cloudop.json")
	if shipped != string(raw) && shipped+"\n" != string(raw) {
		t.Error("the ConfigMap's cloudop.json differs from dashboards/cloudop.json")
	}
}
