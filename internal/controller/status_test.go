package controller

import (
	"errors"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	opsv1 "github.com/cloudop/cloudop/api/v1alpha1"
	"github.com/cloudop/cloudop/internal/cloud"
)

// conditionSummary renders conditions as "Type=Status/Reason" in a fixed
// order, absent ones as "Type=-".
func conditionSummary(st opsv1.CloudOperationStatus) string {
	var parts []string
	for _, typ := range []string{opsv1.ConditionReady, opsv1.ConditionReconciling, opsv1.ConditionStalled, opsv1.ConditionSucceeded} {
		c := findCondition(st.Conditions, typ)
		if c == nil {
			parts = append(parts, typ+"=-")
			continue
		}
		parts = append(parts, typ+"="+string(c.Status)+"/"+c.Reason)
	}
	return strings.Join(parts, " ")
}

func findCondition(conds []metav1.Condition, typ string) *metav1.Condition {
	for i := range conds {
		if conds[i].Type == typ {
			return &conds[i]
		}
	}
	return nil
}

func TestComputeStatusConditions(t *testing.T) {
	created := metav1.NewTime(testNow.Add(-time.Hour))
	fresh := metav1.NewTime(testNow.Add(-time.Minute))
	running := opsv1.CloudOperationStatus{Phase: opsv1.PhaseRunning, ServiceStatus: "Running", Progress: int32p(40)}
	succeeded := opsv1.CloudOperationStatus{Phase: opsv1.PhaseSucceeded, ServiceStatus: "Success"}
	cases := []struct {
		name      string
		prev      opsv1.CloudOperationStatus
		created   metav1.Time
		op        *cloud.Operation
		err       error
		want      string
		wantPhase opsv1.Phase
	}{
		{name: "pending", op: &cloud.Operation{Phase: cloud.PhasePending},
			want: "Ready=False/Pending Reconciling=True/Pending Stalled=- Succeeded=Unknown/Pending", wantPhase: opsv1.PhasePending},
		{name: "running", op: &cloud.Operation{Phase: cloud.PhaseRunning},
			want: "Ready=False/InProgress Reconciling=True/InProgress Stalled=- Succeeded=Unknown/InProgress", wantPhase: opsv1.PhaseRunning},
		{name: "succeeded", op: &cloud.Operation{Phase: cloud.PhaseSucceeded},
			want: "Ready=True/Succeeded Reconciling=- Stalled=- Succeeded=True/Succeeded", wantPhase: opsv1.PhaseSucceeded},
		{name: "failed", op: &cloud.Operation{Phase: cloud.PhaseFailed},
			want: "Ready=False/Failed Reconciling=- Stalled=True/Failed Succeeded=False/Failed", wantPhase: opsv1.PhaseFailed},
		{name: "failed resumable", op: &cloud.Operation{Phase: cloud.PhaseFailed, Resumable: true},
			want: "Ready=False/FailedResumable Reconciling=- Stalled=True/FailedResumable Succeeded=False/FailedResumable", wantPhase: opsv1.PhaseFailed},
		{name: "cancelled", op: &cloud.Operation{Phase: cloud.PhaseCancelled},
			want: "Ready=False/Cancelled Reconciling=- Stalled=True/Cancelled Succeeded=False/Cancelled", wantPhase: opsv1.PhaseCancelled},
		{name: "unknown word", op: &cloud.Operation{Phase: cloud.PhaseUnknown, ServiceStatus: "paused"},
			want: "Ready=False/UnknownStatus Reconciling=True/UnknownStatus Stalled=- Succeeded=Unknown/UnknownStatus", wantPhase: opsv1.PhaseUnknown},
		{name: "transient keeps running", prev: running, err: &cloud.Error{Kind: cloud.KindTransient, HTTPStatus: 503},
			want: "Ready=False/TransientError Reconciling=True/TransientError Stalled=- Succeeded=Unknown/TransientError", wantPhase: opsv1.PhaseRunning},
		{name: "plain error is transient", prev: running, err: errors.New("connection reset"),
			want: "Ready=False/TransientError Reconciling=True/TransientError Stalled=- Succeeded=Unknown/TransientError", wantPhase: opsv1.PhaseRunning},
		{name: "throttled", prev: running, err: &cloud.Error{Kind: cloud.KindThrottled, Code: "APIGW.0308"},
			want: "Ready=False/Throttled Reconciling=True/Throttled Stalled=- Succeeded=Unknown/Throttled", wantPhase: opsv1.PhaseRunning},
		{name: "auth", err: &cloud.Error{Kind: cloud.KindAuth, Code: "APIGW.0301"},
			want: "Ready=False/AuthFailed Reconciling=True/AuthFailed Stalled=- Succeeded=Unknown/AuthFailed"},
		{name: "not found in grace period", created: fresh, err: &cloud.Error{Kind: cloud.KindNotFound},
			want: "Ready=False/NotFound Reconciling=True/NotFound Stalled=- Succeeded=Unknown/NotFound"},
		{name: "not found after grace period", err: &cloud.Error{Kind: cloud.KindNotFound},
			want: "Ready=False/NotFound Reconciling=- Stalled=True/NotFound Succeeded=Unknown/NotFound"},
		{name: "permanent", err: &cloud.Error{Kind: cloud.KindPermanent, HTTPStatus: 400},
			want: "Ready=False/InvalidConfiguration Reconciling=- Stalled=True/InvalidConfiguration Succeeded=Unknown/InvalidConfiguration"},
		{name: "credentials", err: &credentialsError{"no key"},
			want: "Ready=False/CredentialsInvalid Reconciling=True/CredentialsInvalid Stalled=- Succeeded=Unknown/CredentialsInvalid"},
		{name: "error after terminal keeps terminal conditions", prev: withConditions(succeeded, &cloud.Operation{Phase: cloud.PhaseSucceeded}),
			err:  &cloud.Error{Kind: cloud.KindTransient},
			want: "Ready=True/Succeeded Reconciling=- Stalled=- Succeeded=True/Succeeded", wantPhase: opsv1.PhaseSucceeded},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if tc.created.IsZero() {
				tc.created = created
			}
			obj := &opsv1.CloudOperation{ObjectMeta: metav1.ObjectMeta{Generation: 3, CreationTimestamp: tc.created}, Status: tc.prev}
			st := computeStatus(obj, observation{op: tc.op, err: tc.err, now: testNow})
			if got := conditionSummary(st); got != tc.want {
				t.Errorf("conditions:\n got %s\nwant %s", got, tc.want)
			}
			if st.Phase != tc.wantPhase {
				t.Errorf("phase %q, want %q", st.Phase, tc.wantPhase)
			}
			if st.ObservedGeneration != 3 {
				t.Errorf("observedGeneration %d", st.ObservedGeneration)
			}
			for _, c := range st.Conditions {
				if c.ObservedGeneration != 3 {
					t.Errorf("condition %s has observedGeneration %d", c.Type, c.ObservedGeneration)
				}
			}
			if tc.err != nil && tc.prev.Progress != nil && *st.Progress != *tc.prev.Progress {
				t.Errorf("an error changed progress")
			}
		})
	}
}

func withConditions(st opsv1.CloudOperationStatus, op *cloud.Operation) opsv1.CloudOperationStatus {
	applyPhaseConditions(&st, 3, op)
	return st
}

func TestComputeStatusIsStableForTheSameObservation(t *testing.T) {
	obj := &opsv1.CloudOperation{ObjectMeta: metav1.ObjectMeta{Generation: 1}}
	op := runningOp()
	first := computeStatus(obj, observation{op: op, now: testNow})
	obj.Status = first
	second := computeStatus(obj, observation{op: op, now: testNow.Add(time.Minute)})
	if !equality.Semantic.DeepEqual(first, second) {
		t.Fatalf("status changed without a change in the cloud:\n%+v\n%+v", first, second)
	}
}

func TestStatusStaysWithinSchemaLimits(t *testing.T) {
	long := strings.Repeat("界", 5000)
	steps := make([]cloud.Step, 300)
	for i := range steps {
		steps[i] = cloud.Step{Name: long, Phase: cloud.PhaseRunning, Message: long, SubSteps: make([]cloud.Step, 200)}
	}
	progress := int32(250)
	obj := &opsv1.CloudOperation{ObjectMeta: metav1.ObjectMeta{Generation: 1}}
	st := computeStatus(obj, observation{op: &cloud.Operation{Phase: cloud.PhaseRunning, ServiceStatus: long, Message: long, CurrentStep: long, Progress: &progress, Steps: steps}, now: testNow})
	if len(st.Steps) != maxSteps || len(st.Steps[0].SubSteps) != maxSubSteps {
		t.Errorf("steps not capped: %d / %d", len(st.Steps), len(st.Steps[0].SubSteps))
	}
	if len(st.Message) > maxStatusMessage || len(st.ServiceStatus) > maxServiceStatus || len(st.CurrentStep) > maxStepName || len(st.Steps[0].Message) > maxStepMessage {
		t.Errorf("strings not capped")
	}
	if *st.Progress != 100 {
		t.Errorf("progress %d not clamped", *st.Progress)
	}
	if !strings.HasSuffix(st.Message, "…") || !utf8.ValidString(st.Message) {
		t.Errorf("truncation broke a rune or lost its mark")
	}
}

func TestTruncateKeepsRunesWhole(t *testing.T) {
	cases := []struct {
		in   string
		n    int
		want string
	}{
		{"short", 10, "short"},
		{"abcdefghij", 10, "abcdefghij"},
		{"abcdefghijk", 10, "abcdefg…"},
		{"界界界界", 10, "界界…"},
	}
	for _, tc := range cases {
		if got := truncate(tc.in, tc.n); got != tc.want {
			t.Errorf("truncate(%q, %d) = %q, want %q", tc.in, tc.n, got, tc.want)
		}
	}
}

func TestComputeStatusLastChangeTime(t *testing.T) {
	earlier := metav1.NewTime(testNow.Add(-10 * time.Minute))
	running := opsv1.CloudOperationStatus{Phase: opsv1.PhaseRunning, ServiceStatus: "Running", Progress: int32p(40), LastChangeTime: &earlier}
	cases := []struct {
		name string
		prev opsv1.CloudOperationStatus
		op   *cloud.Operation
		err  error
		want *metav1.Time
	}{
		{name: "first observation", op: &cloud.Operation{Phase: cloud.PhaseRunning}, want: &metav1.Time{Time: testNow}},
		{name: "nothing changed keeps it", prev: running, op: &cloud.Operation{Phase: cloud.PhaseRunning, ServiceStatus: "Running", Progress: int32p(40)}, want: &earlier},
		{name: "progress moved", prev: running, op: &cloud.Operation{Phase: cloud.PhaseRunning, ServiceStatus: "Running", Progress: int32p(50)}, want: &metav1.Time{Time: testNow}},
		{name: "a step moved", prev: running, op: &cloud.Operation{Phase: cloud.PhaseRunning, ServiceStatus: "Running", Progress: int32p(40), Steps: []cloud.Step{{Name: "a", Phase: cloud.PhaseRunning}}}, want: &metav1.Time{Time: testNow}},
		{name: "a failed poll is not a change", prev: running, err: errors.New("reset"), want: &earlier},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			obj := &opsv1.CloudOperation{Status: tc.prev}
			obj.CreationTimestamp = metav1.NewTime(testNow.Add(-time.Hour))
			got := computeStatus(obj, observation{op: tc.op, err: tc.err, now: testNow})
			if !equality.Semantic.DeepEqual(got.LastChangeTime, tc.want) {
				t.Errorf("lastChangeTime = %v, want %v", got.LastChangeTime, tc.want)
			}
		})
	}
}
