package controller

import (
	"testing"
	"time"

	. "github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	opsv1 "github.com/cloudop/cloudop/api/v1alpha1"
)

// TestDetectedAfter: detection latency is counted once, on the write that
// turns an operation terminal, from the completion time its service
// reported.
func TestDetectedAfter(t *testing.T) {
	now := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	done := func(ago time.Duration) *metav1.Time { t := metav1.NewTime(now.Add(-ago)); return &t }
	for _, tc := range []struct {
		name       string
		prev, next opsv1.CloudOperationStatus
		want       time.Duration
		ok         bool
	}{
		{"running to succeeded", opsv1.CloudOperationStatus{Phase: opsv1.PhaseRunning},
			opsv1.CloudOperationStatus{Phase: opsv1.PhaseSucceeded, CompletionTime: done(7 * time.Second)}, 7 * time.Second, true},
		{"first status already failed", opsv1.CloudOperationStatus{},
			opsv1.CloudOperationStatus{Phase: opsv1.PhaseFailed, CompletionTime: done(time.Minute)}, time.Minute, true},
		{"cloud clock ahead counts as 0", opsv1.CloudOperationStatus{Phase: opsv1.PhaseRunning},
			opsv1.CloudOperationStatus{Phase: opsv1.PhaseCancelled, CompletionTime: done(-3 * time.Second)}, 0, true},
		{"no completion time reported", opsv1.CloudOperationStatus{Phase: opsv1.PhaseRunning},
			opsv1.CloudOperationStatus{Phase: opsv1.PhaseSucceeded}, 0, false},
		{"already terminal", opsv1.CloudOperationStatus{Phase: opsv1.PhaseSucceeded},
			opsv1.CloudOperationStatus{Phase: opsv1.PhaseSucceeded, CompletionTime: done(time.Hour)}, 0, false},
		{"still running", opsv1.CloudOperationStatus{Phase: opsv1.PhasePending},
			opsv1.CloudOperationStatus{Phase: opsv1.PhaseRunning, CompletionTime: done(time.Second)}, 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := NewWithT(t)
			got, ok := detectedAfter(&tc.prev, &tc.next, now)
			g.Expect(got).To(Equal(tc.want), "latency")
			g.Expect(ok).To(Equal(tc.ok), "counted")
		})
	}
}
