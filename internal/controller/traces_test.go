package controller

import (
	"context"
	"errors"
	"testing"

	. "github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	opsv1 "github.com/cloudop/cloudop/api/v1alpha1"
)

// recordingTraces remembers what it was asked to export.
type recordingTraces struct {
	exported []opsv1.CloudOperation
	err      error
}

func (r *recordingTraces) Export(_ context.Context, obj *opsv1.CloudOperation) error {
	r.exported = append(r.exported, *obj.DeepCopy())
	return r.err
}

// TestExportTrace: an operation is exported once, by the write that ends
// its polling, with its final status; not while it runs, not when the
// service can still resume it, not again once finished.
func TestExportTrace(t *testing.T) {
	status := func(phase opsv1.Phase, reason string) opsv1.CloudOperationStatus {
		st := opsv1.CloudOperationStatus{ObservedGeneration: 1, Phase: phase}
		setConditions(&st, 1, conditionsByReason[reason], reason, "")
		return st
	}
	running := status(opsv1.PhaseRunning, opsv1.ReasonInProgress)
	succeeded := status(opsv1.PhaseSucceeded, opsv1.ReasonSucceeded)
	failed := status(opsv1.PhaseFailed, opsv1.ReasonFailed)
	resumable := status(opsv1.PhaseFailed, opsv1.ReasonResumable)
	for _, tc := range []struct {
		name       string
		prev, next opsv1.CloudOperationStatus
		exported   bool
	}{
		{"still running", running, running, false},
		{"ends", running, succeeded, true},
		{"fails", running, failed, true},
		{"fails, the service can resume it", running, resumable, false},
		{"resumable failure ends for good", resumable, failed, true},
		{"already finished", succeeded, succeeded, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := NewWithT(t)
			traces := &recordingTraces{}
			r := &CloudOperationReconciler{Traces: traces}
			obj := &opsv1.CloudOperation{ObjectMeta: metav1.ObjectMeta{Name: "op", Generation: 1}, Status: tc.prev}
			r.exportTrace(context.Background(), obj, &tc.next)
			if !tc.exported {
				g.Expect(traces.exported).To(BeEmpty())
				return
			}
			g.Expect(traces.exported).To(HaveLen(1))
			g.Expect(traces.exported[0].Status.Phase).To(Equal(tc.next.Phase), "the final status is exported")
			g.Expect(obj.Status.Phase).To(Equal(tc.prev.Phase), "the object itself is left alone")
		})
	}
	// A failed export is counted and does not stop the reconcile.
	g := NewWithT(t)
	traces := &recordingTraces{err: errors.New("collector unreachable")}
	r := &CloudOperationReconciler{Traces: traces}
	r.exportTrace(context.Background(), &opsv1.CloudOperation{ObjectMeta: metav1.ObjectMeta{Generation: 1}, Status: running}, &succeeded)
	g.Expect(traces.exported).To(HaveLen(1))
	// No exporter: nothing to do.
	(&CloudOperationReconciler{}).exportTrace(context.Background(), &opsv1.CloudOperation{Status: running}, &succeeded)
}
