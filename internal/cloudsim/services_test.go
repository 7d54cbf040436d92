package cloudsim

import (
	"maps"
	"slices"
	"testing"

	"github.com/cloudop/cloudop/internal/cloud"
)

// TestServicesMatchTheServiceTable: cloudsim imports nothing of cloudop,
// so that it stays an independent other side; this test checks its copies
// of cloudop's service table (cloud.Descriptors): the service list, the
// job families (services of one adapter family share one path here, and
// a real-looking Host's first label picks the service), the fields each
// kind of operation requires, and that each service has its error codes.
func TestServicesMatchTheServiceTable(t *testing.T) {
	got := make([]cloud.Service, len(Services))
	for i, s := range Services {
		got[i] = cloud.Service(s)
	}
	if !slices.Equal(got, cloud.Services) {
		t.Fatalf("cloudsim's Services %v, the service table %v (internal/cloud/services.go)", got, cloud.Services)
	}
	members := map[cloud.Family][]Service{}
	for _, d := range cloud.Descriptors {
		members[d.Family] = append(members[d.Family], Service(d.Name))
	}
	setters := map[cloud.SpecField]func(*OperationSpec, string){
		cloud.FieldClusterID:    func(o *OperationSpec, v string) { o.ClusterID = v },
		cloud.FieldStackID:      func(o *OperationSpec, v string) { o.StackID = v },
		cloud.FieldStackName:    func(o *OperationSpec, v string) { o.StackName = v },
		cloud.FieldBlockchainID: func(o *OperationSpec, v string) { o.BlockchainID = v },
	}
	if fields := slices.Sorted(maps.Keys(setters)); !slices.Equal(fields, slices.Sorted(slices.Values(cloud.SpecFields))) {
		t.Fatalf("this test sets %v, the table has %v", fields, cloud.SpecFields)
	}
	for _, d := range cloud.Descriptors {
		t.Run(string(d.Name), func(t *testing.T) {
			s := Service(d.Name)
			if !s.valid() {
				t.Fatal("not a valid cloudsim service")
			}
			f := s.family()
			switch shared := members[d.Family]; {
			case len(shared) == 1 && f != nil:
				t.Errorf("in cloudsim job family %v, but alone in its adapter family %s", f.members, d.Family)
			case len(shared) > 1 && (f == nil || !slices.Equal(f.members, shared)):
				t.Errorf("cloudsim's job family is %v, the table's family %s is %v", familyMembers(f), d.Family, shared)
			}
			if f != nil && f.hosts[d.MainLabel()] != s {
				t.Errorf("cloudsim maps host label %q to %q", d.MainLabel(), f.hosts[d.MainLabel()])
			}
			if c := serviceCodes[s]; c.notFound == "" || c.internal == "" {
				t.Errorf("no error codes in serviceCodes (handler.go)")
			}
			for _, k := range d.Kinds {
				spec := OperationSpec{Service: s, Type: OperationType(k.Type), ID: "op-1", ProjectID: "p1"}
				for _, field := range k.Requires {
					setters[field](&spec, "x1")
				}
				if err := spec.validate(); err != nil {
					t.Errorf("kind %q with %v set: %v", k.Type, k.Requires, err)
				}
				for _, field := range k.Requires {
					without := spec
					setters[field](&without, "")
					if without.validate() == nil {
						t.Errorf("kind %q without %s: accepted", k.Type, field)
					}
				}
			}
			for _, typ := range cloud.OperationTypes {
				if slices.Contains(d.Types(), typ) {
					continue
				}
				spec := OperationSpec{Service: s, Type: OperationType(typ), ID: "op-1", ProjectID: "p1", ClusterID: "c1", StackID: "s1", StackName: "s1"}
				if spec.validate() == nil {
					t.Errorf("type %s accepted, the table has %v", typ, d.Types())
				}
			}
		})
	}
	for _, f := range []*jobFamily{classicJobFamily, dbJobFamily} {
		if len(f.hosts) != len(f.members) {
			t.Errorf("job family %v: host labels %v", f.members, slices.Collect(maps.Keys(f.hosts)))
		}
	}
}

func familyMembers(f *jobFamily) []Service {
	if f == nil {
		return nil
	}
	return f.members
}
