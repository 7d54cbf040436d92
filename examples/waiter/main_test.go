package waiter

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	v1alpha1 "github.com/cloudop/cloudop/api/v1alpha1"
)

// One control plane (kube-apiserver and etcd) and one manager running the
// waiter serve the package; each test works in its own namespace.
var k8s client.Client

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	assets, err := assetsDir()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	env := &envtest.Environment{
		BinaryAssetsDirectory: assets,
		CRDDirectoryPaths:     []string{filepath.Join("..", "..", "config", "crd", "bases")},
		ErrorIfCRDPathMissing: true,
	}
	cfg, err := env.Start()
	if err != nil {
		fmt.Fprintln(os.Stderr, "starting control plane:", err)
		return 1
	}
	defer func() {
		if err := env.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, "stopping control plane:", err)
		}
	}()

	ctrl.SetLogger(zap.New(zap.WriteTo(os.Stderr), zap.UseDevMode(true)))
	scheme := runtime.NewScheme()
	if err := errors.Join(clientgoscheme.AddToScheme(scheme), v1alpha1.AddToScheme(scheme)); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	// Set up as cmd/waiter does, without leader election and metrics.
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		Scheme:  scheme,
		Metrics: metricsserver.Options{BindAddress: "0"},
		Cache: cache.Options{ByObject: map[client.Object]cache.ByObject{
			&corev1.ConfigMap{}: {Label: Selector()},
		}},
	})
	if err == nil {
		err = (&Reconciler{Client: mgr.GetClient()}).SetupWithManager(mgr)
	}
	if err == nil {
		k8s, err = client.New(cfg, client.Options{Scheme: scheme})
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	ctx, cancel := context.WithCancel(context.Background())
	stopped := make(chan error, 1)
	go func() { stopped <- mgr.Start(ctx) }()
	defer func() {
		cancel()
		if err := <-stopped; err != nil {
			fmt.Fprintln(os.Stderr, "manager:", err)
		}
	}()
	return m.Run()
}

// assetsDir returns $KUBEBUILDER_ASSETS (the Makefile exports it), or else
// the newest control plane `make tools` built into the repository's bin/.
func assetsDir() (string, error) {
	if dir := os.Getenv("KUBEBUILDER_ASSETS"); dir != "" {
		return dir, nil
	}
	dirs, _ := filepath.Glob(filepath.Join("..", "..", "bin", "k8s", "*", "kube-apiserver"))
	if len(dirs) == 0 {
		return "", errors.New("no control plane: set KUBEBUILDER_ASSETS or run `make tools`")
	}
	return filepath.Abs(filepath.Dir(dirs[len(dirs)-1]))
}

// newNamespace creates a namespace for one test.
func newNamespace(t *testing.T) string {
	t.Helper()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "waiter-"}}
	if err := k8s.Create(context.Background(), ns); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = k8s.Delete(context.Background(), ns) })
	return ns.Name
}

// newOperation creates a CloudOperation as a user would: spec only, no
// status (the cloudop manager does not run in these tests).
func newOperation(t *testing.T, ns, name string) *v1alpha1.CloudOperation {
	t.Helper()
	op := &v1alpha1.CloudOperation{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: v1alpha1.CloudOperationSpec{
			Service:              v1alpha1.ServiceECS,
			Region:               "cn-north-4",
			OperationID:          "ff8080828a7a4c6b018a9c1e2f3d4e5f",
			CredentialsSecretRef: v1alpha1.SecretReference{Name: "huaweicloud-credentials"},
		},
	}
	if err := k8s.Create(context.Background(), op); err != nil {
		t.Fatal(err)
	}
	return op
}

// newGate creates a ConfigMap with the given data that waits for the named
// operation.
func newGate(t *testing.T, ns, operation string, data map[string]string) *corev1.ConfigMap {
	t.Helper()
	cm := &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{
			Namespace: ns, Name: "gate-" + operation,
			Labels: map[string]string{LabelWaitFor: operation},
		},
		Data: data,
	}
	if err := k8s.Create(context.Background(), cm); err != nil {
		t.Fatal(err)
	}
	return cm
}

// writeStatus writes op's status through the status subresource, as the
// cloudop manager does, keeping the other fields of op as they are.
func writeStatus(t *testing.T, op *v1alpha1.CloudOperation, status v1alpha1.CloudOperationStatus) {
	t.Helper()
	op.Status = status
	if err := k8s.Status().Update(context.Background(), op); err != nil {
		t.Fatalf("writing status of %s: %v", op.Name, err)
	}
}

// waitForData polls the ConfigMap until its data has every key of want with
// the same value, and fails the test after the timeout.
func waitForData(t *testing.T, cm *corev1.ConfigMap, want map[string]string) {
	t.Helper()
	const timeout, interval = 20 * time.Second, 100 * time.Millisecond
	var got corev1.ConfigMap
	deadline := time.Now().Add(timeout)
	for {
		err := k8s.Get(context.Background(), client.ObjectKeyFromObject(cm), &got)
		if err == nil && hasData(got.Data, want) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("ConfigMap %s: data %v after %s, want %v (last error: %v)", cm.Name, got.Data, timeout, want, err)
		}
		time.Sleep(interval)
	}
}

// hasData reports whether data holds want; an empty value in want means the
// key must be absent.
func hasData(data, want map[string]string) bool {
	for key, value := range want {
		got, ok := data[key]
		if value == "" && ok || value != "" && got != value {
			return false
		}
	}
	return true
}
