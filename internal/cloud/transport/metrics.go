package transport

import (
	"strconv"

	"github.com/prometheus/client_golang/prometheus"
	"sigs.k8s.io/controller-runtime/pkg/metrics"

	"github.com/cloudop/cloudop/internal/cloud"
)

// Cloud API metrics, served by the manager's metrics endpoint.
// docs/engine.md lists them. Labels never carry credentials, projects or
// operation IDs: service is one of a handful of names and code an HTTP
// status.
var (
	requestsTotal = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "cloudop_cloud_requests_total",
		Help: "HTTP requests sent to cloud APIs, by service and HTTP status code (\"error\" when no response was received).",
	}, []string{"service", "code"})
	requestDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "cloudop_cloud_request_duration_seconds",
		Help:    "Duration of cloud API requests (the HTTP exchange, not the rate-limit wait), by service.",
		Buckets: []float64{0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 15, 30},
	}, []string{"service"})
	throttledWaits = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "cloudop_cloud_throttled_waits_total",
		Help: "Requests the client-side rate limiter delayed or deferred (no token at once, or the bucket paused after throttling), by service.",
	}, []string{"service"})
	throttledWaitSeconds = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "cloudop_cloud_throttled_wait_seconds_total",
		Help: "Time requests spent waiting for the client-side rate limiter, by service.",
	}, []string{"service"})
	deferredRequests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "cloudop_cloud_deferred_total",
		Help: "Requests not sent because no rate-limit token was available within the maximum wait; the caller retries later. By service.",
	}, []string{"service"})
	coalescedTotal = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "cloudop_cloud_coalesced_total",
		Help: "Observations served without an HTTP request of their own (an identical in-flight request, or a cached BCS operation list), by service.",
	}, []string{"service"})
)

// Registered once, when the package is first imported; a test binary
// importing it from several packages still runs this once.
func init() {
	metrics.Registry.MustRegister(requestsTotal, requestDuration, throttledWaits, throttledWaitSeconds, deferredRequests, coalescedTotal)
}

// InitServiceMetrics creates the per-service counters of each service at
// zero. A counter child exists only once used, so without this a service
// that was never throttled, deferred or coalesced has no series at all:
// rate() over it is empty instead of 0, and the chart's alerts and
// dashboard could not tell "none" from "not scraped".
func InitServiceMetrics(services ...cloud.Service) {
	for _, s := range services {
		l := serviceLabel(s)
		throttledWaits.WithLabelValues(l)
		throttledWaitSeconds.WithLabelValues(l)
		deferredRequests.WithLabelValues(l)
		coalescedTotal.WithLabelValues(l)
	}
}

// CountCoalesced adds n to cloudop_cloud_coalesced_total for s. Adapters
// that serve observations from a shared answer (the BCS list cache) call
// it; HTTPClient counts its own coalesced requests.
func CountCoalesced(s cloud.Service, n int) {
	if n > 0 {
		coalescedTotal.WithLabelValues(serviceLabel(s)).Add(float64(n))
	}
}

// serviceLabel is the metrics label for s.
func serviceLabel(s cloud.Service) string {
	if s == "" {
		return "unknown"
	}
	return string(s)
}

// codeLabel is the code label for an HTTP status; 0 (no response) is
// "error".
func codeLabel(status int) string {
	if status == 0 {
		return "error"
	}
	return strconv.Itoa(status)
}
