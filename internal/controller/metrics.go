package controller

import (
	"context"
	"time"

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
	detectionLatency = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name: "cloudop_detection_latency_seconds",
		Help: "Time from an operation's completion, as its service reports it, to the status write that shows it terminal. Operations whose service reports no completion time are not counted.",
		// Around the poll intervals: 5 s (the minimum) to the 5 min quiet
		// interval, and beyond for backoff.
		Buckets: []float64{1, 2.5, 5, 10, 15, 30, 45, 60, 90, 120, 300, 600},
	})
	expiredTotal = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "cloudop_operations_expired_total",
		Help: "Finished CloudOperations deleted because their ttlSecondsAfterFinished passed.",
	})
)

func init() {
	metrics.Registry.MustRegister(statusWrites, observations, eventsRecorded, detectionLatency, expiredTotal)
}

// detectedAfter is how long after the service's reported completion a
// status write from prev to next shows the operation terminal at now; ok
// is false unless this write is the one that ends it and the service
// reported when. Clock skew between the cloud and the cluster can put the
// completion after now: that counts as 0.
func detectedAfter(prev, next *opsv1.CloudOperationStatus, now time.Time) (d time.Duration, ok bool) {
	if prev.Phase.IsTerminal() || !next.Phase.IsTerminal() || next.CompletionTime == nil {
		return 0, false
	}
	return max(now.Sub(next.CompletionTime.Time), 0), true
}

// PhaseCollector reports, read from the manager's cache at scrape time
// (no bookkeeping on the hot path), how many CloudOperations are in each
// phase and how long the oldest running step of each kind has run.
type PhaseCollector struct {
	// Reader lists CloudOperations; the manager's cached client.
	Reader client.Reader
	// Now is the clock the step ages are read against; nil is time.Now.
	Now func() time.Time
}

var (
	phaseDesc          = prometheus.NewDesc("cloudop_operations", "CloudOperations by phase (\"New\" before the first poll).", []string{"phase"}, nil)
	runningStepAgeDesc = prometheus.NewDesc("cloudop_running_step_age_seconds",
		"How long the oldest running top-level step of each kind has run, from the start time its service reports to the scrape, by service, operation type and step (labelled as cloudop_step_duration_seconds labels it). No series while no step of the kind runs.",
		[]string{"service", "operation_type", "step"}, nil)
)

// Describe implements prometheus.Collector.
func (c PhaseCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- phaseDesc
	ch <- runningStepAgeDesc
}

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
	now := time.Now
	if c.Now != nil {
		now = c.Now
	}
	for k, age := range runningStepAges(list.Items, now(), stepLabels.label) {
		ch <- prometheus.MustNewConstMetric(runningStepAgeDesc, prometheus.GaugeValue, age.Seconds(), k.service, k.operationType, k.step)
	}
}

// stepKey is one kind of step: service, operation type and the step's
// label in cloudop_step_duration_seconds. It keys a series of
// cloudop_running_step_age_seconds and a StepHistory entry.
type stepKey struct{ service, operationType, step string }

// stepKeyOf is the kind of step name of obj's service and type.
func stepKeyOf(obj *opsv1.CloudOperation, name string) stepKey {
	service := string(obj.Spec.Service)
	return stepKey{service, string(obj.Spec.OperationType), stepLabels.label(service, name)}
}

// runningStepAges returns, for each kind of step (service, operation type
// and the step label label gives, the one cloudop_step_duration_seconds
// uses, so the two join), the age at now of the oldest top-level step that
// runs: phase Running with a start time, in an operation that has not
// ended. A start after now (the cloud's clock ahead) counts as 0. The
// kinds are as bounded as the histogram's: at most maxStepLabels step
// labels and "other" per service.
func runningStepAges(items []opsv1.CloudOperation, now time.Time, label func(service, step string) string) map[stepKey]time.Duration {
	ages := map[stepKey]time.Duration{}
	for i := range items {
		op := &items[i]
		if op.Status.Phase.IsTerminal() {
			continue
		}
		service := string(op.Spec.Service)
		for _, s := range op.Status.Steps {
			if s.Phase != opsv1.PhaseRunning || s.StartTime == nil {
				continue
			}
			k := stepKey{service, string(op.Spec.OperationType), label(service, s.Name)}
			age := max(now.Sub(s.StartTime.Time), 0)
			if old, ok := ages[k]; !ok || age > old {
				ages[k] = age
			}
		}
	}
	return ages
}
