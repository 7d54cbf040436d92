// Package install proves a cloudop release installs and runs the way a
// platform team would use it: the release bundle is built (images, chart,
// install.yaml), the chart is installed with Helm into a real
// kube-apiserver, and the manager image runs under Docker exactly as the
// kubelet would run the rendered Deployment's pod, against cloudsim run
// from its own image.
//
// It is its own Go module so that Helm's and Prometheus' libraries (the
// PromQL parser) never enter the operator's module graph.
package install

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
)

// Version is stamped into the images and the bundle this test builds.
const Version = "v0.0.0-e2e"

var (
	// repoRoot is the checkout the release is built from.
	repoRoot = mustAbs("../..")
	// restConfig is the control plane's admin identity.
	restConfig *rest.Config
	kube       kubernetes.Interface
	k8sClient  client.Client
	// kubeconfig is restConfig as a file, for helm and kubectl.
	kubeconfig string
	// helm and kubectl are the binaries make tools builds.
	helm, kubectl string
	// bundle is the release directory hack/release wrote.
	bundle string
	// dockerErr is why container steps are skipped (nil: Docker answers).
	dockerErr error
)

func TestMain(m *testing.M) {
	code, err := run(m)
	if err != nil {
		fmt.Fprintln(os.Stderr, "install e2e:", err)
		os.Exit(1)
	}
	os.Exit(code)
}

func run(m *testing.M) (int, error) {
	helm = os.Getenv("HELM")
	kubectl = filepath.Join(os.Getenv("KUBEBUILDER_ASSETS"), "kubectl")
	for _, bin := range []string{helm, kubectl} {
		if _, err := exec.LookPath(bin); bin == "" || err != nil {
			return 0, fmt.Errorf("tool %q not found: run through make test (make tools builds helm and kubectl into bin/)", bin)
		}
	}
	if out, err := exec.Command("docker", "version", "--format", "{{.Server.Version}}").CombinedOutput(); err != nil {
		dockerErr = fmt.Errorf("%v: %s", err, strings.TrimSpace(string(out)))
	}
	work, err := os.MkdirTemp("", "cloudop-install-")
	if err != nil {
		return 0, err
	}
	defer os.RemoveAll(work)
	if bundle, err = buildRelease(work); err != nil {
		return 0, err
	}
	if dockerErr == nil {
		unload, err := loadImages()
		if err != nil {
			return 0, err
		}
		defer unload()
	}
	logf.SetLogger(logr.Discard())
	env := &envtest.Environment{}
	if restConfig, err = env.Start(); err != nil {
		return 0, fmt.Errorf("starting the control plane: %w", err)
	}
	defer env.Stop()
	if kube, err = kubernetes.NewForConfig(restConfig); err != nil {
		return 0, err
	}
	scheme := newScheme()
	if k8sClient, err = client.New(restConfig, client.Options{Scheme: scheme}); err != nil {
		return 0, err
	}
	admin, err := env.AddUser(envtest.User{Name: "e2e-admin", Groups: []string{"system:masters"}}, nil)
	if err != nil {
		return 0, err
	}
	data, err := admin.KubeConfig()
	if err != nil {
		return 0, err
	}
	kubeconfig = filepath.Join(work, "kubeconfig")
	if err := os.WriteFile(kubeconfig, data, 0o600); err != nil {
		return 0, err
	}
	return m.Run(), nil
}

// buildRelease builds linux/amd64 images and the release bundle from
// them with the same programs make image and make release run (one
// platform, to keep make test short; make release builds both).
func buildRelease(work string) (string, error) {
	layouts := filepath.Join(work, "layouts")
	out := filepath.Join(work, "bundle")
	steps := [][]string{
		{"go", "run", "./hack/imagebuild", "-out", layouts, "-platforms", "linux/amd64", "-version", Version, "-commit", "e2e", "-source-date-epoch", "0"},
		{"go", "run", "./hack/release", "-version", Version, "-layouts", layouts, "-out", out, "-root", repoRoot, "-kubectl", kubectl, "-helm", helm},
	}
	for _, args := range steps {
		ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
		cmd := exec.CommandContext(ctx, args[0], args[1:]...)
		cmd.Dir = repoRoot
		output, err := cmd.CombinedOutput()
		cancel()
		if err != nil {
			return "", fmt.Errorf("%s: %w\n%s", strings.Join(args, " "), err, output)
		}
	}
	return out, nil
}

func mustAbs(p string) string {
	abs, err := filepath.Abs(p)
	if err != nil {
		panic(err)
	}
	return abs
}

// requireDocker skips the calling (sub)test's container steps when no
// Docker engine answers; on the project's machines one always does.
func requireDocker(t *testing.T) {
	t.Helper()
	if dockerErr != nil {
		t.Skipf("container steps skipped: no Docker engine answers `docker version` (%v)", dockerErr)
	}
}
