package plugin

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	opsv1 "github.com/cloudop/cloudop/api/v1alpha1"
	"github.com/cloudop/cloudop/internal/testenv"
	"github.com/cloudop/cloudop/internal/testkit"
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
		if k8s, err = testkit.Client(cfg); err != nil {
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

// newNamespace creates a namespace of its own for one test, with the
// package's client.
func newNamespace(t *testing.T) string {
	t.Helper()
	return testkit.Namespace(t, k8s, "plugin")
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
	err := execPlugin(ctx, &out, &errOut, args...)
	return result{stdout: out.String(), stderr: errOut.String(), err: err, code: ExitCode(err)}
}

// execPlugin is runPlugin writing to out and errOut as it goes, for a
// test that reads them while the plugin runs.
func execPlugin(ctx context.Context, out, errOut io.Writer, args ...string) error {
	rt := Runtime{
		IOStreams: genericiooptions.IOStreams{In: strings.NewReader(""), Out: out, ErrOut: errOut},
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
	return cmd.ExecuteContext(ctx)
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
// conflicts (the plugin under test may be writing obj's annotations), and
// leaves obj as stored.
func setStatus(t *testing.T, obj *opsv1.CloudOperation, change func(*opsv1.CloudOperationStatus)) {
	t.Helper()
	ctx := context.Background()
	testkit.Eventually(t, 10*time.Second, "the status update of "+obj.Name, func() (bool, string) {
		if err := k8s.Get(ctx, client.ObjectKeyFromObject(obj), obj); err != nil {
			t.Fatal(err)
		}
		change(&obj.Status)
		err := k8s.Status().Update(ctx, obj)
		if err != nil && !apierrors.IsConflict(err) {
			t.Fatalf("updating status of %s: %v", obj.Name, err)
		}
		return err == nil, fmt.Sprint(err)
	})
}
