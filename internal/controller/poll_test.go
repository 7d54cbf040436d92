package controller

import (
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	opsv1 "github.com/cloudop/cloudop/api/v1alpha1"
	"github.com/cloudop/cloudop/internal/cloud"
)

func TestNextPoll(t *testing.T) {
	policy := PollPolicy{MaxBackoff: 10 * time.Minute, ResumableInterval: 5 * time.Minute, AuthRetryInterval: 2 * time.Minute, MinInterval: 5 * time.Second}
	minute := &metav1.Duration{Duration: time.Minute}
	cases := []struct {
		name     string
		interval *metav1.Duration
		phase    opsv1.Phase // already observed
		op       *cloud.Operation
		err      error
		failures int
		want     time.Duration
		wantMore bool
	}{
		{name: "running, default interval", op: &cloud.Operation{Phase: cloud.PhaseRunning}, want: 30 * time.Second, wantMore: true},
		{name: "running, spec interval", interval: minute, op: &cloud.Operation{Phase: cloud.PhaseRunning}, want: time.Minute, wantMore: true},
		{name: "pending", op: &cloud.Operation{Phase: cloud.PhasePending}, want: 30 * time.Second, wantMore: true},
		{name: "succeeded stops", op: &cloud.Operation{Phase: cloud.PhaseSucceeded}},
		{name: "failed stops", op: &cloud.Operation{Phase: cloud.PhaseFailed}},
		{name: "cancelled stops", op: &cloud.Operation{Phase: cloud.PhaseCancelled}},
		{name: "resumable failure polls slowly", op: &cloud.Operation{Phase: cloud.PhaseFailed, Resumable: true}, want: 5 * time.Minute, wantMore: true},
		{name: "estimate sooner than interval", op: &cloud.Operation{Phase: cloud.PhaseRunning, EstimatedRemaining: 12 * time.Second}, want: 12 * time.Second, wantMore: true},
		{name: "estimate floored", op: &cloud.Operation{Phase: cloud.PhaseRunning, EstimatedRemaining: time.Second}, want: 5 * time.Second, wantMore: true},
		{name: "estimate later than interval ignored", op: &cloud.Operation{Phase: cloud.PhaseRunning, EstimatedRemaining: time.Hour}, want: 30 * time.Second, wantMore: true},
		{name: "unknown keeps polling", op: &cloud.Operation{Phase: cloud.PhaseUnknown}, want: 30 * time.Second, wantMore: true},
		{name: "transient 1st failure", err: &cloud.Error{Kind: cloud.KindTransient}, failures: 1, want: 30 * time.Second, wantMore: true},
		{name: "transient 3rd failure", err: &cloud.Error{Kind: cloud.KindTransient}, failures: 3, want: 2 * time.Minute, wantMore: true},
		{name: "transient capped", err: &cloud.Error{Kind: cloud.KindTransient}, failures: 30, want: 10 * time.Minute, wantMore: true},
		{name: "throttled honours Retry-After", err: &cloud.Error{Kind: cloud.KindThrottled, RetryAfter: 3 * time.Minute}, failures: 1, want: 3 * time.Minute, wantMore: true},
		{name: "throttled backs off", err: &cloud.Error{Kind: cloud.KindThrottled}, failures: 2, want: time.Minute, wantMore: true},
		{name: "auth retries slowly", err: &cloud.Error{Kind: cloud.KindAuth}, failures: 1, want: 2 * time.Minute, wantMore: true},
		{name: "credentials retried at interval", err: &credentialsError{"x"}, failures: 4, want: 30 * time.Second, wantMore: true},
		{name: "permanent stops", err: &cloud.Error{Kind: cloud.KindPermanent}, failures: 1},
		{name: "not found past grace stops", err: &cloud.Error{Kind: cloud.KindNotFound}, failures: 1},
		{name: "error after terminal polls slowly", phase: opsv1.PhaseFailed, err: &cloud.Error{Kind: cloud.KindTransient}, failures: 1, want: 5 * time.Minute, wantMore: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			obj := &opsv1.CloudOperation{
				ObjectMeta: metav1.ObjectMeta{CreationTimestamp: metav1.NewTime(testNow.Add(-time.Hour))},
				Spec:       opsv1.CloudOperationSpec{PollInterval: tc.interval},
				Status:     opsv1.CloudOperationStatus{Phase: tc.phase},
			}
			got, more := policy.NextPoll(obj, observation{op: tc.op, err: tc.err, now: testNow}, tc.failures)
			if got != tc.want || more != tc.wantMore {
				t.Errorf("NextPoll = %v, %v; want %v, %v", got, more, tc.want, tc.wantMore)
			}
		})
	}
}

func TestNextPollJitterStaysWithinFactor(t *testing.T) {
	policy := DefaultPollPolicy()
	obj := &opsv1.CloudOperation{}
	seen := map[time.Duration]bool{}
	for range 200 {
		d, _ := policy.NextPoll(obj, observation{op: &cloud.Operation{Phase: cloud.PhaseRunning}, now: testNow}, 0)
		if d < 30*time.Second || d > 33*time.Second {
			t.Fatalf("jittered interval %v outside [30s, 33s]", d)
		}
		seen[d] = true
	}
	if len(seen) < 10 {
		t.Fatalf("jitter produced only %d distinct intervals", len(seen))
	}
}

func TestNextPollAlignsBCSPollsToSharedTicks(t *testing.T) {
	policy := DefaultPollPolicy()
	bcsOp := &opsv1.CloudOperation{Spec: opsv1.CloudOperationSpec{Service: opsv1.ServiceBCS}}
	base := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	cases := []struct {
		now      time.Time
		min, max time.Duration
	}{
		{base.Add(7 * time.Second), 23 * time.Second, 25 * time.Second},
		{base.Add(27 * time.Second), 33 * time.Second, 35 * time.Second}, // too close to the tick: the next one
		{base, 30 * time.Second, 32 * time.Second},
	}
	for _, tc := range cases {
		for range 50 {
			got, more := policy.NextPoll(bcsOp, observation{op: &cloud.Operation{Phase: cloud.PhaseRunning}, now: tc.now}, 0)
			if !more || got < tc.min || got >= tc.max {
				t.Fatalf("at %s: next poll in %v, want [%v, %v)", tc.now.Format("15:04:05"), got, tc.min, tc.max)
			}
		}
	}
}

func TestNextPollAdaptsToPaceAndQuiet(t *testing.T) {
	policy := DefaultPollPolicy()
	policy.JitterFactor = 0 // exact figures; jitter has its own test
	cases := []struct {
		name        string
		service     opsv1.Service
		quietFor    time.Duration // since status.lastChangeTime; 0: unset
		progressETA time.Duration
		estimate    time.Duration
		want        time.Duration
	}{
		{name: "no history: interval", want: 30 * time.Second},
		{name: "changed recently: interval", quietFor: 10 * time.Second, want: 30 * time.Second},
		{name: "quiet 2m (4 intervals): still interval", quietFor: 2 * time.Minute, want: 30 * time.Second},
		{name: "quiet 10m: a quarter of it", quietFor: 10 * time.Minute, want: 150 * time.Second},
		{name: "quiet 2h: capped", quietFor: 2 * time.Hour, want: 5 * time.Minute},
		{name: "progress pace says done sooner", progressETA: 12 * time.Second, want: 12 * time.Second},
		{name: "progress pace floored", progressETA: 2 * time.Second, want: 5 * time.Second},
		{name: "progress pace later than interval ignored", progressETA: 10 * time.Minute, want: 30 * time.Second},
		{name: "service estimate preferred to pace", estimate: 20 * time.Second, progressETA: 8 * time.Second, want: 20 * time.Second},
		{name: "pace beats quiet", quietFor: time.Hour, progressETA: 9 * time.Second, want: 9 * time.Second},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			obj := &opsv1.CloudOperation{Spec: opsv1.CloudOperationSpec{Service: opsv1.ServiceCCE}}
			if tc.quietFor > 0 {
				obj.Status.LastChangeTime = &metav1.Time{Time: testNow.Add(-tc.quietFor)}
			}
			obs := observation{op: &cloud.Operation{Phase: cloud.PhaseRunning, EstimatedRemaining: tc.estimate}, now: testNow, progressETA: tc.progressETA}
			got, more := policy.NextPoll(obj, obs, 0)
			if !more || got != tc.want {
				t.Errorf("NextPoll = %v, %v; want %v", got, more, tc.want)
			}
		})
	}
}

func TestQuietBCSPollsStayOnTicks(t *testing.T) {
	policy := DefaultPollPolicy()
	tick := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	now := tick.Add(7 * time.Second)
	obj := &opsv1.CloudOperation{Spec: opsv1.CloudOperationSpec{Service: opsv1.ServiceBCS}}
	obj.Status.LastChangeTime = &metav1.Time{Time: now.Add(-20 * time.Minute)} // quiet wait 5m
	for range 50 {
		got, _ := policy.NextPoll(obj, observation{op: &cloud.Operation{Phase: cloud.PhaseRunning}, now: now}, 0)
		at := now.Add(got)
		if off := at.Sub(tick) % (30 * time.Second); off >= policy.AlignSpread || got < 4*time.Minute || got > 5*time.Minute {
			t.Fatalf("quiet BCS poll in %v (at %s): want a tick about 5m on, within %v", got, at.Format("15:04:05.000"), policy.AlignSpread)
		}
	}
}

func TestFirstBCSPollWaitsForTheTickAfterCreation(t *testing.T) {
	policy := DefaultPollPolicy()
	tick := time.Date(2026, 11, 23, 10, 0, 30, 0, time.UTC)
	newOp := func(service opsv1.Service, created time.Time) *opsv1.CloudOperation {
		return &opsv1.CloudOperation{
			ObjectMeta: metav1.ObjectMeta{CreationTimestamp: metav1.NewTime(created)},
			Spec:       opsv1.CloudOperationSpec{Service: service},
		}
	}
	polled := newOp(opsv1.ServiceBCS, tick.Add(-20*time.Second))
	polled.Status.Phase = opsv1.PhaseRunning
	cases := []struct {
		name     string
		obj      *opsv1.CloudOperation
		now      time.Time
		min, max time.Duration
	}{
		{name: "new BCS operation waits for the tick", obj: newOp(opsv1.ServiceBCS, tick.Add(-20*time.Second)), now: tick.Add(-19 * time.Second), min: 19 * time.Second, max: 21 * time.Second},
		{name: "tick passed: poll now", obj: newOp(opsv1.ServiceBCS, tick.Add(-20*time.Second)), now: tick.Add(time.Second)},
		{name: "old object after a restart: poll now", obj: newOp(opsv1.ServiceBCS, tick.Add(-time.Hour)), now: tick.Add(-19 * time.Second)},
		{name: "other services poll at once", obj: newOp(opsv1.ServiceCCE, tick.Add(-20*time.Second)), now: tick.Add(-19 * time.Second)},
		{name: "already polled", obj: polled, now: tick.Add(-19 * time.Second)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := policy.FirstPollWait(tc.obj, tc.now)
			if got < tc.min || got > tc.max {
				t.Errorf("FirstPollWait = %v, want [%v, %v]", got, tc.min, tc.max)
			}
		})
	}
}

func TestProgressETA(t *testing.T) {
	at := func(ago time.Duration) *metav1.Time { return &metav1.Time{Time: testNow.Add(-ago)} }
	cases := []struct {
		name       string
		prev, next opsv1.CloudOperationStatus
		want       time.Duration
	}{
		{name: "20 points in 40s, 40 left: 80s",
			prev: opsv1.CloudOperationStatus{Progress: int32p(40), LastChangeTime: at(40 * time.Second)},
			next: opsv1.CloudOperationStatus{Progress: int32p(60)}, want: 80 * time.Second},
		{name: "no progress",
			prev: opsv1.CloudOperationStatus{Progress: int32p(40), LastChangeTime: at(40 * time.Second)},
			next: opsv1.CloudOperationStatus{Progress: int32p(40)}},
		{name: "progress went back",
			prev: opsv1.CloudOperationStatus{Progress: int32p(40), LastChangeTime: at(40 * time.Second)},
			next: opsv1.CloudOperationStatus{Progress: int32p(10)}},
		{name: "done",
			prev: opsv1.CloudOperationStatus{Progress: int32p(40), LastChangeTime: at(40 * time.Second)},
			next: opsv1.CloudOperationStatus{Progress: int32p(100)}},
		{name: "no previous change time",
			prev: opsv1.CloudOperationStatus{Progress: int32p(40)},
			next: opsv1.CloudOperationStatus{Progress: int32p(60)}},
		{name: "no progress reported",
			prev: opsv1.CloudOperationStatus{LastChangeTime: at(40 * time.Second)},
			next: opsv1.CloudOperationStatus{}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := progressETA(&tc.prev, &tc.next, testNow); got != tc.want {
				t.Errorf("progressETA = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestRetryRateLimiterCapsPerObjectBackoff(t *testing.T) {
	limiter := retryRateLimiter(time.Minute)
	item := reconcile.Request{NamespacedName: types.NamespacedName{Namespace: "ns", Name: "op"}}
	cases := []struct {
		failures int
		want     time.Duration
	}{
		{1, 5 * time.Millisecond},
		{2, 10 * time.Millisecond},
		{12, 10240 * time.Millisecond},
		{14, 40960 * time.Millisecond},
		{15, time.Minute},
		{40, time.Minute},
	}
	failures := 0
	for _, tc := range cases {
		var got time.Duration
		for failures < tc.failures {
			got = limiter.When(item)
			failures++
		}
		if got != tc.want {
			t.Errorf("after %d failures: retry in %v, want %v", tc.failures, got, tc.want)
		}
	}
	limiter.Forget(item)
	if got := limiter.When(item); got != 5*time.Millisecond {
		t.Errorf("after a success the backoff starts over: got %v", got)
	}
}
