package controller

import (
	"github.com/prometheus/client_golang/prometheus"
	"sigs.k8s.io/controller-runtime/pkg/metrics"
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
)

func init() {
	metrics.Registry.MustRegister(statusWrites, observations)
}
