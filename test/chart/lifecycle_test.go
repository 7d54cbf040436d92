package chart

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/cloudop/cloudop/internal/testenv"
)

const crdName = "cloudoperations.ops.cloudop.dev"

// TestInstallUpgradeUninstall drives helm itself against the API server:
// install, an upgrade that switches to a namespaced install and bumps the
// chart version (the CRD, rendered from templates, must follow), and
// uninstall, which keeps the CRD with crds.keep and removes it without.
// It uses its own release name so its cluster-scoped objects are its own;
// only the CRD is shared, so it removes the one other tests applied first.
func TestInstallUpgradeUninstall(t *testing.T) {
	needControlPlane(t)
	ctx := context.Background()
	kubeconfig := filepath.Join(t.TempDir(), "kubeconfig")
	if err := testenv.WriteKubeconfig(restConfig, kubeconfig); err != nil {
		t.Fatal(err)
	}
	const rel, ns = "lifecycle", "lifecycle-system"
	ensureNamespace(t, "team-a")
	run := func(args ...string) {
		t.Helper()
		if _, err := helm(append(args, "--kubeconfig", kubeconfig, "--namespace", ns)...); err != nil {
			t.Fatal(err)
		}
	}
	deleteCRD(ctx, t)

	run("install", rel, chartDir, "--create-namespace")
	crd := get(ctx, t, "apiextensions.k8s.io/v1", "CustomResourceDefinition", "", crdName)
	if crd == nil || crd.GetAnnotations()["helm.sh/resource-policy"] != "keep" {
		t.Fatalf("after install, CRD %s missing or without helm.sh/resource-policy: keep: %v", crdName, crd)
	}
	if get(ctx, t, "rbac.authorization.k8s.io/v1", "ClusterRole", "", "lifecycle-cloudop-manager") == nil {
		t.Fatal("cluster-wide install has no ClusterRole lifecycle-cloudop-manager")
	}

	// A newer chart version, namespaced: the CRD is updated (its chart
	// label follows) and the ClusterRole gives way to a Role in team-a.
	next := filepath.Join(t.TempDir(), "cloudop")
	if err := os.CopyFS(next, os.DirFS(chartDir)); err != nil {
		t.Fatal(err)
	}
	chartYAML := filepath.Join(next, "Chart.yaml")
	meta, err := os.ReadFile(chartYAML)
	if err != nil {
		t.Fatal(err)
	}
	meta = regexp.MustCompile(`(?m)^version: .*$`).ReplaceAll(meta, []byte("version: 99.0.0"))
	if err := os.WriteFile(chartYAML, meta, 0o644); err != nil {
		t.Fatal(err)
	}
	run("upgrade", rel, next, "--set", "watchNamespaces={team-a}")
	crd = get(ctx, t, "apiextensions.k8s.io/v1", "CustomResourceDefinition", "", crdName)
	if got := crd.GetLabels()["helm.sh/chart"]; got != "cloudop-99.0.0" {
		t.Errorf("after upgrade the CRD's helm.sh/chart label is %q: helm upgrade did not update the CRD", got)
	}
	if get(ctx, t, "rbac.authorization.k8s.io/v1", "ClusterRole", "", "lifecycle-cloudop-manager") != nil {
		t.Error("namespaced upgrade left the cluster-wide ClusterRole lifecycle-cloudop-manager")
	}
	if get(ctx, t, "rbac.authorization.k8s.io/v1", "Role", "team-a", "lifecycle-cloudop-manager") == nil {
		t.Error("namespaced upgrade created no Role lifecycle-cloudop-manager in team-a")
	}

	run("uninstall", rel)
	for _, o := range []struct{ apiVersion, kind, ns, name string }{
		{"apps/v1", "Deployment", ns, "lifecycle-cloudop-manager"},
		{"v1", "ServiceAccount", ns, "lifecycle-cloudop-manager"},
		{"v1", "Service", ns, "lifecycle-cloudop-manager-metrics"},
		{"rbac.authorization.k8s.io/v1", "Role", "team-a", "lifecycle-cloudop-manager"},
		{"rbac.authorization.k8s.io/v1", "ClusterRole", "", "lifecycle-cloudop-metrics-reader"},
	} {
		if get(ctx, t, o.apiVersion, o.kind, o.ns, o.name) != nil {
			t.Errorf("after uninstall %s %s/%s remains", o.kind, o.ns, o.name)
		}
	}
	if get(ctx, t, "apiextensions.k8s.io/v1", "CustomResourceDefinition", "", crdName) == nil {
		t.Error("uninstall with crds.keep deleted the CRD")
	}

	// Without keep, the CRD goes with the release. The kept CRD belongs to
	// no release any more, so remove it before installing again.
	deleteCRD(ctx, t)
	run("install", rel, chartDir, "--set", "crds.keep=false")
	run("uninstall", rel, "--wait")
	if get(ctx, t, "apiextensions.k8s.io/v1", "CustomResourceDefinition", "", crdName) != nil {
		t.Error("uninstall with crds.keep=false left the CRD")
	}
}

// get returns the object, or nil when it does not exist.
func get(ctx context.Context, t *testing.T, apiVersion, kind, ns, name string) *unstructured.Unstructured {
	t.Helper()
	o := &unstructured.Unstructured{}
	o.SetAPIVersion(apiVersion)
	o.SetKind(kind)
	err := kube.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, o)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		t.Fatalf("get %s %s/%s: %v", kind, ns, name, err)
	}
	return o
}

// deleteCRD deletes the CloudOperation CRD and waits until it is gone.
func deleteCRD(ctx context.Context, t *testing.T) {
	t.Helper()
	crd := get(ctx, t, "apiextensions.k8s.io/v1", "CustomResourceDefinition", "", crdName)
	if crd == nil {
		return
	}
	if err := kube.Delete(ctx, crd); err != nil && !apierrors.IsNotFound(err) {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for get(ctx, t, "apiextensions.k8s.io/v1", "CustomResourceDefinition", "", crdName) != nil {
		if time.Now().After(deadline) {
			t.Fatalf("CRD %s still there 30s after its deletion", crdName)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
