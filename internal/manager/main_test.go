package manager

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/klog/v2"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	"github.com/cloudop/cloudop/internal/testenv"
	"github.com/cloudop/cloudop/internal/testkit"
)

// One control plane for the package, started in TestMain. envtest's
// kube-apiserver authorizes with RBAC and signs and authenticates
// ServiceAccount tokens, so a test can act as a ServiceAccount holding
// only the permissions it granted.
var (
	adminConfig *rest.Config
	k8s         client.Client
	clientset   *kubernetes.Clientset
	// managerLog holds everything the managers (and client-go, through
	// klog) logged, so a test can look for permission errors.
	managerLog = &testenv.LogBuffer{}
)

func TestMain(m *testing.M) {
	logger := zap.New(zap.WriteTo(managerLog))
	ctrl.SetLogger(logger)
	klog.SetLogger(logger) // the informers' list and watch errors
	env, cfg, err := testenv.Start()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	adminConfig = cfg
	if k8s, err = testkit.Client(cfg); err == nil {
		clientset, err = kubernetes.NewForConfig(cfg)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		_ = env.Stop()
		os.Exit(1)
	}
	code := m.Run()
	if err := env.Stop(); err != nil {
		fmt.Fprintln(os.Stderr, "stopping control plane:", err)
	}
	os.Exit(code)
}

// create creates obj with the admin client, deleting it when the test ends
// (cluster-scoped objects outlive namespaces).
func create(t *testing.T, obj client.Object) {
	t.Helper()
	if err := k8s.Create(context.Background(), obj); err != nil {
		t.Fatalf("creating %T %s: %v", obj, obj.GetName(), err)
	}
	t.Cleanup(func() { _ = k8s.Delete(context.Background(), obj) })
}

// serviceAccount creates a ServiceAccount in ns and returns a token for
// it from the TokenRequest API.
func serviceAccount(t *testing.T, ns, name string) string {
	t.Helper()
	create(t, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}})
	tr, err := clientset.CoreV1().ServiceAccounts(ns).CreateToken(context.Background(), name,
		&authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("token for %s/%s: %v", ns, name, err)
	}
	return tr.Status.Token
}

// tokenConfig is a rest config for the control plane that authenticates
// with token alone: none of the admin's client certificate.
func tokenConfig(token string) *rest.Config {
	return &rest.Config{Host: adminConfig.Host, BearerToken: token,
		TLSClientConfig: rest.TLSClientConfig{CAData: adminConfig.CAData}}
}

// subject is the RBAC subject of ServiceAccount ns/name.
func subject(ns, name string) []rbacv1.Subject {
	return []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Namespace: ns, Name: name}}
}

// newTestManager is New for a test: several run in this process, so
// controller-runtime must not insist on unique controller names.
func newTestManager(cfg *rest.Config, o Options) (ctrl.Manager, error) {
	return newManager(cfg, o, func(c *ctrl.Options) { c.Controller.SkipNameValidation = ptr.To(true) })
}

// startManager starts m until the test ends and fails the test if it
// stops with an error.
func startManager(t *testing.T, m ctrl.Manager) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- m.Start(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("manager stopped: %v", err)
			}
		case <-time.After(30 * time.Second):
			t.Error("manager did not stop within 30s")
		}
	})
}

// forbiddenLines returns the log lines that report a request refused for
// lack of permissions.
func forbiddenLines(log string) []string {
	var out []string
	for line := range strings.SplitSeq(log, "\n") {
		if strings.Contains(line, "forbidden") {
			out = append(out, line)
		}
	}
	return out
}
