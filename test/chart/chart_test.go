package chart

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	authorizationv1 "k8s.io/api/authorization/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// TestLint runs helm lint --strict with every value set.
func TestLint(t *testing.T) {
	needHelm(t)
	for _, set := range valueSets {
		t.Run(set, func(t *testing.T) {
			if out, err := helm("lint", "--strict", chartDir, "--namespace", namespace, "--values", valuesFile(set)); err != nil {
				t.Fatalf("%v\n%s", err, out)
			}
		})
	}
}

// TestGolden compares helm template's output for every value set with
// testdata/golden/<set>.yaml; -update rewrites them.
func TestGolden(t *testing.T) {
	needHelm(t)
	for _, set := range valueSets {
		t.Run(set, func(t *testing.T) {
			got := render(t, release, namespace, valuesFile(set))
			golden := filepath.Join("testdata", "golden", set+".yaml")
			if *update {
				if err := os.WriteFile(golden, got, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test ./test/chart -run TestGolden -update)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("render differs from %s (-want +got); if the change is intended run make chart-golden:\n%s",
					golden, cmp.Diff(strings.Split(string(want), "\n"), strings.Split(string(got), "\n")))
			}
		})
	}
}

// TestApply server-side applies every object each value set renders to the
// real kube-apiserver, with strict field validation: a field the API does
// not know, a bad quantity or an invalid selector fails here. The chart's
// own CRD is applied first (the default set), as helm would install it.
func TestApply(t *testing.T) {
	needControlPlane(t)
	ctx := context.Background()
	for _, ns := range []string{namespace, "team-a", "team-b"} {
		ensureNamespace(t, ns)
	}
	for _, set := range valueSets {
		t.Run(set, func(t *testing.T) {
			objs := decode(t, render(t, release, namespace, valuesFile(set)))
			if len(objs) == 0 {
				t.Fatal("nothing rendered")
			}
			for _, crd := range ofKind(objs, "CustomResourceDefinition") {
				apply(ctx, t, crd)
				waitEstablished(ctx, t, crd.GetName())
			}
			for _, obj := range objs {
				if obj.GetKind() != "CustomResourceDefinition" {
					apply(ctx, t, obj)
				}
			}
		})
	}
}

func apply(ctx context.Context, t *testing.T, obj *unstructured.Unstructured) {
	t.Helper()
	if err := kube.Apply(ctx, client.ApplyConfigurationFromUnstructured(obj.DeepCopy()), client.FieldOwner(fieldManager), client.ForceOwnership); err != nil {
		t.Errorf("apply %s %s/%s: %v", obj.GetKind(), obj.GetNamespace(), obj.GetName(), err)
	}
}

// waitEstablished polls until the CRD is Established, so objects of its
// kind can be applied.
func waitEstablished(ctx context.Context, t *testing.T, name string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		crd := &unstructured.Unstructured{}
		crd.SetAPIVersion("apiextensions.k8s.io/v1")
		crd.SetKind("CustomResourceDefinition")
		if err := kube.Get(ctx, client.ObjectKey{Name: name}, crd); err == nil {
			conds, _, _ := unstructured.NestedSlice(crd.Object, "status", "conditions")
			for _, c := range conds {
				c := c.(map[string]any)
				if c["type"] == "Established" && c["status"] == "True" {
					return
				}
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("CRD %s not Established within 30s", name)
}

// grantsSecrets reports whether an RBAC rule grants anything on Secrets.
func grantsSecrets(rule map[string]any) bool {
	groups, _, _ := unstructured.NestedStringSlice(rule, "apiGroups")
	resources, _, _ := unstructured.NestedStringSlice(rule, "resources")
	return (slices.Contains(groups, "") || slices.Contains(groups, "*")) &&
		(slices.Contains(resources, "secrets") || slices.Contains(resources, "*"))
}

func rules(o *unstructured.Unstructured) []map[string]any {
	list, _, _ := unstructured.NestedSlice(o.Object, "rules")
	out := make([]map[string]any, 0, len(list))
	for _, r := range list {
		out = append(out, r.(map[string]any))
	}
	return out
}

// TestNamespacedRBAC checks the rendered RBAC of a namespaced install: no
// ClusterRole grants Secrets, a Role with the manager's rules in each
// watched namespace and nowhere else, and one --watch-namespace each. The
// default render must grant Secrets cluster-wide, so the check can fail.
func TestNamespacedRBAC(t *testing.T) {
	needHelm(t)
	clusterWideSecrets := func(objs []*unstructured.Unstructured) []string {
		var found []string
		for _, cr := range ofKind(objs, "ClusterRole") {
			if slices.ContainsFunc(rules(cr), grantsSecrets) {
				found = append(found, cr.GetName())
			}
		}
		return found
	}
	if got := clusterWideSecrets(decode(t, render(t, release, namespace, valuesFile("default")))); len(got) == 0 {
		t.Fatal("the default (cluster-wide) render has no ClusterRole granting Secrets: the check below proves nothing")
	}

	objs := decode(t, render(t, release, namespace, valuesFile("namespaced")))
	if got := clusterWideSecrets(objs); len(got) > 0 {
		t.Errorf("namespaced install: ClusterRoles %v grant Secrets cluster-wide", got)
	}
	for _, cr := range ofKind(objs, "ClusterRole") {
		for _, r := range rules(cr) {
			groups, _, _ := unstructured.NestedStringSlice(r, "apiGroups")
			urls, _, _ := unstructured.NestedStringSlice(r, "nonResourceURLs")
			clusterAPI := len(groups) > 0 && !slices.ContainsFunc(groups, func(g string) bool {
				return g != "authentication.k8s.io" && g != "authorization.k8s.io"
			})
			if !clusterAPI && !slices.Equal(urls, []string{"/metrics"}) {
				t.Errorf("namespaced install: ClusterRole %s has rule %v beyond TokenReviews, SubjectAccessReviews and /metrics", cr.GetName(), r)
			}
		}
	}
	var secretNamespaces []string
	for _, role := range ofKind(objs, "Role") {
		if slices.ContainsFunc(rules(role), grantsSecrets) {
			secretNamespaces = append(secretNamespaces, role.GetNamespace())
			if find(objs, "RoleBinding", role.GetNamespace(), role.GetName()) == nil {
				t.Errorf("Role %s/%s has no RoleBinding", role.GetNamespace(), role.GetName())
			}
		}
	}
	slices.Sort(secretNamespaces)
	if want := []string{"team-a", "team-b"}; !slices.Equal(secretNamespaces, want) {
		t.Errorf("Roles granting Secrets in %v, want %v", secretNamespaces, want)
	}
	if n := len(ofKind(objs, "ClusterRoleBinding")); n > 1 {
		t.Errorf("%d ClusterRoleBindings, want at most the TokenReview/SubjectAccessReview one", n)
	}
	args := managerArgs(t, find(objs, "Deployment", namespace, "cloudop-manager"))
	for _, ns := range []string{"team-a", "team-b"} {
		if !slices.Contains(args, "--watch-namespace="+ns) {
			t.Errorf("args %v lack --watch-namespace=%s", args, ns)
		}
	}
}

// TestNamespacedScopeOnAPIServer installs a namespaced render (its own
// release, so no other test's ClusterRoleBinding applies) and asks the API
// server's RBAC authorizer what its ServiceAccount may do.
func TestNamespacedScopeOnAPIServer(t *testing.T) {
	needControlPlane(t)
	ctx := context.Background()
	const rel, ns = "scoped", "scoped-system"
	for _, n := range []string{ns, "team-a", "team-b"} {
		ensureNamespace(t, n)
	}
	objs := decode(t, render(t, rel, ns, valuesFile("namespaced")))
	for _, obj := range objs {
		if obj.GetKind() == "CustomResourceDefinition" {
			apply(ctx, t, obj)
			waitEstablished(ctx, t, obj.GetName())
		}
	}
	for _, obj := range objs {
		if obj.GetKind() != "CustomResourceDefinition" {
			apply(ctx, t, obj)
		}
	}
	user := fmt.Sprintf("system:serviceaccount:%s:%s-cloudop-manager", ns, rel)
	// TokenReviews are allowed exactly when the generated manager rules ask
	// for them (the authenticated metrics endpoint), through the -auth
	// ClusterRole.
	generated, err := os.ReadFile(filepath.Join(chartDir, "files", "generated", "manager-role.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		ns, group, resource, verb string
		allowed                   bool
	}{
		{"", "authentication.k8s.io", "tokenreviews", "create", strings.Contains(string(generated), "tokenreviews")},
		{"team-a", "", "secrets", "get", true},
		{"team-b", "ops.cloudop.dev", "cloudoperations", "watch", true},
		{"team-b", "ops.cloudop.dev", "cloudoperations/status", "patch", true},
		{"team-c", "", "secrets", "get", false},
		{"team-c", "ops.cloudop.dev", "cloudoperations", "list", false},
		{"", "", "secrets", "get", false},
		{"", "ops.cloudop.dev", "cloudoperations", "list", false},
		{ns, "coordination.k8s.io", "leases", "update", true},
	} {
		resource, sub, _ := strings.Cut(tc.resource, "/")
		sar := &authorizationv1.SubjectAccessReview{Spec: authorizationv1.SubjectAccessReviewSpec{
			User: user,
			ResourceAttributes: &authorizationv1.ResourceAttributes{
				Namespace: tc.ns, Group: tc.group, Resource: resource, Subresource: sub, Verb: tc.verb,
			},
		}}
		if err := kube.Create(ctx, sar); err != nil {
			t.Fatal(err)
		}
		if sar.Status.Allowed != tc.allowed {
			t.Errorf("%s %s %s in %q: allowed %v, want %v (%s)", user, tc.verb, tc.resource, tc.ns, sar.Status.Allowed, tc.allowed, sar.Status.Reason)
		}
	}
}

// TestSchemaRejectsBadValues renders values that break values.schema.json
// or a rule the templates enforce: helm template and helm lint must fail,
// naming the value.
func TestSchemaRejectsBadValues(t *testing.T) {
	needHelm(t)
	for _, tc := range []struct {
		name, values, mention string
		// byTemplate marks rules the templates enforce with fail, which
		// helm lint does not report (it ignores fail), unlike the schema.
		byTemplate bool
	}{
		{"replicas not a number", "replicaCount: two\n", "replicaCount", false},
		{"watchNamespaces not a list", "watchNamespaces: team-a\n", "watchNamespaces", false},
		{"unknown top-level key", "replicas: 2\n", "replicas", false},
		{"unknown nested key", "metrics:\n  serviceMonitor:\n    enable: true\n", "enable", false},
		{"bad digest", "image:\n  digest: latest\n", "digest", false},
		{"bad log level", "logLevel: verbose\n", "logLevel", false},
		{"bad duration", "controller:\n  maxBackoff: 10 minutes\n", "maxBackoff", false},
		{"shard key not a label value", "shards: [Shard_1]\n", "shards", false},
		{"namespace not a name", "watchNamespaces: [Team A]\n", "watchNamespaces", false},
		{"service endpoint not a URL", "cloud:\n  serviceEndpoints:\n    CCE: cce.internal\n", "CCE", false},
		{"extraEnv not a list", "extraEnv:\n  HTTPS_PROXY: http://proxy:3128\n", "extraEnv", false},
		{"extraEnv item without name", "extraEnv:\n- value: /etc/cloudop/ca\n", "name", false},
		{"extraEnv value not a string", "extraEnv:\n- name: GOGC\n  value: 50\n", "extraEnv", false},
		{"extraEnv misspelt field", "extraEnv:\n- name: GOGC\n  vaule: \"50\"\n", "vaule", false},
		{"tracing protocol unknown", "tracing:\n  otlpEndpoint: http://collector:4318/v1/traces\n  otlpProtocol: thrift\n", "otlpProtocol", false},
		{"tracing endpoint not a URL", "tracing:\n  otlpEndpoint: collector:4318\n", "otlpEndpoint", false},
		{"volumes not a list", "volumes:\n  name: private-ca\n", "volumes", false},
		{"volume without name", "volumes:\n- configMap: {name: private-ca}\n", "volumes", false},
		{"volumeMount without mountPath", "volumeMounts:\n- name: private-ca\n", "mountPath", false},
		{"volumeMount without name", "volumeMounts:\n- mountPath: /etc/cloudop/ca\n", "volumeMounts", false},
		{"replicas without leader election", "leaderElection:\n  enabled: false\n", "leaderElection.enabled", true},
		{"PDB blocking every eviction", "podDisruptionBudget:\n  enabled: true\n  minAvailable: 2\n", "podDisruptionBudget.minAvailable", true},
		{"PDB of 100%", "podDisruptionBudget:\n  minAvailable: 100%\n", "podDisruptionBudget.minAvailable", true},
		{"ServiceMonitor without its Service", "metrics:\n  service:\n    enabled: false\n  serviceMonitor:\n    enabled: true\n", "metrics.service.enabled", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			file := filepath.Join(t.TempDir(), "values.yaml")
			if err := os.WriteFile(file, []byte(tc.values), 0o644); err != nil {
				t.Fatal(err)
			}
			cmds := [][]string{{"template", release, chartDir, "--namespace", namespace, "--values", file}}
			if !tc.byTemplate {
				cmds = append(cmds, []string{"lint", chartDir, "--namespace", namespace, "--values", file})
			}
			for _, cmd := range cmds {
				out, err := helm(cmd...)
				if err == nil {
					t.Fatalf("helm %s accepted %q:\n%.400s", cmd[0], tc.values, out)
				}
				if !strings.Contains(err.Error(), tc.mention) {
					t.Errorf("helm %s's error does not name %q:\n%v", cmd[0], tc.mention, err)
				}
			}
		})
	}
}

// metricsAuthRules are the rules the manager needs for its authenticated
// metrics endpoint; no Role can grant them.
const metricsAuthRules = `- apiGroups:
  - authentication.k8s.io
  resources:
  - tokenreviews
  verbs:
  - create
- apiGroups:
  - authorization.k8s.io
  resources:
  - subjectaccessreviews
  verbs:
  - create
`

// TestNamespacedClusterRules renders a namespaced install from a copy of
// the chart whose generated manager rules include TokenReviews and
// SubjectAccessReviews (added unless config/rbac/role.yaml already has
// them): those two go into the small <name>-manager-auth ClusterRole, the
// others into the namespaced Roles, and the cluster-wide install keeps
// them all in one ClusterRole.
func TestNamespacedClusterRules(t *testing.T) {
	needHelm(t)
	dir := filepath.Join(t.TempDir(), "cloudop")
	if err := os.CopyFS(dir, os.DirFS(chartDir)); err != nil {
		t.Fatal(err)
	}
	rolePath := filepath.Join(dir, "files", "generated", "manager-role.yaml")
	role, err := os.ReadFile(rolePath)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(role), "tokenreviews") {
		role = append(role, metricsAuthRules...)
		if err := os.WriteFile(rolePath, role, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	renderCopy := func(values string) []*unstructured.Unstructured {
		out, err := helm("template", release, dir, "--namespace", namespace, "--values", values)
		if err != nil {
			t.Fatal(err)
		}
		return decode(t, out)
	}
	isAuthRule := func(r map[string]any) bool {
		groups, _, _ := unstructured.NestedStringSlice(r, "apiGroups")
		return slices.Contains(groups, "authentication.k8s.io") || slices.Contains(groups, "authorization.k8s.io")
	}

	clusterWide := find(renderCopy(valuesFile("default")), "ClusterRole", "", "cloudop-manager")
	if clusterWide == nil || !slices.ContainsFunc(rules(clusterWide), isAuthRule) || !slices.ContainsFunc(rules(clusterWide), grantsSecrets) {
		t.Fatalf("cluster-wide ClusterRole cloudop-manager should hold every generated rule: %v", clusterWide)
	}

	// A namespaced install's cluster-scoped names carry its namespace.
	objs := renderCopy(valuesFile("namespaced"))
	auth := find(objs, "ClusterRole", "", "cloudop-"+namespace+"-manager-auth")
	if auth == nil {
		t.Fatalf("namespaced install has no ClusterRole cloudop-%s-manager-auth", namespace)
	}
	if n := len(rules(auth)); n != 2 || !slices.ContainsFunc(rules(auth), isAuthRule) || slices.ContainsFunc(rules(auth), func(r map[string]any) bool { return !isAuthRule(r) }) {
		t.Errorf("%s rules %v, want exactly the TokenReview and SubjectAccessReview ones", auth.GetName(), rules(auth))
	}
	if b := find(objs, "ClusterRoleBinding", "", auth.GetName()); b == nil {
		t.Errorf("no ClusterRoleBinding %s", auth.GetName())
	}
	for _, r := range ofKind(objs, "Role") {
		if slices.ContainsFunc(rules(r), isAuthRule) {
			t.Errorf("Role %s/%s carries a cluster-scoped rule", r.GetNamespace(), r.GetName())
		}
	}
}

// TestPodSecurityRestricted creates (server-side dry run) a Pod from every
// rendered Deployment's template in a namespace that enforces the
// restricted Pod Security Standard: the API server's PodSecurity admission
// must accept it. A Pod without the security contexts must be refused
// there, so the check can fail.
func TestPodSecurityRestricted(t *testing.T) {
	needControlPlane(t)
	ctx := context.Background()
	const ns = "restricted-pods"
	nsObj := &unstructured.Unstructured{}
	nsObj.SetAPIVersion("v1")
	nsObj.SetKind("Namespace")
	nsObj.SetName(ns)
	nsObj.SetLabels(map[string]string{"pod-security.kubernetes.io/enforce": "restricted", "pod-security.kubernetes.io/enforce-version": "latest"})
	apply(ctx, t, nsObj)

	podFrom := func(name string, spec map[string]any) *unstructured.Unstructured {
		pod := &unstructured.Unstructured{Object: map[string]any{"spec": spec}}
		pod.SetAPIVersion("v1")
		pod.SetKind("Pod")
		pod.SetNamespace(ns)
		pod.SetName(name)
		return pod
	}
	bare := podFrom("bare", map[string]any{"containers": []any{map[string]any{"name": "manager", "image": "example.com/manager:v1"}}})
	if err := kube.Create(ctx, bare, client.DryRunAll); err == nil || !strings.Contains(err.Error(), "violates PodSecurity") {
		t.Fatalf("a Pod without security contexts: %v; want a PodSecurity refusal, else the check below proves nothing", err)
	}

	for _, set := range valueSets {
		t.Run(set, func(t *testing.T) {
			for _, d := range ofKind(decode(t, render(t, release, namespace, valuesFile(set))), "Deployment") {
				spec, _, _ := unstructured.NestedMap(d.Object, "spec", "template", "spec")
				if sa, _ := spec["serviceAccountName"].(string); sa != "" {
					account := &unstructured.Unstructured{}
					account.SetAPIVersion("v1")
					account.SetKind("ServiceAccount")
					account.SetNamespace(ns)
					account.SetName(sa)
					apply(ctx, t, account)
				}
				if err := kube.Create(ctx, podFrom(d.GetName(), spec), client.DryRunAll); err != nil {
					t.Errorf("%s's pod is refused under the restricted Pod Security Standard: %v", d.GetName(), err)
				}
			}
		})
	}
}

// TestIdentityRulesFollowIdentity: the ServiceAccount read and token rules
// are granted only when workload identity is on; with it off (the
// hardened set) the other generated rules stay, events and Secrets among
// them.
func TestIdentityRulesFollowIdentity(t *testing.T) {
	needHelm(t)
	grantsServiceAccounts := func(rule map[string]any) bool {
		resources, _, _ := unstructured.NestedStringSlice(rule, "resources")
		return slices.Contains(resources, "serviceaccounts") || slices.Contains(resources, "serviceaccounts/token")
	}
	grantsEvents := func(rule map[string]any) bool {
		resources, _, _ := unstructured.NestedStringSlice(rule, "resources")
		return slices.Contains(resources, "events")
	}
	cases := []struct {
		set          string
		wantIdentity bool
	}{
		{"default", true},
		{"hardened", false},
	}
	for _, tc := range cases {
		t.Run(tc.set, func(t *testing.T) {
			role := find(decode(t, render(t, release, namespace, valuesFile(tc.set))), "ClusterRole", "", "cloudop-manager")
			if role == nil {
				t.Fatal("no manager ClusterRole")
			}
			rs := rules(role)
			if got := slices.ContainsFunc(rs, grantsServiceAccounts); got != tc.wantIdentity {
				t.Errorf("ServiceAccount rules granted: %v, want %v; rules %v", got, tc.wantIdentity, rs)
			}
			if !slices.ContainsFunc(rs, grantsSecrets) || !slices.ContainsFunc(rs, grantsEvents) {
				t.Errorf("Secret or event rule missing: %v", rs)
			}
		})
	}
}
