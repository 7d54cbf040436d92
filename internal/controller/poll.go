package controller

import (
	"errors"
	"math/rand/v2"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	opsv1 "github.com/cloudop/cloudop/api/v1alpha1"
	"github.com/cloudop/cloudop/internal/cloud"
)

// PollPolicy decides when an operation is polled next. docs/polling.md
// describes the rules.
type PollPolicy struct {
	// MaxBackoff caps the wait after repeated errors.
	MaxBackoff time.Duration
	// ResumableInterval is the slow interval for failed operations that the
	// service can resume (CCE workflows in phase Pending).
	ResumableInterval time.Duration
	// AuthRetryInterval is the slow interval after the service rejected the
	// credentials: retrying faster only risks locking the access key.
	AuthRetryInterval time.Duration
	// MinInterval is the shortest wait, whatever an estimate says.
	MinInterval time.Duration
	// JitterFactor spreads polls of objects created together: a wait d
	// becomes d + Random()·JitterFactor·d.
	JitterFactor float64
	// Random draws the jitter and spread, uniform in [0, 1); nil means
	// math/rand/v2's Float64. Tests inject a fixed source. It is called
	// from every reconcile worker, so it must be safe for concurrent use.
	Random func() float64
	// QuietFactor and MaxQuietInterval back off long-quiet operations: one
	// whose state has not changed for longer than QuietFactor intervals is
	// polled every quiet time / QuietFactor, up to MaxQuietInterval. A
	// change after a long quiet stretch is thus seen at most a
	// 1/QuietFactor share of that stretch late. Zero turns this off.
	QuietFactor      int
	MaxQuietInterval time.Duration
	// StepPaceFactor skips the polls early in a step: when a poll sees a
	// step end and the operation's finished steps took S on average, the
	// next poll waits StepPaceFactor·S (capped by MaxQuietInterval), if
	// that is longer than the interval. A step much shorter than the
	// ones before it is then seen up to that long late, the price of
	// fewer calls on long operations. The last step is exempt: its end
	// is the operation's, which waiters (kubectl wait, Flux) wait for.
	// Zero turns this off.
	StepPaceFactor float64
	// AlignSpread is how far past a shared tick the polls of services that
	// serve many operations with one list call are spread (AlignedPolls in
	// the service table). The manager refuses a spread longer than the
	// adapter's list window (--bcs-list-window), within which one call
	// serves them all.
	AlignSpread time.Duration
}

// DefaultPollPolicy is the policy the manager uses unless flags say
// otherwise.
func DefaultPollPolicy() PollPolicy {
	return PollPolicy{
		MaxBackoff:        10 * time.Minute,
		ResumableInterval: 5 * time.Minute,
		AuthRetryInterval: 2 * time.Minute,
		MinInterval:       5 * time.Second,
		JitterFactor:      0.1,
		QuietFactor:       4,
		MaxQuietInterval:  5 * time.Minute,
		StepPaceFactor:    0.75,
		AlignSpread:       2 * time.Second,
	}
}

// NextPoll returns how long to wait before the next poll, and false when
// the operation needs no more polls. obj is the object as this reconcile
// read it (its status is the previous one), next what computeStatus derived
// from obs, and failures counts consecutive failed observations, including
// this one.
func (p PollPolicy) NextPoll(obj *opsv1.CloudOperation, next derivedStatus, obs observation, failures int) (time.Duration, bool) {
	interval := obj.GetPollInterval()
	if obs.err != nil {
		return p.afterError(next, obs.err, interval, failures)
	}
	op := obs.op
	estimate := op.EstimatedRemaining
	if estimate <= 0 {
		estimate = progressETA(&obj.Status, &next.status, obs.now)
	}
	switch {
	case op.Phase == cloud.PhaseFailed && op.Resumable:
		return p.jitter(max(p.ResumableInterval, interval)), true
	case op.Phase.IsTerminal():
		return 0, false
	case estimate > 0 && estimate < interval:
		// Poll near the expected completion (the service's own estimate or
		// the pace of its progress) rather than a full interval later.
		return max(estimate, p.MinInterval), true
	}
	wait := max(p.quietWait(interval, next.status.LastChangeTime, obs.now), p.stepPaceWait(&obj.Status, &next.status, interval), p.learnedStepWait(next.stepEnd, obs.now, interval))
	if alignsPolls(obj) && p.AlignSpread > 0 {
		// Stay on the shared ticks, skipping whole intervals while quiet.
		return p.aligned(interval, obs.now) + (wait - interval).Truncate(interval), true
	}
	return p.jitter(wait), true
}

// quietWait is the interval, lengthened for an operation whose state last
// changed long ago.
func (p PollPolicy) quietWait(interval time.Duration, lastChange *metav1.Time, now time.Time) time.Duration {
	if p.QuietFactor <= 0 || p.MaxQuietInterval <= interval || lastChange == nil {
		return interval
	}
	quiet := now.Sub(lastChange.Time)
	return min(max(quiet/time.Duration(p.QuietFactor), interval), p.MaxQuietInterval)
}

// stepPaceWait is the wait after a poll that saw a step end, from the
// pace of the operation's finished steps (StepPaceFactor); zero when that
// rule does not apply.
func (p PollPolicy) stepPaceWait(prev, next *opsv1.CloudOperationStatus, interval time.Duration) time.Duration {
	before, after := leafSteps(prev), leafSteps(next)
	if after.finished <= before.finished || after.left <= 1 || after.timed == 0 {
		return 0 // no step ended just now, or the last one is running
	}
	return p.paceWait(after.took/time.Duration(after.timed), interval)
}

// learnedStepWait places the next poll near where the current step
// usually ends (StepHistory): StepPaceFactor of the time left to its
// typical end, as paceWait bounds it, so a step that usually takes eight
// minutes is polled a few times rather than sixteen. Zero when the end is
// unknown or the rule is off; the interval applies then.
func (p PollPolicy) learnedStepWait(stepEnd, now time.Time, interval time.Duration) time.Duration {
	if stepEnd.IsZero() || !stepEnd.After(now) {
		return 0
	}
	return p.paceWait(stepEnd.Sub(now), interval)
}

// paceWait is StepPaceFactor of d when that is longer than the interval,
// capped by MaxQuietInterval (so 0 there turns rule 5 off with the quiet
// backoff, as the flag says); zero otherwise.
func (p PollPolicy) paceWait(d, interval time.Duration) time.Duration {
	if p.StepPaceFactor <= 0 {
		return 0
	}
	wait := time.Duration(p.StepPaceFactor * float64(d))
	if wait <= interval {
		return 0
	}
	return min(wait, max(p.MaxQuietInterval, interval))
}

// stepProgress counts an operation's leaf steps (steps without sub-steps,
// and sub-steps).
type stepProgress struct {
	finished int           // leaf steps that succeeded
	left     int           // leaf steps that have not
	timed    int           // finished leaf steps with a start and a completion time
	took     time.Duration // the timed steps' durations together
}

// leafSteps counts the leaf steps of a status and times the finished ones.
func leafSteps(st *opsv1.CloudOperationStatus) stepProgress {
	var sp stepProgress
	count := func(s *opsv1.StepStatus) {
		if s.Phase != opsv1.PhaseSucceeded {
			sp.left++
			return
		}
		sp.finished++
		if s.StartTime != nil && s.CompletionTime != nil && s.CompletionTime.After(s.StartTime.Time) {
			sp.timed++
			sp.took += s.CompletionTime.Sub(s.StartTime.Time)
		}
	}
	for i := range st.Steps {
		if len(st.Steps[i].SubSteps) == 0 {
			count(&st.Steps[i].StepStatus)
			continue
		}
		for j := range st.Steps[i].SubSteps {
			count(&st.Steps[i].SubSteps[j])
		}
	}
	return sp
}

// FirstPollWait is how long a new operation waits before its first poll:
// zero, except for services whose polls are aligned to shared ticks
// (alignsPolls), which first poll at the tick after their creation, so
// one list call serves all their operations from the very first poll.
// Their initial status is written at once all the same.
func (p PollPolicy) FirstPollWait(obj *opsv1.CloudOperation, now time.Time) time.Duration {
	if !alignsPolls(obj) || p.AlignSpread <= 0 || obj.Status.Phase != "" || obj.Status.LastChangeTime != nil {
		return 0
	}
	interval := obj.GetPollInterval()
	tick := obj.CreationTimestamp.Truncate(interval).Add(interval)
	if !now.Before(tick) {
		return 0
	}
	return tick.Sub(now) + p.spread()
}

// alignsPolls reports whether obj's service aligns its polls to shared
// ticks, as the service table says (cloud.Descriptor.AlignedPolls).
func alignsPolls(obj *opsv1.CloudOperation) bool {
	d, ok := cloud.Describe(cloudService(obj.Spec.Service))
	return ok && d.AlignedPolls
}

// aligned waits until the next multiple of the interval on the wall clock,
// plus a little spread: every operation of an aligned service with the
// same interval then polls within the same few seconds, and one list call
// serves them all.
func (p PollPolicy) aligned(interval time.Duration, now time.Time) time.Duration {
	wait := interval - time.Duration(now.UnixNano()%int64(interval))
	if wait < p.MinInterval {
		wait += interval
	}
	return wait + p.spread()
}

// spread is a random offset within AlignSpread, so polls aligned to one
// tick do not all arrive in the same instant.
func (p PollPolicy) spread() time.Duration {
	if p.JitterFactor <= 0 || p.AlignSpread <= 0 {
		return 0
	}
	return time.Duration(p.random() * float64(p.AlignSpread))
}

// deferral is the wait after our own rate limiter deferred a call.
func (p PollPolicy) deferral(err error) time.Duration {
	var ce *cloud.Error
	if errors.As(err, &ce) && ce.RetryAfter > 0 {
		return p.jitter(ce.RetryAfter)
	}
	return p.jitter(p.MinInterval)
}

// afterError is the wait after a failed observation, by the reason
// computeStatus reported it with.
func (p PollPolicy) afterError(next derivedStatus, err error, interval time.Duration, failures int) (time.Duration, bool) {
	if next.status.Phase.IsTerminal() {
		// Only resumable workflows are polled after a terminal phase.
		return p.jitter(max(p.ResumableInterval, interval)), true
	}
	if next.stalled {
		return 0, false
	}
	switch next.errorReason {
	case opsv1.ReasonAuthFailed, opsv1.ReasonIdentityRejected:
		return p.jitter(max(p.AuthRetryInterval, interval)), true
	case opsv1.ReasonCredentialsInvalid, opsv1.ReasonIdentityInvalid, opsv1.ReasonNotFound:
		return p.jitter(interval), true
	case opsv1.ReasonThrottled, opsv1.ReasonIdentityUnavailable:
		// The service or IAM throttled and said when to come back (an
		// identity error carries IAM's classified answer as its cause).
		var ce *cloud.Error
		if errors.As(err, &ce) && ce.RetryAfter > 0 {
			return max(ce.RetryAfter, p.backoff(interval, failures)), true
		}
	}
	return p.jitter(p.backoff(interval, failures)), true
}

// backoff doubles the interval for each consecutive failure, up to the cap.
func (p PollPolicy) backoff(interval time.Duration, failures int) time.Duration {
	d := interval
	for i := 1; i < failures && d < p.MaxBackoff; i++ {
		d *= 2
	}
	return min(d, max(p.MaxBackoff, interval))
}

// jitter lengthens d by up to JitterFactor of itself.
func (p PollPolicy) jitter(d time.Duration) time.Duration {
	if p.JitterFactor <= 0 {
		return d
	}
	return d + time.Duration(p.random()*p.JitterFactor*float64(d))
}

func (p PollPolicy) random() float64 {
	if p.Random != nil {
		return p.Random()
	}
	return rand.Float64()
}
