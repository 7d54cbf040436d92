package chart

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/cloudop/cloudop/internal/testenv"
	"github.com/cloudop/cloudop/internal/testkit"
)

// Day-two questions of docs/install.md, each answered there with commands
// these tests run as written (with the namespace replaced): the Pod
// Security label --create-namespace does not set, watched namespaces that
// do not exist, and what helm uninstall leaves behind.

// shBlock is a fenced sh block of a Markdown file.
var shBlock = regexp.MustCompile("(?ms)^ *```sh\n(.*?)^ *```")

// docCommands returns the commands of the sh block of docs/install.md
// that contains marker: its lines joined where they end in a backslash,
// without comments and blank lines.
func docCommands(t *testing.T, marker string) []string {
	t.Helper()
	doc, err := os.ReadFile(filepath.Join(repoRoot, "docs", "install.md"))
	if err != nil {
		t.Fatal(err)
	}
	var found []string
	for _, b := range shBlock.FindAllSubmatch(doc, -1) {
		if strings.Contains(string(b[1]), marker) {
			found = append(found, string(b[1]))
		}
	}
	if len(found) != 1 {
		t.Fatalf("docs/install.md has %d sh blocks containing %q, want 1", len(found), marker)
	}
	var cmds []string
	joined := strings.ReplaceAll(found[0], "\\\n", " ")
	for _, line := range strings.Split(joined, "\n") {
		line = strings.TrimSpace(line)
		if line != "" && !strings.HasPrefix(line, "#") {
			cmds = append(cmds, line)
		}
	}
	return cmds
}

// shell runs a command line with bash, kubectl and helm on PATH and
// KUBECONFIG pointing at the test API server.
func shell(t *testing.T, kubeconfig, line string) (string, error) {
	t.Helper()
	bin := t.TempDir()
	for name, target := range map[string]string{"kubectl": kubectl, "helm": helmBin} {
		if err := os.Symlink(target, filepath.Join(bin, name)); err != nil {
			t.Fatal(err)
		}
	}
	// A documented command that hangs (a kubectl wait on the API server)
	// fails its test instead of the whole package's time limit.
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", "-ec", line)
	cmd.Env = append(os.Environ(), "PATH="+bin+":"+os.Getenv("PATH"), "KUBECONFIG="+kubeconfig,
		"HELM_CONFIG_HOME="+os.TempDir()+"/cloudop-chart-test-helm", "HELM_CACHE_HOME="+os.TempDir()+"/cloudop-chart-test-helm")
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func kubeconfigFile(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "kubeconfig")
	if err := testenv.WriteKubeconfig(restConfig, path); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestPodSecurityLabelDocumented: helm install --create-namespace leaves
// the release namespace without the Pod Security label; the commands
// docs/install.md gives instead (create, label, install without
// --create-namespace) give it the labels install.yaml's Namespace has, and
// there a pod that breaks the restricted standard is refused.
func TestPodSecurityLabelDocumented(t *testing.T) {
	needControlPlane(t)
	ctx := context.Background()
	kubeconfig := kubeconfigFile(t)

	// install.yaml's Namespace (config/manager) carries the labels.
	out, err := exec.Command(kubectl, "kustomize", filepath.Join(repoRoot, "config", "default")).Output()
	if err != nil {
		t.Fatal(err)
	}
	var want map[string]string
	for _, o := range decode(t, out) {
		if o.GetKind() == "Namespace" {
			want = o.GetLabels()
		}
	}
	if want["pod-security.kubernetes.io/enforce"] != "restricted" {
		t.Fatalf("install.yaml's Namespace labels %v lack the restricted Pod Security label", want)
	}

	const created = "psa-created"
	// Release names of their own: other tests apply the cluster-scoped
	// objects of release cloudop without Helm.
	if out, err := shell(t, kubeconfig, "helm install psa-created "+chartDir+" --namespace "+created+" --create-namespace --set crds.enabled=false"); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	t.Cleanup(func() { _, _ = shell(t, kubeconfig, "helm uninstall psa-created --namespace "+created) })
	ns := &corev1.Namespace{}
	if err := kube.Get(ctx, client.ObjectKey{Name: created}, ns); err != nil {
		t.Fatal(err)
	}
	for key := range ns.Labels {
		if strings.HasPrefix(key, "pod-security.kubernetes.io/") {
			t.Errorf("--create-namespace set %s; docs/install.md says it does not", key)
		}
	}

	const labelled = "psa-labelled"
	for _, line := range docCommands(t, "pod-security.kubernetes.io/enforce=restricted") {
		line = strings.ReplaceAll(line, "cloudop-system", labelled)
		if strings.HasPrefix(line, "helm install cloudop charts/cloudop ") {
			line = strings.Replace(line, "helm install cloudop charts/cloudop ", "helm install psa-labelled "+chartDir+" ", 1) + " --set crds.enabled=false"
		}
		if out, err := shell(t, kubeconfig, line); err != nil {
			t.Fatalf("%s: %v\n%s", line, err, out)
		}
	}
	t.Cleanup(func() { _, _ = shell(t, kubeconfig, "helm uninstall psa-labelled --namespace "+labelled) })
	if err := kube.Get(ctx, client.ObjectKey{Name: labelled}, ns); err != nil {
		t.Fatal(err)
	}
	for key, value := range want {
		if ns.Labels[key] != value {
			t.Errorf("after the documented commands, label %s=%q, want %q as install.yaml has", key, ns.Labels[key], value)
		}
	}
	privileged := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: labelled, Name: "privileged"},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "example.com/c:v1"}}},
	}
	if err := kube.Create(ctx, privileged, client.DryRunAll); err == nil || !strings.Contains(err.Error(), "violates PodSecurity") {
		t.Errorf("a pod without security contexts in %s: %v, want a PodSecurity refusal", labelled, err)
	}
}

// TestMissingWatchNamespace: a namespaced install whose watched namespace
// does not exist fails, naming the namespace, as docs/install.md says; once
// the namespace exists, helm upgrade --install of the same release
// succeeds and grants the manager its Role there.
func TestMissingWatchNamespace(t *testing.T) {
	needControlPlane(t)
	ctx := context.Background()
	kubeconfig := kubeconfigFile(t)
	const rel, ns, team = "absent", "absent-system", "absent-team"
	args := " " + rel + " " + chartDir + " --namespace " + ns + " --set crds.enabled=false --set watchNamespaces={" + team + "}"
	out, err := shell(t, kubeconfig, "helm install"+args+" --create-namespace")
	t.Cleanup(func() { _, _ = shell(t, kubeconfig, "helm uninstall "+rel+" --namespace "+ns) })
	if err == nil {
		t.Fatalf("helm install with a missing watched namespace succeeded:\n%s", out)
	}
	if want := `namespaces "` + team + `" not found`; !strings.Contains(out, want) {
		t.Errorf("helm install's error does not say %s:\n%s", want, out)
	}
	if out, err := shell(t, kubeconfig, "helm status "+rel+" --namespace "+ns+" -o json"); err != nil || !strings.Contains(out, `"status":"failed"`) {
		t.Errorf("after the refusal the release is not failed (%v):\n%s", err, out)
	}
	ensureNamespace(t, team)
	if out, err := shell(t, kubeconfig, "helm upgrade --install"+args); err != nil {
		t.Fatalf("helm upgrade --install after creating %s: %v\n%s", team, err, out)
	}
	if get(ctx, t, "rbac.authorization.k8s.io/v1", "RoleBinding", team, rel+"-cloudop-manager") == nil {
		t.Errorf("no RoleBinding %s-cloudop-manager in %s after the upgrade", rel, team)
	}
}

// TestUninstallLeavesBehind: helm uninstall removes the release's objects
// but not what docs/install.md lists as left behind: the namespace, the
// manager's leader election Leases and Events (made at run time, here by
// the test as the manager would), and the CRDs (crds.keep). The cleanup
// commands docs/install.md gives then remove them.
func TestUninstallLeavesBehind(t *testing.T) {
	needControlPlane(t)
	ctx := context.Background()
	kubeconfig := kubeconfigFile(t)
	const ns, team = "leftover-system", "leftover-team"
	deleteCRDs(ctx, t)
	t.Cleanup(func() { deleteCRDs(ctx, t) })
	ensureNamespace(t, team)
	if out, err := shell(t, kubeconfig, "helm install leftover "+chartDir+" --namespace "+ns+" --create-namespace --set shards={shard1}"); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	// What the running manager would make: its Leases (the main
	// instance's and a shard's) and Events about a CloudOperation and a
	// Lease.
	now := metav1.NewMicroTime(time.Now())
	for _, name := range []string{"cloudop-manager.ops.cloudop.dev", "cloudop-manager-0123abcd.ops.cloudop.dev"} {
		holder := "cloudop-manager-7d9c_0"
		lease := &coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}, Spec: coordinationv1.LeaseSpec{HolderIdentity: &holder, RenewTime: &now}}
		if err := kube.Create(ctx, lease); err != nil {
			t.Fatal(err)
		}
	}
	events := []*corev1.Event{
		{
			ObjectMeta:     metav1.ObjectMeta{Namespace: team, Name: "upgrade.0123456789abcdef"},
			InvolvedObject: corev1.ObjectReference{APIVersion: "ops.cloudop.dev/v1alpha1", Kind: "CloudOperation", Namespace: team, Name: "upgrade"},
			Reason:         "StepChanged", Message: "step upgrade: Running", Type: corev1.EventTypeNormal,
			Source: corev1.EventSource{Component: "ops.cloudop.dev/cloudop-manager"}, ReportingController: "ops.cloudop.dev/cloudop-manager",
			ReportingInstance: "cloudop-manager-7d9c_0", Action: "Poll", EventTime: now,
		},
		{
			ObjectMeta:     metav1.ObjectMeta{Namespace: ns, Name: "cloudop-manager.ops.cloudop.dev.17f0"},
			InvolvedObject: corev1.ObjectReference{APIVersion: "coordination.k8s.io/v1", Kind: "Lease", Namespace: ns, Name: "cloudop-manager.ops.cloudop.dev"},
			Reason:         "LeaderElection", Message: "cloudop-manager-7d9c_0 became leader", Type: corev1.EventTypeNormal,
			Source: corev1.EventSource{Component: "cloudop-manager-7d9c_0"},
		},
	}
	for _, e := range events {
		if err := kube.Create(ctx, e); err != nil {
			t.Fatal(err)
		}
	}

	if out, err := shell(t, kubeconfig, "helm uninstall leftover --namespace "+ns+" --wait"); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if get(ctx, t, "apps/v1", "Deployment", ns, "leftover-cloudop-manager") != nil || get(ctx, t, "v1", "ServiceAccount", ns, "leftover-cloudop-manager") != nil {
		t.Error("helm uninstall left the release's Deployment or ServiceAccount")
	}
	remaining := func() map[string]bool {
		return map[string]bool{
			"namespace":            get(ctx, t, "v1", "Namespace", "", ns) != nil,
			"lease":                get(ctx, t, "coordination.k8s.io/v1", "Lease", ns, "cloudop-manager.ops.cloudop.dev") != nil,
			"shard lease":          get(ctx, t, "coordination.k8s.io/v1", "Lease", ns, "cloudop-manager-0123abcd.ops.cloudop.dev") != nil,
			"CloudOperation event": get(ctx, t, "v1", "Event", team, events[0].Name) != nil,
			"Lease event":          get(ctx, t, "v1", "Event", ns, events[1].Name) != nil,
			"CRD":                  crd(ctx, t, crdNames[0]) != nil && crd(ctx, t, crdNames[1]) != nil,
		}
	}
	for what, left := range remaining() {
		if !left {
			t.Errorf("helm uninstall removed the %s; docs/install.md says it stays", what)
		}
	}

	// The CRDs' storage must serve before they are deleted: the API
	// server's cleanup of a CRD deleted while its storage is still
	// initializing can stall for good ("could not list instances: storage
	// is (re)initializing"; seen once here, a few seconds after helm
	// created them), and kubectl delete crd waits for that cleanup.
	for _, kind := range []string{"CloudOperationList", "CloudOperationSourceList"} {
		testkit.Eventually(t, time.Minute, kind+" served", func() (bool, string) {
			l := &unstructured.UnstructuredList{}
			l.SetAPIVersion("ops.cloudop.dev/v1alpha1")
			l.SetKind(kind)
			err := kube.List(ctx, l)
			return err == nil, fmt.Sprint(err)
		})
	}

	// envtest runs no namespace controller, so a deleted namespace would
	// stay Terminating (and kubectl wait for it): the namespace's line is
	// only checked to be there, the others run.
	deletesNamespace := false
	for _, line := range docCommands(t, "get leases") {
		line = strings.ReplaceAll(line, "cloudop-system", ns)
		if strings.HasPrefix(line, "kubectl delete namespace "+ns) {
			deletesNamespace = true
			continue
		}
		if out, err := shell(t, kubeconfig, line); err != nil {
			t.Fatalf("%s: %v\n%s", line, err, out)
		}
	}
	if !deletesNamespace {
		t.Error("the cleanup commands of docs/install.md do not delete the namespace")
	}
	for what, left := range remaining() {
		if left && what != "namespace" {
			t.Errorf("the cleanup commands of docs/install.md left the %s", what)
		}
	}
}
