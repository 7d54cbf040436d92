package chart

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/cloudop/cloudop/internal/testenv"
	"github.com/cloudop/cloudop/internal/testkit"
)

// crdNames are the chart's CRDs.
var crdNames = []string{"cloudoperations.ops.cloudop.dev", "cloudoperationsources.ops.cloudop.dev"}

// crd returns the CRD named name, or nil.
func crd(ctx context.Context, t *testing.T, name string) *unstructured.Unstructured {
	t.Helper()
	return get(ctx, t, "apiextensions.k8s.io/v1", "CustomResourceDefinition", "", name)
}

// TestInstallUpgradeUninstall drives helm itself against the API server:
// install, an upgrade that switches to a namespaced install and bumps the
// chart version (the CRD, rendered from templates, must follow), and
// uninstall, which keeps the CRD with crds.keep and removes it without.
// It uses its own release name so its cluster-scoped objects are its own;
// only the CRDs are shared, so it removes the ones other tests applied
// first.
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
	deleteCRDs(ctx, t)

	run("install", rel, chartDir, "--create-namespace")
	for _, name := range crdNames {
		if c := crd(ctx, t, name); c == nil || c.GetAnnotations()["helm.sh/resource-policy"] != "keep" {
			t.Fatalf("after install, CRD %s missing or without helm.sh/resource-policy: keep: %v", name, c)
		}
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
	for _, name := range crdNames {
		if got := crd(ctx, t, name).GetLabels()["helm.sh/chart"]; got != "cloudop-99.0.0" {
			t.Errorf("after upgrade the CRD %s's helm.sh/chart label is %q: helm upgrade did not update it", name, got)
		}
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
	for _, name := range crdNames {
		if crd(ctx, t, name) == nil {
			t.Errorf("uninstall with crds.keep deleted the CRD %s", name)
		}
	}
	reinstallUnderAnotherName(ctx, t, kubeconfig)

	// Without keep, the CRDs go with the release. The kept CRDs belong to
	// no release any more, so remove them before installing again.
	deleteCRDs(ctx, t)
	run("install", rel, chartDir, "--set", "crds.keep=false")
	run("uninstall", rel, "--wait")
	for _, name := range crdNames {
		if crd(ctx, t, name) != nil {
			t.Errorf("uninstall with crds.keep=false left the CRD %s", name)
		}
	}
}

// reinstallUnderAnotherName: the CRDs a release kept on uninstall, and
// the objects stored in them, pass to a release of another name in
// another namespace once that release adopts them with the commands
// docs/install.md gives; without them helm refuses the install.
func reinstallUnderAnotherName(ctx context.Context, t *testing.T, kubeconfig string) {
	t.Helper()
	const rel, ns = "adopter", "adopter-system"
	stored := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "ops.cloudop.dev/v1alpha1", "kind": "CloudOperation",
		"metadata": map[string]any{"namespace": "team-a", "name": "kept-across-releases"},
		"spec":     map[string]any{"service": "ECS", "region": "cn-north-4", "operationID": "job-1", "credentialsSecretRef": map[string]any{"name": "creds"}},
	}}
	if err := kube.Create(ctx, stored); err != nil {
		t.Fatal(err)
	}
	install := func() ([]byte, error) {
		return helm("install", rel, chartDir, "--kubeconfig", kubeconfig, "--namespace", ns, "--create-namespace")
	}
	if out, err := install(); err == nil || !regexp.MustCompile(`invalid ownership metadata`).MatchString(fmt.Sprint(err)+string(out)) {
		t.Fatalf("installing over kept CRDs without adopting them: %v\n%s", err, out)
	}
	// docs/install.md, "A CRD kept by an uninstalled release".
	for _, args := range [][]string{
		{"annotate", "crd", crdNames[0], crdNames[1], "meta.helm.sh/release-name=" + rel, "meta.helm.sh/release-namespace=" + ns, "--overwrite"},
		{"label", "crd", crdNames[0], crdNames[1], "app.kubernetes.io/managed-by=Helm", "--overwrite"},
	} {
		if out, err := exec.Command(kubectl, append(args, "--kubeconfig", kubeconfig)...).CombinedOutput(); err != nil {
			t.Fatalf("kubectl %v: %v\n%s", args, err, out)
		}
	}
	if out, err := install(); err != nil {
		t.Fatalf("installing after adopting the kept CRDs: %v\n%s", err, out)
	}
	for _, name := range crdNames {
		if c := crd(ctx, t, name); c == nil || c.GetAnnotations()["meta.helm.sh/release-name"] != rel {
			t.Errorf("CRD %s is not %s's after the reinstall: %v", name, rel, c)
		}
	}
	if get(ctx, t, "ops.cloudop.dev/v1alpha1", "CloudOperation", "team-a", "kept-across-releases") == nil {
		t.Error("the CloudOperation stored under the first release is gone")
	}
	if out, err := helm("uninstall", rel, "--kubeconfig", kubeconfig, "--namespace", ns, "--wait"); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if err := kube.Delete(ctx, stored); err != nil && !apierrors.IsNotFound(err) {
		t.Fatal(err)
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

// deleteCRDs deletes the chart's CRDs and waits until they are gone.
func deleteCRDs(ctx context.Context, t *testing.T) {
	t.Helper()
	for _, name := range crdNames {
		c := crd(ctx, t, name)
		if c == nil {
			continue
		}
		if err := kube.Delete(ctx, c); err != nil && !apierrors.IsNotFound(err) {
			t.Fatal(err)
		}
		testkit.Eventually(t, 30*time.Second, "CRD "+name+" to be deleted", func() (bool, string) {
			return crd(ctx, t, name) == nil, "still there"
		})
	}
}

// TestSideBySideNamespacedReleases: two namespaced releases of the same
// name, one per team's namespace, install side by side (their
// cluster-scoped objects carry their namespace; the second leaves the
// CRDs to the first, crds.enabled=false, as docs/install.md says), and
// uninstall without touching each other.
func TestSideBySideNamespacedReleases(t *testing.T) {
	needControlPlane(t)
	ctx := context.Background()
	kubeconfig := filepath.Join(t.TempDir(), "kubeconfig")
	if err := testenv.WriteKubeconfig(restConfig, kubeconfig); err != nil {
		t.Fatal(err)
	}
	helmIn := func(ns string, args ...string) {
		t.Helper()
		if out, err := helm(append(args, "--kubeconfig", kubeconfig, "--namespace", ns)...); err != nil {
			t.Fatalf("helm %v: %v\n%s", args, err, out)
		}
	}
	ensureNamespace(t, "side-a")
	ensureNamespace(t, "side-b")
	deleteCRDs(ctx, t)
	t.Cleanup(func() { deleteCRDs(ctx, t) })

	helmIn("side-a-ops", "install", "cloudop", chartDir, "--create-namespace", "--set", "watchNamespaces={side-a}")
	helmIn("side-b-ops", "install", "cloudop", chartDir, "--create-namespace", "--set", "watchNamespaces={side-b}", "--set", "crds.enabled=false")
	for _, ns := range []string{"side-a-ops", "side-b-ops"} {
		for _, o := range []struct{ apiVersion, kind, name string }{
			{"rbac.authorization.k8s.io/v1", "ClusterRole", "cloudop-" + ns + "-manager-auth"},
			{"rbac.authorization.k8s.io/v1", "ClusterRoleBinding", "cloudop-" + ns + "-manager-auth"},
			{"rbac.authorization.k8s.io/v1", "ClusterRole", "cloudop-" + ns + "-metrics-reader"},
			{"admissionregistration.k8s.io/v1", "ValidatingAdmissionPolicy", "cloudop-" + ns + "-token-requests"},
		} {
			if get(ctx, t, o.apiVersion, o.kind, "", o.name) == nil {
				t.Errorf("release in %s: no %s %s", ns, o.kind, o.name)
			}
		}
	}

	helmIn("side-a-ops", "uninstall", "cloudop", "--wait")
	if get(ctx, t, "rbac.authorization.k8s.io/v1", "ClusterRole", "", "cloudop-side-b-ops-manager-auth") == nil {
		t.Error("uninstalling side-a's release removed side-b's ClusterRole")
	}
	for _, name := range crdNames {
		if crd(ctx, t, name) == nil {
			t.Errorf("uninstalling the release that installed the CRDs removed %s (crds.keep is on by default)", name)
		}
	}
	helmIn("side-b-ops", "uninstall", "cloudop", "--wait")
}
