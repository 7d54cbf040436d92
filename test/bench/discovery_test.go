package main

import (
	"context"
	"testing"
	"time"

	"go.uber.org/zap/zapcore"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	opsv1 "github.com/cloudop/cloudop/api/v1alpha1"
)

// TestDiscovery runs a tiny discovery scenario with the manager in this
// process: 3 sources (two BCS blockchains, one CCE cluster), 2 operations
// each that start within the first 20 s, some of them ending (and expiring
// by TTL or history limit) before the second list. Every operation must
// be mirrored exactly once, by its source's CloudOperation, and no source
// may list more than once per interval (plus its first list).
func TestDiscovery(t *testing.T) {
	ctrl.SetLogger(zap.New(zap.Level(zapcore.ErrorLevel)))
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	res, err := runDiscovery(ctx, discoveryConfig{
		sources: 3, opsPerSource: 2, cceEvery: 3,
		interval: 30 * time.Second, spread: 20 * time.Second, minRun: 6 * time.Second, maxRun: 12 * time.Second,
		ttl: 1, okLimit: 1, failLimit: 1, seed: 1, startManager: inProcessManager(),
	})
	if err != nil {
		t.Fatal(err)
	}
	res.print()
	if res.ops != 6 || res.bcsSources != 2 || res.cceSources != 1 {
		t.Fatalf("scenario: %d operations, %d BCS and %d CCE sources", res.ops, res.bcsSources, res.cceSources)
	}
	if res.mirroredOnce != res.ops || res.missing != 0 || res.dup != 0 {
		t.Errorf("of %d operations %d mirrored exactly once, %d not at all, %d more than once", res.ops, res.mirroredOnce, res.missing, res.dup)
	}
	if res.mislabelled != 0 {
		t.Errorf("%d CloudOperations without their source's label and owner reference", res.mislabelled)
	}
	for _, svc := range []opsv1.SourceService{opsv1.SourceBCS, opsv1.SourceCCE} {
		if got, budget := res.srcListsTotal[svc], res.srcListsBudget[svc]; got == 0 || got > float64(budget) {
			t.Errorf("%s sources listed %.0f times; one per interval and the first (BCS: and the first tick) allow %d", svc, got, budget)
		}
	}
	if res.cceOverBudget != 0 {
		t.Errorf("%d CCE clusters listed more than once per interval (plus the first list)", res.cceOverBudget)
	}
}
