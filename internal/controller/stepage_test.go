package controller

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	opsv1 "github.com/cloudop/cloudop/api/v1alpha1"
)

var stepAgeNow = time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)

// stepOp is an operation of service and type in phase with steps.
func stepOp(service opsv1.Service, typ opsv1.OperationType, phase opsv1.Phase, steps ...opsv1.OperationStep) opsv1.CloudOperation {
	return opsv1.CloudOperation{
		Spec:   opsv1.CloudOperationSpec{Service: service, OperationType: typ},
		Status: opsv1.CloudOperationStatus{Phase: phase, Steps: steps},
	}
}

// step is a top-level step in phase that started ago before stepAgeNow
// (no start time when ago < 0).
func step(name string, phase opsv1.Phase, ago time.Duration) opsv1.OperationStep {
	s := opsv1.OperationStep{StepStatus: opsv1.StepStatus{Name: name, Phase: phase}}
	if ago >= 0 {
		start := metav1.NewTime(stepAgeNow.Add(-ago))
		s.StartTime = &start
	}
	return s
}

// TestRunningStepAges: the age of the oldest running top-level step of
// each kind, by the histogram's step label; finished, pending and
// unstarted steps, steps of ended operations and sub-steps count for
// nothing.
func TestRunningStepAges(t *testing.T) {
	ecs, job := opsv1.ServiceECS, opsv1.OperationTypeJob
	running, done, failed := opsv1.PhaseRunning, opsv1.PhaseSucceeded, opsv1.PhaseFailed
	key := func(service opsv1.Service, typ opsv1.OperationType, step string) stepKey {
		return stepKey{string(service), string(typ), step}
	}
	withSub := step("createServer", running, time.Minute)
	withSub.SubSteps = []opsv1.StepStatus{{Name: "attachNic", Phase: running, StartTime: withSub.StartTime}}
	for _, tc := range []struct {
		name string
		ops  []opsv1.CloudOperation
		want map[stepKey]time.Duration
	}{
		{"nothing runs", nil, map[stepKey]time.Duration{}},
		{"one running step", []opsv1.CloudOperation{
			stepOp(ecs, job, running, step("createVolume", done, time.Hour), step("createServer", running, 90*time.Second), step("bindEip", opsv1.PhasePending, -1)),
		}, map[stepKey]time.Duration{key(ecs, job, "createServer"): 90 * time.Second}},
		{"the oldest of a kind", []opsv1.CloudOperation{
			stepOp(ecs, job, running, step("createServer", running, time.Minute)),
			stepOp(ecs, job, running, step("createServer", running, 7*time.Minute)),
			stepOp(ecs, job, opsv1.PhasePending, step("createServer", running, 3*time.Minute)),
		}, map[stepKey]time.Duration{key(ecs, job, "createServer"): 7 * time.Minute}},
		{"the histogram's step label", []opsv1.CloudOperation{
			stepOp(opsv1.ServiceVPC, job, running, step("createPublicip (publicip 467b0c4e-1f2a)", running, 20*time.Second)),
			stepOp(opsv1.ServiceVPC, job, running, step("createPublicip (publicip 99aa01ff-0000)", running, 50*time.Second)),
			stepOp(opsv1.ServiceVPC, job, running, step("restore 2026-11-30 backup", running, 5*time.Second)),
		}, map[stepKey]time.Duration{
			key(opsv1.ServiceVPC, job, "createPublicip"): 50 * time.Second,
			key(opsv1.ServiceVPC, job, foldedStep):       5 * time.Second,
		}},
		{"by service and operation type", []opsv1.CloudOperation{
			stepOp(opsv1.ServiceCCE, opsv1.OperationTypeUpgradeWorkflow, running, step("Cluster", running, time.Hour)),
			stepOp(opsv1.ServiceCCE, job, running, step("Cluster", running, time.Minute)),
		}, map[stepKey]time.Duration{
			key(opsv1.ServiceCCE, opsv1.OperationTypeUpgradeWorkflow, "Cluster"): time.Hour,
			key(opsv1.ServiceCCE, job, "Cluster"):                                time.Minute,
		}},
		{"ended operations and unstarted steps left out", []opsv1.CloudOperation{
			stepOp(ecs, job, failed, step("createServer", running, time.Hour)),
			stepOp(ecs, job, opsv1.PhaseCancelled, step("createServer", running, time.Hour)),
			stepOp(ecs, job, running, step("createServer", running, -1), step("createVolume", failed, time.Hour), step("bindEip", opsv1.PhaseUnknown, time.Hour)),
		}, map[stepKey]time.Duration{}},
		{"sub-steps are not top-level steps", []opsv1.CloudOperation{
			stepOp(ecs, job, running, withSub),
		}, map[stepKey]time.Duration{key(ecs, job, "createServer"): time.Minute}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			labels := &stepLabelSet{seen: map[string]map[string]bool{}}
			NewWithT(t).Expect(runningStepAges(tc.ops, stepAgeNow, labels.label)).To(Equal(tc.want))
		})
	}

	t.Run("a start in the future", func(t *testing.T) {
		labels := &stepLabelSet{seen: map[string]map[string]bool{}}
		ahead := step("createServer", running, 0)
		future := metav1.NewTime(stepAgeNow.Add(30 * time.Second))
		ahead.StartTime = &future
		got := runningStepAges([]opsv1.CloudOperation{stepOp(ecs, job, running, ahead)}, stepAgeNow, labels.label)
		NewWithT(t).Expect(got).To(Equal(map[stepKey]time.Duration{key(ecs, job, "createServer"): 0}))
	})

	t.Run("bounded like the histogram", func(t *testing.T) {
		labels := &stepLabelSet{seen: map[string]map[string]bool{}}
		var ops []opsv1.CloudOperation
		for i := range 3 * maxStepLabels {
			ops = append(ops, stepOp(opsv1.ServiceRFS, job, running, step(fmt.Sprintf("resource_%03d", i), running, time.Minute)))
		}
		got := runningStepAges(ops, stepAgeNow, labels.label)
		NewWithT(t).Expect(got).To(HaveLen(maxStepLabels+1), "at most maxStepLabels step labels and other")
		NewWithT(t).Expect(got).To(HaveKey(key(opsv1.ServiceRFS, job, foldedStep)))
	})
}

// listReader is a client.Reader whose List returns items.
type listReader struct {
	client.Reader
	items []opsv1.CloudOperation
}

func (r listReader) List(_ context.Context, list client.ObjectList, _ ...client.ListOption) error {
	list.(*opsv1.CloudOperationList).Items = r.items
	return nil
}

// TestRunningStepAgeMetric: a registry serves
// cloudop_running_step_age_seconds read from the cache at scrape time,
// with the step label cloudop_step_duration_seconds gives the same step,
// so a PromQL join of the two matches.
func TestRunningStepAgeMetric(t *testing.T) {
	g := NewWithT(t)
	reader := &listReader{items: []opsv1.CloudOperation{
		stepOp(opsv1.ServiceECS, opsv1.OperationTypeJob, opsv1.PhaseRunning, step("createServer", opsv1.PhaseRunning, 150*time.Second)),
		stepOp(opsv1.ServiceECS, opsv1.OperationTypeJob, opsv1.PhaseRunning, step("createServer", opsv1.PhaseRunning, 30*time.Second)),
		stepOp(opsv1.ServiceVPC, opsv1.OperationTypeJob, opsv1.PhaseRunning, step("createPublicip (publicip 467b0c4e-1f2a)", opsv1.PhaseRunning, time.Hour)),
		stepOp(opsv1.ServiceVPC, opsv1.OperationTypeJob, opsv1.PhaseSucceeded, step("createPublicip (publicip 467b0c4e-1f2a)", opsv1.PhaseSucceeded, 2*time.Hour)),
	}}
	now := stepAgeNow
	reg := prometheus.NewPedanticRegistry()
	g.Expect(reg.Register(PhaseCollector{Reader: reader, Now: func() time.Time { return now }})).To(Succeed())

	const head = "# HELP cloudop_running_step_age_seconds How long the oldest running top-level step of each kind has run, from the start time its service reports to the scrape, by service, operation type and step (labelled as cloudop_step_duration_seconds labels it). No series while no step of the kind runs.\n# TYPE cloudop_running_step_age_seconds gauge\n"
	g.Expect(testutil.GatherAndCompare(reg, strings.NewReader(head+`
cloudop_running_step_age_seconds{operation_type="Job",service="ECS",step="createServer"} 150
cloudop_running_step_age_seconds{operation_type="Job",service="VPC",step="createPublicip"} 3600
`), "cloudop_running_step_age_seconds")).To(Succeed())

	// Read at scrape time: a minute later every age is a minute older,
	// and a step that finished is gone.
	now = now.Add(time.Minute)
	reader.items[2].Status.Steps[0].Phase = opsv1.PhaseSucceeded
	g.Expect(testutil.GatherAndCompare(reg, strings.NewReader(head+`
cloudop_running_step_age_seconds{operation_type="Job",service="ECS",step="createServer"} 210
`), "cloudop_running_step_age_seconds")).To(Succeed())

	// The phases still count every operation.
	g.Expect(testutil.GatherAndCount(reg, "cloudop_operations")).To(Equal(7))

	// The histogram labels the same step the same way.
	series := stepDuration.WithLabelValues("VPC", "Job", "createPublicip", "Succeeded").(prometheus.Metric)
	count := func() uint64 {
		m := &dto.Metric{}
		g.Expect(series.Write(m)).To(Succeed())
		return m.GetHistogram().GetSampleCount()
	}
	before := count()
	obj := &opsv1.CloudOperation{Spec: opsv1.CloudOperationSpec{Service: opsv1.ServiceVPC, OperationType: opsv1.OperationTypeJob}}
	observeDurations(obj, []finishedSpan{{step: "createPublicip (publicip 5c1d99e0-77aa)", outcome: opsv1.PhaseSucceeded, duration: time.Minute}})
	g.Expect(count()-before).To(Equal(uint64(1)), "the finished step is counted under the running step's label")
}
