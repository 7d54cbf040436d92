package install

import (
	"context"
	"encoding/json"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql/parser"
)

// query is one PromQL expression the monitoring pack ships.
type query struct {
	// Where names it for messages: the alert or the dashboard panel.
	Where string
	Expr  string
}

// prometheusSeries are the series Prometheus itself records about a
// target, which no /metrics endpoint exposes.
var prometheusSeries = []string{"up", "scrape_duration_seconds", "scrape_samples_scraped"}

// monitoringQueries renders the chart with the whole monitoring pack on
// and returns every alert and dashboard expression.
func monitoringQueries(t *testing.T) []query {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out, err := cmdOutput(ctx, helm, "template", release, chartPath(), "--namespace", releaseNamespace,
		"--api-versions", "monitoring.coreos.com/v1",
		"--set", "metrics.serviceMonitor.enabled=true", "--set", "metrics.prometheusRule.enabled=true", "--set", "metrics.dashboard.enabled=true")
	if err != nil {
		t.Fatal(err)
	}
	var queries []query
	var rules, dashboards int
	for _, obj := range manifestObjects(t, out) {
		switch obj["kind"] {
		case "PrometheusRule":
			var rule struct {
				Spec struct {
					Groups []struct {
						Name  string
						Rules []struct{ Alert, Record, Expr string }
					}
				}
			}
			remarshal(t, obj, &rule)
			for _, g := range rule.Spec.Groups {
				for _, r := range g.Rules {
					rules++
					queries = append(queries, query{Where: "rule " + g.Name + "/" + r.Alert + r.Record, Expr: r.Expr})
				}
			}
		case "ConfigMap":
			data, _ := obj["data"].(map[string]any)
			for key, v := range data {
				if !strings.HasSuffix(key, ".json") {
					continue
				}
				dashboards++
				var dashboard any
				if err := json.Unmarshal([]byte(v.(string)), &dashboard); err != nil {
					t.Fatalf("dashboard %s is not JSON: %v", key, err)
				}
				collectExprs(dashboard, "dashboard "+key, &queries)
			}
		}
	}
	if rules == 0 || dashboards == 0 {
		t.Fatalf("the monitoring pack rendered %d alert rules and %d dashboards; want both", rules, dashboards)
	}
	return queries
}

func remarshal(t *testing.T, in, out any) {
	t.Helper()
	data, err := json.Marshal(in)
	if err == nil {
		err = json.Unmarshal(data, out)
	}
	if err != nil {
		t.Fatal(err)
	}
}

// collectExprs finds the PromQL "expr" of every panel target, with the
// panel's title.
func collectExprs(v any, where string, out *[]query) {
	switch v := v.(type) {
	case map[string]any:
		if title, ok := v["title"].(string); ok {
			where = where + " / " + title
		}
		if expr, ok := v["expr"].(string); ok {
			*out = append(*out, query{Where: where, Expr: expr})
		}
		for _, child := range v {
			collectExprs(child, where, out)
		}
	case []any:
		for _, child := range v {
			collectExprs(child, where, out)
		}
	}
}

var (
	grafanaRange    = regexp.MustCompile(`\$__(rate_interval|interval|range)\b`)
	grafanaVariable = regexp.MustCompile(`\$\{?\w+\}?`)
)

// parseQuery parses expr with Prometheus' own parser, after replacing
// Grafana's variables the way Grafana would before sending it: ranges
// by a duration, template variables by a regex matching everything.
func parseQuery(expr string) (parser.Expr, error) {
	expr = grafanaRange.ReplaceAllString(expr, "5m")
	expr = grafanaVariable.ReplaceAllString(expr, ".*")
	return parser.NewParser(parser.Options{}).ParseExpr(expr)
}

// metricNames are the metric names a parsed expression selects.
func metricNames(e parser.Expr) []string {
	var names []string
	parser.Inspect(e, func(node parser.Node, _ []parser.Node) error {
		vs, ok := node.(*parser.VectorSelector)
		if !ok {
			return nil
		}
		name := vs.Name
		for _, m := range vs.LabelMatchers {
			if m.Name == labels.MetricName && m.Type == labels.MatchEqual {
				name = m.Value
			}
		}
		if name != "" {
			names = append(names, name)
		}
		return nil
	})
	return names
}

// TestMonitoringQueriesParse: every alert and dashboard query of the
// chart parses with Prometheus' parser and selects metrics by name.
func TestMonitoringQueriesParse(t *testing.T) {
	for _, q := range monitoringQueries(t) {
		e, err := parseQuery(q.Expr)
		if err != nil {
			t.Errorf("%s: %q does not parse: %v", q.Where, q.Expr, err)
			continue
		}
		if len(metricNames(e)) == 0 {
			t.Errorf("%s: %q selects no metric by name", q.Where, q.Expr)
		}
	}
}

// exposedNames are the sample names of a /metrics exposition.
func exposedNames(body string) map[string]bool {
	names := map[string]bool{}
	for _, line := range strings.Split(body, "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if i := strings.IndexAny(line, "{ "); i > 0 {
			names[line[:i]] = true
		}
	}
	return names
}

// checkQueriesUseExposedMetrics: every metric the monitoring pack queries
// is in the running manager's /metrics body (or is one Prometheus records
// itself). A query on a name the manager does not expose would never fire
// or would draw an empty panel.
func checkQueriesUseExposedMetrics(t *testing.T, body string) {
	t.Helper()
	exposed := exposedNames(body)
	if len(exposed) < 10 {
		t.Fatalf("/metrics exposes only %d names:\n%.500s", len(exposed), body)
	}
	var missing []string
	for _, q := range monitoringQueries(t) {
		e, err := parseQuery(q.Expr)
		if err != nil {
			continue // TestMonitoringQueriesParse reports it
		}
		for _, name := range metricNames(e) {
			if !exposed[name] && !slices.Contains(prometheusSeries, name) {
				missing = append(missing, q.Where+": "+name)
			}
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		t.Errorf("queries name metrics the running manager does not expose:\n  %s", strings.Join(slices.Compact(missing), "\n  "))
	}
}
