package install

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"sigs.k8s.io/controller-runtime/pkg/client"

	opsv1 "github.com/cloudop/cloudop/api/v1alpha1"
)

// The names the token test gives its tenants and its target.
const (
	// optedIn carries the workload identity label; notOptedIn does not.
	optedIn    = "tokens-opted-in"
	notOptedIn = "tokens-not-opted-in"
	// tenant is a ServiceAccount in each tenant namespace.
	tenant = "tenant"
	// clusterAdmin is the attacker's target: a kube-system ServiceAccount
	// bound to cluster-admin.
	clusterAdmin = "some-admin"
	// audience is the manager's token audience (its default).
	audience = "cloudop"
)

// outcome is how the API server answers a TokenRequest.
type outcome int

const (
	// asDefault, in a per-install override, keeps the case's want.
	asDefault outcome = iota
	// allowed: a token comes back.
	allowed
	// deniedByPolicy: RBAC lets the request through and the token policy
	// refuses it.
	deniedByPolicy
	// deniedByRBAC: the manager's roles do not reach the namespace.
	deniedByRBAC
	// failed: any other error.
	failed
)

func (o outcome) String() string {
	return [...]string{"as default", "allowed", "denied by the policy", "denied by RBAC", "failed otherwise"}[o]
}

// tokenInstall is one way of installing cloudop whose token rights are
// checked.
type tokenInstall struct {
	name string
	// install installs cloudop and registers its removal as a cleanup.
	install func(t *testing.T)
	// clusterWide installs grant serviceaccounts/token in every namespace.
	clusterWide bool
	// managerIdentity installs let the manager mint its own tokens.
	managerIdentity bool
}

// tokenCase is one TokenRequest the manager makes.
type tokenCase struct {
	name                      string
	namespace, serviceAccount string
	// args are kubectl create token's flags (audiences, duration).
	args []string
	// want is the answer in a cluster-wide install; namespaced and
	// managerIdentity override it where those installs differ.
	want, namespaced, managerIdentity outcome
	// mention is a piece of the refusal's message (the fix it names).
	mention string
}

func (c tokenCase) expect(inst tokenInstall) outcome {
	switch {
	case !inst.clusterWide && c.namespaced != asDefault:
		return c.namespaced
	case inst.managerIdentity && c.managerIdentity != asDefault:
		return c.managerIdentity
	}
	return c.want
}

// TestTokenRequests (issue #21): the manager's ServiceAccount can no
// longer mint a cluster-admin token. RBAC grants `create
// serviceaccounts/token` without a say over the ServiceAccount or the
// audience, so with the shipped install.yaml, the chart's default render,
// its namespaced render and its manager-identity render, the test runs the
// attack as the manager (a token of its ServiceAccount, nothing else) and
// expects the API server to refuse it, while the manager's own kind of
// request (audience cloudop, 10 minutes, an opted-in namespace) passes.
// A control account holding the same ClusterRole under another name mints
// the admin token, so the refusals are the policy's doing, not RBAC's.
// Needs only the control plane, no Docker.
func TestTokenRequests(t *testing.T) {
	ctx := context.Background()
	createServiceAccount(t, "kube-system", clusterAdmin)
	createObject(t, &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "tokens-e2e-" + clusterAdmin},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "cluster-admin"},
		Subjects:   []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Namespace: "kube-system", Name: clusterAdmin}},
	})
	for ns, labels := range map[string]map[string]string{
		optedIn:    {opsv1.LabelWorkloadIdentity: opsv1.LabelWorkloadIdentityEnabled},
		notOptedIn: nil,
	} {
		createObject(t, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns, Labels: labels}})
		createServiceAccount(t, ns, tenant)
	}

	tenMinutes := []string{"--audience", audience, "--duration", "10m"}
	cases := []tokenCase{
		{name: "the attack: an API server token of a kube-system cluster-admin",
			namespace: "kube-system", serviceAccount: clusterAdmin,
			want: deniedByPolicy, namespaced: deniedByRBAC},
		{name: "the attack with the manager's audience",
			namespace: "kube-system", serviceAccount: clusterAdmin, args: tenMinutes,
			want: deniedByPolicy, namespaced: deniedByRBAC, mention: "kubectl label namespace kube-system " + opsv1.LabelWorkloadIdentity + "=true"},
		{name: "the manager's own request in an opted-in namespace",
			namespace: optedIn, serviceAccount: tenant, args: tenMinutes, want: allowed},
		{name: "an hour is the longest allowed",
			namespace: optedIn, serviceAccount: tenant, args: []string{"--audience", audience, "--duration", "1h"}, want: allowed},
		{name: "a namespace that is not opted in",
			namespace: notOptedIn, serviceAccount: tenant, args: tenMinutes,
			want: deniedByPolicy, mention: "kubectl label namespace " + notOptedIn + " " + opsv1.LabelWorkloadIdentity + "=true"},
		{name: "no audience: the API server's",
			namespace: optedIn, serviceAccount: tenant, args: []string{"--duration", "10m"},
			want: deniedByPolicy, mention: `only for its own audience "cloudop"`},
		{name: "a foreign audience",
			namespace: optedIn, serviceAccount: tenant, args: []string{"--audience", "sts.example.com", "--duration", "10m"},
			want: deniedByPolicy, mention: "audience"},
		{name: "an extra audience",
			namespace: optedIn, serviceAccount: tenant, args: append([]string{"--audience", "https://kubernetes.default.svc"}, tenMinutes...),
			want: deniedByPolicy, mention: "audience"},
		{name: "longer than an hour",
			namespace: optedIn, serviceAccount: tenant, args: []string{"--audience", audience, "--duration", "61m"},
			want: deniedByPolicy, mention: "at most an hour"},
		{name: "its own ServiceAccount",
			namespace: releaseNamespace, serviceAccount: managerName, args: tenMinutes,
			want: deniedByPolicy, namespaced: deniedByRBAC, managerIdentity: allowed},
	}

	installs := []tokenInstall{
		{name: "install.yaml", install: applyInstallYAML, clusterWide: true},
		{name: "chart defaults", clusterWide: true, install: func(t *testing.T) {
			helmInstall(t, map[string]any{})
			t.Cleanup(func() { uninstall(t) })
		}},
		{name: "chart namespaced", install: func(t *testing.T) {
			helmInstall(t, map[string]any{"watchNamespaces": []string{optedIn, notOptedIn}})
			t.Cleanup(func() { uninstall(t) })
		}},
		{name: "chart manager identity", clusterWide: true, managerIdentity: true, install: func(t *testing.T) {
			helmInstall(t, map[string]any{"identity": map[string]any{"managerIdentity": true}})
			t.Cleanup(func() { uninstall(t) })
		}},
	}
	for _, inst := range installs {
		t.Run(inst.name, func(t *testing.T) {
			inst.install(t)
			manager := tokenKubeconfig(t, serviceAccountToken(t, releaseNamespace, managerName))
			// A new policy takes a moment to reach the API server's
			// admission chain; its first refusal shows it arrived.
			eventually(t, 30*time.Second, "the token policy refuses the manager in "+notOptedIn, func() (bool, string) {
				out, err := createToken(ctx, manager, notOptedIn, tenant, tenMinutes...)
				return err != nil && policyDenial.MatchString(err.Error()), fmt.Sprintf("%.80s %v", out, err)
			})

			if inst.clusterWide {
				t.Run("control: RBAC alone would allow the attack", func(t *testing.T) {
					control := createServiceAccount(t, releaseNamespace, "tokens-control")
					createObject(t, &rbacv1.ClusterRoleBinding{
						ObjectMeta: metav1.ObjectMeta{Name: "tokens-e2e-control"},
						RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: managerName},
						Subjects:   []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Namespace: releaseNamespace, Name: control}},
					})
					as := tokenKubeconfig(t, serviceAccountToken(t, releaseNamespace, control))
					var adminToken string
					// RBAC caches bindings briefly, as admission caches policies.
					eventually(t, 30*time.Second, "the control account mints the admin token", func() (bool, string) {
						out, err := createToken(ctx, as, "kube-system", clusterAdmin)
						adminToken = strings.TrimSpace(out)
						return err == nil, fmt.Sprint(err)
					})
					out, err := kubectlAs(ctx, tokenKubeconfig(t, adminToken), "auth", "can-i", "*", "*")
					if got := strings.TrimSpace(out); err != nil || got != "yes" {
						t.Errorf("the control's kube-system token: auth can-i '*' '*' = %q %v, want yes", got, err)
					}
				})
			}

			for _, c := range cases {
				t.Run(c.name, func(t *testing.T) {
					want := c.expect(inst)
					out, err := createToken(ctx, manager, c.namespace, c.serviceAccount, c.args...)
					got := refusal(err)
					if got != want {
						t.Fatalf("kubectl create token %s -n %s %s as the manager: %v, want %v (%.80s %v)",
							c.serviceAccount, c.namespace, strings.Join(c.args, " "), got, want, out, err)
					}
					if want == deniedByPolicy && !strings.Contains(err.Error(), c.mention) {
						t.Errorf("the refusal does not say %q: %v", c.mention, err)
					}
					if err != nil {
						t.Logf("refused as expected: %v", err)
					}
					if want == allowed {
						checkAudienceOnly(t, strings.TrimSpace(out), c.namespace, c.serviceAccount)
					}
				})
			}
		})
	}
}

// policyDenial is the API server's message when the token policy refuses
// a request: install.yaml's and a cluster-wide release's policy is
// cloudop-token-requests, a namespaced release's carries its namespace.
var policyDenial = regexp.MustCompile(`ValidatingAdmissionPolicy 'cloudop-([a-z0-9-]+-)?token-requests' with binding 'cloudop-([a-z0-9-]+-)?token-requests' denied request`)

// refusal classifies kubectl create token's error.
func refusal(err error) outcome {
	switch {
	case err == nil:
		return allowed
	case policyDenial.MatchString(err.Error()):
		return deniedByPolicy
	case strings.Contains(err.Error(), `cannot create resource "serviceaccounts/token"`):
		return deniedByRBAC
	}
	return failed
}

// checkAudienceOnly: a token the manager may mint authenticates its
// ServiceAccount for the audience cloudop and not at the API server.
func checkAudienceOnly(t *testing.T, token, namespace, serviceAccount string) {
	t.Helper()
	for _, tc := range []struct {
		audiences []string
		want      bool
	}{
		{[]string{audience}, true},
		{nil, false}, // the API server's own audiences
	} {
		review, err := kube.AuthenticationV1().TokenReviews().Create(context.Background(),
			&authenticationv1.TokenReview{Spec: authenticationv1.TokenReviewSpec{Token: token, Audiences: tc.audiences}}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if review.Status.Authenticated != tc.want {
			t.Errorf("TokenReview of the minted token for audiences %v: authenticated %v, want %v (%s)", tc.audiences, review.Status.Authenticated, tc.want, review.Status.Error)
		}
		if user := "system:serviceaccount:" + namespace + ":" + serviceAccount; tc.want && review.Status.User.Username != user {
			t.Errorf("the minted token authenticates %q, want %q", review.Status.User.Username, user)
		}
	}
}

// applyInstallYAML applies the bundle's install.yaml as docs/install.md
// says, and deletes at cleanup everything it holds but the Namespace:
// envtest runs no namespace controller, so a deleted cloudop-system would
// stay Terminating and no later install could use it.
func applyInstallYAML(t *testing.T) {
	t.Helper()
	file := filepath.Join(bundle, "install.yaml")
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var kept []string
	for _, doc := range strings.Split(string(data), "\n---") {
		if !slices.ContainsFunc(manifestObjects(t, doc), func(o map[string]any) bool { return o["kind"] == "Namespace" }) {
			kept = append(kept, doc)
		}
	}
	withoutNamespace := filepath.Join(t.TempDir(), "install-without-namespace.yaml")
	if err := os.WriteFile(withoutNamespace, []byte(strings.Join(kept, "\n---")), 0o644); err != nil {
		t.Fatal(err)
	}
	mustRun(t, kubectl, "apply", "--server-side", "-f", file)
	t.Cleanup(func() { mustRun(t, kubectl, "delete", "--ignore-not-found", "--wait", "-f", withoutNamespace) })
}

// tokenKubeconfig writes a kubeconfig that authenticates with token alone:
// the test's own kubeconfig carries a client certificate, which the API
// server would prefer over a --token.
func tokenKubeconfig(t *testing.T, token string) string {
	t.Helper()
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["envtest"] = &clientcmdapi.Cluster{Server: restConfig.Host, CertificateAuthorityData: restConfig.CAData}
	cfg.AuthInfos["token"] = &clientcmdapi.AuthInfo{Token: token}
	cfg.Contexts["token"] = &clientcmdapi.Context{Cluster: "envtest", AuthInfo: "token"}
	cfg.CurrentContext = "token"
	file := filepath.Join(t.TempDir(), "kubeconfig")
	if err := clientcmd.WriteToFile(*cfg, file); err != nil {
		t.Fatal(err)
	}
	return file
}

// kubectlAs runs kubectl with another kubeconfig than the test's.
func kubectlAs(ctx context.Context, kubeconfig string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, kubectl, append(args, "--kubeconfig", kubeconfig)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.String(), fmt.Errorf("kubectl %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return stdout.String(), nil
}

// createToken runs kubectl create token as the kubeconfig's user, as an
// attacker holding that token would.
func createToken(ctx context.Context, kubeconfig, namespace, serviceAccount string, args ...string) (string, error) {
	return kubectlAs(ctx, kubeconfig, append([]string{"create", "token", serviceAccount, "--namespace", namespace}, args...)...)
}

// createObject creates obj as the admin and deletes it at cleanup.
func createObject(t *testing.T, obj client.Object) {
	t.Helper()
	if err := k8sClient.Create(context.Background(), obj); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { k8sClient.Delete(context.Background(), obj) })
}
