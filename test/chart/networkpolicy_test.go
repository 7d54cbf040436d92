package chart

import (
	"context"
	"net"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
)

// TestNetworkPolicy: networkPolicy.enabled renders one NetworkPolicy over
// every manager pod of the release, shards included, that lets in only the
// metrics port (from the given peers, or from anywhere; nothing when
// metrics are off) and lets out only DNS, the API server and the cloud
// hosts (with the ports of configured endpoints) plus extraEgress; off by
// default. Each policy is applied to the API server (strict field
// validation) when it runs.
func TestNetworkPolicy(t *testing.T) {
	needHelm(t)
	const dns = `
- ports:
  - {protocol: UDP, port: 53}
  - {protocol: TCP, port: 53}
`
	const anyAPIServer = `
- ports:
  - {protocol: TCP, port: 443}
  - {protocol: TCP, port: 6443}
`
	for _, tc := range []struct {
		name, values string
		// want is the policy's spec without its podSelector, "" for no
		// policy.
		want string
	}{
		{name: "off by default", values: "{}"},
		{name: "defaults", values: "networkPolicy: {enabled: true}\n", want: `
policyTypes: [Ingress, Egress]
ingress:
- ports:
  - {protocol: TCP, port: 8443}
egress:` + dns + anyAPIServer + `
- ports:
  - {protocol: TCP, port: 443}
`},
		{name: "restricted peers and CIDRs and endpoint ports", values: `
cloud:
  serviceEndpoints:
    CCE: https://cce.internal.example.com:8443/
    DWS: http://dws.internal.example.com
  allowedEndpoints: ["https://*.vpcep.example.com"]
networkPolicy:
  enabled: true
  metrics:
    from:
    - namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: monitoring}}
      podSelector: {matchLabels: {app.kubernetes.io/name: prometheus}}
  dns:
    to:
    - namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: kube-system}}
      podSelector: {matchLabels: {k8s-app: kube-dns}}
  apiServer:
    cidrs: [192.168.0.10/32, 192.168.0.11/32]
    ports: [5443]
  cloud:
    cidrs: [100.125.0.0/16]
  extraEgress:
  - to: [{ipBlock: {cidr: 10.0.0.5/32}}]
    ports: [{protocol: TCP, port: 3128}]
`, want: `
policyTypes: [Ingress, Egress]
ingress:
- from:
  - namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: monitoring}}
    podSelector: {matchLabels: {app.kubernetes.io/name: prometheus}}
  ports:
  - {protocol: TCP, port: 8443}
egress:
- ports:
  - {protocol: UDP, port: 53}
  - {protocol: TCP, port: 53}
  to:
  - namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: kube-system}}
    podSelector: {matchLabels: {k8s-app: kube-dns}}
- ports:
  - {protocol: TCP, port: 5443}
  to:
  - ipBlock: {cidr: 192.168.0.10/32}
  - ipBlock: {cidr: 192.168.0.11/32}
- ports:
  - {protocol: TCP, port: 443}
  - {protocol: TCP, port: 80}
  - {protocol: TCP, port: 8443}
  to:
  - ipBlock: {cidr: 100.125.0.0/16}
- to: [{ipBlock: {cidr: 10.0.0.5/32}}]
  ports: [{protocol: TCP, port: 3128}]
`},
		{name: "metrics off", values: "metrics: {enabled: false}\nnetworkPolicy: {enabled: true}\n", want: `
policyTypes: [Ingress, Egress]
ingress: []
egress:` + dns + anyAPIServer + `
- ports:
  - {protocol: TCP, port: 443}
`},
		{name: "plain metrics on another port with shards", values: "metrics: {secure: false, port: 8080}\nshards: [shard1, shard2]\nnetworkPolicy: {enabled: true}\n", want: `
policyTypes: [Ingress, Egress]
ingress:
- ports:
  - {protocol: TCP, port: 8080}
egress:` + dns + anyAPIServer + `
- ports:
  - {protocol: TCP, port: 443}
`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			objs := renderWith(t, release, namespace, tc.values)
			policies := ofKind(objs, "NetworkPolicy")
			if tc.want == "" {
				if len(policies) > 0 {
					t.Fatalf("%d NetworkPolicies rendered, want none", len(policies))
				}
				return
			}
			if len(policies) != 1 {
				t.Fatalf("%d NetworkPolicies, want 1", len(policies))
			}
			np := policies[0]
			spec, _, _ := unstructured.NestedMap(np.Object, "spec")
			// The pod selector selects every manager Deployment's pods
			// and nothing but the release's pods.
			selector, _, _ := unstructured.NestedStringMap(spec, "podSelector", "matchLabels")
			delete(spec, "podSelector")
			deployments := ofKind(objs, "Deployment")
			for _, d := range deployments {
				podLabels, _, _ := unstructured.NestedStringMap(d.Object, "spec", "template", "metadata", "labels")
				if len(selector) == 0 || !labels.SelectorFromSet(selector).Matches(labels.Set(podLabels)) {
					t.Errorf("podSelector %v does not select the pods of %s (%v)", selector, d.GetName(), podLabels)
				}
			}
			if selector["app.kubernetes.io/instance"] != release {
				t.Errorf("podSelector %v is not limited to release %s", selector, release)
			}
			want := decode(t, []byte(tc.want))
			if len(want) != 1 {
				t.Fatal("bad expectation")
			}
			if d := cmp.Diff(want[0].Object, spec); d != "" {
				t.Errorf("spec (-want +got):\n%s", d)
			}
			if missingControlPlane == "" {
				ensureNamespace(t, namespace)
				apply(context.Background(), t, np)
			}
		})
	}
}

// TestAPIServerEndpointsDocumented runs the command docs/install.md gives
// for networkPolicy.apiServer against the test API server: it must print
// the address and port the API server really serves on.
func TestAPIServerEndpointsDocumented(t *testing.T) {
	needControlPlane(t)
	cmds := docCommands(t, "endpointslices")
	if len(cmds) != 1 {
		t.Fatalf("want one command, got %q", cmds)
	}
	out, err := shell(t, kubeconfigFile(t), cmds[0])
	if err != nil {
		t.Fatalf("%s: %v\n%s", cmds[0], err, out)
	}
	u, err := url.Parse(restConfig.Host)
	if err != nil {
		t.Fatal(err)
	}
	// envtest's API server advertises an address of its own (not the one
	// it listens on) and serves on a free port; the kubernetes Service
	// says 443. The command must print the advertised address and the
	// serving port, which a NetworkPolicy matches.
	m := regexp.MustCompile(`^\["([^"]+)"\] ([0-9]+)$`).FindStringSubmatch(strings.TrimSpace(out))
	if m == nil || net.ParseIP(m[1]) == nil || m[2] != u.Port() {
		t.Errorf("%s printed %q; want [\"<address>\"] %s (the API server serves on %s)", cmds[0], out, u.Port(), u.Host)
	}
}
