package manager

import (
	"github.com/prometheus/client_golang/prometheus"
	"sigs.k8s.io/controller-runtime/pkg/metrics"

	"github.com/cloudop/cloudop/internal/version"
)

// buildInfo is cloudop_build_info{version,commit,goversion} 1: which build
// serves this /metrics (join it on instance to label other series).
var buildInfo = newBuildInfo(version.Get())

func newBuildInfo(i version.Info) prometheus.Gauge {
	g := prometheus.NewGauge(prometheus.GaugeOpts{
		Name:        "cloudop_build_info",
		Help:        "Always 1; the labels name the running build's version, commit and Go version.",
		ConstLabels: prometheus.Labels{"version": i.Version, "commit": i.Commit, "goversion": i.GoVersion},
	})
	g.Set(1)
	return g
}

// Registered once per process, like the controller's collectors.
func init() {
	metrics.Registry.MustRegister(buildInfo)
}
