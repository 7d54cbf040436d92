package controller

import (
	"context"

	"github.com/prometheus/client_golang/prometheus"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/metrics"

	opsv1 "github.com/cloudop/cloudop/api/v1alpha1"
)

// Metrics served on the manager's /metrics endpoint.
var (
	statusWrites = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "cloudop_status_writes_total",
		Help: "Status patches sent to the API server (only when something visible changed).",
	})
	observations = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "cloudop_observations_total",
		Help: "Polls of cloud operations by service and result (ok or the error kind).",
	}, []string{"service", "result"})
	eventsRecorded = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "cloudop_events_total",
		Help: "Transition events by result: created, exists (announced before a restart or retry) or refused.",
	}, []string{"result"})
)

func init() {
	metrics.Registry.MustRegister(statusWrites, observations, eventsRecorded)
}

// PhaseCollector reports how many CloudOperations are in each phase, read
// from the manager's cache at scrape time (no bookkeeping on the hot path).
type PhaseCollector struct {
	// Reader lists CloudOperations; the manager's cached client.
	Reader client.Reader
}

var phaseDesc = prometheus.NewDesc("cloudop_operations", "CloudOperations by phase (\"New\" before the first poll).", []string{"phase"}, nil)

// Describe implements prometheus.Collector.
func (c PhaseCollector) Describe(ch chan<- *prometheus.Desc) { ch <- phaseDesc }

// Collect implements prometheus.Collector.
func (c PhaseCollector) Collect(ch chan<- prometheus.Metric) {
	var list opsv1.CloudOperationList
	if err := c.Reader.List(context.Background(), &list); err != nil {
		return
	}
	counts := map[string]int{}
	for _, p := range []opsv1.Phase{opsv1.PhasePending, opsv1.PhaseRunning, opsv1.PhaseSucceeded, opsv1.PhaseFailed, opsv1.PhaseCancelled, opsv1.PhaseUnknown} {
		counts[string(p)] = 0
	}
	counts["New"] = 0
	for i := range list.Items {
		phase := string(list.Items[i].Status.Phase)
		if phase == "" {
			phase = "New"
		}
		counts[phase]++
	}
	for phase, n := range counts {
		ch <- prometheus.MustNewConstMetric(phaseDesc, prometheus.GaugeValue, float64(n), phase)
	}
}
