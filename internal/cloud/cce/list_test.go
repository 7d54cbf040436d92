package cce

import (
	"strings"
	"testing"

	"github.com/cloudop/cloudop/internal/cloud"
	"github.com/cloudop/cloudop/internal/cloud/internal/adaptertest"
)

// TestParseList: the seed's workflow inside a list answer reads as it
// does alone; items without a usable uid are skipped, and an error object
// fails the list.
func TestParseList(t *testing.T) {
	seed := adaptertest.Read(t, "002_show_upgrade_workflow_200.json")
	alone, err := Parse(seed)
	if err != nil {
		t.Fatal(err)
	}
	body := `{"kind":"List","apiVersion":"v3","items":[` + string(seed) + `,{"metadata":{"uid":"../x"}},{"metadata":{}},7]}`
	ops, err := ParseList([]byte(body))
	if err != nil {
		t.Fatal(err)
	}
	if len(ops) != 1 {
		t.Fatalf("%d workflows, want 1: %v", len(ops), ops)
	}
	for id, op := range ops {
		if !strings.Contains(string(seed), id) {
			t.Errorf("id %q is not the seed's uid", id)
		}
		if op.Phase != alone.Phase || len(op.Steps) != len(alone.Steps) || *op.Progress != *alone.Progress {
			t.Errorf("listed %+v, alone %+v", op, alone)
		}
	}
	empty, err := ParseList([]byte(`{"kind":"List","apiVersion":"v3","items":[]}`))
	if err != nil || len(empty) != 0 {
		t.Errorf("empty list: %v, %v", empty, err)
	}
	if _, err := ParseList([]byte(`{"errorCode":"CCE.01400001","errorMessage":"bad"}`)); cloud.KindOf(err) != cloud.KindTransient {
		t.Errorf("error object: %v", err)
	}
}
