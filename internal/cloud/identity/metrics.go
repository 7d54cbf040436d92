package identity

import (
	"github.com/prometheus/client_golang/prometheus"
	"sigs.k8s.io/controller-runtime/pkg/metrics"
)

// Results of an exchange, the values of the result label.
const (
	resultOK          = "ok"
	resultRateLimited = "rate_limited"
)

// exchanges counts attempts to obtain temporary credentials (TokenRequest
// then IAM), so a tenant driving them up is visible before IAM throttles.
var exchanges = prometheus.NewCounterVec(prometheus.CounterOpts{
	Name: "cloudop_identity_exchanges_total",
	Help: "Workload identity exchanges (ServiceAccount token for temporary credentials at IAM), by result: ok, rejected, invalid, unavailable, rate_limited (the manager's own limit; nothing was sent).",
}, []string{"result"})

func init() {
	metrics.Registry.MustRegister(exchanges)
	for _, r := range []string{resultOK, resultRateLimited, "rejected", "invalid", "unavailable"} {
		exchanges.WithLabelValues(r)
	}
}

// resultLabel is the result label of a failed exchange.
func resultLabel(err error) string {
	kind, ok := KindOf(err)
	switch {
	case !ok:
		return "unavailable"
	case kind == KindRejected:
		return "rejected"
	case kind == KindInvalid:
		return "invalid"
	}
	return "unavailable"
}
