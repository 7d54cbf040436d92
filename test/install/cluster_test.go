package install

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	opsv1 "github.com/cloudop/cloudop/api/v1alpha1"
)

// The release's identity, as docs/install.md installs it.
const (
	release          = "cloudop"
	releaseNamespace = "cloudop-system"
	managerName      = "cloudop-manager"
	metricsReader    = "cloudop-metrics-reader"
)

// The cloudsim account the operations are signed with.
const (
	project   = "051ddda57400d2982fccc014fab5749d"
	accessKey = "DEMOACCESSKEY0000001"
	secretKey = "demo-secret-key-not-for-production"
)

func newScheme() *runtime.Scheme {
	s := runtime.NewScheme()
	utilruntime.Must(clientgoscheme.AddToScheme(s))
	utilruntime.Must(opsv1.AddToScheme(s))
	return s
}

// cmdOutput runs a tool with the test's kubeconfig.
func cmdOutput(ctx context.Context, tool string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, tool, append(args, "--kubeconfig", kubeconfig)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if err != nil {
		return stdout.String(), fmt.Errorf("%s %s: %w\n%s", filepath.Base(tool), strings.Join(args, " "), err, stderr.String())
	}
	return stdout.String(), nil
}

func mustRun(t *testing.T, tool string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	out, err := cmdOutput(ctx, tool, args...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// chartPath is the packaged chart in the bundle.
func chartPath() string {
	return filepath.Join(bundle, "cloudop-"+strings.TrimPrefix(Version, "v")+".tgz")
}

// helmInstall installs the bundle's chart with values and returns the
// release's rendered manifest as Helm recorded it.
func helmInstall(t *testing.T, values map[string]any) string {
	t.Helper()
	helmRelease(t, "install", chartPath(), values, "--create-namespace")
	return mustRun(t, helm, "get", "manifest", release, "--namespace", releaseNamespace)
}

// helmRelease runs helm install or upgrade of chart with values (extra
// arguments after them).
func helmRelease(t *testing.T, verb, chart string, values map[string]any, extra ...string) {
	t.Helper()
	data, err := yaml.Marshal(values)
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "values.yaml")
	if err := os.WriteFile(file, data, 0o644); err != nil {
		t.Fatal(err)
	}
	mustRun(t, helm, append([]string{verb, release, chart, "--namespace", releaseNamespace, "--values", file}, extra...)...)
}

// manifestObjects splits a rendered manifest into objects.
func manifestObjects(t *testing.T, manifest string) []map[string]any {
	t.Helper()
	var objs []map[string]any
	for _, doc := range strings.Split(manifest, "\n---") {
		var obj map[string]any
		if err := yaml.Unmarshal([]byte(doc), &obj); err != nil {
			t.Fatalf("rendered manifest does not parse: %v", err)
		}
		if obj != nil {
			objs = append(objs, obj)
		}
	}
	return objs
}

// renderedDeployment is the named Deployment of a rendered manifest.
func renderedDeployment(t *testing.T, manifest, name string) *appsv1.Deployment {
	t.Helper()
	for _, obj := range manifestObjects(t, manifest) {
		if obj["kind"] != "Deployment" || obj["metadata"].(map[string]any)["name"] != name {
			continue
		}
		data, _ := json.Marshal(obj)
		dep := &appsv1.Deployment{}
		if err := json.Unmarshal(data, dep); err != nil {
			t.Fatal(err)
		}
		return dep
	}
	t.Fatalf("the release renders no Deployment %s", name)
	return nil
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// container is a running Docker container the test removes at cleanup,
// printing its logs when the test failed.
type container struct{ name string }

func runContainer(t *testing.T, name string, args []string) *container {
	t.Helper()
	exec.Command("docker", "rm", "-f", name).Run()
	args = append([]string{args[0], "--name", name}, args[1:]...)
	if out, err := exec.Command("docker", args...).CombinedOutput(); err != nil {
		t.Fatalf("docker %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	c := &container{name: name}
	t.Cleanup(func() {
		if t.Failed() {
			out, _ := exec.Command("docker", "logs", "--tail", "60", name).CombinedOutput()
			t.Logf("last logs of container %s:\n%s", name, out)
		}
		exec.Command("docker", "rm", "-f", name).Run()
	})
	return c
}

func (c *container) stop(t *testing.T) {
	t.Helper()
	if out, err := exec.Command("docker", "stop", "--time", "20", c.name).CombinedOutput(); err != nil {
		t.Fatalf("docker stop %s: %v\n%s", c.name, err, out)
	}
}

func (c *container) running() bool {
	out, err := exec.Command("docker", "inspect", "--format", "{{.State.Running}}", c.name).Output()
	return err == nil && strings.TrimSpace(string(out)) == "true"
}

// imageRef is the tag the bundle's Docker archives load as.
func imageRef(image string) string {
	return "ghcr.io/cloudop/cloudop-" + image + ":" + Version
}

// loadImages loads the bundle's linux/amd64 Docker archives into the
// local engine and returns a function that removes them again.
func loadImages() (func(), error) {
	var refs []string
	unload := func() {
		for _, ref := range refs {
			exec.Command("docker", "rmi", "--force", ref).Run()
		}
	}
	for _, image := range []string{"manager", "cloudsim"} {
		archive := filepath.Join(bundle, "cloudop-"+image+"_"+Version+"_linux-amd64.docker.tar")
		if out, err := exec.Command("docker", "load", "--input", archive).CombinedOutput(); err != nil {
			unload()
			return nil, fmt.Errorf("docker load %s: %v\n%s", archive, err, out)
		}
		refs = append(refs, imageRef(image))
	}
	return unload, nil
}

// simulator is cloudsim running from its image on a host port.
type simulator struct {
	url string
}

// startSimulator runs the cloudsim image with scenario, as a staging
// cluster would, and waits until it answers.
func startSimulator(t *testing.T, scenario string) *simulator {
	t.Helper()
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "scenario.yaml"), []byte(scenario), 0o644); err != nil {
		t.Fatal(err)
	}
	port := freePort(t)
	runContainer(t, "cloudop-e2e-cloudsim", []string{"run", "--detach", "--network", "host", "--read-only",
		"--cap-drop", "ALL", "--security-opt", "no-new-privileges", "--volume", dir + ":/scenario:ro",
		imageRef("cloudsim"), "--listen", "127.0.0.1:" + strconv.Itoa(port), "--config", "/scenario/scenario.yaml", "--seed", "1"})
	s := &simulator{url: "http://127.0.0.1:" + strconv.Itoa(port)}
	eventually(t, 30*time.Second, "cloudsim answers /admin/healthz", func() (bool, string) {
		code, body, err := httpGet(s.url+"/admin/healthz", "", nil)
		return err == nil && code == http.StatusOK, fmt.Sprint(code, body, err)
	})
	return s
}

// requests is how many requests cloudsim received for an operation.
func (s *simulator) requests(t *testing.T, service, key string) int {
	t.Helper()
	_, body, err := httpGet(s.url+"/admin/counts", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	var counts struct {
		Operations map[string]map[string]struct{ Total int } `json:"operations"`
	}
	if err := json.Unmarshal([]byte(body), &counts); err != nil {
		t.Fatalf("cloudsim counts: %v\n%s", err, body)
	}
	return counts.Operations[service][key].Total
}

// serviceAccountToken asks the TokenRequest API for a token of a
// ServiceAccount, as the kubelet does for a pod's projected token.
func serviceAccountToken(t *testing.T, namespace, name string) string {
	t.Helper()
	tr, err := kube.CoreV1().ServiceAccounts(namespace).CreateToken(context.Background(), name,
		&authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: ptr.To[int64](3600)}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("token for %s/%s: %v", namespace, name, err)
	}
	return tr.Status.Token
}

// startManager runs the manager image as the kubelet would run the
// release's Deployment pod (dockerRunArgs), with the chart's
// ServiceAccount token mounted, and waits for its probes.
func startManager(t *testing.T, manifest string) (*container, *appsv1.Deployment) {
	t.Helper()
	return startManagerImage(t, manifest, imageRef("manager"), "cloudop-e2e-manager")
}

// startManagerImage is startManager with another manager image (an older
// release's, in TestUpgrade) under another container name.
func startManagerImage(t *testing.T, manifest, image, containerName string) (*container, *appsv1.Deployment) {
	t.Helper()
	dep := renderedDeployment(t, manifest, managerName)
	tokenDir := t.TempDir()
	if err := os.Chmod(tokenDir, 0o755); err != nil {
		t.Fatal(err)
	}
	files := map[string][]byte{
		"token":     []byte(serviceAccountToken(t, releaseNamespace, dep.Spec.Template.Spec.ServiceAccountName)),
		"ca.crt":    restConfig.CAData,
		"namespace": []byte(releaseNamespace),
	}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(tokenDir, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	api, err := url.Parse(restConfig.Host)
	if err != nil {
		t.Fatal(err)
	}
	args, err := dockerRunArgs(dep, "manager", kubeletPod{
		Name: managerName + "-e2e", Namespace: releaseNamespace, Image: image,
		APIHost: api.Hostname(), APIPort: api.Port(), TokenDir: tokenDir,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("docker %s", strings.Join(args, " "))
	c := runContainer(t, containerName, args)
	ctr := dep.Spec.Template.Spec.Containers[0]
	for _, probe := range []struct {
		name  string
		probe *corev1.Probe
	}{{"liveness", ctr.LivenessProbe}, {"readiness", ctr.ReadinessProbe}} {
		port, err := probePort(ctr, probe.probe)
		if err != nil {
			t.Fatal(err)
		}
		u := fmt.Sprintf("http://127.0.0.1:%d%s", port, probe.probe.HTTPGet.Path)
		eventually(t, 60*time.Second, probe.name+" probe "+u+" answers 200", func() (bool, string) {
			if !c.running() {
				t.Fatalf("the manager container exited")
			}
			code, body, err := httpGet(u, "", nil)
			return err == nil && code == http.StatusOK, fmt.Sprint(code, " ", body, " ", err)
		})
	}
	return c, dep
}

// httpGet fetches u with an optional bearer token; tlsConfig nil means
// the self-signed metrics certificate is accepted (the test checks
// authentication, not the certificate).
func httpGet(u, token string, tlsConfig *tls.Config) (int, string, error) {
	if tlsConfig == nil {
		tlsConfig = &tls.Config{InsecureSkipVerify: true}
	}
	req, err := http.NewRequest(http.MethodGet, u, nil)
	if err != nil {
		return 0, "", err
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	hc := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: tlsConfig}}
	resp, err := hc.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body), err
}

// eventually polls check until it holds or timeout passes.
func eventually(t *testing.T, timeout time.Duration, what string, check func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var last string
	for {
		ok, detail := check()
		if ok {
			return
		}
		last = detail
		if time.Now().After(deadline) {
			t.Fatalf("after %s: %s did not hold; last: %s", timeout, what, last)
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// createNamespace creates a namespace with the account's credentials
// Secret, removed at cleanup.
func createNamespace(t *testing.T, name string) {
	t.Helper()
	ctx := context.Background()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}
	if err := k8sClient.Create(ctx, ns); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { k8sClient.Delete(context.Background(), ns) })
	for secret, sk := range map[string]string{"huaweicloud-credentials": secretKey, "wrong-credentials": "not-the-secret-key"} {
		s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: name, Name: secret},
			StringData: map[string]string{"accessKey": accessKey, "secretKey": sk, "projectID": project}}
		if err := k8sClient.Create(ctx, s); err != nil {
			t.Fatal(err)
		}
	}
}

// createJob creates a CloudOperation tracking a job of service.
func createJob(t *testing.T, namespace, name string, service opsv1.Service, jobID, secret string) {
	t.Helper()
	op := &opsv1.CloudOperation{
		ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name},
		Spec: opsv1.CloudOperationSpec{
			Service: service, Region: "cn-north-4", OperationID: jobID,
			CredentialsSecretRef: opsv1.SecretReference{Name: secret},
			PollInterval:         &metav1.Duration{Duration: 5 * time.Second},
		},
	}
	if err := k8sClient.Create(context.Background(), op); err != nil {
		t.Fatalf("creating CloudOperation %s/%s: %v", namespace, name, err)
	}
}

func getOperation(t *testing.T, namespace, name string) *opsv1.CloudOperation {
	t.Helper()
	op := &opsv1.CloudOperation{}
	if err := k8sClient.Get(context.Background(), client.ObjectKey{Namespace: namespace, Name: name}, op); err != nil {
		t.Fatal(err)
	}
	return op
}

// waitForPhase waits until the operation reaches phase.
func waitForPhase(t *testing.T, namespace, name string, phase opsv1.Phase, timeout time.Duration) {
	t.Helper()
	eventually(t, timeout, fmt.Sprintf("%s/%s reaches %s", namespace, name, phase), func() (bool, string) {
		op := getOperation(t, namespace, name)
		return op.Status.Phase == phase, fmt.Sprintf("phase %q conditions %+v", op.Status.Phase, op.Status.Conditions)
	})
}

// waitForReason waits until the operation's Ready condition has reason.
func waitForReason(t *testing.T, namespace, name, reason string, timeout time.Duration) {
	t.Helper()
	eventually(t, timeout, fmt.Sprintf("%s/%s Ready reason %s", namespace, name, reason), func() (bool, string) {
		op := getOperation(t, namespace, name)
		c := findCondition(op.Status.Conditions, opsv1.ConditionReady)
		return c != nil && c.Reason == reason, fmt.Sprintf("conditions %+v", op.Status.Conditions)
	})
}

func findCondition(cs []metav1.Condition, t string) *metav1.Condition {
	for i := range cs {
		if cs[i].Type == t {
			return &cs[i]
		}
	}
	return nil
}

// createServiceAccount creates a ServiceAccount (envtest runs no
// controller that would create "default") and returns its name.
func createServiceAccount(t *testing.T, namespace, name string) string {
	t.Helper()
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name}}
	if err := k8sClient.Create(context.Background(), sa); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { k8sClient.Delete(context.Background(), sa) })
	return name
}

// metricsScraper creates a ServiceAccount bound to the release's
// metrics-reader ClusterRole (as a Prometheus would be) and returns its
// token.
func metricsScraper(t *testing.T) string {
	t.Helper()
	ctx := context.Background()
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: releaseNamespace, Name: "prometheus-e2e"}}
	binding := &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "prometheus-e2e-metrics"},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: metricsReader},
		Subjects:   []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Namespace: releaseNamespace, Name: sa.Name}},
	}
	for _, obj := range []client.Object{sa, binding} {
		if err := k8sClient.Create(ctx, obj); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { k8sClient.Delete(context.Background(), obj) })
	}
	return serviceAccountToken(t, releaseNamespace, sa.Name)
}

// metricsURL is the manager's metrics endpoint from its rendered args.
func metricsURL(t *testing.T, dep *appsv1.Deployment) string {
	t.Helper()
	addr, secure := "", true
	for _, a := range dep.Spec.Template.Spec.Containers[0].Args {
		if v, ok := strings.CutPrefix(a, "--metrics-bind-address="); ok {
			addr = v
		}
		if v, ok := strings.CutPrefix(a, "--metrics-secure="); ok {
			secure = v == "true"
		}
	}
	_, port, err := net.SplitHostPort(addr)
	if err != nil || addr == "0" {
		t.Fatalf("the rendered Deployment serves no metrics (--metrics-bind-address=%q)", addr)
	}
	scheme := "https"
	if !secure {
		scheme = "http"
	}
	return scheme + "://127.0.0.1:" + port + "/metrics"
}

// noLeftovers checks that nothing the release created remains, except the
// CRD when it was kept.
func noLeftovers(t *testing.T, manifest string, crdKept bool) {
	t.Helper()
	ctx := context.Background()
	for _, obj := range manifestObjects(t, manifest) {
		kind := obj["kind"].(string)
		meta := obj["metadata"].(map[string]any)
		name, _ := meta["name"].(string)
		ns, _ := meta["namespace"].(string)
		args := []string{"get", strings.ToLower(kind), name, "--ignore-not-found", "-o", "name"}
		if ns != "" {
			args = append(args, "--namespace", ns)
		}
		out, err := cmdOutput(ctx, kubectl, args...)
		if err != nil {
			t.Fatal(err)
		}
		exists := strings.TrimSpace(out) != ""
		want := kind == "CustomResourceDefinition" && crdKept
		if exists != want {
			t.Errorf("after helm uninstall, %s %s/%s exists=%v, want %v", kind, ns, name, exists, want)
		}
	}
}
