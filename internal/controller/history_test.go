package controller

import (
	"context"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	opsv1 "github.com/cloudop/cloudop/api/v1alpha1"
)

// historyStep is a top-level step for history tests: phase, and start and
// completion as offsets from testNow (negative: unset).
func historyStep(name string, phase opsv1.Phase, start, end time.Duration) opsv1.OperationStep {
	s := opsv1.OperationStep{StepStatus: opsv1.StepStatus{Name: name, Phase: phase}}
	if start >= 0 {
		s.StartTime = &metav1.Time{Time: testNow.Add(start)}
	}
	if end >= 0 {
		s.CompletionTime = &metav1.Time{Time: testNow.Add(end)}
	}
	return s
}

// learnedHistory has seen three CCE upgrades whose Snapshot took 2, 3 and
// 4 minutes and whose Cluster took 10, 20 and 30 (medians 3 and 20), and
// one whose Nodes step failed.
func learnedHistory() *StepHistory {
	h := NewStepHistory()
	for i, d := range []time.Duration{2, 3, 4} {
		h.Learn(&opsv1.CloudOperation{
			Spec: opsv1.CloudOperationSpec{Service: opsv1.ServiceCCE},
			Status: opsv1.CloudOperationStatus{Phase: opsv1.PhaseSucceeded, Steps: []opsv1.OperationStep{
				historyStep("Snapshot", opsv1.PhaseSucceeded, 0, d*time.Minute),
				historyStep("Cluster", opsv1.PhaseSucceeded, d*time.Minute, d*time.Minute+time.Duration(10*(i+1))*time.Minute),
				historyStep("Nodes", opsv1.PhaseFailed, 0, time.Minute),
			}},
		})
	}
	return h
}

func TestStepHistoryEstimate(t *testing.T) {
	h := learnedHistory()
	cce := &opsv1.CloudOperation{Spec: opsv1.CloudOperationSpec{Service: opsv1.ServiceCCE}}
	running := func(steps ...opsv1.OperationStep) *opsv1.CloudOperationStatus {
		return &opsv1.CloudOperationStatus{Phase: opsv1.PhaseRunning, Steps: steps}
	}
	for _, tc := range []struct {
		name          string
		obj           *opsv1.CloudOperation
		st            *opsv1.CloudOperationStatus
		now           time.Duration
		ok            bool
		stepEnd, done time.Duration
	}{
		{
			name: "first step running: its typical end, then the next step's typical duration",
			obj:  cce, now: time.Minute,
			st:      running(historyStep("Snapshot", opsv1.PhaseRunning, 0, -1), historyStep("Cluster", opsv1.PhasePending, -1, -1)),
			ok:      true,
			stepEnd: 3 * time.Minute, done: 23 * time.Minute,
		},
		{
			name: "a step past its typical end is expected one typical duration later for each one overrun",
			obj:  cce, now: 7 * time.Minute,
			st:      running(historyStep("Snapshot", opsv1.PhaseRunning, 0, -1), historyStep("Cluster", opsv1.PhasePending, -1, -1)),
			ok:      true,
			stepEnd: 9 * time.Minute, done: 29 * time.Minute,
		},
		{
			name: "last step running: its end is the operation's",
			obj:  cce, now: 10 * time.Minute,
			st:      running(historyStep("Snapshot", opsv1.PhaseSucceeded, 0, 5*time.Minute), historyStep("Cluster", opsv1.PhaseRunning, 5*time.Minute, -1)),
			ok:      true,
			stepEnd: 25 * time.Minute, done: 25 * time.Minute,
		},
		{
			name: "a step without enough history: no estimate (Nodes only failed)",
			obj:  cce, now: time.Minute,
			st: running(historyStep("Snapshot", opsv1.PhaseRunning, 0, -1), historyStep("Nodes", opsv1.PhasePending, -1, -1)),
		},
		{
			name: "another service's steps of the same name are not used",
			obj:  &opsv1.CloudOperation{Spec: opsv1.CloudOperationSpec{Service: opsv1.ServiceDWS}}, now: time.Minute,
			st: running(historyStep("Snapshot", opsv1.PhaseRunning, 0, -1)),
		},
		{
			name: "finished: no estimate",
			obj:  cce, now: time.Hour,
			st: &opsv1.CloudOperationStatus{Phase: opsv1.PhaseSucceeded, Steps: []opsv1.OperationStep{historyStep("Snapshot", opsv1.PhaseSucceeded, 0, time.Minute)}},
		},
		{
			name: "no steps: no estimate",
			obj:  cce, now: time.Minute, st: running(),
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := NewWithT(t)
			stepEnd, done, ok := h.estimate(tc.obj, tc.st, testNow.Add(tc.now))
			g.Expect(ok).To(Equal(tc.ok))
			if tc.ok {
				g.Expect(stepEnd).To(Equal(testNow.Add(tc.stepEnd)))
				g.Expect(done).To(Equal(testNow.Add(tc.done)))
			}
		})
	}
}

// TestStepHistoryKeepsTheRecentRuns: the median follows the latest
// historySamples runs.
func TestStepHistoryKeepsTheRecentRuns(t *testing.T) {
	g := NewWithT(t)
	h := NewStepHistory()
	obj := &opsv1.CloudOperation{Spec: opsv1.CloudOperationSpec{Service: opsv1.ServiceCCE}}
	for i := range historySamples {
		h.observe(obj, []finishedSpan{{step: "Cluster", outcome: opsv1.PhaseSucceeded, duration: time.Hour + time.Duration(i)}})
	}
	for range historySamples/2 + 1 {
		h.observe(obj, []finishedSpan{{step: "Cluster", outcome: opsv1.PhaseSucceeded, duration: time.Minute}})
	}
	d, ok := h.typical(obj, "Cluster")
	g.Expect(ok).To(BeTrue())
	g.Expect(d).To(Equal(time.Minute), "the service got faster: the recent runs decide")
	g.Expect(h.steps).To(HaveLen(1))
	g.Expect(h.steps[stepKeyOf(obj, "Cluster")]).To(HaveLen(historySamples))
}

func TestApplyEstimate(t *testing.T) {
	g := NewWithT(t)
	h := learnedHistory()
	cce := &opsv1.CloudOperation{Spec: opsv1.CloudOperationSpec{Service: opsv1.ServiceCCE}}
	st := &opsv1.CloudOperationStatus{Phase: opsv1.PhaseRunning, Steps: []opsv1.OperationStep{
		historyStep("Snapshot", opsv1.PhaseRunning, 0, -1), historyStep("Cluster", opsv1.PhasePending, -1, -1)}}
	stepEnd := h.applyEstimate(cce, st, testNow.Add(1500*time.Millisecond))
	g.Expect(stepEnd).To(Equal(testNow.Add(3 * time.Minute)))
	g.Expect(st.EstimatedCompletionTime.Time).To(Equal(testNow.Add(23 * time.Minute)))

	// The last step: the estimate stays, no step end to wait for.
	st.Steps[0] = historyStep("Snapshot", opsv1.PhaseSucceeded, 0, 3*time.Minute)
	st.Steps[1] = historyStep("Cluster", opsv1.PhaseRunning, 3*time.Minute, -1)
	g.Expect(h.applyEstimate(cce, st, testNow.Add(4*time.Minute)).IsZero()).To(BeTrue())
	g.Expect(st.EstimatedCompletionTime.Time).To(Equal(testNow.Add(23 * time.Minute)))

	// Finished: the estimate is cleared.
	st.Phase = opsv1.PhaseSucceeded
	h.applyEstimate(cce, st, testNow.Add(30*time.Minute))
	g.Expect(st.EstimatedCompletionTime).To(BeNil())
}

func TestLearnedStepWait(t *testing.T) {
	p := DefaultPollPolicy()
	for _, tc := range []struct {
		name    string
		policy  PollPolicy
		stepEnd time.Duration
		want    time.Duration
	}{
		{"unknown end", p, 0, 0},
		{"four minutes left: three", p, 4 * time.Minute, 3 * time.Minute},
		{"capped by the quiet cap", p, 10 * time.Hour, p.MaxQuietInterval},
		{"end passed", p, -time.Minute, 0},
		{"rule off", PollPolicy{MaxQuietInterval: time.Hour}, 8 * time.Minute, 0},
		{"--max-quiet-interval=0: the interval, as after a step end", PollPolicy{StepPaceFactor: 0.75}, 4 * time.Minute, 30 * time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			end := time.Time{}
			if tc.stepEnd != 0 {
				end = testNow.Add(tc.stepEnd)
			}
			NewWithT(t).Expect(tc.policy.learnedStepWait(end, testNow, 30*time.Second)).To(Equal(tc.want))
		})
	}
}

// TestHistoryLoaderRebuildsFromObjects: after a restart, the history of
// the objects that exist is back.
func TestHistoryLoaderRebuildsFromObjects(t *testing.T) {
	g := NewWithT(t)
	ns := newNamespace(t)
	for i, d := range []time.Duration{2, 3, 4} {
		obj := &opsv1.CloudOperation{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "done-" + string(rune('a'+i))},
			Spec:       opsv1.CloudOperationSpec{Service: opsv1.ServiceDWS, Region: "cn-north-4", OperationID: "SNAPSHOTTING", ClusterID: "c1", CredentialsSecretRef: opsv1.SecretReference{Name: "creds"}},
		}
		g.Expect(k8s.Create(context.Background(), obj)).To(Succeed())
		obj.Status = opsv1.CloudOperationStatus{Phase: opsv1.PhaseSucceeded, Steps: []opsv1.OperationStep{historyStep("Create snapshot", opsv1.PhaseSucceeded, 0, d*time.Minute)}}
		g.Expect(k8s.Status().Update(context.Background(), obj)).To(Succeed())
	}
	h := NewStepHistory()
	g.Expect((&HistoryLoader{Reader: k8s, History: h}).Start(context.Background())).To(Succeed())
	d, ok := h.typical(&opsv1.CloudOperation{Spec: opsv1.CloudOperationSpec{Service: opsv1.ServiceDWS}}, "Create snapshot")
	g.Expect(ok).To(BeTrue())
	g.Expect(d).To(Equal(3 * time.Minute))
}
