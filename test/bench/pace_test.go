package main

import (
	"context"
	"testing"
	"time"

	opsv1 "github.com/cloudop/cloudop/api/v1alpha1"
)

// TestRealisticPace runs a small realistic-pace scenario: the harness
// must see every step end and every operation end (runPace fails
// otherwise), and the default policy must stay within the goal of
// three cloud calls per visible change.
func TestRealisticPace(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	res, err := runPace(ctx, 8, 1, -1, true)
	if err != nil {
		t.Fatal(err)
	}
	res.print()
	if res.cce != 4 || res.dws != 4 || res.stepEnds < 8*int(paceMinDuration/paceMaxStep) {
		t.Fatalf("scenario: %d CCE, %d DWS, %d step ends", res.cce, res.dws, res.stepEnds)
	}
	if res.visibleBySvc[opsv1.ServiceCCE] <= res.stepEndsBySvc[opsv1.ServiceCCE] {
		t.Errorf("CCE: %d visible changes for %d step ends; every step end and the start are visible", res.visibleBySvc[opsv1.ServiceCCE], res.stepEndsBySvc[opsv1.ServiceCCE])
	}
	if got := res.callsPerChange(); got > 3 {
		t.Errorf("%.2f cloud calls per visible change, goal ≤ 3", got)
	}
	// With a warmed step history, every operation has an estimate at
	// each checkpoint.
	for _, cp := range paceCheckpoints {
		if len(res.estimateErrors[cp]) != 8 || res.estimateMissing[cp] != 0 {
			t.Errorf("at %d%%: %d estimates, %d polls without one; want 8 and 0", cp, len(res.estimateErrors[cp]), res.estimateMissing[cp])
		}
	}
}
