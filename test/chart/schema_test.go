package chart

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// valuesKubeTypes are the values that take a Kubernetes type: the JSON
// pointer of the value's schema in values.schema.json, which must be a
// reference to the definition of that name, converted from the API
// server's OpenAPI (TestValuesSchemaKubeTypes).
var valuesKubeTypes = []struct{ pointer, name string }{
	{"/properties/imagePullSecrets/items", "io.k8s.api.core.v1.LocalObjectReference"},
	{"/properties/extraEnv/items/allOf/0", "io.k8s.api.core.v1.EnvVar"},
	{"/properties/volumes/items", "io.k8s.api.core.v1.Volume"},
	{"/properties/volumeMounts/items", "io.k8s.api.core.v1.VolumeMount"},
	{"/properties/resources", "io.k8s.api.core.v1.ResourceRequirements"},
	{"/properties/podSecurityContext", "io.k8s.api.core.v1.PodSecurityContext"},
	{"/properties/securityContext", "io.k8s.api.core.v1.SecurityContext"},
	{"/properties/tolerations/items", "io.k8s.api.core.v1.Toleration"},
	{"/properties/affinity", "io.k8s.api.core.v1.Affinity"},
	{"/properties/topologySpreadConstraints/items", "io.k8s.api.core.v1.TopologySpreadConstraint"},
	{"/properties/networkPolicy/properties/metrics/properties/from/items", "io.k8s.api.networking.v1.NetworkPolicyPeer"},
	{"/properties/networkPolicy/properties/dns/properties/to/items", "io.k8s.api.networking.v1.NetworkPolicyPeer"},
	{"/properties/networkPolicy/properties/extraIngress/items", "io.k8s.api.networking.v1.NetworkPolicyIngressRule"},
	{"/properties/networkPolicy/properties/extraEgress/items", "io.k8s.api.networking.v1.NetworkPolicyEgressRule"},
}

// valuesKubeFields are values whose schema is written inline but must
// equal the converted schema of a field of a Kubernetes type.
var valuesKubeFields = []struct{ pointer, typ, field string }{
	{"/properties/nodeSelector", "io.k8s.api.core.v1.PodSpec", "nodeSelector"},
	{"/properties/podLabels", "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta", "labels"},
	{"/properties/podAnnotations", "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta", "annotations"},
	{"/properties/priorityClassName", "io.k8s.api.core.v1.PodSpec", "priorityClassName"},
}

// quantityPattern is a resource.Quantity written as a string: a decimal
// number and a binary (Ki ... Ei) or decimal (n u m k M G T P E) suffix
// or an exponent. The API server's OpenAPI only says "a string or a
// number"; its validation parses this.
const quantityPattern = `^[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)(([KMGTPE]i)|[numkMGTPE]|[eE][+-]?[0-9]+)?$`

// containerResourceName is a resource name a container may request or
// limit: the standard ones (cpu, memory, ephemeral-storage, hugepages-*)
// or an extended resource, which has a domain (example.com/gpu). The
// OpenAPI only says "a map"; the API server's validation refuses other
// names ("must be a standard resource for containers").
const containerResourceName = `^(cpu|memory|ephemeral-storage|hugepages-[^/]+|[^/]+/[^/]+)$`

// valuesSchemaOverrides tighten the converted definitions where the
// API server's validation refuses more than its OpenAPI says; each one is
// checked against the API server by TestSchemaMatchesAPIServer.
var valuesSchemaOverrides = map[string]func(def map[string]any){
	"io.k8s.apimachinery.pkg.api.resource.Quantity": func(def map[string]any) {
		def["oneOf"] = []any{
			map[string]any{"type": "string", "pattern": quantityPattern},
			map[string]any{"type": "number"},
		}
	},
	"io.k8s.api.core.v1.ResourceRequirements": func(def map[string]any) {
		// patternProperties rather than propertyNames: helm's validator
		// reports a bad property name at a wrong location, an additional
		// property at the right one ("at '/resources/limits':
		// additional properties 'memroy' not allowed").
		props := def["properties"].(map[string]any)
		for _, p := range []string{"limits", "requests"} {
			m := props[p].(map[string]any)
			m["patternProperties"] = map[string]any{containerResourceName: m["additionalProperties"]}
			m["additionalProperties"] = false
		}
	},
}

// valuesSchemaPath is the chart's values schema.
func valuesSchemaPath() string { return filepath.Join(chartDir, "values.schema.json") }

// valuesSchemaKeys are the top-level keys of values.schema.json, in the
// order the file keeps them.
var valuesSchemaKeys = []string{"$schema", "title", "type", "additionalProperties", "properties", "definitions"}

// TestValuesSchemaKubeTypes converts the Kubernetes types the values take
// from the test API server's OpenAPI v3 (with valuesSchemaOverrides) and
// compares them with the definitions of values.schema.json, so a type the
// API server changes, or a hand edit, fails here; -update (make
// chart-schema) rewrites the definitions. Each value listed in
// valuesKubeTypes must refer to its definition.
func TestValuesSchemaKubeTypes(t *testing.T) {
	needControlPlane(t)
	source := openAPISchemas(t)
	conv := newSchemaConverter(source)
	conv.overrides = valuesSchemaOverrides
	for _, v := range valuesKubeTypes {
		if _, err := conv.ref(v.name); err != nil {
			t.Fatal(err)
		}
	}
	raw, err := os.ReadFile(valuesSchemaPath())
	if err != nil {
		t.Fatal(err)
	}
	var top map[string]json.RawMessage
	if err := json.Unmarshal(raw, &top); err != nil {
		t.Fatal(err)
	}
	for key := range top {
		if !slices.Contains(valuesSchemaKeys, key) {
			t.Fatalf("values.schema.json has a top-level key %q this test does not know; add it to valuesSchemaKeys", key)
		}
	}
	generated, err := json.Marshal(conv.definitions)
	if err != nil {
		t.Fatal(err)
	}
	if *update {
		top["definitions"] = generated
		var out bytes.Buffer
		out.WriteString("{\n")
		for i, key := range valuesSchemaKeys {
			if top[key] == nil {
				continue
			}
			fmt.Fprintf(&out, "  %q: ", key)
			if err := json.Indent(&out, top[key], "  ", "  "); err != nil {
				t.Fatal(err)
			}
			if i < len(valuesSchemaKeys)-1 {
				out.WriteString(",")
			}
			out.WriteString("\n")
		}
		out.WriteString("}\n")
		if err := os.WriteFile(valuesSchemaPath(), out.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		raw = out.Bytes()
	} else {
		var want, got any
		_ = json.Unmarshal(generated, &want)
		_ = json.Unmarshal(top["definitions"], &got)
		if d := cmp.Diff(want, got); d != "" {
			t.Errorf("values.schema.json's definitions differ from the types the API server serves (-apiserver +file); run make chart-schema if the change is intended:\n%s", d)
		}
	}

	var schema any
	if err := json.Unmarshal(raw, &schema); err != nil {
		t.Fatal(err)
	}
	for _, v := range valuesKubeTypes {
		got := jsonPointer(schema, v.pointer)
		want := map[string]any{"$ref": "#/definitions/" + v.name}
		if d := cmp.Diff(want, got); d != "" {
			t.Errorf("values.schema.json %s is not a reference to %s (-want +got):\n%s", v.pointer, v.name, d)
		}
	}
	for _, v := range valuesKubeFields {
		typ, err := conv.convert(source[v.typ])
		if err != nil {
			t.Fatal(err)
		}
		want := typ["properties"].(map[string]any)[v.field]
		got, _ := jsonPointer(schema, v.pointer).(map[string]any)
		got = maps(got, "description")
		if d := cmp.Diff(want, got); d != "" {
			t.Errorf("values.schema.json %s differs from %s.%s (-apiserver +file):\n%s", v.pointer, v.typ, v.field, d)
		}
	}
}

// maps returns m without the keys.
func maps(m map[string]any, without ...string) map[string]any {
	out := map[string]any{}
	for k, v := range m {
		if !slices.Contains(without, k) {
			out[k] = v
		}
	}
	return out
}

// jsonPointer resolves a JSON pointer (RFC 6901, without escapes) in a
// decoded document; nil when it does not resolve.
func jsonPointer(doc any, pointer string) any {
	cur := doc
	for _, part := range strings.Split(strings.TrimPrefix(pointer, "/"), "/") {
		switch c := cur.(type) {
		case map[string]any:
			cur = c[part]
		case []any:
			var i int
			if _, err := fmt.Sscan(part, &i); err != nil || i < 0 || i >= len(c) {
				return nil
			}
			cur = c[i]
		default:
			return nil
		}
	}
	return cur
}

// kubeTypeCases are values of the Kubernetes types the chart takes, each
// wrong in a way the API server refuses: values.schema.json must refuse it
// with a message naming the value (TestSchemaRejectsKubeTypes), and the
// API server must refuse the render that skipped the schema
// (TestSchemaMatchesAPIServer), so the schema is never stricter than
// Kubernetes.
var kubeTypeCases = []struct {
	name, values, mention string
}{
	{"misspelt resource name", "resources:\n  limits:\n    memroy: 256Mi\n", "memroy"},
	{"resource quantity with a unit Kubernetes does not know", "resources:\n  limits:\n    memory: 256MB\n", "memory"},
	{"resources field misspelt", "resources:\n  limit:\n    memory: 256Mi\n", "limit"},
	{"toleration key misspelt", "tolerations:\n- key: dedicated\n  operator: Equal\n  value: platform\n  effects: NoSchedule\n", "effects"},
	{"toleration operator unknown", "tolerations:\n- key: dedicated\n  operator: Equals\n  value: platform\n", "operator"},
	{"toleration effect unknown", "tolerations:\n- key: dedicated\n  operator: Exists\n  effect: NoScheduling\n", "effect"},
	{"affinity misspelt", "affinity:\n  nodeAfinity: {}\n", "nodeAfinity"},
	{"node affinity operator unknown", "affinity:\n  nodeAffinity:\n    requiredDuringSchedulingIgnoredDuringExecution:\n      nodeSelectorTerms:\n      - matchExpressions:\n        - {key: kubernetes.io/arch, operator: IsIn, values: [amd64]}\n", "operator"},
	{"node selector value not a string", "nodeSelector:\n  dedicated: true\n", "nodeSelector"},
	{"spread whenUnsatisfiable unknown", "topologySpreadConstraints:\n- {maxSkew: 1, topologyKey: kubernetes.io/hostname, whenUnsatisfiable: Sometimes}\n", "whenUnsatisfiable"},
	{"spread maxSkew not a number", "topologySpreadConstraints:\n- {maxSkew: one, topologyKey: kubernetes.io/hostname, whenUnsatisfiable: ScheduleAnyway}\n", "maxSkew"},
	{"spread without topologyKey", "topologySpreadConstraints:\n- {maxSkew: 1, whenUnsatisfiable: ScheduleAnyway}\n", "topologyKey"},
	{"pod security context user not a number", "podSecurityContext:\n  runAsUser: nobody\n", "runAsUser"},
	{"security context field misspelt", "securityContext:\n  readOnlyRootFileSystem: true\n", "readOnlyRootFileSystem"},
	{"seccomp profile type unknown", "podSecurityContext:\n  seccompProfile: {type: Default}\n", "type"},
	{"volume source misspelt", "volumes:\n- name: ca\n  configmap: {name: private-ca}\n", "configmap"},
	{"volume mount field misspelt", "volumeMounts:\n- name: ca\n  mountPath: /etc/ca\n  readonly: true\n", "readonly"},
	{"env source misspelt", "extraEnv:\n- name: POD\n  valueFrom:\n    fieldRef: {fieldpath: metadata.name}\n", "fieldpath"},
	{"pull secret misspelt", "imagePullSecrets:\n- secret: swr-pull\n", "secret"},
	{"network policy peer misspelt", "networkPolicy:\n  enabled: true\n  metrics:\n    from:\n    - namespaceSelector: {matchLabel: {team: monitoring}}\n", "matchLabel"},
	{"network policy egress port protocol unknown", "networkPolicy:\n  enabled: true\n  extraEgress:\n  - ports: [{protocol: HTTP, port: 3128}]\n", "protocol"},
}

// TestSchemaRejectsKubeTypes: helm template and helm lint refuse each of
// kubeTypeCases with values.schema.json's message naming the value.
func TestSchemaRejectsKubeTypes(t *testing.T) {
	needHelm(t)
	for _, tc := range kubeTypeCases {
		t.Run(tc.name, func(t *testing.T) {
			file := filepath.Join(t.TempDir(), "values.yaml")
			if err := os.WriteFile(file, []byte(tc.values), 0o644); err != nil {
				t.Fatal(err)
			}
			for _, cmd := range [][]string{
				{"template", release, chartDir, "--namespace", namespace, "--values", file},
				{"lint", chartDir, "--namespace", namespace, "--values", file},
			} {
				out, err := helm(cmd...)
				if err == nil {
					t.Fatalf("helm %s accepted %q:\n%.400s", cmd[0], tc.values, out)
				}
				if !strings.Contains(err.Error(), "schema") || !strings.Contains(err.Error(), tc.mention) {
					t.Errorf("helm %s's error is not the schema's naming %q:\n%v", cmd[0], tc.mention, err)
				}
			}
		})
	}
}

// goodKubeTypes are values using the Kubernetes types fully, which the
// schema must accept and the API server too.
const goodKubeTypes = `
imagePullSecrets: [{name: swr-pull}]
resources:
  requests: {cpu: 0.5, memory: 1.5Gi, ephemeral-storage: 64Mi, example.com/widget: 1, hugepages-2Mi: 0}
  limits: {cpu: 1500m, memory: "2e9", ephemeral-storage: 1Gi, example.com/widget: "1", hugepages-2Mi: 0}
podSecurityContext:
  runAsNonRoot: true
  runAsUser: 65532
  fsGroup: 65532
  seccompProfile: {type: RuntimeDefault}
securityContext:
  allowPrivilegeEscalation: false
  readOnlyRootFilesystem: true
  capabilities: {drop: [ALL]}
tolerations:
- {key: dedicated, operator: Equal, value: platform, effect: NoSchedule}
- {operator: Exists, effect: NoExecute, tolerationSeconds: 60}
nodeSelector: {kubernetes.io/os: linux}
affinity:
  nodeAffinity:
    preferredDuringSchedulingIgnoredDuringExecution:
    - weight: 50
      preference:
        matchExpressions: [{key: node.kubernetes.io/instance-type, operator: NotIn, values: [small]}]
  podAntiAffinity:
    requiredDuringSchedulingIgnoredDuringExecution:
    - topologyKey: kubernetes.io/hostname
      labelSelector: {matchLabels: {app.kubernetes.io/name: cloudop}}
topologySpreadConstraints:
- maxSkew: 1
  topologyKey: topology.kubernetes.io/zone
  whenUnsatisfiable: DoNotSchedule
  minDomains: 2
  nodeAffinityPolicy: Honor
extraEnv:
- name: POD_NAME
  valueFrom: {fieldRef: {fieldPath: metadata.name}}
volumes:
- name: ca
  projected:
    sources:
    - configMap: {name: private-ca, items: [{key: ca.crt, path: ca.crt}]}
volumeMounts:
- {name: ca, mountPath: /etc/cloudop/ca, readOnly: true}
networkPolicy:
  enabled: true
  metrics:
    from:
    - namespaceSelector: {matchExpressions: [{key: kubernetes.io/metadata.name, operator: In, values: [monitoring]}]}
  extraIngress:
  - from: [{ipBlock: {cidr: 10.0.0.0/8, except: [10.1.0.0/16]}}]
    ports: [{protocol: TCP, port: 8081}]
  extraEgress:
  - to: [{ipBlock: {cidr: 10.0.0.5/32}}]
    ports: [{protocol: TCP, port: 3128, endPort: 3130}]
`

// TestSchemaMatchesAPIServer: the values of goodKubeTypes pass the schema
// and their render passes the API server's validation (server-side dry
// run, strict fields); each value of kubeTypeCases, rendered without the
// schema, is refused by the API server as well.
func TestSchemaMatchesAPIServer(t *testing.T) {
	needControlPlane(t)
	ctx := context.Background()
	const rel, ns = "schema", "schema-system"
	ensureNamespace(t, ns)
	dryRun := func(t *testing.T, values string, skipSchema bool) error {
		t.Helper()
		file := filepath.Join(t.TempDir(), "values.yaml")
		if err := os.WriteFile(file, []byte("crds: {enabled: false}\n"+values), 0o644); err != nil {
			t.Fatal(err)
		}
		args := []string{"template", rel, chartDir, "--namespace", ns, "--values", file}
		if skipSchema {
			args = append(args, "--skip-schema-validation")
		}
		out, err := helm(args...)
		if err != nil {
			t.Fatal(err)
		}
		var errs []error
		for _, obj := range decode(t, out) {
			if err := kube.Apply(ctx, client.ApplyConfigurationFromUnstructured(obj), client.FieldOwner(fieldManager), client.ForceOwnership, client.DryRunAll); err != nil {
				errs = append(errs, fmt.Errorf("%s %s: %w", obj.GetKind(), obj.GetName(), err))
			}
		}
		if len(errs) > 0 {
			return fmt.Errorf("%v", errs)
		}
		return nil
	}
	for name, values := range map[string]string{
		"good values": goodKubeTypes,
		// docs/install.md: null removes a default key.
		"ephemeral storage removed": "resources:\n  requests: {ephemeral-storage: null}\n  limits: {ephemeral-storage: null}\n",
	} {
		t.Run(name, func(t *testing.T) {
			if err := dryRun(t, values, false); err != nil {
				t.Errorf("the API server refuses values the schema accepts: %v", err)
			}
		})
	}
	for _, tc := range kubeTypeCases {
		t.Run(tc.name, func(t *testing.T) {
			if err := dryRun(t, tc.values, true); err == nil {
				t.Errorf("the API server accepts %q, which the schema refuses", tc.values)
			}
		})
	}
}
