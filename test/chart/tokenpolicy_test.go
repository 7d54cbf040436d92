package chart

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// TestTokenPolicyFollowsValues: the ValidatingAdmissionPolicy that narrows
// the manager's TokenRequests (issue #21) is rendered whenever the manager
// may mint tokens, names the manager's ServiceAccount and audience as the
// values set them, and exempts the manager's own ServiceAccount from the
// namespace label only with managerIdentity. An audience with CEL's
// quote in it stays one string literal (the API server compiles it), so a
// value cannot rewrite the expression. test/install TestTokenRequests
// proves what the API server then refuses.
func TestTokenPolicyFollowsValues(t *testing.T) {
	needHelm(t)
	const ownAccount = `request.namespace == "cloudop-system" && request.name == `
	for _, tc := range []struct {
		name, release, values string
		// policy is the expected name; "" = no policy.
		policy string
		// mention are pieces of the policy's expressions.
		mention []string
		// ownAccount: the manager's own ServiceAccount is exempt from the
		// namespace label.
		ownAccount bool
	}{
		{name: "defaults", release: release, values: "{}", policy: "cloudop-token-requests",
			mention: []string{`request.userInfo.username == "system:serviceaccount:cloudop-system:cloudop-manager"`, `a == "cloudop"`, `"identity.cloudop.dev/enabled"`}},
		{name: "namespaced", release: release, values: "watchNamespaces: [team-a]\n", policy: "cloudop-" + namespace + "-token-requests",
			mention: []string{`"system:serviceaccount:cloudop-system:cloudop-manager"`}},
		{name: "another release and audience", release: "ops", values: "identity:\n  tokenAudience: sts.example.com\n", policy: "ops-cloudop-token-requests",
			mention: []string{`"system:serviceaccount:cloudop-system:ops-cloudop-manager"`, `a == "sts.example.com"`}},
		{name: "an existing ServiceAccount lending its identity", release: release, values: "serviceAccount:\n  create: false\n  name: platform-operators\nidentity:\n  managerIdentity: true\n",
			policy: "cloudop-token-requests", ownAccount: true,
			mention: []string{`"system:serviceaccount:cloudop-system:platform-operators"`, ownAccount + `"platform-operators"`}},
		{name: "manager identity without workload identity", release: release, values: "identity:\n  enabled: false\n  managerIdentity: true\n",
			policy: "cloudop-token-requests", ownAccount: true, mention: []string{ownAccount + `"cloudop-manager"`}},
		{name: "an audience with a quote", release: release, values: "identity:\n  tokenAudience: 'x\" || true || \"'\n", policy: "cloudop-token-requests",
			mention: []string{`a == "x\" || true || \""`}},
		{name: "identity off", release: release, values: "identity:\n  enabled: false\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			file := filepath.Join(t.TempDir(), "values.yaml")
			if err := os.WriteFile(file, []byte(tc.values), 0o644); err != nil {
				t.Fatal(err)
			}
			objs := decode(t, render(t, tc.release, namespace, file))
			policies, bindings := ofKind(objs, "ValidatingAdmissionPolicy"), ofKind(objs, "ValidatingAdmissionPolicyBinding")
			if tc.policy == "" {
				if len(policies)+len(bindings) > 0 {
					t.Fatalf("rendered %d policies and %d bindings; the manager mints no token", len(policies), len(bindings))
				}
				return
			}
			if len(policies) != 1 || len(bindings) != 1 || policies[0].GetName() != tc.policy || bindings[0].GetName() != tc.policy {
				t.Fatalf("want one policy and one binding named %s; got %d and %d", tc.policy, len(policies), len(bindings))
			}
			policy, binding := policies[0], bindings[0]
			if name, _, _ := unstructured.NestedString(binding.Object, "spec", "policyName"); name != tc.policy {
				t.Errorf("binding names policy %q", name)
			}
			if actions, _, _ := unstructured.NestedStringSlice(binding.Object, "spec", "validationActions"); len(actions) != 1 || actions[0] != "Deny" {
				t.Errorf("binding validationActions %v, want [Deny]", actions)
			}
			if fp, _, _ := unstructured.NestedString(policy.Object, "spec", "failurePolicy"); fp != "Fail" {
				t.Errorf("failurePolicy %q, want Fail", fp)
			}
			var expressions strings.Builder
			conditions, _, _ := unstructured.NestedSlice(policy.Object, "spec", "matchConditions")
			validations, _, _ := unstructured.NestedSlice(policy.Object, "spec", "validations")
			for _, e := range append(conditions, validations...) {
				expressions.WriteString(e.(map[string]any)["expression"].(string) + "\n")
			}
			for _, v := range validations {
				if reason := v.(map[string]any)["reason"]; reason != "Forbidden" {
					t.Errorf("validation %v: reason %v, want Forbidden", v, reason)
				}
			}
			for _, m := range tc.mention {
				if !strings.Contains(expressions.String(), m) {
					t.Errorf("the expressions lack %s:\n%s", m, expressions.String())
				}
			}
			if got := strings.Contains(expressions.String(), ownAccount); got != tc.ownAccount {
				t.Errorf("own ServiceAccount exempt: %v, want %v", got, tc.ownAccount)
			}
			if missingControlPlane == "" {
				// The API server compiles every expression on create; a name
				// of its own, as TestApply may have created the real one.
				probe := policy.DeepCopy()
				probe.SetName("token-policy-compiles")
				if err := kube.Create(context.Background(), probe, client.DryRunAll); err != nil {
					t.Errorf("the API server refuses the policy: %v", err)
				}
			}
		})
	}
}
