// Package e2e runs cloudop end to end: the demo's control plane, cloudsim
// and manager, driven through the API server and checked with real clients.
package e2e

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap/zapcore"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	opsv1 "github.com/cloudop/cloudop/api/v1alpha1"
	"github.com/cloudop/cloudop/internal/cloudsim"
	"github.com/cloudop/cloudop/internal/demo"
	"github.com/cloudop/cloudop/internal/testenv"
	"github.com/cloudop/cloudop/internal/testkit"
)

const (
	project   = "051ddda57400d2982fccc014fab5749d"
	accessKey = "DEMOACCESSKEY0000001"
	secretKey = "demo-secret-key-not-for-production"
)

var (
	env        *demo.Environment
	files      demo.Files
	managerLog = &testenv.LogBuffer{}
)

func TestMain(m *testing.M) {
	// The highest verbosity (V10: client-go dumps whole request and
	// response bodies), so the leak checks see everything the manager
	// could ever log.
	ctrl.SetLogger(zap.New(zap.WriteTo(managerLog), zap.UseDevMode(false), zap.Level(zapcore.Level(-maxVerbosity))))
	var err error
	if files, err = demo.LoadFiles(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	workDir, _ := os.MkdirTemp("", "cloudop-e2e-")
	env, err = demo.Start(context.Background(), files.Backdrop(), demo.Options{WorkDir: workDir})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	if code == 0 && flag.Lookup("test.run").Value.String() == "" {
		// Every secret of the whole run, in everything it wrote (a run
		// of a few tests, -run, may have issued nothing to look for).
		if err := leakSweep(); err != nil {
			fmt.Fprintln(os.Stderr, "leak sweep:", err)
			code = 1
		}
	}
	env.Stop()
	_ = os.RemoveAll(workDir)
	os.Exit(code)
}

// newNamespace creates a namespace of its own, with the demo account's
// credentials Secret.
func newNamespace(t *testing.T) string {
	t.Helper()
	return testkit.Namespace(t, env.Client, "e2e", testkit.CredentialsSecret("creds", accessKey, secretKey, project))
}

// simOperation adds an operation to cloudsim and returns a CloudOperation
// for it (not yet created).
func simOperation(t *testing.T, ns, name string, spec cloudsim.OperationSpec) *opsv1.CloudOperation {
	t.Helper()
	spec.ProjectID = project
	if err := env.Sim.AddOperation(spec); err != nil {
		t.Fatal(err)
	}
	obj := &opsv1.CloudOperation{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: opsv1.CloudOperationSpec{
			Service: opsv1.Service(spec.Service), OperationType: opsv1.OperationType(spec.Type), Region: "cn-north-4", OperationID: spec.ID,
			ClusterID: spec.ClusterID, StackID: spec.StackID, StackName: spec.StackName, BlockchainID: spec.BlockchainID,
			CredentialsSecretRef: opsv1.SecretReference{Name: "creds"},
			PollInterval:         &metav1.Duration{Duration: 5 * time.Second},
		},
	}
	return obj
}

func get(t *testing.T, ns, name string) *opsv1.CloudOperation {
	t.Helper()
	obj := &opsv1.CloudOperation{}
	if err := env.Client.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, obj); err != nil {
		t.Fatal(err)
	}
	return obj
}

func describe(o *opsv1.CloudOperation) string {
	var conds []string
	for _, c := range o.Status.Conditions {
		conds = append(conds, c.Type+"="+string(c.Status)+"/"+c.Reason)
	}
	return fmt.Sprintf("phase=%s step=%s conditions=%s message=%q", o.Status.Phase, o.Status.CurrentStep, strings.Join(conds, ","), o.Status.Message)
}

// kubectl runs the built kubectl against the control plane.
func kubectl(ctx context.Context, args ...string) (string, error) {
	out, err := exec.CommandContext(ctx, env.Kubectl, append([]string{"--kubeconfig", env.Kubeconfig}, args...)...).CombinedOutput()
	return string(out), err
}
