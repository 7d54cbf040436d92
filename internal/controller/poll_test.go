package controller

import (
	"testing"
	"time"

	. "github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	opsv1 "github.com/cloudop/cloudop/api/v1alpha1"
	"github.com/cloudop/cloudop/internal/cloud"
	"github.com/cloudop/cloudop/internal/cloud/identity"
)

// fixedRandom is a jitter source that always draws v.
func fixedRandom(v float64) func() float64 { return func() float64 { return v } }

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
		{name: "IAM throttled honours Retry-After", err: &identity.Error{Kind: identity.KindUnavailable, Err: &cloud.Error{Kind: cloud.KindThrottled, HTTPStatus: 429, RetryAfter: 3 * time.Minute}}, failures: 1, want: 3 * time.Minute, wantMore: true},
		{name: "IAM unavailable backs off", err: &identity.Error{Kind: identity.KindUnavailable}, failures: 3, want: 2 * time.Minute, wantMore: true},
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
			obs := observation{op: tc.op, err: tc.err, now: testNow}
			got, more := policy.NextPoll(obj, computeStatus(obj, obs), obs, tc.failures)
			g := NewWithT(t)
			g.Expect(got).To(Equal(tc.want))
			g.Expect(more).To(Equal(tc.wantMore))
		})
	}
}

func TestNextPollJitter(t *testing.T) {
	cases := []struct {
		draw float64
		want time.Duration
	}{
		{draw: 0, want: 30 * time.Second},
		{draw: 0.5, want: 31500 * time.Millisecond},
		{draw: 0.999, want: 32997 * time.Millisecond},
	}
	for _, tc := range cases {
		policy := DefaultPollPolicy()
		policy.Random = fixedRandom(tc.draw)
		obj := &opsv1.CloudOperation{}
		obs := observation{op: &cloud.Operation{Phase: cloud.PhaseRunning}, now: testNow}
		got, _ := policy.NextPoll(obj, computeStatus(obj, obs), obs, 0)
		NewWithT(t).Expect(got).To(Equal(tc.want), "draw %v", tc.draw)
	}
}

func TestNextPollAlignsBCSPollsToSharedTicks(t *testing.T) {
	base := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	cases := []struct {
		now  time.Time
		draw float64 // of the spread within AlignSpread (2s)
		want time.Duration
	}{
		{now: base.Add(7 * time.Second), draw: 0, want: 23 * time.Second},
		{now: base.Add(7 * time.Second), draw: 0.75, want: 24500 * time.Millisecond},
		{now: base.Add(27 * time.Second), draw: 0.5, want: 34 * time.Second}, // too close to the tick: the next one
		{now: base, draw: 0.25, want: 30500 * time.Millisecond},
	}
	for _, tc := range cases {
		policy := DefaultPollPolicy()
		policy.Random = fixedRandom(tc.draw)
		bcsOp := &opsv1.CloudOperation{Spec: opsv1.CloudOperationSpec{Service: opsv1.ServiceBCS}}
		obs := observation{op: &cloud.Operation{Phase: cloud.PhaseRunning}, now: tc.now}
		got, more := policy.NextPoll(bcsOp, computeStatus(bcsOp, obs), obs, 0)
		g := NewWithT(t)
		g.Expect(more).To(BeTrue())
		g.Expect(got).To(Equal(tc.want), "at %s, draw %v", tc.now.Format("15:04:05"), tc.draw)
	}
}

// TestAlignmentFollowsTheServiceTable: exactly the services whose table
// entry has AlignedPolls wait for the shared tick, first and later polls
// alike; no service name is written in the policy.
func TestAlignmentFollowsTheServiceTable(t *testing.T) {
	policy := DefaultPollPolicy()
	policy.Random = fixedRandom(0.5)
	tick := time.Date(2026, 11, 23, 10, 0, 30, 0, time.UTC)
	now := tick.Add(-19 * time.Second)
	for _, d := range cloud.Descriptors {
		t.Run(string(d.Name), func(t *testing.T) {
			g := NewWithT(t)
			obj := &opsv1.CloudOperation{
				ObjectMeta: metav1.ObjectMeta{CreationTimestamp: metav1.NewTime(tick.Add(-20 * time.Second))},
				Spec:       opsv1.CloudOperationSpec{Service: opsv1.Service(d.Name)},
			}
			var first time.Duration
			if d.AlignedPolls {
				first = 20 * time.Second // the tick after creation, plus half the spread
			}
			g.Expect(policy.FirstPollWait(obj, now)).To(Equal(first))
			obs := observation{op: &cloud.Operation{Phase: cloud.PhaseRunning}, now: tick.Add(11 * time.Second)}
			next, _ := policy.NextPoll(obj, computeStatus(obj, obs), obs, 0)
			if d.AlignedPolls {
				g.Expect(next).To(Equal(20 * time.Second)) // 19s to the next tick, plus half the spread
			} else {
				g.Expect(next).To(Equal(31500 * time.Millisecond)) // the interval, plus half the 10 % jitter
			}
		})
	}
}

func TestNextPollAdaptsToPaceAndQuiet(t *testing.T) {
	policy := DefaultPollPolicy()
	policy.JitterFactor = 0 // exact figures; jitter has its own test
	cases := []struct {
		name     string
		quietFor time.Duration // since the next status's lastChangeTime; 0: unset
		// pace is the time the last 25 points of progress took, with 25
		// points left: the pace then says the rest takes as long.
		pace     time.Duration
		estimate time.Duration
		want     time.Duration
	}{
		{name: "no history: interval", want: 30 * time.Second},
		{name: "changed recently: interval", quietFor: 10 * time.Second, want: 30 * time.Second},
		{name: "quiet 2m (4 intervals): still interval", quietFor: 2 * time.Minute, want: 30 * time.Second},
		{name: "quiet 10m: a quarter of it", quietFor: 10 * time.Minute, want: 150 * time.Second},
		{name: "quiet 2h: capped", quietFor: 2 * time.Hour, want: 5 * time.Minute},
		{name: "progress pace says done sooner", pace: 12 * time.Second, want: 12 * time.Second},
		{name: "progress pace floored", pace: 2 * time.Second, want: 5 * time.Second},
		{name: "progress pace later than interval ignored", pace: 10 * time.Minute, want: 30 * time.Second},
		{name: "service estimate preferred to pace", estimate: 20 * time.Second, pace: 8 * time.Second, want: 20 * time.Second},
		{name: "pace beats quiet", quietFor: time.Hour, pace: 9 * time.Second, want: 9 * time.Second},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			obj := &opsv1.CloudOperation{Spec: opsv1.CloudOperationSpec{Service: opsv1.ServiceCCE}}
			var next derivedStatus
			if tc.pace > 0 {
				obj.Status = opsv1.CloudOperationStatus{Progress: int32p(50), LastChangeTime: &metav1.Time{Time: testNow.Add(-tc.pace)}}
				next.status.Progress = int32p(75)
			}
			if tc.quietFor > 0 {
				next.status.LastChangeTime = &metav1.Time{Time: testNow.Add(-tc.quietFor)}
			}
			obs := observation{op: &cloud.Operation{Phase: cloud.PhaseRunning, EstimatedRemaining: tc.estimate}, now: testNow}
			got, more := policy.NextPoll(obj, next, obs, 0)
			g := NewWithT(t)
			g.Expect(more).To(BeTrue())
			g.Expect(got).To(Equal(tc.want))
		})
	}
}

func TestQuietBCSPollsStayOnTicks(t *testing.T) {
	policy := DefaultPollPolicy()
	policy.Random = fixedRandom(0.5)
	tick := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	now := tick.Add(7 * time.Second)
	obj := &opsv1.CloudOperation{Spec: opsv1.CloudOperationSpec{Service: opsv1.ServiceBCS}}
	next := derivedStatus{status: opsv1.CloudOperationStatus{LastChangeTime: &metav1.Time{Time: now.Add(-20 * time.Minute)}}} // quiet wait 5m
	got, _ := policy.NextPoll(obj, next, observation{op: &cloud.Operation{Phase: cloud.PhaseRunning}, now: now}, 0)
	// The tick 4m30s after the next one (23s away), plus half the spread.
	NewWithT(t).Expect(got).To(Equal(23*time.Second + 4*time.Minute + 30*time.Second + time.Second))
}

func TestFirstBCSPollWaitsForTheTickAfterCreation(t *testing.T) {
	policy := DefaultPollPolicy()
	policy.Random = fixedRandom(0.5)
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
		name string
		obj  *opsv1.CloudOperation
		now  time.Time
		want time.Duration
	}{
		{name: "new BCS operation waits for the tick", obj: newOp(opsv1.ServiceBCS, tick.Add(-20*time.Second)), now: tick.Add(-19 * time.Second), want: 20 * time.Second}, // 19s and half the spread
		{name: "tick passed: poll now", obj: newOp(opsv1.ServiceBCS, tick.Add(-20*time.Second)), now: tick.Add(time.Second)},
		{name: "old object after a restart: poll now", obj: newOp(opsv1.ServiceBCS, tick.Add(-time.Hour)), now: tick.Add(-19 * time.Second)},
		{name: "other services poll at once", obj: newOp(opsv1.ServiceCCE, tick.Add(-20*time.Second)), now: tick.Add(-19 * time.Second)},
		{name: "already polled", obj: polled, now: tick.Add(-19 * time.Second)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			NewWithT(t).Expect(policy.FirstPollWait(tc.obj, tc.now)).To(Equal(tc.want))
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
			NewWithT(t).Expect(progressETA(&tc.prev, &tc.next, testNow)).To(Equal(tc.want))
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
		NewWithT(t).Expect(got).To(Equal(tc.want), "after %d failures", tc.failures)
	}
	limiter.Forget(item)
	NewWithT(t).Expect(limiter.When(item)).To(Equal(5*time.Millisecond), "after a success the backoff starts over")
}

func TestNextPollSkipsEarlyPollsOfASlowStep(t *testing.T) {
	policy := DefaultPollPolicy()
	policy.JitterFactor = 0
	policy.QuietFactor = 0 // the pace rule alone
	// leaf is a step that started at start and, when took > 0, succeeded
	// took later.
	leaf := func(name string, took time.Duration) opsv1.StepStatus {
		start := metav1.NewTime(testNow.Add(-time.Hour))
		s := opsv1.StepStatus{Name: name, Phase: opsv1.PhaseRunning, StartTime: &start}
		if took > 0 {
			end := metav1.NewTime(start.Add(took))
			s.Phase, s.CompletionTime = opsv1.PhaseSucceeded, &end
		}
		return s
	}
	steps := func(leaves ...opsv1.StepStatus) []opsv1.OperationStep {
		var out []opsv1.OperationStep
		for _, l := range leaves {
			out = append(out, opsv1.OperationStep{StepStatus: l})
		}
		return out
	}
	cases := []struct {
		name       string
		prev, next []opsv1.OperationStep
		want       time.Duration
	}{
		{name: "no step ended: interval",
			prev: steps(leaf("a", 4*time.Minute), leaf("b", 0), leaf("c", 0)),
			next: steps(leaf("a", 4*time.Minute), leaf("b", 0), leaf("c", 0)), want: 30 * time.Second},
		{name: "a step ended: three quarters of the mean step",
			prev: steps(leaf("a", 4*time.Minute), leaf("b", 0), leaf("c", 0)),
			next: steps(leaf("a", 4*time.Minute), leaf("b", 2*time.Minute), leaf("c", 0), leaf("d", 0)), want: 135 * time.Second},
		{name: "the last step is running: interval",
			prev: steps(leaf("a", 4*time.Minute), leaf("b", 0)),
			next: steps(leaf("a", 4*time.Minute), leaf("b", 4*time.Minute), leaf("c", 0)), want: 30 * time.Second},
		{name: "fast steps: interval",
			prev: steps(leaf("a", 0), leaf("b", 0), leaf("c", 0)),
			next: steps(leaf("a", 20*time.Second), leaf("b", 0), leaf("c", 0)), want: 30 * time.Second},
		{name: "slow steps: capped",
			prev: steps(leaf("a", 0), leaf("b", 0), leaf("c", 0)),
			next: steps(leaf("a", time.Hour), leaf("b", 0), leaf("c", 0)), want: 5 * time.Minute},
		{name: "no times reported: interval",
			prev: steps(opsv1.StepStatus{Name: "a", Phase: opsv1.PhaseRunning}, leaf("b", 0), leaf("c", 0)),
			next: steps(opsv1.StepStatus{Name: "a", Phase: opsv1.PhaseSucceeded}, leaf("b", 0), leaf("c", 0)), want: 30 * time.Second},
		{name: "sub-steps count as the steps",
			prev: []opsv1.OperationStep{{StepStatus: leaf("item", 0), SubSteps: []opsv1.StepStatus{leaf("x", 0), leaf("y", 0), leaf("z", 0)}}},
			next: []opsv1.OperationStep{{StepStatus: leaf("item", 0), SubSteps: []opsv1.StepStatus{leaf("x", 8*time.Minute), leaf("y", 0), leaf("z", 0)}}},
			want: 5 * time.Minute},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			obj := &opsv1.CloudOperation{Spec: opsv1.CloudOperationSpec{Service: opsv1.ServiceCCE},
				Status: opsv1.CloudOperationStatus{Phase: opsv1.PhaseRunning, Steps: tc.prev}}
			var next derivedStatus
			next.status = opsv1.CloudOperationStatus{Phase: opsv1.PhaseRunning, Steps: tc.next}
			got, more := policy.NextPoll(obj, next, observation{op: &cloud.Operation{Phase: cloud.PhaseRunning}, now: testNow}, 0)
			g := NewWithT(t)
			g.Expect(more).To(BeTrue())
			g.Expect(got).To(Equal(tc.want))
		})
	}
}
