package controller

import (
	"context"
	"testing"
	"time"

	kstatus "github.com/fluxcd/cli-utils/pkg/kstatus/status"
	. "github.com/onsi/gomega"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	testingclock "k8s.io/utils/clock/testing"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	opsv1 "github.com/cloudop/cloudop/api/v1alpha1"
	"github.com/cloudop/cloudop/internal/cloud"
	"github.com/cloudop/cloudop/internal/testkit"
)

// TestProgressDeadline: an operation not finished and not visibly changed
// for longer than its deadline is overdue (Stalled, kstatus Failed) with
// its phase and steps kept; it clears when the operation moves; 0s and
// terminal phases are never overdue; an unset deadline is the service's.
func TestProgressDeadline(t *testing.T) {
	hour := &metav1.Duration{Duration: time.Hour}
	off := &metav1.Duration{}
	running := &cloud.Operation{Phase: cloud.PhaseRunning, ServiceStatus: "Running", Progress: int32p(40), CurrentStep: "upgrade"}
	moved := &cloud.Operation{Phase: cloud.PhaseRunning, ServiceStatus: "Running", Progress: int32p(41), CurrentStep: "upgrade"}
	succeeded := &cloud.Operation{Phase: cloud.PhaseSucceeded, ServiceStatus: "Success", Progress: int32p(100)}
	// prev is a running operation last seen changing idle ago.
	prev := func(idle time.Duration, overdueAlready bool) opsv1.CloudOperationStatus {
		st := opsv1.CloudOperationStatus{
			ObservedGeneration: 1, Phase: opsv1.PhaseRunning, ServiceStatus: "Running", Progress: int32p(40), CurrentStep: "upgrade",
			LastChangeTime: &metav1.Time{Time: testNow.Add(-idle)},
		}
		reason := opsv1.ReasonInProgress
		if overdueAlready {
			reason = opsv1.ReasonProgressDeadlineExceeded
		}
		setConditions(&st, 1, conditionsByReason[reason], reason, "")
		return st
	}
	cases := []struct {
		name     string
		service  opsv1.Service
		deadline *metav1.Duration
		prev     opsv1.CloudOperationStatus
		op       *cloud.Operation
		want     string
	}{
		{name: "within the deadline", service: opsv1.ServiceCCE, deadline: hour, prev: prev(59*time.Minute, false), op: running,
			want: "Ready=False/InProgress Reconciling=True/InProgress Stalled=- Succeeded=Unknown/InProgress"},
		{name: "past the deadline", service: opsv1.ServiceCCE, deadline: hour, prev: prev(61*time.Minute, false), op: running,
			want: "Ready=False/ProgressDeadlineExceeded Reconciling=- Stalled=True/ProgressDeadlineExceeded Succeeded=Unknown/ProgressDeadlineExceeded"},
		{name: "moving again clears it", service: opsv1.ServiceCCE, deadline: hour, prev: prev(5*time.Hour, true), op: moved,
			want: "Ready=False/InProgress Reconciling=True/InProgress Stalled=- Succeeded=Unknown/InProgress"},
		{name: "finished is never overdue", service: opsv1.ServiceCCE, deadline: hour, prev: prev(5*time.Hour, true), op: succeeded,
			want: "Ready=True/Succeeded Reconciling=- Stalled=- Succeeded=True/Succeeded"},
		{name: "0s turns it off", service: opsv1.ServiceCCE, deadline: off, prev: prev(100*time.Hour, false), op: running,
			want: "Ready=False/InProgress Reconciling=True/InProgress Stalled=- Succeeded=Unknown/InProgress"},
		// CCE's default is 3 h, DWS's 6 h (cloud.Descriptors).
		{name: "CCE's default, within", service: opsv1.ServiceCCE, prev: prev(170*time.Minute, false), op: running,
			want: "Ready=False/InProgress Reconciling=True/InProgress Stalled=- Succeeded=Unknown/InProgress"},
		{name: "CCE's default, past", service: opsv1.ServiceCCE, prev: prev(190*time.Minute, false), op: running,
			want: "Ready=False/ProgressDeadlineExceeded Reconciling=- Stalled=True/ProgressDeadlineExceeded Succeeded=Unknown/ProgressDeadlineExceeded"},
		{name: "DWS's default is longer", service: opsv1.ServiceDWS, prev: prev(190*time.Minute, false), op: running,
			want: "Ready=False/InProgress Reconciling=True/InProgress Stalled=- Succeeded=Unknown/InProgress"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			g := NewWithT(t)
			obj := &opsv1.CloudOperation{
				ObjectMeta: metav1.ObjectMeta{Generation: 1},
				Spec:       opsv1.CloudOperationSpec{Service: tc.service, ProgressDeadline: tc.deadline},
				Status:     tc.prev,
			}
			next := computeStatus(obj, observation{op: tc.op, now: testNow})
			g.Expect(conditionSummary(next.status)).To(Equal(tc.want))
			// The observation itself is kept whatever the deadline says.
			g.Expect(next.status.Phase).To(Equal(apiPhase(tc.op.Phase)))
			g.Expect(next.status.Progress).To(Equal(tc.op.Progress))
			g.Expect(donePolling(&opsv1.CloudOperation{ObjectMeta: obj.ObjectMeta, Status: next.status})).To(Equal(tc.op.Phase.IsTerminal()),
				"an overdue operation is still polled")
		})
	}
}

// TestProgressDeadlineWritesOnce: polls that see no change after the
// deadline passed derive the same status, so only the first one writes,
// and only that one announces the stall.
func TestProgressDeadlineWritesOnce(t *testing.T) {
	g := NewWithT(t)
	obj := &opsv1.CloudOperation{
		ObjectMeta: metav1.ObjectMeta{Generation: 1},
		Spec:       opsv1.CloudOperationSpec{Service: opsv1.ServiceCCE, ProgressDeadline: &metav1.Duration{Duration: time.Hour}},
	}
	op := &cloud.Operation{Phase: cloud.PhaseRunning, ServiceStatus: "Running", Progress: int32p(40)}
	first := computeStatus(obj, observation{op: op, now: testNow})
	obj.Status = first.status

	overdueAt := testNow.Add(61 * time.Minute)
	second := computeStatus(obj, observation{op: op, now: overdueAt})
	g.Expect(second.status.Conditions).NotTo(Equal(first.status.Conditions), "the stall is written")
	events := transitionEvents(&obj.Status, &second.status, nil, StepEventsWarnings)
	g.Expect(events).To(HaveLen(1))
	g.Expect(events[0].Reason).To(Equal(opsv1.ReasonProgressDeadlineExceeded))
	g.Expect(events[0].Note).To(ContainSubstring("longer than the progress deadline of 1h0m0s"))
	obj.Status = second.status

	third := computeStatus(obj, observation{op: op, now: overdueAt.Add(time.Hour)})
	g.Expect(third.status).To(Equal(second.status), "a later poll without change writes nothing")
	g.Expect(transitionEvents(&obj.Status, &third.status, nil, StepEventsWarnings)).To(BeEmpty(), "announced once")
}

// TestTTLLeft: the TTL counts from the last visible change of a finished
// object; unfinished objects and objects without a TTL never expire.
func TestTTLLeft(t *testing.T) {
	finishedAt := &metav1.Time{Time: testNow.Add(-30 * time.Second)}
	ttl := func(s int32) *int32 { return &s }
	cases := []struct {
		name     string
		ttl      *int32
		phase    opsv1.Phase
		changed  *metav1.Time
		wantLeft time.Duration
		wantOK   bool
	}{
		{name: "no TTL", phase: opsv1.PhaseSucceeded, changed: finishedAt},
		{name: "running", ttl: ttl(0), phase: opsv1.PhaseRunning, changed: finishedAt},
		{name: "succeeded, time left", ttl: ttl(60), phase: opsv1.PhaseSucceeded, changed: finishedAt, wantLeft: 30 * time.Second, wantOK: true},
		{name: "failed, expired", ttl: ttl(10), phase: opsv1.PhaseFailed, changed: finishedAt, wantLeft: -20 * time.Second, wantOK: true},
		{name: "cancelled, zero TTL", ttl: ttl(0), phase: opsv1.PhaseCancelled, changed: finishedAt, wantLeft: -30 * time.Second, wantOK: true},
		{name: "never seen changing", ttl: ttl(0), phase: opsv1.PhaseSucceeded},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			g := NewWithT(t)
			st := &opsv1.CloudOperationStatus{Phase: tc.phase, LastChangeTime: tc.changed}
			left, ok := ttlLeft(tc.ttl, st, testNow)
			g.Expect(ok).To(Equal(tc.wantOK))
			g.Expect(left).To(Equal(tc.wantLeft))
		})
	}
}

// TestProgressDeadlineSeenByKstatus: past its deadline a running
// operation reads as Failed to kstatus (as a Deployment past its
// progressDeadlineSeconds does), with one Warning event, while polling
// goes on; when it moves again it is InProgress.
func TestProgressDeadlineSeenByKstatus(t *testing.T) {
	g := NewWithT(t)
	ns := testkit.Namespace(t, k8s, "deadline", testkit.CredentialsSecret("creds", "AK0000TEST", "sk-test", "0123456789abcdef0123456789abcdef"))
	obj := newCCEOperation(ns, "upgrade", "wf-deadline")
	obj.Spec.ProgressDeadline = &metav1.Duration{Duration: time.Hour}
	g.Expect(k8s.Create(context.Background(), obj)).To(Succeed())
	observer := newFakeObserver()
	observer.set("wf-deadline", runningOp(), nil)
	r := newTestReconciler(observer, testNow)
	clk := r.Clock.(*testingclock.FakePassiveClock)
	kstatusOf := func() kstatus.Status {
		res, err := kstatus.Compute(readBack(t, ns, obj.Name))
		g.Expect(err).NotTo(HaveOccurred())
		return res.Status
	}

	reconcileOnce(t, r, obj)
	g.Expect(kstatusOf()).To(Equal(kstatus.InProgressStatus))

	clk.SetTime(testNow.Add(61 * time.Minute))
	res := reconcileOnce(t, r, obj)
	got := fetch(t, obj)
	g.Expect(kstatusOf()).To(Equal(kstatus.FailedStatus))
	g.Expect(conditionReason(got, opsv1.ConditionStalled)).To(Equal("True/" + opsv1.ReasonProgressDeadlineExceeded))
	g.Expect(got.Status.Phase).To(Equal(opsv1.PhaseRunning), "the observed phase stays")
	g.Expect(res.RequeueAfter).To(BeNumerically(">", 0), "still polled")
	g.Expect(countEvents(t, ns, "Warning ProgressDeadlineExceeded")).To(Equal(1))

	// Another poll without change: still overdue, no second event.
	clk.SetTime(testNow.Add(2 * time.Hour))
	reconcileOnce(t, r, obj)
	g.Expect(observer.callCount("wf-deadline")).To(Equal(3))
	g.Expect(countEvents(t, ns, "Warning ProgressDeadlineExceeded")).To(Equal(1))

	// It moves: in progress again.
	moved := runningOp()
	*moved.Progress += 10
	observer.set("wf-deadline", moved, nil)
	clk.SetTime(testNow.Add(3 * time.Hour))
	reconcileOnce(t, r, obj)
	g.Expect(kstatusOf()).To(Equal(kstatus.InProgressStatus))
	g.Expect(conditionReason(fetch(t, obj), opsv1.ConditionStalled)).To(Equal("<absent>"))
}

// TestTTLAfterFinished: a finished operation with a TTL is deleted once
// the TTL has passed since it finished, and its transition events stay.
func TestTTLAfterFinished(t *testing.T) {
	g := NewWithT(t)
	ns := testkit.Namespace(t, k8s, "ttl", testkit.CredentialsSecret("creds", "AK0000TEST", "sk-test", "0123456789abcdef0123456789abcdef"))
	obj := newCCEOperation(ns, "upgrade", "wf-ttl")
	obj.Spec.TTLSecondsAfterFinished = ptr.To[int32](60)
	g.Expect(k8s.Create(context.Background(), obj)).To(Succeed())
	observer := newFakeObserver()
	observer.set("wf-ttl", succeededOp(), nil)
	r := newTestReconciler(observer, testNow)
	clk := r.Clock.(*testingclock.FakePassiveClock)

	res := reconcileOnce(t, r, obj)
	g.Expect(fetch(t, obj).Status.Phase).To(Equal(opsv1.PhaseSucceeded))
	g.Expect(res.RequeueAfter).To(Equal(time.Minute), "back when the TTL passes")

	clk.SetTime(testNow.Add(59 * time.Second))
	res = reconcileOnce(t, r, obj)
	g.Expect(res.RequeueAfter).To(Equal(time.Second))
	g.Expect(fetch(t, obj).Status.Phase).To(Equal(opsv1.PhaseSucceeded), "kept until the TTL passes")

	clk.SetTime(testNow.Add(61 * time.Second))
	reconcileOnce(t, r, obj)
	err := k8s.Get(context.Background(), client.ObjectKeyFromObject(obj), &opsv1.CloudOperation{})
	g.Expect(apierrors.IsNotFound(err)).To(BeTrue(), "deleted: %v", err)
	g.Expect(countEvents(t, ns, "PhaseChanged")).To(BeNumerically(">=", 1), "its events stay")
	g.Expect(observer.callCount("wf-ttl")).To(Equal(1), "a finished operation is not polled again")
}
