package controller

import (
	"context"
	"errors"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"

	opsv1 "github.com/cloudop/cloudop/api/v1alpha1"
	"github.com/cloudop/cloudop/internal/cloud"
)

var testNow = time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)

func int32p(v int32) *int32 { return &v }

func newCCEOperation(ns, name, opID string) *opsv1.CloudOperation {
	return &opsv1.CloudOperation{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: opsv1.CloudOperationSpec{
			Service:              opsv1.ServiceCCE,
			Region:               "cn-north-4",
			OperationID:          opID,
			ClusterID:            "b4b9e60f-8aa2-11ee-af09-0255ac10004f",
			CredentialsSecretRef: opsv1.SecretReference{Name: "creds"},
		},
	}
}

func runningOp() *cloud.Operation {
	start := testNow.Add(-time.Minute)
	return &cloud.Operation{
		Phase: cloud.PhaseRunning, ServiceStatus: "Running", Progress: int32p(25), CurrentStep: "Snapshot",
		StartTime: &start,
		Steps: []cloud.Step{
			{Name: "PreCheck", Phase: cloud.PhaseSucceeded, ServiceStatus: "Success", StartTime: &start, CompletionTime: &start},
			{Name: "Snapshot", Phase: cloud.PhaseRunning, ServiceStatus: "Running"},
			{Name: "Cluster", Phase: cloud.PhasePending},
		},
	}
}

func succeededOp() *cloud.Operation {
	op := runningOp()
	op.Phase, op.ServiceStatus, op.Progress, op.CurrentStep = cloud.PhaseSucceeded, "Success", int32p(100), ""
	for i := range op.Steps {
		op.Steps[i].Phase, op.Steps[i].ServiceStatus = cloud.PhaseSucceeded, "Success"
	}
	return op
}

// newTrackedOperation creates, in a new namespace with valid credentials, a
// CCE CloudOperation for operationID, and a fake cloud that answers it with
// op or err.
func newTrackedOperation(t *testing.T, operationID string, op *cloud.Operation, err error) (string, *opsv1.CloudOperation, *fakeObserver) {
	t.Helper()
	ns := newNamespace(t)
	newSecret(t, ns, "creds", validCredentials())
	obj := newCCEOperation(ns, "upgrade", operationID)
	NewWithT(t).Expect(k8s.Create(context.Background(), obj)).To(Succeed(), "creating %s", obj.Name)
	observer := newFakeObserver()
	observer.set(operationID, op, err)
	return ns, obj, observer
}

// reconcileOnce runs one Reconcile and fails the test on error.
func reconcileOnce(t *testing.T, r *CloudOperationReconciler, obj *opsv1.CloudOperation) ctrl.Result {
	t.Helper()
	res, err := r.Reconcile(context.Background(), ctrl.Request{NamespacedName: types.NamespacedName{Namespace: obj.Namespace, Name: obj.Name}})
	NewWithT(t).Expect(err).NotTo(HaveOccurred(), "reconcile")
	return res
}

func fetch(t *testing.T, obj *opsv1.CloudOperation) *opsv1.CloudOperation {
	t.Helper()
	got := &opsv1.CloudOperation{}
	NewWithT(t).Expect(k8s.Get(context.Background(), types.NamespacedName{Namespace: obj.Namespace, Name: obj.Name}, got)).To(Succeed(), "get")
	return got
}

func conditionReason(obj *opsv1.CloudOperation, typ string) string {
	c := obj.GetCondition(typ)
	if c == nil {
		return "<absent>"
	}
	return string(c.Status) + "/" + c.Reason
}

func TestReconcileWritesStatusOnlyWhenSomethingChanged(t *testing.T) {
	g := NewWithT(t)
	ns, obj, observer := newTrackedOperation(t, "wf-1", runningOp(), nil)
	r := newTestReconciler(observer, testNow)

	// The first reconcile writes status once, after its cloud call. During
	// the call the object is as created, with the API server's default
	// status (observedGeneration 0: kstatus reads it as in progress).
	created := fetch(t, obj)
	var seenDuringFirstPoll *opsv1.CloudOperation
	observer.beforeObserve = func() { seenDuringFirstPoll = fetch(t, obj) }
	res := reconcileOnce(t, r, obj)
	observer.beforeObserve = nil
	g.Expect(seenDuringFirstPoll.ResourceVersion).To(Equal(created.ResourceVersion), "no status write before the first poll")
	g.Expect(seenDuringFirstPoll.Status.Conditions).To(BeEmpty())
	g.Expect(seenDuringFirstPoll.Status.ObservedGeneration).To(BeZero())
	g.Expect(seenDuringFirstPoll.Generation).To(BeNumerically(">", 0))

	got := fetch(t, obj)
	g.Expect(observer.callCount("wf-1")).To(Equal(1))
	g.Expect(got.Status.Phase).To(Equal(opsv1.PhaseRunning))
	g.Expect(got.Status.Progress).To(Equal(int32p(25)))
	g.Expect(got.Status.CurrentStep).To(Equal("Snapshot"))
	g.Expect(got.Status.Steps).To(HaveLen(3))
	g.Expect(got.Status.Steps[0].Phase).To(Equal(opsv1.PhaseSucceeded))
	g.Expect(conditionReason(got, opsv1.ConditionReconciling)).To(Equal("True/InProgress"))
	g.Expect(conditionReason(got, opsv1.ConditionSucceeded)).To(Equal("Unknown/InProgress"))
	g.Expect(res.RequeueAfter).To(Equal(30 * time.Second))
	for _, c := range got.Status.Conditions {
		g.Expect(c.ObservedGeneration).To(Equal(got.Generation), c.Type)
	}
	eventsAfterFirstPoll := namespaceEvents(t, ns)
	g.Expect(eventsAfterFirstPoll).To(ContainElement(ContainSubstring("PhaseChanged phase new → Running")))

	// Ten more polls with nothing new in the cloud: nothing written, no
	// events.
	rv := got.ResourceVersion
	for range 10 {
		reconcileOnce(t, r, obj)
	}
	g.Expect(observer.callCount("wf-1")).To(Equal(11))
	g.Expect(fetch(t, obj).ResourceVersion).To(Equal(rv))
	g.Expect(namespaceEvents(t, ns)).To(Equal(eventsAfterFirstPoll))

	// Success: Ready, no more polls after.
	observer.set("wf-1", succeededOp(), nil)
	res = reconcileOnce(t, r, obj)
	got = fetch(t, obj)
	g.Expect(got.Status.Phase).To(Equal(opsv1.PhaseSucceeded))
	g.Expect(got.IsReady()).To(BeTrue())
	g.Expect(conditionReason(got, opsv1.ConditionReconciling)).To(Equal("<absent>"))
	g.Expect(conditionReason(got, opsv1.ConditionStalled)).To(Equal("<absent>"))
	g.Expect(conditionReason(got, opsv1.ConditionSucceeded)).To(Equal("True/Succeeded"))
	g.Expect(res.RequeueAfter).To(BeZero())
	g.Expect(namespaceEvents(t, ns)).To(ContainElement(ContainSubstring("PhaseChanged phase Running → Succeeded")))
	g.Expect(namespaceEvents(t, ns)).NotTo(ContainElement(ContainSubstring("StepChanged")), "steps that succeed are in status.steps, not in events")

	calls, rv := observer.callCount("wf-1"), got.ResourceVersion
	reconcileOnce(t, r, obj)
	g.Expect(observer.callCount("wf-1")).To(Equal(calls), "a terminal operation is not polled again")
	g.Expect(fetch(t, obj).ResourceVersion).To(Equal(rv))
}

// TestStepEvents: by default only a failed step is announced; with
// StepEventsAll every step change is, as before.
func TestStepEvents(t *testing.T) {
	for _, tc := range []struct {
		mode StepEvents
		want []string
	}{
		{mode: "", want: []string{
			`Normal PhaseChanged phase new → Running (service status "Running")`,
			`Warning PhaseChanged phase Running → Failed (service status "Failed")`,
			`Warning StepChanged step "Cluster" is Failed`,
		}},
		{mode: StepEventsAll, want: []string{
			`Normal PhaseChanged phase new → Running (service status "Running")`,
			`Normal StepChanged step "PreCheck" is Succeeded; step "Snapshot" is Running`,
			`Warning PhaseChanged phase Running → Failed (service status "Failed")`,
			`Warning StepChanged step "Snapshot" is Succeeded; step "Cluster" is Failed`,
		}},
	} {
		t.Run(tc.mode.String(), func(t *testing.T) {
			g := NewWithT(t)
			ns, obj, observer := newTrackedOperation(t, "wf-steps-"+tc.mode.String(), runningOp(), nil)
			r := newTestReconciler(observer, testNow)
			r.StepEvents = tc.mode
			reconcileOnce(t, r, obj)
			failed := runningOp()
			failed.Phase, failed.ServiceStatus, failed.CurrentStep = cloud.PhaseFailed, "Failed", "Cluster"
			failed.Steps[1].Phase, failed.Steps[2].Phase = cloud.PhaseSucceeded, cloud.PhaseFailed
			observer.set("wf-steps-"+tc.mode.String(), failed, nil)
			reconcileOnce(t, r, obj)
			g.Expect(fetch(t, obj).Status.Steps[2].Phase).To(Equal(opsv1.PhaseFailed))
			g.Expect(namespaceEvents(t, ns)).To(Equal(tc.want))
		})
	}
}

func TestTransientErrorKeepsObservedPhase(t *testing.T) {
	g := NewWithT(t)
	_, obj, observer := newTrackedOperation(t, "wf-2", runningOp(), nil)
	r := newTestReconciler(observer, testNow)
	reconcileOnce(t, r, obj)
	reconcileOnce(t, r, obj)

	observer.set("wf-2", nil, &cloud.Error{Kind: cloud.KindTransient, HTTPStatus: 500, Code: "CCE.5000500", Message: "Internal Server Error", RequestID: "req-1"})
	first := reconcileOnce(t, r, obj)
	second := reconcileOnce(t, r, obj)
	got := fetch(t, obj)
	g.Expect(got.Status.Phase).To(Equal(opsv1.PhaseRunning))
	g.Expect(got.Status.Steps).To(HaveLen(3))
	g.Expect(got.Status.Progress).To(Equal(int32p(25)))
	g.Expect(conditionReason(got, opsv1.ConditionReady)).To(Equal("False/TransientError"))
	g.Expect(got.GetCondition(opsv1.ConditionReady).Message).To(ContainSubstring("CCE.5000500"))
	g.Expect(got.GetCondition(opsv1.ConditionReady).Message).To(ContainSubstring("req-1"))
	g.Expect(second.RequeueAfter).To(BeNumerically(">", first.RequeueAfter), "consecutive failures back off")

	observer.set("wf-2", runningOp(), nil)
	reconcileOnce(t, r, obj)
	g.Expect(conditionReason(fetch(t, obj), opsv1.ConditionReady)).To(Equal("False/InProgress"))
}

// TestFailedWritesDoNotInflateBackoff: while the API server refuses status
// writes, the work queue retries a failed poll within milliseconds. Once
// writes work again, the backoff counts that failed poll once, not once per
// retry (which had pushed the next poll MaxBackoff away after a short API
// server outage).
func TestFailedWritesDoNotInflateBackoff(t *testing.T) {
	g := NewWithT(t)
	_, obj, observer := newTrackedOperation(t, "wf-outage", runningOp(), nil)
	r := newTestReconciler(observer, testNow)
	reconcileOnce(t, r, obj)
	interval := fetch(t, obj).GetPollInterval()

	observer.set("wf-outage", nil, &cloud.Error{Kind: cloud.KindTransient, HTTPStatus: 500, Code: "CCE.5000500"})
	for range 8 {
		reconcileRefused(t, r, obj)
	}
	first := reconcileOnce(t, r, obj)
	g.Expect(first.RequeueAfter).To(Equal(interval), "the first failed poll written waits one interval")
	g.Expect(reconcileOnce(t, r, obj).RequeueAfter).To(Equal(2*interval), "the next one backs off")

	observer.set("wf-outage", runningOp(), nil)
	g.Expect(reconcileOnce(t, r, obj).RequeueAfter).To(Equal(interval), "a success resets the backoff")
}

func TestCredentialsProblemsHaveClearReasonsAndRecover(t *testing.T) {
	cases := []struct {
		name    string
		secret  map[string]string // nil: no Secret at all
		message string
	}{
		{name: "missing secret", message: `credentials Secret "creds" not found`},
		{name: "missing key", secret: map[string]string{"secretKey": "x", "projectID": "p1"}, message: `key "accessKey" is missing`},
		{name: "empty value", secret: map[string]string{"accessKey": "AK", "secretKey": " ", "projectID": "p1"}, message: `key "secretKey" is empty`},
		{name: "no project anywhere", secret: map[string]string{"accessKey": "AK", "secretKey": "SK"}, message: "no project"},
		// Header injection or a pasted line break: named, not a transport
		// error retried forever; the value is never quoted.
		{name: "line break in the access key", secret: map[string]string{"accessKey": "AK\r\nX-Evil: 1", "secretKey": "SK", "projectID": "p1"}, message: `key "accessKey" has a line break at byte 3`},
		{name: "control character in the secret key", secret: map[string]string{"accessKey": "AK", "secretKey": "S\x00K", "projectID": "p1"}, message: `key "secretKey" has a control character at byte 2`},
		{name: "space in the security token", secret: map[string]string{"accessKey": "AK", "secretKey": "SK", "securityToken": "tok en", "projectID": "p1"}, message: `key "securityToken" has a space at byte 4`},
		{name: "project ID that is no path segment", secret: map[string]string{"accessKey": "AK", "secretKey": "SK", "projectID": "../p1"}, message: `key "projectID" is not a valid project ID`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			g := NewWithT(t)
			ns := newNamespace(t)
			if tc.secret != nil {
				newSecret(t, ns, "creds", tc.secret)
			}
			obj := newCCEOperation(ns, "upgrade", "wf-3")
			g.Expect(k8s.Create(context.Background(), obj)).To(Succeed())
			observer := newFakeObserver()
			observer.set("wf-3", runningOp(), nil)
			r := newTestReconciler(observer, testNow)
			reconcileOnce(t, r, obj)
			res := reconcileOnce(t, r, obj)

			got := fetch(t, obj)
			g.Expect(observer.callCount("wf-3")).To(Equal(0), "no cloud call without usable credentials")
			g.Expect(conditionReason(got, opsv1.ConditionReady)).To(Equal("False/CredentialsInvalid"))
			g.Expect(conditionReason(got, opsv1.ConditionReconciling)).To(Equal("True/CredentialsInvalid"))
			g.Expect(got.GetCondition(opsv1.ConditionReady).Message).To(ContainSubstring(tc.message))
			g.Expect(res.RequeueAfter).To(BeNumerically(">", 0), "retried: the Secret may be fixed")

			// Fixing the Secret takes effect on the next poll.
			_ = k8s.Delete(context.Background(), secretObject(ns, "creds"))
			newSecret(t, ns, "creds", validCredentials())
			reconcileOnce(t, r, obj)
			got = fetch(t, obj)
			g.Expect(got.Status.Phase).To(Equal(opsv1.PhaseRunning))
			g.Expect(conditionReason(got, opsv1.ConditionReady)).To(Equal("False/InProgress"))
		})
	}
}

func TestPermanentErrorStallsAndStopsPolling(t *testing.T) {
	g := NewWithT(t)
	_, obj, observer := newTrackedOperation(t, "wf-4", nil, &cloud.Error{Kind: cloud.KindPermanent, HTTPStatus: 400, Code: "CCE.01400001", Message: "bad cluster id"})
	r := newTestReconciler(observer, testNow)
	reconcileOnce(t, r, obj)
	res := reconcileOnce(t, r, obj)
	got := fetch(t, obj)
	g.Expect(conditionReason(got, opsv1.ConditionStalled)).To(Equal("True/InvalidConfiguration"))
	g.Expect(conditionReason(got, opsv1.ConditionReconciling)).To(Equal("<absent>"))
	g.Expect(res.RequeueAfter).To(BeZero())
	reconcileOnce(t, r, obj)
	g.Expect(observer.callCount("wf-4")).To(Equal(1))
}

func TestSuspendAndRequestedPollAnnotations(t *testing.T) {
	g := NewWithT(t)
	ns := newNamespace(t)
	newSecret(t, ns, "creds", validCredentials())
	obj := newCCEOperation(ns, "upgrade", "wf-5")
	obj.Annotations = map[string]string{opsv1.AnnotationSuspend: "true"}
	g.Expect(k8s.Create(context.Background(), obj)).To(Succeed())
	observer := newFakeObserver()
	observer.set("wf-5", runningOp(), nil)
	r := newTestReconciler(observer, testNow)
	reconcileOnce(t, r, obj)
	res := reconcileOnce(t, r, obj)
	got := fetch(t, obj)
	g.Expect(observer.callCount("wf-5")).To(Equal(0))
	g.Expect(res.RequeueAfter).To(BeZero())
	g.Expect(conditionReason(got, opsv1.ConditionReady)).To(Equal("False/Suspended"))

	// A poll request is honoured once, even while suspended.
	got.Annotations[opsv1.AnnotationRequestedPoll] = "2026-11-23T10:00:00Z"
	g.Expect(k8s.Update(context.Background(), got)).To(Succeed())
	reconcileOnce(t, r, obj)
	reconcileOnce(t, r, obj)
	got = fetch(t, obj)
	g.Expect(observer.callCount("wf-5")).To(Equal(1))
	g.Expect(got.Status.LastHandledPollRequest).To(Equal("2026-11-23T10:00:00Z"))
	g.Expect(got.Status.Phase).To(Equal(opsv1.PhaseRunning))
}

func TestUnknownStatusWordIsKeptAndWarned(t *testing.T) {
	g := NewWithT(t)
	ns, obj, observer := newTrackedOperation(t, "wf-6", &cloud.Operation{Phase: cloud.PhaseUnknown, ServiceStatus: "Paused", UnknownStatuses: []string{"Paused"}}, nil)
	r := newTestReconciler(observer, testNow)
	reconcileOnce(t, r, obj)
	reconcileOnce(t, r, obj)
	reconcileOnce(t, r, obj)
	got := fetch(t, obj)
	g.Expect(got.Status.Phase).To(Equal(opsv1.PhaseUnknown))
	g.Expect(got.Status.ServiceStatus).To(Equal("Paused"))
	g.Expect(conditionReason(got, opsv1.ConditionReconciling)).To(Equal("True/UnknownStatus"))
	g.Expect(countEvents(t, ns, "Warning UnknownStatus")).To(Equal(1), "warned once, not on every poll")
}

func TestOwnRateLimitDeferralWritesNothing(t *testing.T) {
	g := NewWithT(t)
	ns, obj, observer := newTrackedOperation(t, "wf-7", runningOp(), nil)
	r := newTestReconciler(observer, testNow)
	reconcileOnce(t, r, obj)
	rv := fetch(t, obj).ResourceVersion

	observer.set("wf-7", nil, &cloud.Error{Kind: cloud.KindThrottled, RetryAfter: 3 * time.Second, Err: cloud.ErrRateLimited})
	res := reconcileOnce(t, r, obj)
	g.Expect(res.RequeueAfter).To(Equal(3 * time.Second))
	g.Expect(fetch(t, obj).ResourceVersion).To(Equal(rv), "a call our own limiter deferred is not news")
	g.Expect(r.failures.next(types.NamespacedName{Namespace: ns, Name: "upgrade"}, errors.New("x"))).To(Equal(1), "a deferral is not counted as a failure")
}

// TestStaleCopyIsNotWritten: a status computed from an out-of-date copy
// (as from a lagging cache) is refused, and no transition event follows.
func TestStaleCopyIsNotWritten(t *testing.T) {
	g := NewWithT(t)
	ns, obj, observer := newTrackedOperation(t, "wf-8", runningOp(), nil)
	r := newTestReconciler(observer, testNow)
	stale := fetch(t, obj) // before any status
	reconcileOnce(t, r, obj)
	before := len(namespaceEvents(t, ns))

	r.Client = staleReader{Client: k8s, obj: stale}
	observer.set("wf-8", succeededOp(), nil)
	res := reconcileOnce(t, r, obj)
	g.Expect(res.RequeueAfter).To(Equal(time.Second))
	g.Expect(fetch(t, obj).Status.Phase).To(Equal(opsv1.PhaseRunning))
	g.Expect(namespaceEvents(t, ns)).To(HaveLen(before))
}

// TestLaggingCopyAnnouncesNothing: a copy that does not show the last
// status this reconciler wrote (a cache catching up) is not used to
// announce a transition; the reconcile retries with a fresh copy.
func TestLaggingCopyAnnouncesNothing(t *testing.T) {
	g := NewWithT(t)
	ns, obj, observer := newTrackedOperation(t, "wf-9", runningOp(), nil)
	r := newTestReconciler(observer, testNow)
	reconcileOnce(t, r, obj)
	lagging := fetch(t, obj)
	moved := runningOp()
	moved.Progress = int32p(60)
	moved.Steps[1].Phase = cloud.PhaseSucceeded
	observer.set("wf-9", moved, nil)
	reconcileOnce(t, r, obj)
	before := namespaceEvents(t, ns)

	r.Client = staleReader{Client: k8s, obj: lagging}
	observer.set("wf-9", succeededOp(), nil)
	res := reconcileOnce(t, r, obj)
	g.Expect(res.RequeueAfter).To(Equal(time.Second))
	g.Expect(namespaceEvents(t, ns)).To(Equal(before), "nothing announced from the lagging copy")
	g.Expect(fetch(t, obj).Status.Progress).To(Equal(int32p(60)))

	r.Client = k8s
	reconcileOnce(t, r, obj)
	g.Expect(fetch(t, obj).Status.Phase).To(Equal(opsv1.PhaseSucceeded))
	g.Expect(namespaceEvents(t, ns)).To(ContainElement(ContainSubstring("PhaseChanged phase Running → Succeeded")))
}

// TestOtherWriterBetweenReadAndPatch: someone else updates the object
// after the reconciler read it. The transition is announced, the status
// patch is refused, and the retry announces nothing new: one event.
func TestOtherWriterBetweenReadAndPatch(t *testing.T) {
	g := NewWithT(t)
	ns, obj, observer := newTrackedOperation(t, "wf-10", runningOp(), nil)
	r := newTestReconciler(observer, testNow)
	reconcileOnce(t, r, obj)

	observer.set("wf-10", succeededOp(), nil)
	observer.beforeObserve = func() {
		touched := fetch(t, obj)
		touched.Annotations = map[string]string{"example.com/touched": "yes"}
		g.Expect(k8s.Update(context.Background(), touched)).To(Succeed())
	}
	res := reconcileOnce(t, r, obj)
	observer.beforeObserve = nil
	g.Expect(res.RequeueAfter).To(Equal(time.Second), "the patch was refused")
	g.Expect(fetch(t, obj).Status.Phase).To(Equal(opsv1.PhaseRunning))

	reconcileOnce(t, r, obj)
	g.Expect(fetch(t, obj).Status.Phase).To(Equal(opsv1.PhaseSucceeded))
	g.Expect(countEvents(t, ns, "PhaseChanged phase Running → Succeeded")).To(Equal(1))
}

// staleReader serves an old copy of one object, like a lagging cache.
type staleReader struct {
	client.Client
	obj *opsv1.CloudOperation
}

func (s staleReader) Get(_ context.Context, _ client.ObjectKey, out client.Object, _ ...client.GetOption) error {
	s.obj.DeepCopyInto(out.(*opsv1.CloudOperation))
	return nil
}

// TestObjectBackFromAnotherShard: an object relabelled to another shard,
// which writes a newer status, and back again before this instance's
// reconcile saw it gone. The cache's delete makes the reconciler forget
// its own last write, so the newer status is not taken for a lagging copy
// and the next transition is announced and written.
func TestObjectBackFromAnotherShard(t *testing.T) {
	g := NewWithT(t)
	ns, obj, observer := newTrackedOperation(t, "wf-shard", runningOp(), nil)
	r := newTestReconciler(observer, testNow)
	reconcileOnce(t, r, obj)

	moved := runningOp()
	moved.Progress = int32p(60)
	moved.Steps[1].Phase = cloud.PhaseSucceeded
	observer.set("wf-shard", moved, nil)
	reconcileOnce(t, newTestReconciler(observer, testNow), obj) // the other shard
	g.Expect(r.forgetRemoved().Delete(event.DeleteEvent{Object: obj})).To(BeTrue())

	observer.set("wf-shard", succeededOp(), nil)
	reconcileOnce(t, r, obj)
	g.Expect(fetch(t, obj).Status.Phase).To(Equal(opsv1.PhaseSucceeded))
	g.Expect(namespaceEvents(t, ns)).To(ContainElement(ContainSubstring("PhaseChanged phase Running → Succeeded")))
}
