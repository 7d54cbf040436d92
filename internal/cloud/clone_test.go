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
		Steps: []Step{{Name: "a", StartTime: &now, SubSteps: []Step{{Name: "b", CompletionTime: &now}}}},
	}
	c := op.Clone()
	*c.Progress = 9
	*c.StartTime = now.Add(time.Hour)
	c.UnknownStatuses[0] = "y"
	c.Steps[0].Name = "z"
	*c.Steps[0].SubSteps[0].CompletionTime = now.Add(time.Hour)
	if *op.Progress != 5 || !op.StartTime.Equal(now) || op.UnknownStatuses[0] != "x" || op.Steps[0].Name != "a" ||
		!op.Steps[0].SubSteps[0].CompletionTime.Equal(now) {
		t.Errorf("original changed: %+v", op)
	}
	if (*Operation)(nil).Clone() != nil {
		t.Error("nil clone")
	}
}
