package controller

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	. "github.com/onsi/gomega"
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
		{name: "not found after terminal changes nothing", prev: withConditions(succeeded, &cloud.Operation{Phase: cloud.PhaseSucceeded}),
			err:  &cloud.Error{Kind: cloud.KindNotFound, HTTPStatus: 404},
			want: "Ready=True/Succeeded Reconciling=- Stalled=- Succeeded=True/Succeeded", wantPhase: opsv1.PhaseSucceeded},
		{name: "error after terminal keeps terminal conditions", prev: withConditions(succeeded, &cloud.Operation{Phase: cloud.PhaseSucceeded}),
			err:  &cloud.Error{Kind: cloud.KindTransient},
			want: "Ready=True/Succeeded Reconciling=- Stalled=- Succeeded=True/Succeeded", wantPhase: opsv1.PhaseSucceeded},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			g := NewWithT(t)
			if tc.created.IsZero() {
				tc.created = created
			}
			obj := &opsv1.CloudOperation{ObjectMeta: metav1.ObjectMeta{Generation: 3, CreationTimestamp: tc.created}, Status: tc.prev}
			next := computeStatus(obj, observation{op: tc.op, err: tc.err, now: testNow})
			st := next.status
			g.Expect(conditionSummary(st)).To(Equal(tc.want))
			g.Expect(st.Phase).To(Equal(tc.wantPhase))
			g.Expect(st.ObservedGeneration).To(BeEquivalentTo(3))
			for _, c := range st.Conditions {
				g.Expect(c.ObservedGeneration).To(BeEquivalentTo(3), "condition %s", c.Type)
			}
			if tc.err != nil && tc.prev.Progress != nil {
				g.Expect(st.Progress).To(Equal(tc.prev.Progress), "an error changed progress")
			}
			if tc.prev.Phase.IsTerminal() && cloud.KindOf(tc.err) == cloud.KindNotFound {
				g.Expect(st.Message).To(Equal(tc.prev.Message), "a job gone after it finished is not news")
			}
			// What was decided is what the conditions say.
			if tc.err == nil {
				g.Expect(next.errorReason).To(BeEmpty())
				g.Expect(next.stalled).To(BeFalse())
			} else if !st.Phase.IsTerminal() {
				g.Expect(next.errorReason).To(Equal(findCondition(st.Conditions, opsv1.ConditionReady).Reason))
				g.Expect(next.stalled).To(Equal(findCondition(st.Conditions, opsv1.ConditionStalled) != nil))
			}
		})
	}
}

// withConditions gives st the conditions op implies, as written for the
// previous generation (2): the table's objects are at generation 3, so
// every case also checks the conditions are stamped anew.
func withConditions(st opsv1.CloudOperationStatus, op *cloud.Operation) opsv1.CloudOperationStatus {
	applyPhaseConditions(&st, 2, op, 0, testNow)
	return st
}

func TestComputeStatusIsStableForTheSameObservation(t *testing.T) {
	obj := &opsv1.CloudOperation{ObjectMeta: metav1.ObjectMeta{Generation: 1}}
	op := runningOp()
	first := computeStatus(obj, observation{op: op, now: testNow}).status
	obj.Status = first
	second := computeStatus(obj, observation{op: op, now: testNow.Add(time.Minute)}).status
	NewWithT(t).Expect(second).To(Equal(first), "status changed without a change in the cloud")
}

func TestStatusStaysWithinSchemaLimits(t *testing.T) {
	long := strings.Repeat("界", 5000)
	steps := make([]cloud.Step, 300)
	for i := range steps {
		steps[i] = cloud.Step{Name: long, Phase: cloud.PhaseRunning, Message: long, SubSteps: make([]cloud.Step, 200)}
	}
	progress := int32(250)
	obj := &opsv1.CloudOperation{ObjectMeta: metav1.ObjectMeta{Generation: 1}}
	st := computeStatus(obj, observation{op: &cloud.Operation{Phase: cloud.PhaseRunning, ServiceStatus: long, Message: long, CurrentStep: long, Progress: &progress, Steps: steps}, now: testNow}).status
	g := NewWithT(t)
	g.Expect(st.Steps).To(HaveLen(maxSteps))
	g.Expect(st.Steps[0].SubSteps).To(HaveLen(maxSubSteps))
	g.Expect(len(st.Message)).To(BeNumerically("<=", maxStatusMessage))
	g.Expect(len(st.ServiceStatus)).To(BeNumerically("<=", maxServiceStatus))
	g.Expect(len(st.CurrentStep)).To(BeNumerically("<=", maxStepName))
	g.Expect(len(st.Steps[0].Name)).To(BeNumerically("<=", maxStepName))
	g.Expect(len(st.Steps[0].Message)).To(BeNumerically("<=", maxStepMessage))
	g.Expect(*st.Progress).To(BeEquivalentTo(100), "progress not clamped")
	g.Expect(st.Message).To(HaveSuffix("…"), "truncation lost its mark")
	g.Expect(utf8.ValidString(st.Message)).To(BeTrue(), "truncation broke a rune")
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
		NewWithT(t).Expect(truncate(tc.in, tc.n)).To(Equal(tc.want), "truncate(%q, %d)", tc.in, tc.n)
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
			got := computeStatus(obj, observation{op: tc.op, err: tc.err, now: testNow}).status
			NewWithT(t).Expect(got.LastChangeTime).To(Equal(tc.want))
		})
	}
}

func TestMergeResources(t *testing.T) {
	ref := func(typ, id string) opsv1.ResourceReference { return opsv1.ResourceReference{Type: typ, ID: id} }
	many := make([]cloud.Resource, 40)
	for i := range many {
		many[i] = cloud.Resource{Type: "server", ID: fmt.Sprint("s", i)}
	}
	cases := []struct {
		name  string
		seen  []opsv1.ResourceReference
		found []cloud.Resource
		want  []opsv1.ResourceReference
	}{
		{name: "first seen", found: []cloud.Resource{{Type: "server", ID: "s1"}}, want: []opsv1.ResourceReference{ref("server", "s1")}},
		{name: "kept when no longer listed, new ones appended",
			seen: []opsv1.ResourceReference{ref("server", "s1")}, found: []cloud.Resource{{Type: "volume", ID: "v1"}, {Type: "server", ID: "s1"}},
			want: []opsv1.ResourceReference{ref("server", "s1"), ref("volume", "v1")}},
		{name: "capped", found: many, want: func() []opsv1.ResourceReference {
			var out []opsv1.ResourceReference
			for _, r := range many[:maxResources] {
				out = append(out, ref(r.Type, r.ID))
			}
			return out
		}()},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			NewWithT(t).Expect(mergeResources(tc.seen, tc.found)).To(Equal(tc.want))
		})
	}
}

// TestPhaseMessageUnknownStatus: the Ready message quotes an unmapped
// status word, and says "(missing)" when the service sent none (EVS
// failures with only an error object).
func TestPhaseMessageUnknownStatus(t *testing.T) {
	for _, tc := range []struct {
		word, want string
	}{
		{"paused", `service reported unknown status "paused"`},
		{"", "service reported unknown status (missing)"},
		{"  ", "service reported unknown status (missing)"},
	} {
		t.Run(fmt.Sprintf("%q", tc.word), func(t *testing.T) {
			got := phaseMessage(&cloud.Operation{Phase: cloud.PhaseUnknown, ServiceStatus: tc.word, Message: "EVS.9999: XXXX"})
			NewWithT(t).Expect(got).To(Equal(tc.want + ": EVS.9999: XXXX"))
		})
	}
}
