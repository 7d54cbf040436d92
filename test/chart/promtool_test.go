package chart

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"sigs.k8s.io/yaml"
)

// promtool, Prometheus' rule checker, checks the chart's alert rules and
// runs their unit tests (testdata/promtool). make tools (or make
// lint-tools) builds it into bin/; without it these tests skip, except in
// CI.

// slowStepAlert is the alert whose threshold the chart's values set.
const slowStepAlert = "CloudopStepSlow"

// slowStepThreshold is the comparison that ends slowStepAlert's
// expression, which templates/prometheusrule.yaml replaces with
// metrics.prometheusRule.slowStepFactor.
var slowStepThreshold = regexp.MustCompile(`>\s*([0-9.]+)$`)

// promtool runs promtool with args in dir and returns its output.
func promtool(t *testing.T, bin, dir string, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.String(), err
}

// ruleTestDir returns a directory holding rules as prometheus-rules.yaml
// beside the rule test file testdata/promtool/<test>, which names it.
func ruleTestDir(t *testing.T, rules []byte, test string) string {
	t.Helper()
	dir := t.TempDir()
	tests, err := os.ReadFile(filepath.Join("testdata", "promtool", test))
	if err != nil {
		t.Fatal(err)
	}
	for name, data := range map[string][]byte{"prometheus-rules.yaml": rules, test: tests} {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// renderedRules renders the PrometheusRule with extra values and returns
// its spec as a rule file.
func renderedRules(t *testing.T, values string) []byte {
	t.Helper()
	file := filepath.Join(t.TempDir(), "values.yaml")
	if err := os.WriteFile(file, []byte("metrics:\n  prometheusRule:\n    enabled: true\n"+values), 0o644); err != nil {
		t.Fatal(err)
	}
	rule := find(decode(t, render(t, release, namespace, file)), "PrometheusRule", namespace, "cloudop-manager")
	if rule == nil {
		t.Fatal("no PrometheusRule cloudop-manager rendered")
	}
	out, err := yaml.Marshal(rule.Object["spec"])
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestPromtoolRules: promtool accepts the chart's rule file and the
// rendered one, and its unit tests of CloudopStepSlow pass: the
// alert fires for a step running longer than slowStepFactor times the
// median of its succeeded runs, and not for a usual one, a kind with too
// few succeeded runs, "other" or a kind never timed. Rendered with another
// factor the alert follows it, and the default expectations fail, so the
// tests can fail.
func TestPromtoolRules(t *testing.T) {
	bin := lintTool(t, "PROMTOOL", "promtool")
	file := filepath.Join(chartDir, "files", "prometheus-rules.yaml")
	raw, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}

	t.Run("check rules", func(t *testing.T) {
		out, err := promtool(t, bin, "", "check", "rules", file)
		if err != nil || !strings.Contains(out, "SUCCESS") {
			t.Fatalf("promtool check rules %s: %v\n%s", file, err, out)
		}
	})
	t.Run("check rules rejects a broken expression", func(t *testing.T) {
		broken := filepath.Join(t.TempDir(), "broken.yaml")
		if err := os.WriteFile(broken, bytes.Replace(raw, []byte("histogram_quantile(0.5,"), []byte("histogram_quantile(0.5"), 1), 0o644); err != nil {
			t.Fatal(err)
		}
		if out, err := promtool(t, bin, "", "check", "rules", broken); err == nil {
			t.Fatalf("promtool check rules accepted a parse error:\n%s", out)
		}
	})
	t.Run("slow step fires", func(t *testing.T) {
		dir := ruleTestDir(t, raw, "step-slow.test.yaml")
		if out, err := promtool(t, bin, dir, "test", "rules", "step-slow.test.yaml"); err != nil {
			t.Fatalf("promtool test rules step-slow.test.yaml: %v\n%s", err, out)
		}
	})

	t.Run("dashboard queries", func(t *testing.T) {
		// Each panel query as a recording rule, Grafana's variables
		// replaced as Grafana would, so promtool parses and lints it.
		dir := t.TempDir()
		rules := map[string]any{"groups": []any{map[string]any{"name": "dashboard", "rules": dashboardRecords(t)}}}
		data, err := yaml.Marshal(rules)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "dashboard.yaml"), data, 0o644); err != nil {
			t.Fatal(err)
		}
		if out, err := promtool(t, bin, dir, "check", "rules", "dashboard.yaml"); err != nil {
			t.Fatalf("promtool check rules on the dashboard's queries: %v\n%s", err, out)
		}
	})

	needHelm(t)
	factor5 := renderedRules(t, "    slowStepFactor: 5\n")
	t.Run("rendered with slowStepFactor 5", func(t *testing.T) {
		dir := ruleTestDir(t, factor5, "step-slow-factor5.test.yaml")
		if out, err := promtool(t, bin, dir, "check", "rules", "prometheus-rules.yaml"); err != nil {
			t.Fatalf("promtool check rules on the render: %v\n%s", err, out)
		}
		if out, err := promtool(t, bin, dir, "test", "rules", "step-slow-factor5.test.yaml"); err != nil {
			t.Fatalf("promtool test rules step-slow-factor5.test.yaml: %v\n%s", err, out)
		}
	})
	t.Run("factor 3 expectations fail at factor 5", func(t *testing.T) {
		dir := ruleTestDir(t, factor5, "step-slow.test.yaml")
		out, err := promtool(t, bin, dir, "test", "rules", "step-slow.test.yaml")
		if err == nil || !strings.Contains(out, slowStepAlert) {
			t.Fatalf("promtool test rules passed the factor-3 expectations against factor-5 rules (%v):\n%s", err, out)
		}
	})
}

// TestSlowStepFactor: the file's threshold for CloudopStepSlow is
// the chart's default slowStepFactor, the render replaces it and nothing
// else, and the schema takes only a number above 1.
func TestSlowStepFactor(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join(chartDir, "files", "prometheus-rules.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var file map[string]any
	if err := yaml.Unmarshal(raw, &file); err != nil {
		t.Fatal(err)
	}
	expr := slowStepExpr(t, file)
	m := slowStepThreshold.FindStringSubmatch(expr)
	if m == nil {
		t.Fatalf("%s's expression does not end with > FACTOR, which the template replaces:\n%s", slowStepAlert, expr)
	}
	values, err := os.ReadFile(filepath.Join(chartDir, "values.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var defaults struct {
		Metrics struct {
			PrometheusRule struct {
				SlowStepFactor any `json:"slowStepFactor"`
			} `json:"prometheusRule"`
		} `json:"metrics"`
	}
	if err := yaml.Unmarshal(values, &defaults); err != nil {
		t.Fatal(err)
	}
	if got := defaults.Metrics.PrometheusRule.SlowStepFactor; got == nil || strings.TrimSpace(m[1]) != strings.TrimSpace(toString(got)) {
		t.Errorf("values.yaml's metrics.prometheusRule.slowStepFactor is %v, the rule file's threshold %s: keep them equal", got, m[1])
	}

	needHelm(t)
	var rendered map[string]any
	if err := yaml.Unmarshal(renderedRules(t, "    slowStepFactor: 4.5\n"), &rendered); err != nil {
		t.Fatal(err)
	}
	want := slowStepThreshold.ReplaceAllString(expr, "> 4.5")
	if got := slowStepExpr(t, rendered); got != want {
		t.Errorf("rendered with slowStepFactor 4.5, %s's expression is\n%s\nwant\n%s", slowStepAlert, got, want)
	}
	slowStepRule(t, file)["expr"] = want
	if d := cmp.Diff(file, rendered); d != "" {
		t.Errorf("the render changes more than the threshold (-want +rendered):\n%s", d)
	}

	for _, bad := range []string{"1", "0.5", "three", "-2"} {
		f := filepath.Join(t.TempDir(), "values.yaml")
		if err := os.WriteFile(f, []byte("metrics:\n  prometheusRule:\n    enabled: true\n    slowStepFactor: "+bad+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		out, err := helm("template", release, chartDir, "--namespace", namespace, "--values", f)
		if err == nil {
			t.Errorf("slowStepFactor %s accepted:\n%.300s", bad, out)
		} else if !strings.Contains(err.Error(), "slowStepFactor") {
			t.Errorf("slowStepFactor %s: the error does not name the value:\n%v", bad, err)
		}
	}
}

func toString(v any) string {
	out, _ := yaml.Marshal(v)
	return string(out)
}

// slowStepRule returns slowStepAlert's rule in a rule file's spec.
func slowStepRule(t *testing.T, spec map[string]any) map[string]any {
	t.Helper()
	groups, _ := spec["groups"].([]any)
	for _, g := range groups {
		rules, _ := g.(map[string]any)["rules"].([]any)
		for _, r := range rules {
			if rule, _ := r.(map[string]any); rule["alert"] == slowStepAlert {
				return rule
			}
		}
	}
	t.Fatalf("no alert %s", slowStepAlert)
	return nil
}

func slowStepExpr(t *testing.T, spec map[string]any) string {
	t.Helper()
	expr, _ := slowStepRule(t, spec)["expr"].(string)
	return expr
}

// grafanaVars are the dashboard's variables and what Grafana would send
// for them.
var grafanaVars = strings.NewReplacer("$__rate_interval", "5m", "$__range", "6h", "$namespace", "cloudop-system")

// dashboardRecords returns every panel query of the dashboard as a
// recording rule.
func dashboardRecords(t *testing.T) []any {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(chartDir, "dashboards", "cloudop.json"))
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		Panels []struct {
			ID      int `json:"id"`
			Targets []struct {
				RefID string `json:"refId"`
				Expr  string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	if err := yaml.Unmarshal(raw, &dash); err != nil {
		t.Fatal(err)
	}
	var records []any
	for _, p := range dash.Panels {
		for _, q := range p.Targets {
			records = append(records, map[string]any{
				"record": fmt.Sprintf("dashboard:panel%d:%s", p.ID, strings.ToLower(q.RefID)),
				"expr":   grafanaVars.Replace(q.Expr),
			})
		}
	}
	if len(records) < 20 {
		t.Fatalf("only %d dashboard queries", len(records))
	}
	return records
}
