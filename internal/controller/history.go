package controller

import (
	"context"
	"slices"
	"sync"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"

	opsv1 "github.com/cloudop/cloudop/api/v1alpha1"
)

// historySamples is how many durations of one kind of step are kept: the
// most recent, so a service that got faster is learned within a few runs.
const historySamples = 20

// minHistorySamples is how many durations a kind of step needs before its
// median is trusted for an estimate.
const minHistorySamples = 3

// StepHistory remembers how long the steps of each service and operation
// type took when they succeeded (the service's own start and completion
// times), keyed by the same folded step names as the step-duration
// metric, so it holds at most maxStepLabels kinds per service. It lives
// in memory; HistoryLoader rebuilds it from the objects at start-up. It is
// safe for concurrent use.
type StepHistory struct {
	mu    sync.Mutex
	steps map[stepKey][]time.Duration
}

// NewStepHistory returns an empty history.
func NewStepHistory() *StepHistory {
	return &StepHistory{steps: map[stepKey][]time.Duration{}}
}

// observe records the succeeded steps among spans (finishedSpans' answer
// for one status write of obj).
func (h *StepHistory) observe(obj *opsv1.CloudOperation, spans []finishedSpan) {
	if h == nil {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, s := range spans {
		if s.step != "" && s.outcome == opsv1.PhaseSucceeded {
			h.addLocked(stepKeyOf(obj, s.step), s.duration)
		}
	}
}

// Learn records every succeeded, timed top-level step obj's status shows.
func (h *StepHistory) Learn(obj *opsv1.CloudOperation) {
	h.observe(obj, finishedSpans(&opsv1.CloudOperationStatus{}, &obj.Status))
}

func (h *StepHistory) addLocked(k stepKey, d time.Duration) {
	s := append(h.steps[k], d)
	if len(s) > historySamples {
		s = s[len(s)-historySamples:]
	}
	h.steps[k] = s
}

// typical is the median duration of a kind of step, and whether enough
// runs of it were seen.
func (h *StepHistory) typical(obj *opsv1.CloudOperation, step string) (time.Duration, bool) {
	h.mu.Lock()
	s := slices.Clone(h.steps[stepKeyOf(obj, step)])
	h.mu.Unlock()
	if len(s) < minHistorySamples {
		return 0, false
	}
	slices.Sort(s)
	return s[len(s)/2], true
}

// estimate is what the history says of a running operation: when its
// current top-level step (the first not finished) usually ends, and when
// the operation does, each step taking its typical duration after the
// one before. A step already longer than typical is expected to end one
// more typical duration after its start for each one it has overrun, so
// the estimate moves in steps rather than at every poll. ok is false when
// the operation is not running or a step left has no history yet.
func (h *StepHistory) estimate(obj *opsv1.CloudOperation, st *opsv1.CloudOperationStatus, now time.Time) (stepEnd, done time.Time, ok bool) {
	if h == nil || st.Phase.IsTerminal() || len(st.Steps) == 0 {
		return time.Time{}, time.Time{}, false
	}
	at := now
	current := true
	for _, s := range st.Steps {
		if s.Phase.IsTerminal() {
			continue
		}
		d, known := h.typical(obj, s.Name)
		if !known || d <= 0 {
			return time.Time{}, time.Time{}, false
		}
		if current && s.StartTime != nil && !s.StartTime.After(now) {
			// Whole typical durations from the step's start, past now.
			runs := now.Sub(s.StartTime.Time)/d + 1
			at = s.StartTime.Add(runs * d)
		} else {
			at = at.Add(d)
		}
		if current {
			stepEnd, current = at, false
		}
	}
	if current {
		return time.Time{}, time.Time{}, false // every step finished, the operation not yet
	}
	return stepEnd, at, true
}

// applyEstimate sets next's estimated completion time from the history
// and returns when its current step usually ends, zero when that is the
// operation's end (the last step is exempt from waiting for it: its end
// is the one waiters wait for) or unknown.
func (h *StepHistory) applyEstimate(obj *opsv1.CloudOperation, next *opsv1.CloudOperationStatus, now time.Time) time.Time {
	stepEnd, done, ok := h.estimate(obj, next, now)
	if !ok {
		next.EstimatedCompletionTime = nil
		return time.Time{}
	}
	next.EstimatedCompletionTime = &metav1.Time{Time: done.Truncate(time.Second)}
	if stepEnd.Equal(done) {
		return time.Time{}
	}
	return stepEnd
}

// HistoryLoader fills a StepHistory from the CloudOperations that exist
// when the manager starts, so estimates survive a restart. Every
// instance runs it (it only reads the cache).
type HistoryLoader struct {
	Reader  client.Reader
	History *StepHistory
}

// Start reads every CloudOperation once.
func (l *HistoryLoader) Start(ctx context.Context) error {
	var list opsv1.CloudOperationList
	if err := l.Reader.List(ctx, &list); err != nil {
		// Not fatal: estimates start from nothing, as on a new cluster.
		log.FromContext(ctx).Error(err, "rebuilding the step history")
		return nil
	}
	for i := range list.Items {
		l.History.Learn(&list.Items[i])
	}
	log.FromContext(ctx).V(1).Info("step history rebuilt", "operations", len(list.Items))
	return nil
}

// NeedLeaderElection is false: standbys keep their history warm too.
func (l *HistoryLoader) NeedLeaderElection() bool { return false }
