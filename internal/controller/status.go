package controller

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	opsv1 "github.com/cloudop/cloudop/api/v1alpha1"
	"github.com/cloudop/cloudop/internal/cloud"
	"github.com/cloudop/cloudop/internal/cloud/identity"
)

// notFoundGraceTime is how long a service may not know an operation before
// the object stalls: services list a just-started operation with a delay.
const notFoundGraceTime = 2 * time.Minute

// observation is what one poll learned: an operation or an error, and when.
type observation struct {
	op  *cloud.Operation
	err error
	// now is the time of the observation.
	now time.Time
	// pollRequest is the requested-poll annotation this poll answers; the
	// status records it as handled.
	pollRequest string
}

// derivedStatus is what computeStatus decided from one observation.
type derivedStatus struct {
	// status is the next status to write.
	status opsv1.CloudOperationStatus
	// errorReason is the condition reason a failed observation is reported
	// with; empty after a successful one.
	errorReason string
	// stalled says a failed observation will not succeed as configured:
	// polling stops until the spec changes.
	stalled bool
	// stepEnd is when the current step usually ends (StepHistory), zero
	// when unknown or when it is the last step.
	stepEnd time.Time
}

// unknownWords are the service's status words the adapter could not map.
func (o observation) unknownWords() []string {
	if o.op == nil {
		return nil
	}
	return o.op.UnknownStatuses
}

// initialStatus is written when an object's first poll is deferred (an
// aligned BCS tick, a rate-limit token), so it says why nothing is known
// yet.
func initialStatus(obj *opsv1.CloudOperation) opsv1.CloudOperationStatus {
	st := *obj.Status.DeepCopy()
	st.ObservedGeneration = obj.Generation
	setConditions(&st, obj.Generation, conditionsByReason[opsv1.ReasonProgressing], opsv1.ReasonProgressing, "waiting for the first poll of the operation")
	return st
}

// needsInitialStatus reports whether the object has never been given a
// status for its current generation.
func needsInitialStatus(obj *opsv1.CloudOperation) bool {
	return len(obj.Status.Conditions) == 0
}

// computeStatus derives the next status from the previous one and an
// observation. It is pure: the same inputs give the same result.
//
// A failed observation never changes the phase, steps or progress already
// observed; it only explains itself in conditions and message.
func computeStatus(obj *opsv1.CloudOperation, obs observation) derivedStatus {
	st := *obj.Status.DeepCopy()
	gen := obj.Generation
	st.ObservedGeneration = gen
	st.LastHandledPollRequest = obs.pollRequest

	if obs.err != nil {
		reason, stalled := errorReason(obj, obs)
		applyError(&st, gen, reason, stalled, obs.err)
		return derivedStatus{status: st, errorReason: reason, stalled: stalled}
	}
	op := obs.op
	st.Phase = apiPhase(op.Phase)
	st.ServiceStatus = truncate(op.ServiceStatus, maxServiceStatus)
	st.Progress = clampProgress(op.Progress)
	st.CurrentStep = truncate(op.CurrentStep, maxStepName)
	st.Steps = convertSteps(op.Steps)
	if len(op.Resources) > 0 {
		// A job lists its resources only in some answers (sub-jobs come
		// and go): keep what was seen, add what is new.
		st.Resources = mergeResources(st.Resources, op.Resources)
	}
	st.StartTime = metaTime(op.StartTime)
	st.CompletionTime = metaTime(op.CompletionTime)
	st.Message = truncate(op.Message, maxStatusMessage)
	if st.LastChangeTime == nil || observedState(&st) != observedState(&obj.Status) {
		st.LastChangeTime = &metav1.Time{Time: obs.now}
	}
	applyPhaseConditions(&st, gen, op, progressDeadline(obj), obs.now)
	return derivedStatus{status: st}
}

// progressDeadline is spec.progressDeadline, or the service's default
// (cloud.Descriptor.ProgressDeadline); zero turns the check off.
func progressDeadline(obj *opsv1.CloudOperation) time.Duration {
	if obj.Spec.ProgressDeadline != nil {
		return obj.Spec.ProgressDeadline.Duration
	}
	d, _ := cloud.Describe(cloudService(obj.Spec.Service))
	return d.ProgressDeadline
}

// pastDeadline reports whether an operation that is not finished has
// shown no visible change for longer than deadline.
func pastDeadline(st *opsv1.CloudOperationStatus, deadline time.Duration, now time.Time) bool {
	return deadline > 0 && !st.Phase.IsTerminal() && st.LastChangeTime != nil && now.Sub(st.LastChangeTime.Time) > deadline
}

// deadlineMessage names the time of the last change, not the time since,
// so that later polls without change write nothing.
func deadlineMessage(st *opsv1.CloudOperationStatus, deadline time.Duration) string {
	return fmt.Sprintf("no visible change since %s, longer than the progress deadline of %s; still polling",
		st.LastChangeTime.UTC().Format(time.RFC3339), deadline)
}

// overdue reports whether st says the operation is past its progress
// deadline.
func overdue(st *opsv1.CloudOperationStatus) bool {
	c := meta.FindStatusCondition(st.Conditions, opsv1.ConditionStalled)
	return c != nil && c.Status == metav1.ConditionTrue && c.Reason == opsv1.ReasonProgressDeadlineExceeded
}

// progressETA extrapolates the pace of progress between two statuses: the
// progress gained since prev's last change, over the time since then, says
// when the rest should be done. Zero when progress did not move forward.
func progressETA(prev, next *opsv1.CloudOperationStatus, now time.Time) time.Duration {
	if prev.Progress == nil || next.Progress == nil || prev.LastChangeTime == nil {
		return 0
	}
	gained, left := *next.Progress-*prev.Progress, 100-*next.Progress
	elapsed := now.Sub(prev.LastChangeTime.Time)
	if gained <= 0 || left <= 0 || elapsed <= 0 {
		return 0
	}
	return time.Duration(float64(elapsed) * float64(left) / float64(gained))
}

// applyPhaseConditions sets the four conditions from a successful
// observation: the phase's, or, past the progress deadline, overdue ones
// (the phase, steps and progress stay as observed).
func applyPhaseConditions(st *opsv1.CloudOperationStatus, gen int64, op *cloud.Operation, deadline time.Duration, now time.Time) {
	reason, msg := phaseReason(op), phaseMessage(op)
	if pastDeadline(st, deadline, now) {
		reason, msg = opsv1.ReasonProgressDeadlineExceeded, deadlineMessage(st, deadline)
	}
	setConditions(st, gen, conditionsByReason[reason], reason, msg)
}

// phaseReason is the condition reason of an observed phase.
func phaseReason(op *cloud.Operation) string {
	switch op.Phase {
	case cloud.PhasePending:
		return opsv1.ReasonPending
	case cloud.PhaseRunning:
		return opsv1.ReasonInProgress
	case cloud.PhaseSucceeded:
		return opsv1.ReasonSucceeded
	case cloud.PhaseFailed:
		if op.Resumable {
			return opsv1.ReasonResumable
		}
		return opsv1.ReasonFailed
	case cloud.PhaseCancelled:
		return opsv1.ReasonCancelled
	}
	return opsv1.ReasonUnknownStatus
}

// conditionSet is what the four conditions say in one situation: a
// status, absent (the condition is removed) or keep (left as it is).
type conditionSet struct {
	ready, reconciling, stalled, succeeded metav1.ConditionStatus
}

// Values of a conditionSet field besides the three condition statuses.
const (
	absent metav1.ConditionStatus = ""
	keep   metav1.ConditionStatus = "(keep)"
)

// The situations an object can be in, as kstatus, kubectl wait, Flux and
// Argo CD read them (docs/conditions).
var (
	// inProgress: still running (or not yet observed); kstatus InProgress.
	inProgress = conditionSet{ready: metav1.ConditionFalse, reconciling: metav1.ConditionTrue, stalled: absent, succeeded: metav1.ConditionUnknown}
	// succeeded: done; kstatus Current.
	succeeded = conditionSet{ready: metav1.ConditionTrue, reconciling: absent, stalled: absent, succeeded: metav1.ConditionTrue}
	// ended: failed or cancelled; kstatus Failed.
	ended = conditionSet{ready: metav1.ConditionFalse, reconciling: absent, stalled: metav1.ConditionTrue, succeeded: metav1.ConditionFalse}
	// retrying: a poll failed for a reason that may pass; InProgress.
	retrying = conditionSet{ready: metav1.ConditionFalse, reconciling: metav1.ConditionTrue, stalled: absent, succeeded: metav1.ConditionUnknown}
	// blocked: a poll failed for a reason that will not pass as
	// configured; kstatus Failed, the operation's own outcome unknown.
	blocked = conditionSet{ready: metav1.ConditionFalse, reconciling: absent, stalled: metav1.ConditionTrue, succeeded: metav1.ConditionUnknown}
	// paused: not polled (suspend annotation); what was known stays.
	paused = conditionSet{ready: metav1.ConditionFalse, reconciling: metav1.ConditionFalse, stalled: keep, succeeded: keep}
)

// conditionsByReason declares, once, the conditions of every reason an
// observed phase or the reconciler itself reports. Errors are not here:
// their set depends on whether they stall (see errorConditions).
var conditionsByReason = map[string]conditionSet{
	opsv1.ReasonProgressing:   inProgress,
	opsv1.ReasonPending:       inProgress,
	opsv1.ReasonInProgress:    inProgress,
	opsv1.ReasonUnknownStatus: inProgress,
	opsv1.ReasonSucceeded:     succeeded,
	opsv1.ReasonFailed:        ended,
	opsv1.ReasonResumable:     ended,
	opsv1.ReasonCancelled:     ended,
	opsv1.ReasonSuspended:     paused,
	// Overdue: the outcome is unknown and polling goes on, but a pipeline
	// waiting on it should fail now, as on a Deployment past its deadline.
	opsv1.ReasonProgressDeadlineExceeded: blocked,
}

// errorConditions is the set of a failed observation's reason.
func errorConditions(stalled bool) conditionSet {
	if stalled {
		return blocked
	}
	return retrying
}

// setConditions writes set's four conditions with reason and msg.
func setConditions(st *opsv1.CloudOperationStatus, gen int64, set conditionSet, reason, msg string) {
	setConditionList(&st.Conditions, gen, set, reason, msg)
}

// setConditionList is setConditions on any object's conditions. Each is
// stamped with the generation it describes; its lastTransitionTime moves
// only when its status changes.
func setConditionList(conds *[]metav1.Condition, gen int64, set conditionSet, reason, msg string) {
	for _, c := range []struct {
		typ    string
		status metav1.ConditionStatus
	}{
		{opsv1.ConditionReady, set.ready},
		{opsv1.ConditionReconciling, set.reconciling},
		{opsv1.ConditionStalled, set.stalled},
		{opsv1.ConditionSucceeded, set.succeeded},
	} {
		switch c.status {
		case keep:
		case absent:
			meta.RemoveStatusCondition(conds, c.typ)
		default:
			meta.SetStatusCondition(conds, metav1.Condition{
				Type: c.typ, Status: c.status, ObservedGeneration: gen, Reason: reason, Message: truncate(msg, maxConditionMsg),
			})
		}
	}
}

func phaseMessage(op *cloud.Operation) string {
	var msg string
	switch op.Phase {
	case cloud.PhasePending:
		msg = "operation is pending"
	case cloud.PhaseRunning:
		msg = "operation is running"
	case cloud.PhaseSucceeded:
		msg = "operation succeeded"
	case cloud.PhaseFailed:
		msg = "operation failed"
		if op.Resumable {
			msg = "operation failed; the service can resume it"
		}
	case cloud.PhaseCancelled:
		msg = "operation was cancelled"
	default:
		// A missing status word says "(missing)", as docs/services.md
		// promises, not an empty quote.
		msg = "service reported unknown status (missing)"
		if w := strings.TrimSpace(op.ServiceStatus); w != "" {
			msg = fmt.Sprintf("service reported unknown status %q", w)
		}
	}
	// The step says where a running operation is, or where a failed one
	// stopped; after success or cancellation it adds nothing.
	if op.CurrentStep != "" && (!op.Phase.IsTerminal() || op.Phase == cloud.PhaseFailed) {
		msg += " (step " + op.CurrentStep + ")"
	}
	if op.Message != "" {
		msg += ": " + op.Message
	}
	return msg
}

// applyError explains a failed observation in conditions without touching
// what was observed before.
func applyError(st *opsv1.CloudOperationStatus, gen int64, reason string, stalled bool, err error) {
	msg := truncate(err.Error(), maxStatusMessage)
	if st.Phase.IsTerminal() {
		// A terminal phase stays as observed, and so do its conditions, now
		// for this generation too: a poll after a spec change must not leave
		// them stamped with the old one, or kubectl wait ignores them.
		for i := range st.Conditions {
			st.Conditions[i].ObservedGeneration = gen
		}
		// Services drop finished jobs (ECS after about a day): an operation
		// seen terminal that is gone now is not news. Other errors (CCE
		// resumable workflows) update the message.
		if reason != opsv1.ReasonNotFound {
			st.Message = msg
		}
		return
	}
	st.Message = msg
	setConditions(st, gen, errorConditions(stalled), reason, msg)
}

// errorReason maps an observation error to a condition reason and whether
// it stalls the object. This is the one place error kinds meet conditions.
func errorReason(obj *opsv1.CloudOperation, obs observation) (reason string, stalled bool) {
	var credErr *credentialsError
	if errors.As(obs.err, &credErr) {
		return opsv1.ReasonCredentialsInvalid, false
	}
	if kind, ok := identity.KindOf(obs.err); ok {
		switch kind {
		case identity.KindInvalid:
			return opsv1.ReasonIdentityInvalid, false
		case identity.KindRejected:
			return opsv1.ReasonIdentityRejected, false
		}
		return opsv1.ReasonIdentityUnavailable, false
	}
	switch cloud.KindOf(obs.err) {
	case cloud.KindThrottled:
		return opsv1.ReasonThrottled, false
	case cloud.KindAuth:
		return opsv1.ReasonAuthFailed, false
	case cloud.KindNotFound:
		// The service may not list a just-started operation yet.
		return opsv1.ReasonNotFound, obs.now.Sub(obj.CreationTimestamp.Time) > notFoundGraceTime
	case cloud.KindPermanent:
		return opsv1.ReasonInvalidConfiguration, true
	default:
		return opsv1.ReasonTransientError, false
	}
}

func convertSteps(steps []cloud.Step) []opsv1.OperationStep {
	if len(steps) == 0 {
		return nil
	}
	out := make([]opsv1.OperationStep, 0, min(len(steps), maxSteps))
	for _, s := range steps[:min(len(steps), maxSteps)] {
		step := opsv1.OperationStep{StepStatus: convertStep(s)}
		if len(s.SubSteps) > 0 {
			step.SubSteps = make([]opsv1.StepStatus, 0, min(len(s.SubSteps), maxSubSteps))
			for _, sub := range s.SubSteps[:min(len(s.SubSteps), maxSubSteps)] {
				step.SubSteps = append(step.SubSteps, convertStep(sub))
			}
		}
		out = append(out, step)
	}
	return out
}

// mergeResources appends the resources not yet in seen, up to the limit.
func mergeResources(seen []opsv1.ResourceReference, found []cloud.Resource) []opsv1.ResourceReference {
	out := slices.Clone(seen)
	for _, r := range found {
		ref := opsv1.ResourceReference{Type: truncate(r.Type, maxResourceType), ID: truncate(r.ID, maxResourceID)}
		if len(out) >= maxResources {
			break
		}
		if !slices.Contains(out, ref) {
			out = append(out, ref)
		}
	}
	return out
}

func convertStep(s cloud.Step) opsv1.StepStatus {
	return opsv1.StepStatus{
		Name:           truncate(s.Name, maxStepName),
		Phase:          apiPhase(s.Phase),
		ServiceStatus:  truncate(s.ServiceStatus, maxServiceStatus),
		Message:        truncate(s.Message, maxStepMessage),
		StartTime:      metaTime(s.StartTime),
		CompletionTime: metaTime(s.CompletionTime),
	}
}

// metaTime converts to the second precision the API server stores, so a
// re-observed time compares equal to the stored one.
func metaTime(t *time.Time) *metav1.Time {
	if t == nil || t.IsZero() {
		return nil
	}
	mt := metav1.NewTime(t.UTC().Truncate(time.Second))
	return &mt
}

func clampProgress(p *int32) *int32 {
	if p == nil {
		return nil
	}
	v := min(max(*p, 0), 100)
	return &v
}

// truncate shortens s to at most n bytes without splitting a rune.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n - len("…")
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

// suspendedStatus marks a non-terminal operation as not being polled. A
// terminal one keeps its status: suspension changes nothing there.
func suspendedStatus(obj *opsv1.CloudOperation) opsv1.CloudOperationStatus {
	st := *obj.Status.DeepCopy()
	if st.Phase.IsTerminal() {
		return st
	}
	st.ObservedGeneration = obj.Generation
	setConditions(&st, obj.Generation, conditionsByReason[opsv1.ReasonSuspended], opsv1.ReasonSuspended,
		"polling is suspended by the "+opsv1.AnnotationSuspend+" annotation")
	return st
}
