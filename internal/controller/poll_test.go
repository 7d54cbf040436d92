package controller

import (
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

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
