package chart

import (
	"os/exec"
	"path/filepath"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
)

// TestChartMatchesKustomize renders the chart with its defaults and
// config/default with kubectl kustomize and compares what the two installs
// must agree on: every kustomize object exists in the chart, the CRDs are
// identical, the RBAC rules and the token admission policy equal, and the
// manager Deployment runs with the same args, ports, resources and security
// contexts.
func TestChartMatchesKustomize(t *testing.T) {
	needHelm(t)
	if kubectl == "" {
		t.Skipf("skipping: %s (fatal in CI)", missingControlPlane)
	}
	out, err := exec.Command(kubectl, "kustomize", filepath.Join(repoRoot, "config", "default")).Output()
	if err != nil {
		t.Fatalf("kubectl kustomize config/default: %v", err)
	}
	kustomized := decode(t, out)
	chart := decode(t, render(t, release, namespace, valuesFile("default")))

	for _, k := range kustomized {
		checkScope(t, k)
		if k.GetKind() == "Namespace" {
			continue // helm install --create-namespace, not the chart, makes it
		}
		c := find(chart, k.GetKind(), k.GetNamespace(), k.GetName())
		if c == nil {
			t.Errorf("config/default has %s %s/%s; the chart does not", k.GetKind(), k.GetNamespace(), k.GetName())
			continue
		}
		t.Run(k.GetKind()+"/"+k.GetName(), func(t *testing.T) {
			for _, path := range comparedFields[k.GetKind()] {
				want, _, _ := unstructured.NestedFieldNoCopy(k.Object, path...)
				got, _, _ := unstructured.NestedFieldNoCopy(c.Object, path...)
				if d := cmp.Diff(want, got); d != "" {
					t.Errorf("%v differs (-kustomize +chart):\n%s", path, d)
				}
			}
			if k.GetKind() == "Deployment" {
				compareManager(t, k, c)
			}
			for key, v := range k.GetAnnotations() {
				if c.GetAnnotations()[key] != v {
					t.Errorf("annotation %s=%q, chart has %q", key, v, c.GetAnnotations()[key])
				}
			}
		})
	}
}

// checkScope: a namespaced object of config/default lives in
// cloudop-system and a cluster-scoped one has no namespace, as the API
// server's discovery says, since config/default sets no namespace of its
// own (kustomize would wrongly give one to a ValidatingAdmissionPolicy).
func checkScope(t *testing.T, obj *unstructured.Unstructured) {
	t.Helper()
	gvk := obj.GroupVersionKind()
	namespaced, err := kube.IsObjectNamespaced(obj)
	if err != nil {
		t.Errorf("%s %s: the API server does not know its kind: %v", gvk.Kind, obj.GetName(), err)
		return
	}
	want := ""
	if namespaced {
		want = namespace
	}
	if obj.GetNamespace() != want {
		t.Errorf("config/default renders %s %s in namespace %q, want %q", gvk.Kind, obj.GetName(), obj.GetNamespace(), want)
	}
}

// comparedFields are the fields of each kind that must be equal in both.
var comparedFields = map[string][][]string{
	"CustomResourceDefinition": {{"spec"}},
	"ClusterRole":              {{"rules"}},
	"Role":                     {{"rules"}},
	"ClusterRoleBinding":       {{"roleRef"}, {"subjects"}},
	"RoleBinding":              {{"roleRef"}, {"subjects"}},
	"ServiceAccount":           {},
	"Service":                  {{"spec", "ports"}, {"spec", "type"}},
	"Deployment":               {{"spec", "replicas"}, {"spec", "template", "spec", "serviceAccountName"}},
	// The token policy: the same user name, audience and limits in both.
	"ValidatingAdmissionPolicy":        {{"spec"}},
	"ValidatingAdmissionPolicyBinding": {{"spec"}},
}

// compareManager compares the manager containers and pod security context.
func compareManager(t *testing.T, kustomized, chart *unstructured.Unstructured) {
	t.Helper()
	want, got := managerContainer(t, kustomized), managerContainer(t, chart)
	for _, field := range []string{"args", "ports", "livenessProbe", "readinessProbe", "resources", "securityContext", "image"} {
		w, g := want[field], got[field]
		if field == "ports" {
			w, g = namedPorts(w), namedPorts(g)
		}
		if d := cmp.Diff(w, g); d != "" {
			t.Errorf("manager container %s differs (-kustomize +chart):\n%s", field, d)
		}
	}
	// GOMEMLIMIT follows the memory limit in both.
	if d := cmp.Diff(envValueFrom(want, "GOMEMLIMIT")["resourceFieldRef"].(map[string]any)["resource"], envValueFrom(got, "GOMEMLIMIT")["resourceFieldRef"].(map[string]any)["resource"]); d != "" {
		t.Errorf("GOMEMLIMIT source differs:\n%s", d)
	}
	wantPod, _, _ := unstructured.NestedMap(kustomized.Object, "spec", "template", "spec", "securityContext")
	gotPod, _, _ := unstructured.NestedMap(chart.Object, "spec", "template", "spec", "securityContext")
	if d := cmp.Diff(wantPod, gotPod); d != "" {
		t.Errorf("pod securityContext differs (-kustomize +chart):\n%s", d)
	}
}

func managerContainer(t *testing.T, d *unstructured.Unstructured) map[string]any {
	t.Helper()
	containers, _, _ := unstructured.NestedSlice(d.Object, "spec", "template", "spec", "containers")
	for _, c := range containers {
		if c := c.(map[string]any); c["name"] == "manager" {
			return c
		}
	}
	t.Fatalf("%s has no manager container", d.GetName())
	return nil
}

// namedPorts keeps what a port means (name, number), not how it is
// written (the chart also states the default protocol).
func namedPorts(ports any) map[string]any {
	out := map[string]any{}
	list, _ := ports.([]any)
	for _, p := range list {
		p := p.(map[string]any)
		out[p["name"].(string)] = p["containerPort"]
	}
	return out
}

func envValueFrom(container map[string]any, name string) map[string]any {
	env, _ := container["env"].([]any)
	for _, e := range env {
		if e := e.(map[string]any); e["name"] == name {
			v, _ := e["valueFrom"].(map[string]any)
			return v
		}
	}
	return map[string]any{"resourceFieldRef": map[string]any{}}
}

// TestShardsMatchKustomize compares the chart's sharded install (values
// shards: [shard1, shard2]) with config/sharding: the same Deployments,
// each with the same manager args (selector and budget split included).
func TestShardsMatchKustomize(t *testing.T) {
	needHelm(t)
	if kubectl == "" {
		t.Skipf("skipping: %s (fatal in CI)", missingControlPlane)
	}
	out, err := exec.Command(kubectl, "kustomize", filepath.Join(repoRoot, "config", "sharding")).Output()
	if err != nil {
		t.Fatalf("kubectl kustomize config/sharding: %v", err)
	}
	kustomized := ofKind(decode(t, out), "Deployment")
	chart := ofKind(decode(t, render(t, release, namespace, valuesFile("shards"))), "Deployment")
	if len(kustomized) != len(chart) {
		t.Errorf("config/sharding has %d Deployments, the chart %d", len(kustomized), len(chart))
	}
	for _, k := range kustomized {
		c := find(chart, "Deployment", k.GetNamespace(), k.GetName())
		if c == nil {
			t.Errorf("config/sharding has Deployment %s; the chart does not", k.GetName())
			continue
		}
		if d := cmp.Diff(managerArgs(t, k), managerArgs(t, c)); d != "" {
			t.Errorf("%s args differ (-kustomize +chart):\n%s", k.GetName(), d)
		}
	}
}

// TestInstallYAMLDisruptionBudget: the install.yaml hack/release writes
// has the PodDisruptionBudget the chart renders by default: the same
// name, namespace and minAvailable, selecting exactly the manager
// Deployment's pods.
func TestInstallYAMLDisruptionBudget(t *testing.T) {
	needHelm(t)
	if kubectl == "" {
		t.Skipf("skipping: %s (fatal in CI)", missingControlPlane)
	}
	installed := decode(t, installYAML(t))
	chart := decode(t, render(t, release, namespace, valuesFile("default")))
	for _, c := range ofKind(chart, "PodDisruptionBudget") {
		i := find(installed, "PodDisruptionBudget", c.GetNamespace(), c.GetName())
		if i == nil {
			t.Errorf("the chart renders PodDisruptionBudget %s/%s; install.yaml has none", c.GetNamespace(), c.GetName())
			continue
		}
		want, _, _ := unstructured.NestedFieldNoCopy(c.Object, "spec", "minAvailable")
		got, _, _ := unstructured.NestedFieldNoCopy(i.Object, "spec", "minAvailable")
		if d := cmp.Diff(want, got); d != "" {
			t.Errorf("minAvailable differs (-chart +install.yaml):\n%s", d)
		}
		selector, _, _ := unstructured.NestedStringMap(i.Object, "spec", "selector", "matchLabels")
		var selected []string
		for _, d := range ofKind(installed, "Deployment") {
			podLabels, _, _ := unstructured.NestedStringMap(d.Object, "spec", "template", "metadata", "labels")
			if len(selector) > 0 && labels.SelectorFromSet(selector).Matches(labels.Set(podLabels)) {
				selected = append(selected, d.GetName())
			}
		}
		if !slices.Equal(selected, []string{c.GetName()}) {
			t.Errorf("install.yaml's PodDisruptionBudget selects the pods of %v, want those of Deployment %s", selected, c.GetName())
		}
	}
	if n := len(ofKind(installed, "PodDisruptionBudget")); n != len(ofKind(chart, "PodDisruptionBudget")) || n == 0 {
		t.Errorf("install.yaml has %d PodDisruptionBudgets, the chart %d", n, len(ofKind(chart, "PodDisruptionBudget")))
	}
}
