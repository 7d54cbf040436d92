package plugin

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	opsv1 "github.com/cloudop/cloudop/api/v1alpha1"
	"github.com/cloudop/cloudop/internal/testenv"
)

// k8s is a client of the test control plane; kubeconfig is a kubeconfig
// file for it, which the commands under test read like any user's.
var (
	k8s        client.Client
	kubeconfig string
)

// fixedNow is the clock of the golden tests: the instant the fixtures'
// statuses were derived at.
var fixedNow = time.Date(2026, 11, 30, 1, 0, 0, 0, time.UTC)

func TestMain(m *testing.M) {
	env, cfg, err := testenv.Start()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := func() int {
		defer func() {
			if err := env.Stop(); err != nil {
				fmt.Fprintln(os.Stderr, "stopping control plane:", err)
			}
		}()
		scheme := runtime.NewScheme()
		if err := clientgoscheme.AddToScheme(scheme); err != nil {
			panic(err)
		}
		if err := opsv1.AddToScheme(scheme); err != nil {
			panic(err)
		}
		if k8s, err = client.New(cfg, client.Options{Scheme: scheme}); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		dir, err := os.MkdirTemp("", "kubectl-cloudop-test")
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		defer os.RemoveAll(dir)
		kubeconfig = filepath.Join(dir, "kubeconfig")
		if err := testenv.WriteKubeconfig(cfg, kubeconfig); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		return m.Run()
	}()
	os.Exit(code)
}

// newNamespace creates a namespace for one test.
func newNamespace(t *testing.T) string {
	t.Helper()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "plugin-"}}
	if err := k8s.Create(context.Background(), ns); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = k8s.Delete(context.Background(), ns) })
	return ns.Name
}

// result is what one run of the plugin printed and returned.
type result struct {
	stdout, stderr string
	err            error
	code           int
}

// runPlugin runs the plugin in-process against the test control plane as
// in a pipe with NO_COLOR set, with the fixed clock and times in UTC.
func runPlugin(ctx context.Context, args ...string) result {
	var out, errOut bytes.Buffer
	rt := Runtime{
		IOStreams: genericiooptions.IOStreams{In: strings.NewReader(""), Out: &out, ErrOut: &errOut},
		Now:       func() time.Time { return fixedNow },
		Getenv: func(k string) string {
			if k == "NO_COLOR" {
				return "1"
			}
			return ""
		},
		Terminal: func() (bool, int, int) { return false, 0, 0 },
		Location: time.UTC,
	}
	cmd := NewCommand(rt)
	cmd.SetArgs(append([]string{"--kubeconfig", kubeconfig}, args...))
	err := cmd.ExecuteContext(ctx)
	return result{stdout: out.String(), stderr: errOut.String(), err: err, code: ExitCode(err)}
}

// readFixture reads a CloudOperation from testdata/operations.
func readFixture(t *testing.T, name string) *opsv1.CloudOperation {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "operations", name+".yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var obj opsv1.CloudOperation
	if err := yaml.UnmarshalStrict(b, &obj); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return &obj
}

// createWithStatus creates obj in ns and then writes its status through the
// status subresource, as the manager would.
func createWithStatus(t *testing.T, ns string, obj *opsv1.CloudOperation) *opsv1.CloudOperation {
	t.Helper()
	ctx := context.Background()
	status := obj.Status
	obj = obj.DeepCopy()
	obj.Namespace, obj.ResourceVersion, obj.Generation = ns, "", 0
	obj.Status = opsv1.CloudOperationStatus{}
	if err := k8s.Create(ctx, obj); err != nil {
		t.Fatal(err)
	}
	setStatus(t, obj, func(st *opsv1.CloudOperationStatus) { *st = status })
	return obj
}

// setStatus changes obj's status with a status update, retrying on
// conflicts, and leaves obj as stored.
func setStatus(t *testing.T, obj *opsv1.CloudOperation, change func(*opsv1.CloudOperationStatus)) {
	t.Helper()
	ctx := context.Background()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if err := k8s.Get(ctx, client.ObjectKeyFromObject(obj), obj); err != nil {
			t.Fatal(err)
		}
		change(&obj.Status)
		err := k8s.Status().Update(ctx, obj)
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("updating status of %s: %v", obj.Name, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
