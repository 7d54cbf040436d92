package controller

import (
	"fmt"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	opsv1 "github.com/cloudop/cloudop/api/v1alpha1"
)

// TestFinishedSpans: a write reports the operation's duration when it ends
// the operation, and each top-level step's when it ends that step, from
// the service's own times; nothing twice, nothing without both times.
func TestFinishedSpans(t *testing.T) {
	at := func(min int) *metav1.Time {
		t := metav1.NewTime(testNow.Add(time.Duration(min) * time.Minute))
		return &t
	}
	step := func(name string, phase opsv1.Phase, start, end *metav1.Time) opsv1.OperationStep {
		return opsv1.OperationStep{StepStatus: opsv1.StepStatus{Name: name, Phase: phase, StartTime: start, CompletionTime: end}}
	}
	running := opsv1.CloudOperationStatus{Phase: opsv1.PhaseRunning, StartTime: at(0), Steps: []opsv1.OperationStep{
		step("PreCheck", opsv1.PhaseSucceeded, at(0), at(2)),
		step("Cluster", opsv1.PhaseRunning, at(2), nil),
	}}
	ended := opsv1.CloudOperationStatus{Phase: opsv1.PhaseSucceeded, StartTime: at(0), CompletionTime: at(40), Steps: []opsv1.OperationStep{
		step("PreCheck", opsv1.PhaseSucceeded, at(0), at(2)),
		step("Cluster", opsv1.PhaseSucceeded, at(2), at(40)),
	}}
	for _, tc := range []struct {
		name       string
		prev, next opsv1.CloudOperationStatus
		want       []finishedSpan
	}{
		{"first status: the step already done counts", opsv1.CloudOperationStatus{}, running,
			[]finishedSpan{{step: "PreCheck", outcome: opsv1.PhaseSucceeded, duration: 2 * time.Minute}}},
		{"the operation and its last step end", running, ended, []finishedSpan{
			{outcome: opsv1.PhaseSucceeded, duration: 40 * time.Minute},
			{step: "Cluster", outcome: opsv1.PhaseSucceeded, duration: 38 * time.Minute},
		}},
		{"nothing new", ended, ended, nil},
		{"no completion time", running, func() opsv1.CloudOperationStatus {
			s := *ended.DeepCopy()
			s.CompletionTime, s.Steps[1].CompletionTime = nil, nil
			return s
		}(), nil},
		{"end before start", running, func() opsv1.CloudOperationStatus {
			s := *ended.DeepCopy()
			s.CompletionTime, s.Steps[1].CompletionTime = at(-1), at(1)
			return s
		}(), nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			NewWithT(t).Expect(finishedSpans(&tc.prev, &tc.next)).To(Equal(tc.want))
		})
	}
}

// TestStepKind: step names that identify one instance are folded, so the
// step label stays a kind of step.
func TestStepKind(t *testing.T) {
	for name, want := range map[string]string{
		"Cluster":               "Cluster",
		"PreCheck":              "PreCheck",
		"huaweicloud_vpc.first": "huaweicloud_vpc.first",
		"createPublicip (publicip 467b60a1-6b2a-7188-7d1e-8208e8eddc5b)": "createPublicip",
		"node 192.168.0.12":                    foldedStep,
		"upgrade-node-3c8f0a2b9d":              foldedStep,
		"5a1b3c2d-1111-2222-3333-444455556666": foldedStep,
		"step-01":                              "step-01",
		"restore the data of the cluster":      foldedStep,
		"":                                     foldedStep,
	} {
		NewWithT(t).Expect(stepKind(name)).To(Equal(want), "%q", name)
	}
}

// TestStepLabelsBounded: a service gets at most maxStepLabels step label
// values; later names become "other", names seen before keep theirs.
func TestStepLabelsBounded(t *testing.T) {
	g := NewWithT(t)
	set := &stepLabelSet{seen: map[string]map[string]bool{}}
	for i := range maxStepLabels {
		g.Expect(set.label("RFS", fmt.Sprintf("resource_%c%c", 'a'+i/26, 'a'+i%26))).NotTo(Equal(foldedStep))
	}
	g.Expect(set.label("RFS", "one_too_many")).To(Equal(foldedStep))
	g.Expect(set.label("RFS", "resource_aa")).To(Equal("resource_aa"), "a name seen before keeps its label")
	g.Expect(set.label("CCE", "Cluster")).To(Equal("Cluster"), "the bound is per service")
}

// TestObserveDurations: the histograms are fed by service, type, step and
// outcome, with the service's times.
func TestObserveDurations(t *testing.T) {
	g := NewWithT(t)
	read := func(h prometheus.Observer) (count uint64, sum float64) {
		m := &dto.Metric{}
		g.Expect(h.(prometheus.Metric).Write(m)).To(Succeed())
		return m.GetHistogram().GetSampleCount(), m.GetHistogram().GetSampleSum()
	}
	op := operationDuration.WithLabelValues("CCE", "UpgradeWorkflow", "Failed")
	st := stepDuration.WithLabelValues("CCE", "UpgradeWorkflow", "Cluster", "Failed")
	opCount, opSum := read(op)
	stCount, stSum := read(st)

	obj := &opsv1.CloudOperation{Spec: opsv1.CloudOperationSpec{Service: opsv1.ServiceCCE, OperationType: opsv1.OperationTypeUpgradeWorkflow}}
	start, stepStart, end := metav1.NewTime(testNow), metav1.NewTime(testNow.Add(30*time.Second)), metav1.NewTime(testNow.Add(90*time.Second))
	next := &opsv1.CloudOperationStatus{Phase: opsv1.PhaseFailed, StartTime: &start, CompletionTime: &end, Steps: []opsv1.OperationStep{
		{StepStatus: opsv1.StepStatus{Name: "Cluster", Phase: opsv1.PhaseFailed, StartTime: &stepStart, CompletionTime: &end}},
	}}
	observeDurations(obj, finishedSpans(&opsv1.CloudOperationStatus{Phase: opsv1.PhaseRunning}, next))

	count, sum := read(op)
	g.Expect(count - opCount).To(Equal(uint64(1)))
	g.Expect(sum - opSum).To(Equal(90.0))
	count, sum = read(st)
	g.Expect(count - stCount).To(Equal(uint64(1)))
	g.Expect(sum - stSum).To(Equal(60.0))
}
