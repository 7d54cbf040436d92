package chart

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	authorizationv1 "k8s.io/api/authorization/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
)

// These tests cover what platform teams' linters (kube-score and the like)
// and install conventions ask of a chart: extra env and volumes, a
// PodDisruptionBudget, a topology spread, ephemeral-storage resources and a
// ServiceMonitor without deprecated fields.

// renderWith renders the chart for the release in the namespace with
// inline values (YAML).
func renderWith(t *testing.T, releaseName, ns, values string) []*unstructured.Unstructured {
	t.Helper()
	file := filepath.Join(t.TempDir(), "values.yaml")
	if err := os.WriteFile(file, []byte(values), 0o644); err != nil {
		t.Fatal(err)
	}
	return decode(t, render(t, releaseName, ns, file))
}

// podSpec returns a Deployment's pod template spec.
func podSpec(d *unstructured.Unstructured) map[string]any {
	spec, _, _ := unstructured.NestedMap(d.Object, "spec", "template", "spec")
	return spec
}

// namesOf returns the name of each object in a list (env, volumes, mounts).
func namesOf(list any) []string {
	var names []string
	items, _ := list.([]any)
	for _, item := range items {
		name, _ := item.(map[string]any)["name"].(string)
		names = append(names, name)
	}
	return names
}

// TestExtraEnvAndVolumes: extraEnv, volumes and volumeMounts reach the
// manager container and pod of every Deployment, after what the chart
// sets itself, and a GOMEMLIMIT of extraEnv replaces the chart's rather
// than duplicating it.
func TestExtraEnvAndVolumes(t *testing.T) {
	needHelm(t)
	const caAndProxy = `
extraEnv:
- name: SSL_CERT_DIR
  value: /etc/cloudop/ca
- name: HTTPS_PROXY
  value: http://proxy.example.com:3128
volumes:
- name: private-ca
  configMap: {name: private-ca}
volumeMounts:
- name: private-ca
  mountPath: /etc/cloudop/ca
  readOnly: true
`
	for _, tc := range []struct {
		name, values                string
		wantEnv, wantVols, wantMnts []string
		// gomemlimit is the value GOMEMLIMIT must have; "" = from the
		// memory limit (resourceFieldRef).
		gomemlimit string
		// shards: the shard Deployments beside the main one.
		shards int
	}{
		{name: "defaults", values: "{}", wantEnv: []string{"GOMEMLIMIT"}},
		{name: "CA and proxy", values: caAndProxy,
			wantEnv: []string{"GOMEMLIMIT", "SSL_CERT_DIR", "HTTPS_PROXY"}, wantVols: []string{"private-ca"}, wantMnts: []string{"private-ca"}},
		{name: "beside the metrics certificate", values: caAndProxy + "metrics:\n  certSecret: metrics-tls\n",
			wantEnv: []string{"GOMEMLIMIT", "SSL_CERT_DIR", "HTTPS_PROXY"}, wantVols: []string{"metrics-certs", "private-ca"}, wantMnts: []string{"metrics-certs", "private-ca"}},
		{name: "every shard", values: caAndProxy + "shards: [shard1, shard2]\n", shards: 2,
			wantEnv: []string{"GOMEMLIMIT", "SSL_CERT_DIR", "HTTPS_PROXY"}, wantVols: []string{"private-ca"}, wantMnts: []string{"private-ca"}},
		{name: "GOMEMLIMIT replaced", values: "extraEnv:\n- name: GOMEMLIMIT\n  value: 200MiB\n- name: GOGC\n  value: \"50\"\n",
			wantEnv: []string{"GOMEMLIMIT", "GOGC"}, gomemlimit: "200MiB"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			deployments := ofKind(renderWith(t, release, namespace, tc.values), "Deployment")
			if len(deployments) != 1+tc.shards {
				t.Fatalf("%d Deployments, want %d", len(deployments), 1+tc.shards)
			}
			for _, d := range deployments {
				c := managerContainer(t, d)
				if d := cmp.Diff(tc.wantEnv, namesOf(c["env"])); d != "" {
					t.Errorf("env names (-want +got):\n%s", d)
				}
				if d := cmp.Diff(tc.wantVols, namesOf(podSpec(d)["volumes"])); d != "" {
					t.Errorf("volumes (-want +got):\n%s", d)
				}
				if d := cmp.Diff(tc.wantMnts, namesOf(c["volumeMounts"])); d != "" {
					t.Errorf("volume mounts (-want +got):\n%s", d)
				}
				for _, e := range c["env"].([]any) {
					e := e.(map[string]any)
					if e["name"] != "GOMEMLIMIT" {
						continue
					}
					if tc.gomemlimit == "" && e["valueFrom"] == nil || tc.gomemlimit != "" && e["value"] != tc.gomemlimit {
						t.Errorf("GOMEMLIMIT is %v, want %q (empty: from the memory limit)", e, tc.gomemlimit)
					}
				}
			}
		})
	}
}

// TestPodDisruptionBudget: with more than one replica each manager
// Deployment gets a PDB selecting exactly its own pods; with one replica,
// or disabled, none.
func TestPodDisruptionBudget(t *testing.T) {
	needHelm(t)
	for _, tc := range []struct {
		name, values string
		want         int
		minAvailable string
	}{
		{"defaults", "{}", 1, "1"},
		{"one replica", "replicaCount: 1\n", 0, ""},
		{"disabled", "podDisruptionBudget: {enabled: false}\n", 0, ""},
		{"percentage", "replicaCount: 3\npodDisruptionBudget: {minAvailable: 50%}\n", 1, "50%"},
		{"shards", "shards: [shard1, shard2]\n", 3, "1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			objs := renderWith(t, release, namespace, tc.values)
			pdbs, deployments := ofKind(objs, "PodDisruptionBudget"), ofKind(objs, "Deployment")
			if len(pdbs) != tc.want {
				t.Fatalf("%d PodDisruptionBudgets, want %d", len(pdbs), tc.want)
			}
			for _, pdb := range pdbs {
				if got := fmt.Sprint(pdb.Object["spec"].(map[string]any)["minAvailable"]); got != tc.minAvailable {
					t.Errorf("%s: minAvailable %v, want %v", pdb.GetName(), got, tc.minAvailable)
				}
				match, _, _ := unstructured.NestedStringMap(pdb.Object, "spec", "selector", "matchLabels")
				var selected []string
				for _, d := range deployments {
					podLabels, _, _ := unstructured.NestedStringMap(d.Object, "spec", "template", "metadata", "labels")
					if len(match) > 0 && labels.SelectorFromSet(match).Matches(labels.Set(podLabels)) {
						selected = append(selected, d.GetName())
					}
				}
				if len(selected) != 1 {
					t.Errorf("%s selects the pods of %v, want exactly one Deployment's", pdb.GetName(), selected)
				}
			}
		})
	}
}

// TestTopologySpread: by default each Deployment's replicas spread softly
// over nodes, selected by that Deployment's own selector; a list of one's
// own replaces the default and [] removes it.
func TestTopologySpread(t *testing.T) {
	needHelm(t)
	type constraint struct{ key, when string }
	for _, tc := range []struct {
		name, values string
		want         []constraint
	}{
		{"defaults", "{}", []constraint{{"kubernetes.io/hostname", "ScheduleAnyway"}}},
		{"shards", "shards: [shard1]\n", []constraint{{"kubernetes.io/hostname", "ScheduleAnyway"}}},
		{"replaced", "topologySpreadConstraints:\n- {maxSkew: 1, topologyKey: topology.kubernetes.io/zone, whenUnsatisfiable: DoNotSchedule}\n",
			[]constraint{{"topology.kubernetes.io/zone", "DoNotSchedule"}}},
		{"removed", "topologySpreadConstraints: []\n", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, d := range ofKind(renderWith(t, release, namespace, tc.values), "Deployment") {
				selector, _, _ := unstructured.NestedStringMap(d.Object, "spec", "selector", "matchLabels")
				list, _ := podSpec(d)["topologySpreadConstraints"].([]any)
				var got []constraint
				for _, c := range list {
					c := c.(map[string]any)
					got = append(got, constraint{c["topologyKey"].(string), c["whenUnsatisfiable"].(string)})
					match, _, _ := unstructured.NestedStringMap(c, "labelSelector", "matchLabels")
					if diff := cmp.Diff(selector, match); diff != "" {
						t.Errorf("%s: the spread's selector is not the Deployment's (-selector +spread):\n%s", d.GetName(), diff)
					}
				}
				if diff := cmp.Diff(tc.want, got, cmp.AllowUnexported(constraint{})); diff != "" {
					t.Errorf("%s: constraints (-want +got):\n%s", d.GetName(), diff)
				}
			}
		})
	}
}

// TestEphemeralStorage: every container of every value set's Deployments
// requests and limits ephemeral storage (kube-score's
// container-ephemeral-storage-request-and-limit), the request below the
// limit.
func TestEphemeralStorage(t *testing.T) {
	needHelm(t)
	for _, set := range valueSets {
		t.Run(set, func(t *testing.T) {
			for _, d := range ofKind(decode(t, render(t, release, namespace, valuesFile(set))), "Deployment") {
				spec := podSpec(d)
				containers, _ := spec["containers"].([]any)
				initContainers, _ := spec["initContainers"].([]any)
				for _, c := range append(containers, initContainers...) {
					c := c.(map[string]any)
					request, _, _ := unstructured.NestedString(c, "resources", "requests", "ephemeral-storage")
					limit, _, _ := unstructured.NestedString(c, "resources", "limits", "ephemeral-storage")
					if request == "" || limit == "" {
						t.Errorf("%s container %s: ephemeral-storage request %q, limit %q; want both", d.GetName(), c["name"], request, limit)
						continue
					}
					if r, l := resource.MustParse(request), resource.MustParse(limit); r.Cmp(l) > 0 {
						t.Errorf("%s container %s: ephemeral-storage request %s above its limit %s", d.GetName(), c["name"], request, limit)
					}
				}
			}
		})
	}
}

// scrapeToken returns the Secret name and key the ServiceMonitor's only
// endpoint sends as bearer token, or "" when it sends none.
func scrapeToken(t *testing.T, sm *unstructured.Unstructured) (name, key string) {
	t.Helper()
	endpoints, _, _ := unstructured.NestedSlice(sm.Object, "spec", "endpoints")
	if len(endpoints) != 1 {
		t.Fatalf("%d endpoints, want 1", len(endpoints))
	}
	ep := endpoints[0].(map[string]any)
	for _, deprecated := range []string{"bearerTokenFile", "bearerTokenSecret"} {
		if _, ok := ep[deprecated]; ok {
			t.Errorf("the endpoint uses the deprecated %s", deprecated)
		}
	}
	auth, ok := ep["authorization"].(map[string]any)
	if !ok {
		return "", ""
	}
	if auth["type"] != "Bearer" {
		t.Errorf("authorization type %v, want Bearer", auth["type"])
	}
	name, _, _ = unstructured.NestedString(auth, "credentials", "name")
	key, _, _ = unstructured.NestedString(auth, "credentials", "key")
	return name, key
}

// TestServiceMonitorAuthorization: the secure endpoint is scraped with
// authorization.credentials, from tokenSecret or else from the token
// Secret of a ServiceAccount the chart binds to the metrics-reader role;
// the plain endpoint with no token; no render uses bearerTokenFile.
func TestServiceMonitorAuthorization(t *testing.T) {
	needHelm(t)
	for _, set := range valueSets {
		if out := render(t, release, namespace, valuesFile(set)); bytes.Contains(out, []byte("bearerTokenFile")) {
			t.Errorf("value set %s renders the deprecated bearerTokenFile", set)
		}
	}
	for _, tc := range []struct {
		name, releaseName, values string
		// wantSecret and wantKey: the credentials sent ("" = none);
		// scraper: the ServiceAccount the chart creates for it ("" = none).
		wantSecret, wantKey, scraper string
	}{
		{"chart's token", release, "metrics:\n  serviceMonitor: {enabled: true}\n", "cloudop-metrics-scraper-token", "token", "cloudop-metrics-scraper"},
		{"another release", "prod", "metrics:\n  serviceMonitor: {enabled: true}\n", "prod-cloudop-metrics-scraper-token", "token", "prod-cloudop-metrics-scraper"},
		{"tokenSecret", release, "metrics:\n  serviceMonitor:\n    enabled: true\n    tokenSecret: {name: my-token, key: jwt}\n", "my-token", "jwt", ""},
		{"plain HTTP", release, "metrics:\n  secure: false\n  serviceMonitor: {enabled: true}\n", "", "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			objs := renderWith(t, tc.releaseName, namespace, tc.values)
			sms := ofKind(objs, "ServiceMonitor")
			if len(sms) != 1 {
				t.Fatalf("%d ServiceMonitors, want 1", len(sms))
			}
			name, key := scrapeToken(t, sms[0])
			if name != tc.wantSecret || key != tc.wantKey {
				t.Errorf("credentials %s/%s, want %s/%s", name, key, tc.wantSecret, tc.wantKey)
			}
			scrapers := slices.DeleteFunc(ofKind(objs, "ServiceAccount"), func(o *unstructured.Unstructured) bool {
				return !strings.HasSuffix(o.GetName(), "-metrics-scraper")
			})
			if tc.scraper == "" {
				if len(scrapers) > 0 || find(objs, "Secret", namespace, name) != nil {
					t.Errorf("the chart creates a scraper ServiceAccount %v or token Secret although it needs none", scrapers)
				}
				return
			}
			if find(objs, "ServiceAccount", namespace, tc.scraper) == nil {
				t.Errorf("no ServiceAccount %s", tc.scraper)
			}
			secret := find(objs, "Secret", namespace, name)
			if secret == nil {
				t.Fatalf("no Secret %s for the ServiceMonitor's credentials", name)
			}
			if secret.Object["type"] != "kubernetes.io/service-account-token" || secret.GetAnnotations()["kubernetes.io/service-account.name"] != tc.scraper {
				t.Errorf("Secret %s is not a token of %s: type %v, annotations %v", name, tc.scraper, secret.Object["type"], secret.GetAnnotations())
			}
			binding := find(objs, "ClusterRoleBinding", "", tc.scraper)
			if binding == nil {
				t.Fatalf("no ClusterRoleBinding %s", tc.scraper)
			}
			role, _, _ := unstructured.NestedString(binding.Object, "roleRef", "name")
			subjects, _, _ := unstructured.NestedSlice(binding.Object, "subjects")
			if !strings.HasSuffix(role, "-metrics-reader") || find(objs, "ClusterRole", "", role) == nil {
				t.Errorf("ClusterRoleBinding %s binds %q, want the release's metrics-reader ClusterRole", tc.scraper, role)
			}
			want := []any{map[string]any{"kind": "ServiceAccount", "name": tc.scraper, "namespace": namespace}}
			if d := cmp.Diff(want, subjects); d != "" {
				t.Errorf("ClusterRoleBinding subjects (-want +got):\n%s", d)
			}
		})
	}
}

// TestScraperAuthorizedOnAPIServer applies a render with the ServiceMonitor
// (its own release) and asks the API server's RBAC authorizer whether the
// ServiceAccount whose token the ServiceMonitor sends may get /metrics, as
// the manager's SubjectAccessReview does; another ServiceAccount of the
// namespace may not, so the check can fail.
func TestScraperAuthorizedOnAPIServer(t *testing.T) {
	needControlPlane(t)
	ctx := context.Background()
	const rel, ns = "scrape", "scrape-system"
	ensureNamespace(t, ns)
	objs := renderWith(t, rel, ns, "crds: {enabled: false}\nmetrics:\n  serviceMonitor: {enabled: true}\n")
	for _, obj := range objs {
		apply(ctx, t, obj)
	}
	sm := find(objs, "ServiceMonitor", ns, rel+"-cloudop-manager")
	if sm == nil {
		t.Fatal("no ServiceMonitor")
	}
	name, _ := scrapeToken(t, sm)
	secret := find(objs, "Secret", ns, name)
	if secret == nil {
		t.Fatalf("no Secret %q", name)
	}
	scraper := secret.GetAnnotations()["kubernetes.io/service-account.name"]
	for _, tc := range []struct {
		account, verb string
		allowed       bool
	}{
		{scraper, "get", true},
		{scraper, "post", false},
		{"default", "get", false},
	} {
		user := "system:serviceaccount:" + ns + ":" + tc.account
		sar := &authorizationv1.SubjectAccessReview{Spec: authorizationv1.SubjectAccessReviewSpec{
			User:                  user,
			Groups:                []string{"system:serviceaccounts", "system:serviceaccounts:" + ns, "system:authenticated"},
			NonResourceAttributes: &authorizationv1.NonResourceAttributes{Path: "/metrics", Verb: tc.verb},
		}}
		if err := kube.Create(ctx, sar); err != nil {
			t.Fatal(err)
		}
		if sar.Status.Allowed != tc.allowed {
			t.Errorf("%s %s /metrics: allowed %v, want %v (%s)", user, tc.verb, sar.Status.Allowed, tc.allowed, sar.Status.Reason)
		}
	}
}

// yamlBlock is a fenced YAML block of a Markdown file.
var yamlBlock = regexp.MustCompile("(?ms)^ *```yaml\n(.*?)^ *```")

// TestInstallDocValues: every YAML block of docs/install.md is chart
// values; each must pass the schema, render, and apply to the API server
// (extraEnv, volumes and mounts included), so the documented examples
// keep working.
func TestInstallDocValues(t *testing.T) {
	needControlPlane(t)
	doc, err := os.ReadFile(filepath.Join(repoRoot, "docs", "install.md"))
	if err != nil {
		t.Fatal(err)
	}
	blocks := yamlBlock.FindAllSubmatch(doc, -1)
	if len(blocks) < 3 {
		t.Fatalf("docs/install.md has %d YAML blocks; want the CCE endpoint, private CA and proxy examples at least", len(blocks))
	}
	ctx := context.Background()
	const rel, ns = "docs", "docs-system"
	ensureNamespace(t, ns)
	for i, b := range blocks {
		// The blocks sit in a list item: remove the item's indentation.
		lines := strings.Split(string(b[1]), "\n")
		indent := len(lines[0]) - len(strings.TrimLeft(lines[0], " "))
		for j, l := range lines {
			lines[j] = strings.TrimPrefix(l, strings.Repeat(" ", indent))
		}
		values := "crds: {enabled: false}\n" + strings.Join(lines, "\n")
		t.Run(fmt.Sprintf("block%d", i+1), func(t *testing.T) {
			for _, obj := range renderWith(t, rel, ns, values) {
				apply(ctx, t, obj)
			}
		})
	}
}
