package cloud

import (
	"strings"
	"testing"
)

func TestValidPathSegment(t *testing.T) {
	for s, want := range map[string]bool{
		"abc": true, "SNAPSHOTTING_FAILED": true, "c:1.2-3": true,
		"": false, ".": false, "..": false, "a/b": false, `a\b`: false, "a?b": false, "a#b": false,
		"a%2Fb": false, "a b": false, "a\nb": false, "a\u00a0b": false, strings.Repeat("a", 257): false,
	} {
		if got := ValidPathSegment(s); got != want {
			t.Errorf("ValidPathSegment(%q) = %v, want %v", s, got, want)
		}
	}
	if err := RequireSegment("spec.clusterID", ""); KindOf(err) != KindPermanent || !strings.Contains(err.Error(), "spec.clusterID is required") {
		t.Errorf("got %v", err)
	}
	if err := RequireSegment("spec.stackID", "../x"); KindOf(err) != KindPermanent {
		t.Errorf("got %v", err)
	}
}

// TestRequireJob: empty or Job types pass with a project and a usable
// operation ID; anything else is a permanent error naming the field.
func TestRequireJob(t *testing.T) {
	ok := Target{Service: ServiceRDS, ProjectID: "p1", OperationID: "j1"}
	for _, typ := range []OperationType{"", OperationTypeJob} {
		ok.OperationType = typ
		if p, err := ok.RequireJob(); err != nil || p != "p1" {
			t.Errorf("%q: %q, %v", typ, p, err)
		}
	}
	for field, bad := range map[string]Target{
		"spec.operationType": {Service: ServiceECS, ProjectID: "p1", OperationID: "j1", OperationType: OperationTypeUpgradeWorkflow},
		"spec.projectID":     {Service: ServiceECS, OperationID: "j1"},
		"spec.operationID":   {Service: ServiceECS, ProjectID: "p1", OperationID: "a/b"},
	} {
		if _, err := bad.RequireJob(); KindOf(err) != KindPermanent || !strings.Contains(err.Error(), field) {
			t.Errorf("%s: got %v", field, err)
		}
	}
}

// TestRequireDeployment: an RFS target needs no operation type, a
// project, a stack name (Chinese letters allowed) and a deployment ID;
// a stack ID is checked when given.
func TestRequireDeployment(t *testing.T) {
	for _, ok := range []Target{
		{Service: ServiceRFS, ProjectID: "p1", StackName: "demo-stack_01", OperationID: "d1"},
		{Service: ServiceRFS, ProjectID: "p1", StackName: "演示栈-01", OperationID: "d1", StackID: "s1"},
	} {
		if p, err := ok.RequireDeployment(); err != nil || p != "p1" {
			t.Errorf("%+v: %q, %v", ok, p, err)
		}
	}
	for _, c := range []struct {
		field string
		bad   Target
	}{
		{"spec.operationType", Target{ProjectID: "p1", StackName: "s", OperationID: "d1", OperationType: OperationTypeJob}},
		{"spec.projectID", Target{StackName: "s", OperationID: "d1"}},
		{"spec.stackName", Target{ProjectID: "p1", OperationID: "d1"}},
		{"spec.stackName", Target{ProjectID: "p1", StackName: "a/b", OperationID: "d1"}},
		{"spec.stackName", Target{ProjectID: "p1", StackName: "演示 栈", OperationID: "d1"}},
		{"spec.stackName", Target{ProjectID: "p1", StackName: "a?b", OperationID: "d1"}},
		{"spec.stackName", Target{ProjectID: "p1", StackName: "a#b", OperationID: "d1"}},
		{"spec.stackName", Target{ProjectID: "p1", StackName: "a%2Fb", OperationID: "d1"}},
		{"spec.operationID", Target{ProjectID: "p1", StackName: "s"}},
		{"spec.operationID", Target{ProjectID: "p1", StackName: "s", OperationID: "d 1"}},
		{"spec.stackID", Target{ProjectID: "p1", StackName: "s", OperationID: "d1", StackID: "../x"}},
	} {
		if _, err := c.bad.RequireDeployment(); KindOf(err) != KindPermanent || !strings.Contains(err.Error(), c.field) {
			t.Errorf("%s %+v: got %v", c.field, c.bad, err)
		}
	}
}
