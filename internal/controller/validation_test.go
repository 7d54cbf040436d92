package controller

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	. "github.com/onsi/gomega"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/controller-runtime/pkg/client"

	opsv1 "github.com/cloudop/cloudop/api/v1alpha1"
	"github.com/cloudop/cloudop/internal/testenv"
)

// validSpec returns a spec the API server accepts, for each service.
func validSpec(service string) map[string]any {
	spec := map[string]any{
		"service":              service,
		"region":               "cn-north-4",
		"operationID":          "op-1",
		"credentialsSecretRef": map[string]any{"name": "creds"},
	}
	switch service {
	case "CCE":
		spec["clusterID"] = "b4b9e60f-8aa2-11ee-af09-0255ac10004f"
	case "DWS":
		spec["clusterID"] = "9f76c502-fc9c-4a52-8656-65d0da6e3d57"
		spec["operationID"] = "SNAPSHOTTING"
	case "AOS":
		spec["stackID"] = "cb2cdea0-cc70-11e6-8448-0242ac001004"
	case "BCS":
		spec["blockchainID"] = "23604f57-eac9-3777-e9f5-ae87457f2338"
	case "RFS":
		spec["stackName"] = "demo-stack_01"
		spec["operationID"] = "7c4ddcb8-8f4e-4e2a-9d0a-3b5a9f3a2c11"
	case "CCEJob":
		spec["service"] = "CCE"
		spec["operationType"] = "Job"
		spec["operationID"] = "0d3d0a4f-8a49-11ee-8b7c-0255ac100b05"
	default: // the classic job services
		spec["operationID"] = "ff8080828a07ffea018a52ac6e1e3a37"
	}
	return spec
}

// identitySpec is validSpec signed by a ServiceAccount instead of a
// Secret.
func identitySpec(service, serviceAccount string) map[string]any {
	spec := validSpec(service)
	delete(spec, "credentialsSecretRef")
	spec["serviceAccountName"] = serviceAccount
	return spec
}

func cloudOperation(ns, name string, spec map[string]any) *unstructured.Unstructured {
	u := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "ops.cloudop.dev/v1alpha1",
		"kind":       "CloudOperation",
		"metadata":   map[string]any{"name": name, "namespace": ns},
	}}
	if spec != nil {
		u.Object["spec"] = spec
	}
	return u
}

func TestValidSamplesAreAccepted(t *testing.T) {
	g := NewWithT(t)
	ns := newNamespace(t)
	for _, svc := range []string{"BCS", "CCE", "AOS", "DWS", "CCEJob", "ECS", "EVS", "IMS", "BMS", "VPC", "RDS", "GaussDB", "DDS", "GaussDBforOpenGauss", "GaussDBforNoSQL", "RFS"} {
		g.Expect(k8s.Create(context.Background(), cloudOperation(ns, strings.ToLower(svc), validSpec(svc)))).To(Succeed(), "%s: valid spec rejected", svc)
	}
}

// TestServiceAccountSpecsAreAccepted: a spec naming a ServiceAccount
// instead of a Secret, or naming neither, is accepted, written untyped and through the Go
// types (whose empty credentialsSecretRef must be left out, not sent as
// {}), and an object may move from a Secret to a ServiceAccount.
func TestServiceAccountSpecsAreAccepted(t *testing.T) {
	g := NewWithT(t)
	ns := newNamespace(t)
	for _, svc := range []string{"BCS", "CCE", "RFS", "ECS", "RDS"} {
		g.Expect(k8s.Create(context.Background(), cloudOperation(ns, "sa-"+strings.ToLower(svc), identitySpec(svc, "team-a")), client.FieldValidation("Strict"))).To(Succeed(), "%s", svc)
	}
	typed := &opsv1.CloudOperation{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "typed"},
		Spec:       opsv1.CloudOperationSpec{Service: opsv1.ServiceECS, Region: "cn-north-4", OperationID: "job-1", ServiceAccountName: "team-a"},
	}
	g.Expect(k8s.Create(context.Background(), typed)).To(Succeed(), "typed object naming a ServiceAccount")
	g.Expect(typed.Spec.CredentialsSecretRef.Name).To(BeEmpty())

	// Naming neither leaves the identity to the manager's own, when its
	// install enables that (--manager-identity); admission lets it in.
	neither := validSpec("CCE")
	delete(neither, "credentialsSecretRef")
	g.Expect(k8s.Create(context.Background(), cloudOperation(ns, "neither", neither), client.FieldValidation("Strict"))).To(Succeed(), "spec naming neither identity")

	// The lifecycle fields at their bounds: the deadline off, its least
	// and most; a TTL of zero (delete when finished).
	for i, deadline := range []string{"0s", "1m", "168h"} {
		spec := validSpec("CCE")
		spec["progressDeadline"], spec["ttlSecondsAfterFinished"] = deadline, int64(i*100)
		g.Expect(k8s.Create(context.Background(), cloudOperation(ns, fmt.Sprintf("lifecycle-%d", i), spec), client.FieldValidation("Strict"))).To(Succeed(), "progressDeadline %s", deadline)
	}

	moved := cloudOperation(ns, "moved", validSpec("CCE"))
	g.Expect(k8s.Create(context.Background(), moved)).To(Succeed())
	unstructured.RemoveNestedField(moved.Object, "spec", "credentialsSecretRef")
	g.Expect(unstructured.SetNestedField(moved.Object, "team-a", "spec", "serviceAccountName")).To(Succeed())
	g.Expect(k8s.Update(context.Background(), moved)).To(Succeed(), "moving from a Secret to a ServiceAccount")
}

func TestInvalidSpecsAreRejectedNamingTheField(t *testing.T) {
	g := NewWithT(t)
	with := func(service string, mutate func(spec map[string]any)) map[string]any {
		spec := validSpec(service)
		mutate(spec)
		return spec
	}
	set := func(service, key string, value any) map[string]any {
		return with(service, func(s map[string]any) { s[key] = value })
	}
	drop := func(service, key string) map[string]any {
		return with(service, func(s map[string]any) { delete(s, key) })
	}
	cases := []struct {
		name  string
		spec  map[string]any
		field string // must appear in the error message
	}{
		{"no spec", nil, "spec"},
		{"missing service", drop("CCE", "service"), "spec.service"},
		{"unknown service", set("CCE", "service", "OBS"), "spec.service"},
		{"lowercase service", set("CCE", "service", "cce"), "spec.service"},
		{"service not a string", set("CCE", "service", 7), "spec.service"},
		{"missing region", drop("CCE", "region"), "spec.region"},
		{"empty region", set("CCE", "region", ""), "spec.region"},
		{"region with uppercase", set("CCE", "region", "CN-North-4"), "spec.region"},
		{"region without number", set("CCE", "region", "cn-north"), "spec.region"},
		{"region with spaces", set("CCE", "region", "cn north 4"), "spec.region"},
		{"region too long", set("CCE", "region", "cn-"+strings.Repeat("a", 40)+"-1"), "spec.region"},
		{"region is a URL", set("CCE", "region", "https://cn-north-4"), "spec.region"},
		{"missing operationID", drop("CCE", "operationID"), "spec.operationID"},
		{"empty operationID", set("CCE", "operationID", ""), "spec.operationID"},
		{"operationID with space", set("CCE", "operationID", " BCS SVC01-99"), "spec.operationID"},
		{"operationID with slash", set("CCE", "operationID", "../../v3/secret"), "spec.operationID"},
		{"operationID with query", set("CCE", "operationID", "wf?x=1"), "spec.operationID"},
		{"operationID too long", set("CCE", "operationID", strings.Repeat("a", 129)), "spec.operationID"},
		{"operationID not a string", set("CCE", "operationID", 12), "spec.operationID"},
		{"DWS lowercase action name", set("DWS", "operationID", "snapshotting"), "spec.operationID"},
		{"DWS action name with dash", set("DWS", "operationID", "SNAP-SHOT"), "spec.operationID"},
		{"CCE without clusterID", drop("CCE", "clusterID"), "spec.clusterID"},
		{"DWS without clusterID", drop("DWS", "clusterID"), "spec.clusterID"},
		{"AOS without stackID", drop("AOS", "stackID"), "spec.stackID"},
		{"AOS with clusterID", set("AOS", "clusterID", "c1"), "spec.clusterID"},
		{"BCS with clusterID", set("BCS", "clusterID", "c1"), "spec.clusterID"},
		{"CCE with stackID", set("CCE", "stackID", "s1"), "spec.stackID"},
		{"DWS with stackID", set("DWS", "stackID", "s1"), "spec.stackID"},
		{"CCE with blockchainID", set("CCE", "blockchainID", "b1"), "spec.blockchainID"},
		{"AOS with blockchainID", set("AOS", "blockchainID", "b1"), "spec.blockchainID"},
		{"empty clusterID", set("CCE", "clusterID", ""), "spec.clusterID"},
		{"clusterID with slash", set("CCE", "clusterID", "a/b"), "spec.clusterID"},
		{"clusterID too long", set("CCE", "clusterID", strings.Repeat("c", 65)), "spec.clusterID"},
		{"stackID with space", set("AOS", "stackID", "a b"), "spec.stackID"},
		{"stackID too long", set("AOS", "stackID", strings.Repeat("s", 65)), "spec.stackID"},
		{"blockchainID with percent", set("BCS", "blockchainID", "a%2F"), "spec.blockchainID"},
		{"empty projectID", set("CCE", "projectID", ""), "spec.projectID"},
		{"projectID with dash", set("CCE", "projectID", "0123-4567"), "spec.projectID"},
		{"projectID too long", set("CCE", "projectID", strings.Repeat("0", 65)), "spec.projectID"},
		{"both credentialsSecretRef and serviceAccountName", set("CCE", "serviceAccountName", "team-a"), "credentialsSecretRef and serviceAccountName are mutually exclusive"},
		{"serviceAccountName uppercase", identitySpec("CCE", "Team-A"), "spec.serviceAccountName"},
		{"serviceAccountName empty", identitySpec("CCE", ""), "spec.serviceAccountName"},
		{"serviceAccountName with namespace", identitySpec("CCE", "kube-system/default"), "spec.serviceAccountName"},
		{"serviceAccountName too long", identitySpec("CCE", strings.Repeat("a", 254)), "spec.serviceAccountName"},
		{"secret ref without name", set("CCE", "credentialsSecretRef", map[string]any{}), "spec.credentialsSecretRef.name"},
		{"secret ref empty name", set("CCE", "credentialsSecretRef", map[string]any{"name": ""}), "spec.credentialsSecretRef.name"},
		{"secret ref uppercase name", set("CCE", "credentialsSecretRef", map[string]any{"name": "Creds"}), "spec.credentialsSecretRef.name"},
		{"secret ref other namespace field", set("CCE", "credentialsSecretRef", map[string]any{"name": "creds", "namespace": "kube-system"}), "spec.credentialsSecretRef.namespace"},
		{"secret ref name too long", set("CCE", "credentialsSecretRef", map[string]any{"name": strings.Repeat("a", 254)}), "spec.credentialsSecretRef.name"},
		{"endpoint not a URL", set("CCE", "endpoint", "cce.example.com"), "spec.endpoint"},
		{"endpoint ftp", set("CCE", "endpoint", "ftp://cce.example.com"), "spec.endpoint"},
		{"endpoint with path", set("CCE", "endpoint", "https://cce.example.com/api/v3"), "spec.endpoint"},
		{"endpoint with credentials", set("CCE", "endpoint", "https://user:pass@cce.example.com"), "spec.endpoint"},
		{"endpoint with query", set("CCE", "endpoint", "https://cce.example.com?x=1"), "spec.endpoint"},
		{"endpoint too long", set("CCE", "endpoint", "https://"+strings.Repeat("a", 250)+".com"), "spec.endpoint"},
		{"pollInterval too short", set("CCE", "pollInterval", "1s"), "spec.pollInterval"},
		{"pollInterval zero", set("CCE", "pollInterval", "0s"), "spec.pollInterval"},
		{"pollInterval too long", set("CCE", "pollInterval", "25h"), "spec.pollInterval"},
		{"pollInterval negative", set("CCE", "pollInterval", "-30s"), "spec.pollInterval"},
		{"pollInterval no unit", set("CCE", "pollInterval", "30"), "spec.pollInterval"},
		{"pollInterval words", set("CCE", "pollInterval", "thirty seconds"), "spec.pollInterval"},
		{"pollInterval number", set("CCE", "pollInterval", 30), "spec.pollInterval"},
		{"progressDeadline too short", set("CCE", "progressDeadline", "30s"), "spec.progressDeadline"},
		{"progressDeadline too long", set("CCE", "progressDeadline", "169h"), "spec.progressDeadline"},
		{"progressDeadline negative", set("CCE", "progressDeadline", "-1h"), "spec.progressDeadline"},
		{"progressDeadline no unit", set("CCE", "progressDeadline", "3600"), "spec.progressDeadline"},
		{"ttlSecondsAfterFinished negative", set("CCE", "ttlSecondsAfterFinished", -1), "spec.ttlSecondsAfterFinished"},
		{"ttlSecondsAfterFinished over a year", set("CCE", "ttlSecondsAfterFinished", 31536001), "spec.ttlSecondsAfterFinished"},
		{"ttlSecondsAfterFinished a duration", set("CCE", "ttlSecondsAfterFinished", "1h"), "spec.ttlSecondsAfterFinished"},
		{"unknown field", set("CCE", "interval", "30s"), "spec.interval"},
		{"unknown operationType", set("CCE", "operationType", "Upgrade"), "spec.operationType"},
		{"UpgradeWorkflow for ECS", set("ECS", "operationType", "UpgradeWorkflow"), "spec.operationType"},
		{"Job for AOS", set("AOS", "operationType", "Job"), "spec.operationType"},
		{"Job for DWS", set("DWS", "operationType", "Job"), "spec.operationType"},
		{"ECS with clusterID", set("ECS", "clusterID", "c1"), "spec.clusterID"},
		{"RDS with clusterID", set("RDS", "clusterID", "c1"), "spec.clusterID"},
		{"RFS without stackName", drop("RFS", "stackName"), "spec.stackName"},
		{"stackName for AOS", set("AOS", "stackName", "s1"), "spec.stackName"},
		{"stackName with a slash", set("RFS", "stackName", "a/b"), "spec.stackName"},
		{"stackName starting with a digit", set("RFS", "stackName", "1stack"), "spec.stackName"},
		{"Job for RFS", set("RFS", "operationType", "Job"), "spec.operationType"},
		{"UpgradeWorkflow for RDS", set("RDS", "operationType", "UpgradeWorkflow"), "spec.operationType"},
		{"service in lower case", set("RDS", "service", "rds"), "spec.service"},
		{"VPC with stackID", set("VPC", "stackID", "s1"), "spec.stackID"},
		{"CCE upgrade workflow typed, without clusterID", with("CCE", func(s map[string]any) { s["operationType"] = "UpgradeWorkflow"; delete(s, "clusterID") }), "spec.clusterID"},
	}
	ns := newNamespace(t)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			g := NewWithT(t)
			obj := cloudOperation(ns, "invalid-"+strings.ToLower(strings.ReplaceAll(tc.name, " ", "-")), tc.spec)
			// Strict field validation is what kubectl uses by default.
			err := k8s.Create(context.Background(), obj, client.FieldValidation("Strict"))
			g.Expect(err).To(HaveOccurred(), "accepted, want rejection naming %s", tc.field)
			g.Expect(apierrors.IsInvalid(err) || apierrors.IsBadRequest(err)).To(BeTrue(), "want Invalid or BadRequest, got %v", err)
			g.Expect(err.Error()).To(ContainSubstring(tc.field), "error does not name %s", tc.field)
		})
	}
	g.Expect(len(cases)).To(BeNumerically(">=", 50), "only %d invalid cases", len(cases))
}

func TestIdentityFieldsAreImmutable(t *testing.T) {
	cases := []struct {
		service string
		field   string
		value   any
	}{
		{"CCE", "service", "DWS"},
		{"CCE", "region", "cn-south-1"},
		{"CCE", "operationID", "other"},
		{"CCE", "clusterID", "other-cluster"},
		{"CCE", "projectID", "0123456789abcdef0123456789abcdef"},
		{"AOS", "stackID", "other-stack"},
		{"BCS", "blockchainID", "other-chain"},
		{"CCEJob", "operationType", "UpgradeWorkflow"},
		{"RFS", "stackName", "other-stack"},
	}
	ns := newNamespace(t)
	for _, tc := range cases {
		t.Run(tc.service+"/"+tc.field, func(t *testing.T) {
			g := NewWithT(t)
			name := strings.ToLower(tc.service + "-" + tc.field)
			obj := cloudOperation(ns, name, validSpec(tc.service))
			g.Expect(k8s.Create(context.Background(), obj)).To(Succeed(), "create")
			g.Expect(unstructured.SetNestedField(obj.Object, tc.value, "spec", tc.field)).To(Succeed())
			err := k8s.Update(context.Background(), obj)
			g.Expect(err).To(HaveOccurred(), "changing spec.%s was accepted", tc.field)
			g.Expect(err.Error()).To(Or(ContainSubstring(tc.field+" is immutable"), ContainSubstring("spec."+tc.field)), "error does not name %s", tc.field)
		})
	}

	// pollInterval and the endpoint are not identity: they may change.
	t.Run("pollInterval mutable", func(t *testing.T) {
		g := NewWithT(t)
		obj := cloudOperation(ns, "mutable", validSpec("CCE"))
		g.Expect(k8s.Create(context.Background(), obj)).To(Succeed())
		_ = unstructured.SetNestedField(obj.Object, "2m", "spec", "pollInterval")
		g.Expect(k8s.Update(context.Background(), obj)).To(Succeed(), "changing pollInterval rejected")
	})
}

// TestShippedManifestsAreAccepted applies every sample and demo manifest
// under config/ with strict field validation, as kubectl would.
func TestShippedManifestsAreAccepted(t *testing.T) {
	g := NewWithT(t)
	root, err := testenv.RepoRoot()
	g.Expect(err).NotTo(HaveOccurred())
	files, _ := filepath.Glob(filepath.Join(root, "config", "samples", "*.yaml"))
	files = append(files, filepath.Join(root, "config", "demo", "cloudoperations.yaml"))
	created := 0
	for _, file := range files {
		if filepath.Base(file) == "kustomization.yaml" {
			continue
		}
		ns := newNamespace(t)
		raw, err := os.ReadFile(file)
		g.Expect(err).NotTo(HaveOccurred())
		dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(raw), 4096)
		for {
			u := &unstructured.Unstructured{}
			err := dec.Decode(&u.Object)
			if errors.Is(err, io.EOF) {
				break
			}
			g.Expect(err).NotTo(HaveOccurred(), "%s", file)
			if len(u.Object) == 0 {
				continue
			}
			u.SetNamespace(ns)
			g.Expect(k8s.Create(context.Background(), u, client.FieldValidation("Strict"))).To(Succeed(), "%s: %s %s rejected", filepath.Base(file), u.GetKind(), u.GetName())
			if u.GetKind() == "CloudOperation" {
				created++
			}
		}
	}
	g.Expect(created).To(BeNumerically(">=", 10), "only %d CloudOperations in the shipped manifests", created)
}

// sourceSpec returns a CloudOperationSource spec the API server accepts,
// for each source service.
func sourceSpec(service string) map[string]any {
	spec := map[string]any{
		"service":              service,
		"region":               "cn-north-4",
		"credentialsSecretRef": map[string]any{"name": "creds"},
	}
	switch service {
	case "BCS":
		spec["blockchainID"] = "23604f57-eac9-3777-e9f5-ae87457f2338"
	case "CCE":
		spec["clusterID"] = "b4b9e60f-8aa2-11ee-af09-0255ac10004f"
		spec["phases"] = []any{"Running", "Pending"}
	case "CTS":
		spec["services"] = []any{"ECS", "RDS", "GaussDBforNoSQL", "RFS"}
		spec["traceNames"] = []any{"createServer"}
	}
	return spec
}

func cloudOperationSource(ns, name string, spec map[string]any) *unstructured.Unstructured {
	u := cloudOperation(ns, name, spec)
	u.SetKind("CloudOperationSource")
	return u
}

// TestSourceSpecsAreValidated: each source service's fields are required
// where it needs them and refused where it does not, naming the field.
func TestSourceSpecsAreValidated(t *testing.T) {
	ns := newNamespace(t)
	for _, svc := range []string{"BCS", "CCE", "CTS"} {
		NewWithT(t).Expect(k8s.Create(context.Background(), cloudOperationSource(ns, strings.ToLower(svc), sourceSpec(svc)), client.FieldValidation("Strict"))).To(Succeed(), "%s: valid source rejected", svc)
	}
	with := func(service string, mutate func(spec map[string]any)) map[string]any {
		spec := sourceSpec(service)
		mutate(spec)
		return spec
	}
	for _, tc := range []struct {
		name  string
		spec  map[string]any
		field string
	}{
		{"a service that lists nothing", with("BCS", func(s map[string]any) { s["service"] = "ECS" }), "spec.service"},
		{"CCE without clusterID", with("CCE", func(s map[string]any) { delete(s, "clusterID") }), "spec.clusterID"},
		{"clusterID for BCS", with("BCS", func(s map[string]any) { s["clusterID"] = "c1" }), "spec.clusterID"},
		{"blockchainID for CCE", with("CCE", func(s map[string]any) { s["blockchainID"] = "b1" }), "spec.blockchainID"},
		{"CTS without services", with("CTS", func(s map[string]any) { delete(s, "services") }), "spec.services"},
		{"CTS with no services", with("CTS", func(s map[string]any) { s["services"] = []any{} }), "spec.services"},
		{"CTS of a service without jobs", with("CTS", func(s map[string]any) { s["services"] = []any{"ECS", "BCS"} }), "spec.services"},
		{"services for BCS", with("BCS", func(s map[string]any) { s["services"] = []any{"ECS"} }), "spec.services"},
		{"traceNames for CCE", with("CCE", func(s map[string]any) { s["traceNames"] = []any{"x"} }), "spec.services"},
		{"a trace name with a space", with("CTS", func(s map[string]any) { s["traceNames"] = []any{"create server"} }), "spec.traceNames"},
		{"phases for CTS", with("CTS", func(s map[string]any) { s["phases"] = []any{"Running"} }), "spec.phases"},
		{"an unknown phase", with("CCE", func(s map[string]any) { s["phases"] = []any{"Done"} }), "spec.phases"},
		{"a repeated service", with("CTS", func(s map[string]any) { s["services"] = []any{"ECS", "ECS"} }), "spec.services"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := NewWithT(t)
			err := k8s.Create(context.Background(), cloudOperationSource(ns, "invalid-"+strings.ToLower(strings.ReplaceAll(tc.name, " ", "-")), tc.spec), client.FieldValidation("Strict"))
			g.Expect(err).To(HaveOccurred(), "accepted, want rejection naming %s", tc.field)
			g.Expect(err.Error()).To(ContainSubstring(tc.field))
		})
	}
}
