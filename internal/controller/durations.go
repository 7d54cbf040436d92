package controller

import (
	"regexp"
	"strings"
	"sync"
	"time"
	"unicode"

	"github.com/prometheus/client_golang/prometheus"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/metrics"

	opsv1 "github.com/cloudop/cloudop/api/v1alpha1"
)

// durationBuckets span a VPC job's seconds to a warehouse restore's hours.
var durationBuckets = []float64{5, 15, 30, 60, 120, 300, 600, 1200, 1800, 3600, 7200, 14400, 28800, 57600}

// How long operations and their steps take, as the service timed them
// (its start and completion times, not when cloudop saw them).
var (
	operationDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "cloudop_operation_duration_seconds",
		Help:    "Duration of finished operations from the start to the completion time their service reports, by service, operation type and outcome (the final phase).",
		Buckets: durationBuckets,
	}, []string{"service", "operation_type", "outcome"})
	stepDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "cloudop_step_duration_seconds",
		Help:    "Duration of finished top-level steps from the start to the completion time their service reports, by service, operation type, step (names that carry IDs folded into \"other\", at most 50 per service) and outcome.",
		Buckets: durationBuckets,
	}, []string{"service", "operation_type", "step", "outcome"})
)

// traceExports counts the traces of finished operations sent to the
// OTLP endpoint, by result.
var traceExports = prometheus.NewCounterVec(prometheus.CounterOpts{
	Name: "cloudop_trace_exports_total",
	Help: "Finished operations exported as OTLP traces, by result (ok or error).",
}, []string{"result"})

func init() {
	metrics.Registry.MustRegister(operationDuration, stepDuration, traceExports)
}

// finishedSpan is one duration a status write completes: the operation's
// (step empty) or a top-level step's.
type finishedSpan struct {
	step     string
	outcome  opsv1.Phase
	duration time.Duration
}

// finishedSpans returns the durations the write from prev to next
// completes: the operation's if this write ends it, and each top-level
// step's that this write shows finished. Spans without both times, or
// with the end before the start (clock trouble at the service), are left
// out. Only the write that ends a span reports it, so a span is counted
// once per process; a restart between the write and the count loses it
// rather than counting it twice.
func finishedSpans(prev, next *opsv1.CloudOperationStatus) []finishedSpan {
	var out []finishedSpan
	if !prev.Phase.IsTerminal() && next.Phase.IsTerminal() {
		if d, ok := spanOf(next.StartTime, next.CompletionTime); ok {
			out = append(out, finishedSpan{outcome: next.Phase, duration: d})
		}
	}
	before := stepPhases(prev.Steps)
	for _, s := range next.Steps {
		if !s.Phase.IsTerminal() || before[s.Name].IsTerminal() {
			continue
		}
		if d, ok := spanOf(s.StartTime, s.CompletionTime); ok {
			out = append(out, finishedSpan{step: s.Name, outcome: s.Phase, duration: d})
		}
	}
	return out
}

func spanOf(start, end *metav1.Time) (time.Duration, bool) {
	if start == nil || end == nil || end.Before(start) {
		return 0, false
	}
	return end.Sub(start.Time), true
}

// observeDurations records the spans a status write completed
// (finishedSpans).
func observeDurations(obj *opsv1.CloudOperation, spans []finishedSpan) {
	service, typ := string(obj.Spec.Service), string(obj.Spec.OperationType)
	for _, s := range spans {
		if s.step == "" {
			operationDuration.WithLabelValues(service, typ, string(s.outcome)).Observe(s.duration.Seconds())
			continue
		}
		stepDuration.WithLabelValues(service, typ, stepLabels.label(service, s.step), string(s.outcome)).Observe(s.duration.Seconds())
	}
}

// maxStepLabels bounds the step label values per service.
const maxStepLabels = 50

// foldedStep is the step label of the names that cannot be labels.
const foldedStep = "other"

// hexWord matches a word of hex digits only.
var hexWord = regexp.MustCompile(`^[0-9A-Fa-f]+$`)

// stepLabelSet hands out step label values, at most maxStepLabels per
// service; names past the bound, names that carry an ID and free text
// become "other".
type stepLabelSet struct {
	mu   sync.Mutex
	seen map[string]map[string]bool
}

var stepLabels = &stepLabelSet{seen: map[string]map[string]bool{}}

func (l *stepLabelSet) label(service, name string) string {
	name = stepKind(name)
	if name == foldedStep {
		return name
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	names := l.seen[service]
	if names == nil {
		names = map[string]bool{}
		l.seen[service] = names
	}
	if !names[name] {
		if len(names) >= maxStepLabels {
			return foldedStep
		}
		names[name] = true
	}
	return name
}

// stepKind is a step name without what identifies one instance: a
// trailing parenthesis (a job's resource, "createPublicip (publicip
// 467b…)") is cut; a name that still carries an ID, or reads as free text
// (long, or more than three words), is folded.
func stepKind(name string) string {
	if i := strings.Index(name, " ("); i > 0 && strings.HasSuffix(name, ")") {
		name = name[:i]
	}
	name = strings.TrimSpace(name)
	if name == "" || len(name) > 48 || len(strings.Fields(name)) > 3 || hasID(name) {
		return foldedStep
	}
	return name
}

// hasID reports whether name carries what makes a step an instance
// rather than a kind of step: four digits or more (serials, dates, IPs),
// or a word of eight hex digits or more with a digit (UUIDs, resource
// IDs).
func hasID(name string) bool {
	digits := 0
	for _, r := range name {
		if r >= '0' && r <= '9' {
			digits++
		}
	}
	if digits >= 4 {
		return true
	}
	notAlnum := func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) }
	for _, w := range strings.FieldsFunc(name, notAlnum) {
		if len(w) >= 8 && hexWord.MatchString(w) && strings.ContainsAny(w, "0123456789") {
			return true
		}
	}
	return false
}
