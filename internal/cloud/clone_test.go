package cloud

import (
	"testing"
	"time"
)

// TestOperationClone: a clone shares no memory with the original.
func TestOperationClone(t *testing.T) {
	now := time.Date(2024, 3, 5, 6, 7, 8, 0, time.UTC)
	p := int32(5)
	op := &Operation{
		Phase: PhaseRunning, Progress: &p, StartTime: &now, UnknownStatuses: []string{"x"},
		Resources: []Resource{{Type: "server", ID: "s1"}},
		Steps:     []Step{{Name: "a", StartTime: &now, SubSteps: []Step{{Name: "b", CompletionTime: &now}}}},
	}
	c := op.Clone()
	*c.Progress = 9
	*c.StartTime = now.Add(time.Hour)
	c.UnknownStatuses[0] = "y"
	c.Resources[0].ID = "s2"
	c.Steps[0].Name = "z"
	*c.Steps[0].SubSteps[0].CompletionTime = now.Add(time.Hour)
	if *op.Progress != 5 || !op.StartTime.Equal(now) || op.UnknownStatuses[0] != "x" || op.Resources[0].ID != "s1" || op.Steps[0].Name != "a" ||
		!op.Steps[0].SubSteps[0].CompletionTime.Equal(now) {
		t.Errorf("original changed: %+v", op)
	}
	if (*Operation)(nil).Clone() != nil {
		t.Error("nil clone")
	}
}

func TestAddResource(t *testing.T) {
	op := &Operation{}
	op.AddResource("server", " s1 ")
	op.AddResource("server", "s1")
	op.AddResource("volume", "")
	op.AddResource("volume", "v1")
	want := []Resource{{Type: "server", ID: "s1"}, {Type: "volume", ID: "v1"}}
	if len(op.Resources) != len(want) || op.Resources[0] != want[0] || op.Resources[1] != want[1] {
		t.Errorf("resources %+v, want %+v", op.Resources, want)
	}
}
