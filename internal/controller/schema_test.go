package controller

import (
	"os"
	"path/filepath"
	"slices"
	"testing"

	. "github.com/onsi/gomega"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"sigs.k8s.io/yaml"

	"github.com/cloudop/cloudop/internal/cloud"
	"github.com/cloudop/cloudop/internal/testenv"
)

// generatedSchema reads the CloudOperation schema from the CRD that
// controller-gen writes from the API markers.
func generatedSchema(t *testing.T) apiextensionsv1.JSONSchemaProps {
	t.Helper()
	g := NewWithT(t)
	root, err := testenv.RepoRoot()
	g.Expect(err).NotTo(HaveOccurred())
	b, err := os.ReadFile(filepath.Join(root, "config", "crd", "bases", "ops.cloudop.dev_cloudoperations.yaml"))
	g.Expect(err).NotTo(HaveOccurred())
	var crd apiextensionsv1.CustomResourceDefinition
	g.Expect(yaml.UnmarshalStrict(b, &crd)).To(Succeed())
	return *crd.Spec.Versions[0].Schema.OpenAPIV3Schema
}

func TestLimitsMatchTheCRD(t *testing.T) {
	g := NewWithT(t)
	status := generatedSchema(t).Properties["status"]
	step := status.Properties["steps"].Items.Schema
	subStep := step.Properties["subSteps"].Items.Schema
	maxLength := func(s apiextensionsv1.JSONSchemaProps) int64 { return *s.MaxLength }
	maxItems := func(s apiextensionsv1.JSONSchemaProps) int64 { return *s.MaxItems }

	g.Expect(maxItems(status.Properties["steps"])).To(BeEquivalentTo(maxSteps))
	g.Expect(maxItems(step.Properties["subSteps"])).To(BeEquivalentTo(maxSubSteps))
	g.Expect(maxLength(status.Properties["currentStep"])).To(BeEquivalentTo(maxStepName))
	g.Expect(maxLength(status.Properties["serviceStatus"])).To(BeEquivalentTo(maxServiceStatus))
	g.Expect(maxLength(status.Properties["message"])).To(BeEquivalentTo(maxStatusMessage))
	for _, s := range []*apiextensionsv1.JSONSchemaProps{step, subStep} {
		g.Expect(maxLength(s.Properties["name"])).To(BeEquivalentTo(maxStepName))
		g.Expect(maxLength(s.Properties["serviceStatus"])).To(BeEquivalentTo(maxServiceStatus))
		g.Expect(maxLength(s.Properties["message"])).To(BeEquivalentTo(maxStepMessage))
	}
	resource := status.Properties["resources"]
	g.Expect(maxItems(resource)).To(BeEquivalentTo(maxResources))
	g.Expect(maxLength(resource.Items.Schema.Properties["type"])).To(BeEquivalentTo(maxResourceType))
	g.Expect(maxLength(resource.Items.Schema.Properties["id"])).To(BeEquivalentTo(maxResourceID))
	condition := status.Properties["conditions"].Items.Schema
	g.Expect(maxLength(condition.Properties["message"])).To(BeEquivalentTo(maxConditionMsg))
}

// TestEnumsMatch proves the cloud model's phases, services and operation
// types are exactly the API's, so apiPhase, cloudService and
// cloudOperationType are lossless.
func TestEnumsMatch(t *testing.T) {
	g := NewWithT(t)
	schema := generatedSchema(t)
	enum := func(s apiextensionsv1.JSONSchemaProps) []string {
		var out []string
		for _, v := range s.Enum {
			var word string
			g.Expect(yaml.Unmarshal(v.Raw, &word)).To(Succeed())
			out = append(out, word)
		}
		slices.Sort(out)
		return out
	}

	var phases []string
	for _, p := range cloud.Phases {
		phases = append(phases, string(apiPhase(p)))
	}
	slices.Sort(phases)
	g.Expect(phases).To(Equal(enum(schema.Properties["status"].Properties["phase"])))

	// cloudService and cloudOperationType are string conversions, so
	// equal value sets are what makes them lossless.
	g.Expect(sortedWords(cloud.Services)).To(Equal(enum(schema.Properties["spec"].Properties["service"])))
	g.Expect(sortedWords(cloud.OperationTypes)).To(Equal(enum(schema.Properties["spec"].Properties["operationType"])))
}

// sortedWords is an enum's values as sorted strings.
func sortedWords[T ~string](values []T) []string {
	out := make([]string, 0, len(values))
	for _, v := range values {
		out = append(out, string(v))
	}
	slices.Sort(out)
	return out
}
