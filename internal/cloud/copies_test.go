package cloud_test

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"sigs.k8s.io/yaml"

	"github.com/cloudop/cloudop/internal/cloud"
	"github.com/cloudop/cloudop/internal/cloud/classicjob"
	"github.com/cloudop/cloudop/internal/cloud/rdsjob"
	"github.com/cloudop/cloudop/internal/plugin"
)

// crdPath is the CRD controller-gen writes from the API module's markers
// (make manifests).
var crdPath = filepath.Join("..", "..", "config", "crd", "bases", "ops.cloudop.dev_cloudoperations.yaml")

// TestServiceTableCopies compares the service table (cloud.Descriptors)
// with every copy of its facts that cannot read it: the API module's
// spec.service and spec.operationType enums and its CEL rules (which
// operation types and spec fields each service takes), as generated into
// the CRD; the kubectl plugin's lists (it reads the API module only); and
// the job adapters' own service lists. A service added to one of them and
// not to the table, or the reverse, fails here, naming the copy.
// (cloudsim, which imports nothing of cloudop, is checked by its own
// TestServicesMatchTheServiceTable.)
func TestServiceTableCopies(t *testing.T) {
	spec := crdSpec(t)
	cel := parseCEL(spec.XValidations)
	tests := []struct {
		name string
		// fix says where the copy is written.
		fix       string
		got, want []string
	}{
		{
			name: "CRD spec.service enum",
			fix:  "the +kubebuilder:validation:Enum marker of Service in api/v1alpha1, then make manifests",
			got:  sorted(enum(t, spec.Properties["service"])),
			want: sorted(words(cloud.Services)),
		},
		{
			name: "CRD spec.operationType enum",
			fix:  "the Enum marker of OperationType in api/v1alpha1 and cloud.OperationTypes",
			got:  sorted(enum(t, spec.Properties["operationType"])),
			want: sorted(words(cloud.OperationTypes)),
		},
		{
			name: "CRD CEL: the services each operationType is used with",
			fix:  "the operationType rules on CloudOperationSpec in api/v1alpha1",
			got:  cel.typeUsers,
			want: tableTypeUsers(),
		},
		{
			name: "CRD CEL: the spec fields each service's kinds require",
			fix:  "the 'is required' rules on CloudOperationSpec in api/v1alpha1",
			got:  cel.requires,
			want: tableRequires(),
		},
		{
			name: "CRD CEL: the services each spec field is used with",
			fix:  "the 'is only used' rules on CloudOperationSpec in api/v1alpha1",
			got:  cel.fieldUsers,
			want: tableFieldUsers(),
		},
		{
			name: "CRD CEL: rules naming a service the table lacks, or of a shape this test does not read",
			fix:  "the rules on CloudOperationSpec in api/v1alpha1, or this test's parseCEL",
			got:  cel.unknown,
			want: nil,
		},
		{
			name: "plugin.Services",
			fix:  "internal/plugin/track.go",
			got:  words(plugin.Services),
			want: words(cloud.Services),
		},
		{
			name: "plugin.OperationTypes",
			fix:  "internal/plugin/track.go",
			got:  sorted(words(plugin.OperationTypes)),
			want: sorted(words(cloud.OperationTypes)),
		},
		{
			name: "classicjob.Services",
			fix:  "internal/cloud/classicjob/classicjob.go",
			got:  words(classicjob.Services),
			want: familyMembers(cloud.FamilyClassicJob),
		},
		{
			name: "rdsjob.Services",
			fix:  "internal/cloud/rdsjob/rdsjob.go",
			got:  words(rdsjob.Services),
			want: familyMembers(cloud.FamilyDBJob),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if slices.Equal(tt.got, tt.want) {
				return
			}
			onlyCopy, onlyTable := minus(tt.got, tt.want), minus(tt.want, tt.got)
			if len(onlyCopy)+len(onlyTable) == 0 {
				t.Errorf("same entries, other order: the copy says %q, the service table %q", tt.got, tt.want)
			} else {
				t.Errorf("only in the copy:\n\t%s\nonly in the service table (internal/cloud/services.go):\n\t%s",
					strings.Join(onlyCopy, "\n\t"), strings.Join(onlyTable, "\n\t"))
			}
			t.Logf("change the copy (%s) or the table", tt.fix)
		})
	}
}

// crdSpec reads spec's schema from the generated CRD.
func crdSpec(t *testing.T) apiextensionsv1.JSONSchemaProps {
	t.Helper()
	b, err := os.ReadFile(crdPath)
	if err != nil {
		t.Fatal(err)
	}
	var crd apiextensionsv1.CustomResourceDefinition
	if err := yaml.UnmarshalStrict(b, &crd); err != nil {
		t.Fatal(err)
	}
	if len(crd.Spec.Versions) != 1 {
		t.Fatalf("%d versions; this test reads the only one", len(crd.Spec.Versions))
	}
	return crd.Spec.Versions[0].Schema.OpenAPIV3Schema.Properties["spec"]
}

// enum is a schema's enum values.
func enum(t *testing.T, s apiextensionsv1.JSONSchemaProps) []string {
	t.Helper()
	var out []string
	for _, v := range s.Enum {
		var word string
		if err := yaml.Unmarshal(v.Raw, &word); err != nil {
			t.Fatal(err)
		}
		out = append(out, word)
	}
	return out
}

// The shapes of the spec rules that speak of services.
var (
	// self.service != 'CCE' || (has(self.operationType) && self.operationType == 'Job') || has(self.clusterID)
	// self.service != 'DWS' || has(self.clusterID)
	requireRule = regexp.MustCompile(`^self\.service != '(\w+)' \|\| (?:\(has\(self\.operationType\) && self\.operationType == '(\w+)'\) \|\| )?has\(self\.(\w+)\)$`)
	// self.service == 'AOS' || self.service == 'RFS' || !has(self.stackID)
	onlyRule = regexp.MustCompile(`^((?:self\.service == '\w+' \|\| )+)!has\(self\.(\w+)\)$`)
	// !has(self.operationType) || self.operationType != 'Job' || self.service in ['CCE', 'ECS']
	// !has(self.operationType) || self.operationType != 'UpgradeWorkflow' || self.service == 'CCE'
	typeRule = regexp.MustCompile(`^!has\(self\.operationType\) \|\| self\.operationType != '(\w+)' \|\| self\.service (?:== '(\w+)'|in \[((?:'\w+'(?:, )?)+)\])$`)
	// self.service != 'DWS' || self.operationID.matches('^[A-Z][A-Z_]*$'):
	// a format, which the table does not hold; only the service is checked.
	formatRule = regexp.MustCompile(`^self\.service != '(\w+)' \|\| self\.operationID\.matches\(.*\)$`)
	quoted     = regexp.MustCompile(`'(\w+)'`)
	// namesService finds any other rule that reads spec.service.
	namesService = regexp.MustCompile(`self\.service\b`)
)

// celFacts are the CEL rules' facts, in the words table* give the table's.
type celFacts struct {
	typeUsers, requires, fieldUsers, unknown []string
}

// parseCEL reads the spec rules that name services.
func parseCEL(rules apiextensionsv1.ValidationRules) celFacts {
	var f celFacts
	// known keeps the services the table has and reports the others.
	known := func(rule string, services ...string) []string {
		var out []string
		for _, s := range services {
			if _, ok := cloud.Describe(cloud.Service(s)); !ok {
				f.unknown = append(f.unknown, fmt.Sprintf("%s (in %s)", s, rule))
				continue
			}
			out = append(out, s)
		}
		return out
	}
	typeUsers := map[string][]string{}
	fieldUsers := map[string][]string{}
	for _, r := range rules {
		rule := strings.Join(strings.Fields(r.Rule), " ")
		if m := requireRule.FindStringSubmatch(rule); m != nil {
			service, except, field := m[1], m[2], m[3]
			if known(rule, service) == nil {
				continue
			}
			d, _ := cloud.Describe(cloud.Service(service))
			if except != "" && !slices.ContainsFunc(d.Kinds[1:], func(k cloud.Kind) bool { return string(k.Type) == except }) {
				f.unknown = append(f.unknown, fmt.Sprintf("%s: %s is not one of its kinds other than the default (in %s)", service, except, rule))
			}
			for _, k := range d.Kinds {
				if except == "" || string(k.Type) != except {
					f.requires = append(f.requires, requirement(d.Name, k.Type, field))
				}
			}
			continue
		}
		if m := onlyRule.FindStringSubmatch(rule); m != nil {
			fieldUsers[m[2]] = append(fieldUsers[m[2]], known(rule, submatches(m[1])...)...)
			continue
		}
		if m := typeRule.FindStringSubmatch(rule); m != nil {
			services := append(submatches(m[3]), m[2])
			services = slices.DeleteFunc(services, func(s string) bool { return s == "" })
			typeUsers[m[1]] = append(typeUsers[m[1]], known(rule, services...)...)
			continue
		}
		if m := formatRule.FindStringSubmatch(rule); m != nil {
			known(rule, m[1])
			continue
		}
		if namesService.MatchString(rule) {
			f.unknown = append(f.unknown, rule)
		}
	}
	f.typeUsers, f.fieldUsers, f.requires = users(typeUsers), users(fieldUsers), sorted(f.requires)
	return f
}

func submatches(s string) []string {
	var out []string
	for _, m := range quoted.FindAllStringSubmatch(s, -1) {
		out = append(out, m[1])
	}
	return out
}

// tableTypeUsers says, for every operation type, which services have a
// kind of that type.
func tableTypeUsers() []string {
	m := map[string][]string{}
	for _, typ := range cloud.OperationTypes {
		for _, d := range cloud.Descriptors {
			if slices.Contains(d.Types(), typ) {
				m[string(typ)] = append(m[string(typ)], string(d.Name))
			}
		}
	}
	return users(m)
}

// tableRequires lists every kind's required fields.
func tableRequires() []string {
	var out []string
	for _, d := range cloud.Descriptors {
		for _, k := range d.Kinds {
			for _, f := range k.Requires {
				out = append(out, requirement(d.Name, k.Type, string(f)))
			}
		}
	}
	return sorted(out)
}

// tableFieldUsers says, for every spec field, which services use it.
func tableFieldUsers() []string {
	m := map[string][]string{}
	for _, f := range cloud.SpecFields {
		for _, d := range cloud.Descriptors {
			if d.Uses(f) {
				m[string(f)] = append(m[string(f)], string(d.Name))
			}
		}
	}
	return users(m)
}

func requirement(s cloud.Service, typ cloud.OperationType, field string) string {
	if typ == "" {
		return fmt.Sprintf("%s requires %s", s, field)
	}
	return fmt.Sprintf("%s (%s) requires %s", s, typ, field)
}

// users renders "key: user, user" lines, sorted.
func users(m map[string][]string) []string {
	var out []string
	for k, v := range m {
		out = append(out, k+": "+strings.Join(sorted(v), ", "))
	}
	return sorted(out)
}

func familyMembers(f cloud.Family) []string {
	var out []string
	for _, d := range cloud.Descriptors {
		if d.Family == f {
			out = append(out, string(d.Name))
		}
	}
	return out
}

func words[T ~string](values []T) []string {
	out := make([]string, len(values))
	for i, v := range values {
		out[i] = string(v)
	}
	return out
}

func sorted(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}

// minus is what a has and b lacks.
func minus(a, b []string) []string {
	var out []string
	for _, x := range a {
		if !slices.Contains(b, x) {
			out = append(out, x)
		}
	}
	return out
}
