package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"

	opsv1 "github.com/cloudop/cloudop/api/v1alpha1"
	"github.com/cloudop/cloudop/internal/cloudsim"
	"github.com/cloudop/cloudop/internal/testkit"
)

// TestJobFamilies tracks one job of every job service to Succeeded and one
// to Failed: the classic jobs (ECS, EVS, IMS, BMS, VPC), CCE jobs, the
// database jobs (RDS, GaussDB, DDS, openGauss, NoSQL) and RFS stack
// deployments, over real HTTP with signatures checked by cloudsim.
func TestJobFamilies(t *testing.T) {
	t.Parallel()
	ns := newNamespace(t)
	step := cloudsim.Duration{Duration: 2 * time.Second}
	subJobs := []cloudsim.StepSpec{{Name: "first"}, {Name: "second"}, {Name: "third"}}
	cases := []struct {
		service  cloudsim.Service
		typ      cloudsim.OperationType
		resource string // the type of resource the job reports
		noSteps  bool   // the database jobs have no sub-jobs
		steps    []cloudsim.StepSpec
	}{
		{service: cloudsim.ECS, resource: "server"},
		{service: cloudsim.EVS, resource: "volume"},
		{service: cloudsim.IMS, resource: "image"},
		{service: cloudsim.BMS, resource: "server"},
		{service: cloudsim.VPC, resource: "publicip"},
		{service: cloudsim.CCE, typ: cloudsim.TypeJob, resource: "cluster"},
		{service: cloudsim.RDS, resource: "instance", noSteps: true},
		{service: cloudsim.GaussDB, resource: "instance", noSteps: true},
		{service: cloudsim.DDS, resource: "instance", noSteps: true},
		{service: cloudsim.GaussDBforOpenGauss, resource: "instance", noSteps: true},
		{service: cloudsim.GaussDBforNoSQL, resource: "instance", noSteps: true},
		{service: cloudsim.RFS, resource: "huaweicloud_vpc", steps: []cloudsim.StepSpec{
			{Name: "huaweicloud_vpc.first"}, {Name: "huaweicloud_vpc_subnet.second"}, {Name: "huaweicloud_compute_instance.third"},
		}},
	}
	type tracked struct {
		obj      *opsv1.CloudOperation
		fails    bool
		reason   string
		resource string
		steps    []cloudsim.StepSpec
	}
	var all []tracked
	for i, tc := range cases {
		for _, fails := range []bool{false, true} {
			spec := cloudsim.OperationSpec{
				Service: tc.service, Type: tc.typ, ID: fmt.Sprintf("e2e%02d%t%029d", i, fails, i),
				Steps:  subJobs,
				Params: cloudsim.Params{StepDuration: step},
			}
			if tc.noSteps {
				spec.Steps = nil
			}
			if tc.steps != nil {
				spec.Steps = tc.steps
			}
			if tc.service == cloudsim.RFS {
				spec.StackName = fmt.Sprintf("e2e-stack-%t", fails)
				spec.ID = fmt.Sprintf("6a5b7c0e-1d2f-4e3a-9b8c-%012d", map[bool]int{false: 1, true: 2}[fails])
			}
			name := strings.ToLower(string(tc.service)) + "-succeeds"
			reason := ""
			if fails {
				spec.Scenario = "fail"
				reason = fmt.Sprintf("%s quota exceeded in test", tc.service)
				spec.Params.Message = reason
				name = strings.ToLower(string(tc.service)) + "-fails"
			}
			obj := simOperation(t, ns, name, spec)
			if err := env.Client.Create(t.Context(), obj); err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			all = append(all, tracked{obj: obj, fails: fails, reason: reason, resource: tc.resource, steps: spec.Steps})
		}
	}

	for _, tr := range all {
		t.Run(tr.obj.Name, func(t *testing.T) {
			var got *opsv1.CloudOperation
			testkit.Eventually(t, 2*time.Minute, tr.obj.Name+" to finish", func() (bool, string) {
				got = get(t, ns, tr.obj.Name)
				return got.Status.Phase.IsTerminal(), describe(got)
			})
			want := opsv1.PhaseSucceeded
			if tr.fails {
				want = opsv1.PhaseFailed
			}
			if got.Status.Phase != want {
				t.Fatalf("phase %s, want %s: %s", got.Status.Phase, want, describe(got))
			}
			// Sub-jobs are steps, in the order the job lists them.
			var names []string
			for _, s := range got.Status.Steps {
				names = append(names, s.Name)
			}
			wantSteps := tr.steps
			if tr.fails && tr.obj.Spec.Service == opsv1.ServiceRFS {
				// A deployment shows the resources it reached: the failed
				// one (the default second) is the last.
				wantSteps = tr.steps[:2]
			}
			if len(names) != len(wantSteps) {
				t.Fatalf("steps %q, want one per sub-job (%d)", names, len(wantSteps))
			}
			for i, s := range wantSteps {
				if !strings.Contains(names[i], s.Name) {
					t.Errorf("step %d is %q, want sub-job %q there (steps %q)", i, names[i], s.Name, names)
				}
			}
			if tr.fails {
				if !strings.Contains(got.Status.Message, tr.reason) {
					t.Errorf("message %q does not carry the service's reason %q", got.Status.Message, tr.reason)
				}
				if c := got.GetCondition(opsv1.ConditionStalled); c == nil || c.Reason != opsv1.ReasonFailed {
					t.Errorf("Stalled condition %+v, want reason %s", c, opsv1.ReasonFailed)
				}
				return
			}
			if !got.IsReady() || got.Status.Progress == nil || *got.Status.Progress != 100 {
				t.Errorf("not ready at 100%%: %s", describe(got))
			}
			found := false
			for _, r := range got.Status.Resources {
				found = found || r.Type == tr.resource && r.ID != ""
			}
			if !found {
				t.Errorf("resources %+v, want a %s", got.Status.Resources, tr.resource)
			}
			t.Logf("%s; steps %q; resources %+v", describe(got), names, got.Status.Resources)
		})
	}
}
