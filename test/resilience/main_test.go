// Package resilience hardens cloudop against faults and restarts: cloud
// faults injected by cloudsim for every service, the manager killed with
// SIGKILL mid-run, the kube-apiserver restarted under it, and two managers
// electing a leader. Each test checks that every CloudOperation still
// reaches its right terminal phase with exactly one PhaseChanged event per
// phase it went through. docs/reliability.md summarizes what is covered.
//
// One control plane (kube-apiserver and etcd, envtest) serves the package.
// The manager runs as a separate process (built once in TestMain) under a
// user holding only the RBAC that config/rbac ships, so it can be killed
// and restarted like a pod. cloudsim runs in-process over real HTTP.
//
// The tests run in parallel, each with its own cloudsim, namespaces and
// manager processes confined to them (--watch-namespace, or a label
// selector), except TestAPIServerRestart, which runs alone.
//
// RESILIENCE_LONG=1 turns on the long variants (many more kills); they
// are meant for a separate `make test-resilience-long` target.
package resilience

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/cloudop/cloudop/internal/manager"
	"github.com/cloudop/cloudop/internal/testenv"
)

// Fixed identities of the test setup.
const (
	// project is the cloud project every simulated account owns.
	project = "051ddda57400d2982fccc014fab5749d"
	// managerUser is the Kubernetes user the manager processes run as.
	managerUser = "cloudop-manager"
	// leaseNamespace is where config/rbac lets the manager keep its lease.
	leaseNamespace = "cloudop-system"
	// leaseName is the leader election lease of a manager without
	// --watch-label-selector.
	leaseName = manager.DefaultLeaderElectionID
	// pollInterval is spec.pollInterval of every CloudOperation (the CRD
	// minimum).
	pollInterval = 5 * time.Second
	// apiServerStopTimeout is how long envtest waits for kube-apiserver
	// (and etcd) to exit after SIGTERM before it sends SIGKILL.
	apiServerStopTimeout = 3 * time.Second
)

var (
	// env is the package's control plane; TestAPIServerRestart stops and
	// starts its kube-apiserver.
	env *envtest.Environment
	// k8s is an administrator's direct (uncached) client.
	k8s client.WithWatch
	// adminConfig reaches the control plane as an administrator.
	adminConfig *rest.Config
	// managerKubeconfig is a kubeconfig for managerUser.
	managerKubeconfig string
	// managerBinary is ./cmd/manager built for this run.
	managerBinary string
	// longRun turns on the long variants (RESILIENCE_LONG=1).
	longRun = os.Getenv("RESILIENCE_LONG") != ""
)

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	// The test process only uses clients; their logs are noise here.
	ctrl.SetLogger(logr.Discard())
	workDir, err := os.MkdirTemp("", "cloudop-resilience-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(workDir)

	built := make(chan error, 1)
	managerBinary = filepath.Join(workDir, "manager")
	go func() { built <- buildManager(managerBinary) }()

	if err := startControlPlane(workDir); err != nil {
		fmt.Fprintln(os.Stderr, err)
		<-built
		return 1
	}
	defer func() {
		if err := env.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, "stopping control plane:", err)
		}
	}()
	if err := setUpManagerUser(workDir); err != nil {
		fmt.Fprintln(os.Stderr, err)
		<-built
		return 1
	}
	if err := <-built; err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return m.Run()
}

// startControlPlane starts etcd and kube-apiserver with the CRD. The API
// server keeps its certificates in a fixed directory, so that stopping
// and starting it (TestAPIServerRestart) keeps its port, serving
// certificate and client CA, as a restarted real API server would.
func startControlPlane(workDir string) error {
	assets, err := testenv.AssetsDir()
	if err != nil {
		return err
	}
	root, err := testenv.RepoRoot()
	if err != nil {
		return err
	}
	certDir := filepath.Join(workDir, "apiserver")
	if err := os.MkdirAll(certDir, 0o700); err != nil {
		return err
	}
	env = &envtest.Environment{
		BinaryAssetsDirectory: assets,
		CRDDirectoryPaths:     []string{filepath.Join(root, "config", "crd", "bases")},
		ErrorIfCRDPathMissing: true,
		// kube-apiserver stops listening at once on SIGTERM but its
		// process can linger for the whole default 20 s; after 3 s
		// envtest sends SIGKILL (TestAPIServerRestart tolerates it).
		ControlPlaneStopTimeout: apiServerStopTimeout,
	}
	env.ControlPlane.APIServer = &envtest.APIServer{CertDir: certDir}
	if path := os.Getenv("RESILIENCE_APISERVER_LOG"); path != "" {
		// Debugging aid: the kube-apiserver's own output.
		f, err := os.Create(path)
		if err != nil {
			return err
		}
		env.ControlPlane.APIServer.Out, env.ControlPlane.APIServer.Err = f, f
	}
	if adminConfig, err = env.Start(); err != nil {
		return fmt.Errorf("starting control plane: %w", err)
	}
	k8s, err = client.NewWithWatch(adminConfig, client.Options{Scheme: manager.NewScheme()})
	return err
}

// setUpManagerUser provisions managerUser with exactly the RBAC rules of
// config/rbac (the ClusterRole and the leader election Role), bound to
// the user instead of the ServiceAccount, and writes its kubeconfig.
func setUpManagerUser(workDir string) error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	root, err := testenv.RepoRoot()
	if err != nil {
		return err
	}
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: leaseNamespace}}
	if err := k8s.Create(ctx, ns); err != nil && !apierrors.IsAlreadyExists(err) {
		return err
	}
	for _, f := range []string{"role.yaml", "leader_election_role.yaml"} {
		if err := applyFile(ctx, filepath.Join(root, "config", "rbac", f)); err != nil {
			return err
		}
	}
	subject := []rbacv1.Subject{{Kind: rbacv1.UserKind, APIGroup: rbacv1.GroupName, Name: managerUser}}
	bindings := []client.Object{
		&rbacv1.ClusterRoleBinding{
			ObjectMeta: metav1.ObjectMeta{Name: "resilience-cloudop-manager"},
			RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "cloudop-manager"},
			Subjects:   subject,
		},
		&rbacv1.RoleBinding{
			ObjectMeta: metav1.ObjectMeta{Namespace: leaseNamespace, Name: "resilience-cloudop-leader-election"},
			RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: "cloudop-leader-election"},
			Subjects:   subject,
		},
	}
	for _, b := range bindings {
		if err := k8s.Create(ctx, b); err != nil && !apierrors.IsAlreadyExists(err) {
			return err
		}
	}
	user, err := env.AddUser(envtest.User{Name: managerUser}, &rest.Config{})
	if err != nil {
		return err
	}
	managerKubeconfig = filepath.Join(workDir, "manager.kubeconfig")
	return testenv.WriteKubeconfig(user.Config(), managerKubeconfig)
}

// applyFile creates every object of a YAML file.
func applyFile(ctx context.Context, path string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(data), 4096)
	for {
		u := &unstructured.Unstructured{}
		if err := dec.Decode(&u.Object); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return fmt.Errorf("%s: %w", path, err)
		}
		if len(u.Object) == 0 {
			continue
		}
		if err := k8s.Create(ctx, u); err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("%s: creating %s %s: %w", path, u.GetKind(), u.GetName(), err)
		}
	}
}

// buildManager builds ./cmd/manager into path.
func buildManager(path string) error {
	root, err := testenv.RepoRoot()
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", "build", "-o", path, "./cmd/manager")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("building the manager: %w\n%s", err, out)
	}
	return nil
}
