package chart

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// kube-score and kubeconform lint what a platform team's CI would: every
// value set's render, a few more (the NetworkPolicy on, the Kubernetes
// types used fully, another release in another namespace) and the
// install.yaml a release ships. make tools (or make lint-tools) builds both
// into bin/; without them these tests skip, except in CI.

// lintTool returns the path of a linter: $env (the Makefile exports it) or
// the newest bin/<name>/<version>/<name>.
func lintTool(t *testing.T, env, name string) string {
	t.Helper()
	missing := func(why string) string {
		if inCI() {
			t.Fatalf("CI needs %s: %s", name, why)
		}
		t.Skipf("skipping: %s (run make lint-tools; fatal in CI)", why)
		return ""
	}
	if p := os.Getenv(env); p != "" {
		if _, err := os.Stat(p); err != nil {
			return missing(fmt.Sprintf("%s=%s: %v", env, p, err))
		}
		return p
	}
	found, _ := filepath.Glob(filepath.Join(repoRoot, "bin", name, "*", name))
	if len(found) == 0 {
		return missing(fmt.Sprintf("no %s: set %s or build bin/%s/<version>/%s", name, env, name, name))
	}
	return found[len(found)-1]
}

// lintRender is one manifest stream the linters check.
type lintRender struct {
	name     string
	manifest []byte
	objs     []*unstructured.Unstructured
}

// lintExtraValues are renders beyond the value sets.
var lintExtraValues = []struct{ name, releaseName, ns, values string }{
	{"networkpolicy", release, namespace, "networkPolicy: {enabled: true}\n"},
	{"kube-types", release, namespace, goodKubeTypes},
	{"other-release", "prod", "ops", "watchNamespaces: [team-a]\nmetrics:\n  serviceMonitor: {enabled: true}\n  prometheusRule: {enabled: true}\n  dashboard: {enabled: true}\n"},
}

// lintRenders renders every value set and lintExtraValues, and, when
// kubectl is there, the install.yaml hack/release writes.
func lintRenders(t *testing.T) []lintRender {
	t.Helper()
	var out []lintRender
	add := func(name string, manifest []byte) {
		out = append(out, lintRender{name: name, manifest: manifest, objs: decode(t, manifest)})
	}
	for _, set := range valueSets {
		add(set, render(t, release, namespace, valuesFile(set)))
	}
	for _, v := range lintExtraValues {
		file := filepath.Join(t.TempDir(), "values.yaml")
		if err := os.WriteFile(file, []byte(v.values), 0o644); err != nil {
			t.Fatal(err)
		}
		add(v.name, render(t, v.releaseName, v.ns, file))
	}
	if kubectl != "" {
		add("install.yaml", installYAML(t))
	}
	return out
}

// installYAML runs hack/release as make release would, without images,
// and returns the install.yaml it writes.
func installYAML(t *testing.T) []byte {
	t.Helper()
	dir := t.TempDir()
	cmd := exec.Command("go", "run", "./hack/release", "-version", "v0.0.0-lint", "-out", dir, "-kubectl", kubectl,
		"-install-yaml-digest", "sha256:"+strings.Repeat("ab", 32))
	cmd.Dir = repoRoot
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("hack/release -install-yaml-digest: %v\n%s", err, out)
	}
	manifest, err := os.ReadFile(filepath.Join(dir, "install.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	return manifest
}

// TestKubeconform validates every render with kubeconform -strict against
// one JSON schema per kind, converted from the test API server's OpenAPI
// v3: the built-in kinds and the prometheus-operator CRDs that TestMain
// installs (ServiceMonitor, PrometheusRule). Every object must be
// validated (none skipped for a missing schema), and an object with an
// unknown field must fail, so the check can fail.
func TestKubeconform(t *testing.T) {
	needControlPlane(t)
	bin := lintTool(t, "KUBECONFORM", "kubeconform")
	renders := lintRenders(t)

	// One schema per kind the renders use, at
	// <group, or the version for the core group>/<kind>-<version>.json.
	source := openAPISchemas(t)
	schemas := t.TempDir()
	written := map[string]bool{}
	for _, r := range renders {
		for _, o := range r.objs {
			gvk := o.GroupVersionKind()
			dir := gvk.Group
			if dir == "" {
				dir = gvk.Version
			}
			path := filepath.Join(schemas, dir, strings.ToLower(gvk.Kind)+"-"+gvk.Version+".json")
			if written[path] {
				continue
			}
			schema, err := kindSchema(source, gvk.Group, gvk.Version, gvk.Kind)
			if err != nil {
				t.Fatalf("%s: %v", r.name, err)
			}
			if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, schema, 0o644); err != nil {
				t.Fatal(err)
			}
			written[path] = true
		}
	}
	location := filepath.Join(schemas, "{{ .Group }}", "{{ .ResourceKind }}-{{ .ResourceAPIVersion }}.json")

	type result struct {
		Filename, Kind, Name, Version, Status, Msg string
		ValidationErrors                           []struct{ Path, Msg string }
	}
	kubeconform := func(t *testing.T, manifest []byte) []result {
		t.Helper()
		file := filepath.Join(t.TempDir(), "manifest.yaml")
		if err := os.WriteFile(file, manifest, 0o644); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(bin, "-strict", "-verbose", "-output", "json", "-schema-location", location, file)
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		_ = cmd.Run() // exits 1 on an invalid object: the results say which
		var report struct{ Resources []result }
		if err := json.Unmarshal(stdout.Bytes(), &report); err != nil {
			t.Fatalf("kubeconform output: %v\n%s%s", err, stdout.Bytes(), stderr.Bytes())
		}
		return report.Resources
	}

	t.Run("an unknown field fails", func(t *testing.T) {
		bad := []byte("apiVersion: policy/v1\nkind: PodDisruptionBudget\nmetadata: {name: x, namespace: y}\nspec:\n  minAvailable: 1\n  selector: {matchLabels: {a: b}}\n  maxUnavaliable: 1\n")
		res := kubeconform(t, bad)
		if len(res) != 1 || res[0].Status != "statusInvalid" {
			t.Fatalf("kubeconform -strict accepts an unknown field: %+v", res)
		}
	})
	for _, r := range renders {
		t.Run(r.name, func(t *testing.T) {
			res := kubeconform(t, r.manifest)
			if len(res) != len(r.objs) {
				t.Errorf("kubeconform reports %d objects, the render has %d", len(res), len(r.objs))
			}
			for _, x := range res {
				if x.Status != "statusValid" {
					t.Errorf("%s %s (%s): %s %s %v", x.Kind, x.Name, x.Version, x.Status, x.Msg, x.ValidationErrors)
				}
			}
		})
	}
}

// kubeScoreExplained are the kube-score findings (checks of grade WARNING
// or CRITICAL) the chart keeps on purpose, by check ID, with the reason;
// docs/install.md repeats them. A check that fires without an entry here
// fails TestKubeScore, and so does an entry no render needs any more.
// Besides these, kube-score runs with --ignore-container-cpu-limit: the
// manager sets no CPU limit on purpose (kubeScoreFlags).
var kubeScoreExplained = map[string]struct {
	reason string
	// applies says whether the reason holds for a render (its lintRender
	// name and objects); nil = always.
	applies func(render string, objs []*unstructured.Unstructured) bool
}{
	"container-image-pull-policy": {
		reason: "IfNotPresent by default: a release pins the image by digest (install.yaml and the packaged chart), so pulling again cannot change what runs, and Always would make every pod start depend on the registry; set image.pullPolicy: Always where a private image's pull Secret must be checked on every start (the hardened values do)",
	},
	"pod-networkpolicy": {
		reason:  "networkPolicy.enabled is false by default: the API server's and the cloud's addresses are the cluster's, and a policy that guessed them would cut the manager off; renders that enable it must pass",
		applies: func(_ string, objs []*unstructured.Unstructured) bool { return len(ofKind(objs, "NetworkPolicy")) == 0 },
	},
	"deployment-has-host-podantiaffinity": {
		reason: "WARNING only: the chart's replicas spread over nodes with a topology spread constraint (topologySpreadConstraints, ScheduleAnyway), which kube-score does not read; a required anti-affinity would leave a standby unscheduled on a one-node cluster. install.yaml's Deployment (config/manager) has no spread constraint yet",
		applies: func(render string, objs []*unstructured.Unstructured) bool {
			if render == "install.yaml" {
				return true
			}
			for _, d := range ofKind(objs, "Deployment") {
				if spread, _, _ := unstructured.NestedSlice(d.Object, "spec", "template", "spec", "topologySpreadConstraints"); len(spread) == 0 {
					return false
				}
			}
			return true
		},
	},
	"deployment-replicas": {
		reason: "WARNING only, for values with replicaCount: 1 (the plain set runs one replica without leader election on purpose); the default is 2",
		applies: func(_ string, objs []*unstructured.Unstructured) bool {
			for _, d := range ofKind(objs, "Deployment") {
				if n, _, _ := unstructured.NestedInt64(d.Object, "spec", "replicas"); n > 1 {
					return false
				}
			}
			return true
		},
	},
}

// kubeScoreFlags: the default checks, for the oldest Kubernetes the chart
// supports (docs/install.md), so an API deprecated there is flagged;
// no CPU limit, as the chart sets none on purpose: a CPU limit throttles
// the manager's bursts (a resync of thousands of objects) while nodes
// are idle, and its CPU request already reserves its share.
var kubeScoreFlags = []string{"score", "--kubernetes-version", "v1.31", "--ignore-container-cpu-limit", "--output-format", "json"}

// TestKubeScore runs kube-score's default checks on every render: each
// WARNING or CRITICAL must be explained in kubeScoreExplained (for that
// render), and each explanation must still be needed by some render. A
// Deployment without the chart's PDB must fail, so the check can fail.
func TestKubeScore(t *testing.T) {
	needHelm(t)
	bin := lintTool(t, "KUBE_SCORE", "kube-score")
	renders := lintRenders(t)

	type finding struct{ object, check, summary string }
	score := func(t *testing.T, manifest []byte) []finding {
		t.Helper()
		cmd := exec.Command(bin, append(kubeScoreFlags, "-")...)
		cmd.Stdin = bytes.NewReader(manifest)
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		_ = cmd.Run() // exits 1 on a CRITICAL: the report says which
		var report []struct {
			ObjectName string `json:"object_name"`
			Checks     []struct {
				Check    struct{ ID string }
				Grade    int
				Skipped  bool
				Comments []struct{ Summary string }
			}
		}
		if err := json.Unmarshal(stdout.Bytes(), &report); err != nil {
			t.Fatalf("kube-score output: %v\n%s%s", err, stdout.Bytes(), stderr.Bytes())
		}
		var out []finding
		for _, o := range report {
			for _, c := range o.Checks {
				// Grades: 1 CRITICAL, 5 WARNING, 7 almost OK, 10 OK.
				if c.Skipped || c.Grade > 5 {
					continue
				}
				var summaries []string
				for _, cm := range c.Comments {
					summaries = append(summaries, cm.Summary)
				}
				out = append(out, finding{o.ObjectName, c.Check.ID, strings.Join(summaries, "; ")})
			}
		}
		return out
	}

	t.Run("a Deployment without its PDB fails", func(t *testing.T) {
		var docs []string
		for _, doc := range strings.Split(string(render(t, release, namespace, valuesFile("default"))), "\n---\n") {
			if !strings.Contains(doc, "kind: PodDisruptionBudget") {
				docs = append(docs, doc)
			}
		}
		if !slices.ContainsFunc(score(t, []byte(strings.Join(docs, "\n---\n"))), func(f finding) bool { return f.check == "deployment-has-poddisruptionbudget" }) {
			t.Fatal("kube-score did not flag a Deployment without a PodDisruptionBudget: the checks below prove nothing")
		}
	})

	used := map[string]bool{}
	for _, r := range renders {
		t.Run(r.name, func(t *testing.T) {
			for _, f := range score(t, r.manifest) {
				e, ok := kubeScoreExplained[f.check]
				if !ok || e.applies != nil && !e.applies(r.name, r.objs) {
					t.Errorf("%s: %s: %s, and kubeScoreExplained does not explain it for this render: fix the chart or explain it there and in docs/install.md", f.object, f.check, f.summary)
					continue
				}
				used[f.check] = true
			}
		})
	}
	for check := range kubeScoreExplained {
		if !used[check] {
			t.Errorf("kubeScoreExplained explains %s, which no render triggers any more: remove it (and from docs/install.md)", check)
		}
	}
}
