package transport

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/cloudop/cloudop/internal/cloud"
)

// TestInitServiceMetrics: each initialized service gets one zero series
// per per-service counter before any request; initializing again adds
// none.
func TestInitServiceMetrics(t *testing.T) {
	counters := map[string]*prometheus.CounterVec{
		"throttled waits": throttledWaits, "throttled wait seconds": throttledWaitSeconds,
		"deferred": deferredRequests, "coalesced": coalescedTotal,
	}
	before := map[string]int{}
	for name, c := range counters {
		before[name] = testutil.CollectAndCount(c)
	}
	InitServiceMetrics("TEST-INIT-A", "TEST-INIT-B")
	InitServiceMetrics(cloud.Service("TEST-INIT-A"))
	for name, c := range counters {
		if got := testutil.CollectAndCount(c) - before[name]; got != 2 {
			t.Errorf("%s: %d new series, want 2 (one per service)", name, got)
		}
		if v := testutil.ToFloat64(c.WithLabelValues("TEST-INIT-B")); v != 0 {
			t.Errorf("%s: initialized counter = %v, want 0", name, v)
		}
	}
}
