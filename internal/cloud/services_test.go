package cloud

import (
	"maps"
	"regexp"
	"slices"
	"testing"
)

// TestDescriptors: every entry of the service table is complete and
// coherent on its own; TestServiceTableCopies compares it with the copies.
func TestDescriptors(t *testing.T) {
	label := regexp.MustCompile(`^[a-z0-9]+(-[a-z0-9]+)*$`)
	seen := map[Service]bool{}
	for _, d := range Descriptors {
		t.Run(string(d.Name), func(t *testing.T) {
			if d.Name == "" || seen[d.Name] {
				t.Fatalf("name %q empty or listed twice", d.Name)
			}
			seen[d.Name] = true
			if !label.MatchString(string(d.Family)) {
				t.Errorf("family %q: want the adapter package's name", d.Family)
			}
			if len(d.Kinds) == 0 {
				t.Fatal("no kind of operation")
			}
			var types []OperationType
			for i, k := range d.Kinds {
				switch {
				case k.Type == "" && len(d.Kinds) > 1:
					t.Errorf("kind %d has no type, but only a service's only kind may go unnamed", i)
				case k.Type != "" && !slices.Contains(OperationTypes, k.Type):
					t.Errorf("kind %d: type %q is not in OperationTypes", i, k.Type)
				case slices.Contains(types, k.Type):
					t.Errorf("kind %d: type %q twice", i, k.Type)
				}
				types = append(types, k.Type)
				checkFields(t, "requires", k.Requires)
			}
			checkFields(t, "optional", d.Optional)
			for _, f := range d.Optional {
				if !slices.ContainsFunc(d.Kinds, func(k Kind) bool { return !slices.Contains(k.Requires, f) }) {
					t.Errorf("optional %s is required by every kind", f)
				}
			}
			for _, l := range append([]string{d.MainLabel()}, slices.Collect(maps.Values(d.Hosts.RegionLabels))...) {
				if !label.MatchString(l) {
					t.Errorf("host label %q", l)
				}
			}
		})
	}
	if names := serviceNames(Descriptors); !slices.Equal(Services, names) {
		t.Errorf("Services %v, table %v", Services, names)
	}
}

func checkFields(t *testing.T, what string, fields []SpecField) {
	t.Helper()
	for i, f := range fields {
		if !slices.Contains(SpecFields, f) || slices.Contains(fields[:i], f) {
			t.Errorf("%s: field %q unknown or listed twice", what, f)
		}
	}
}

// TestDescribe: every listed service is found with its own entry, and
// anything else is not.
func TestDescribe(t *testing.T) {
	for _, s := range Services {
		if d, ok := Describe(s); !ok || d.Name != s {
			t.Errorf("Describe(%s) = %v, %v", s, d.Name, ok)
		}
	}
	for _, s := range []Service{"", "IAM", "bcs", "EIP"} {
		if _, ok := Describe(s); ok {
			t.Errorf("Describe(%q) found an entry", s)
		}
	}
}

// TestDescriptorHelpers: the table's derived facts for the services whose
// rules differ most.
func TestDescriptorHelpers(t *testing.T) {
	tests := []struct {
		service Service
		label   string
		types   []OperationType
		uses    []SpecField
	}{
		{ServiceBCS, "bcs", nil, []SpecField{FieldBlockchainID}},
		{ServiceCCE, "cce", []OperationType{OperationTypeUpgradeWorkflow, OperationTypeJob}, []SpecField{FieldClusterID}},
		{ServiceAOS, "aos", nil, []SpecField{FieldStackID}},
		{ServiceDWS, "dws", nil, []SpecField{FieldClusterID}},
		{ServiceECS, "ecs", []OperationType{OperationTypeJob}, nil},
		{ServiceGaussDBforOpenGauss, "gaussdb-opengauss", []OperationType{OperationTypeJob}, nil},
		{ServiceRFS, "rfs", nil, []SpecField{FieldStackID, FieldStackName}},
	}
	for _, tt := range tests {
		d, _ := Describe(tt.service)
		if got := d.MainLabel(); got != tt.label {
			t.Errorf("%s: label %q, want %q", tt.service, got, tt.label)
		}
		if got := d.Types(); !slices.Equal(got, tt.types) {
			t.Errorf("%s: types %v, want %v", tt.service, got, tt.types)
		}
		for _, f := range SpecFields {
			if got, want := d.Uses(f), slices.Contains(tt.uses, f); got != want {
				t.Errorf("%s: Uses(%s) = %v, want %v", tt.service, f, got, want)
			}
		}
	}
}
