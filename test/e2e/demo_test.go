package e2e

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	eventsv1 "k8s.io/api/events/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/metrics"

	opsv1 "github.com/cloudop/cloudop/api/v1alpha1"
	"github.com/cloudop/cloudop/internal/cloudsim"
	"github.com/cloudop/cloudop/internal/demo"
	"github.com/cloudop/cloudop/internal/testkit"
)

// bcsList is the key of the demo blockchain's ListOpRecord calls: one list
// serves both BCS operations, so cloudsim counts them per blockchain.
const bcsList = project + "/23604f57-eac9-3777-e9f5-ae87457f2338"

// requests is what cloudsim counted for one operation, or for BCS one
// blockchain's list calls.
func requests(svc cloudsim.Service, key string) int {
	if svc == cloudsim.BCS {
		return env.Sim.Counts().BCSLists[key].Total
	}
	return env.Sim.RequestCount(svc, key)
}

// sentinel starts an operation that never ends, waits for its first poll
// and returns a function counting its polls.
func sentinel(t *testing.T) func() int {
	t.Helper()
	ns := newNamespace(t)
	obj := simOperation(t, ns, "sentinel", cloudsim.OperationSpec{
		Service: cloudsim.ECS, ID: "e2e-sentinel-" + ns, Scenario: cloudsim.ScenarioNever,
		Steps: []cloudsim.StepSpec{{Name: "forever"}},
	})
	if err := env.Client.Create(context.Background(), obj); err != nil {
		t.Fatal(err)
	}
	polls := func() int { return env.Sim.RequestCount(cloudsim.ECS, obj.Spec.OperationID) }
	testkit.Eventually(t, time.Minute, "the sentinel's first poll", func() (bool, string) {
		return polls() > 0, describe(get(t, ns, obj.Name))
	})
	return polls
}

// TestDemoScenario runs `make demo`'s scenario headless and checks every
// operation's terminal state, its steps, its events and what cloudsim saw.
func TestDemoScenario(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	if err := env.ApplyScenario(ctx, files); err != nil {
		t.Fatal(err)
	}
	items, err := env.WaitTerminal(ctx, nil)
	if err != nil {
		for i := range items {
			t.Logf("%s: %s", items[i].Name, describe(&items[i]))
		}
		t.Fatal(err)
	}

	want := map[string]struct {
		phase   opsv1.Phase
		steps   int
		service cloudsim.Service
		key     string
	}{
		"bcs-create-blockchain": {opsv1.PhaseSucceeded, 3, cloudsim.BCS, bcsList},
		"bcs-scale-out-fails":   {opsv1.PhaseFailed, 3, cloudsim.BCS, bcsList},
		"cce-cluster-upgrade":   {opsv1.PhaseSucceeded, 4, cloudsim.CCE, "c271e39e-1a6e-4d3d-8fa8-2a36329c68d1"},
		"aos-stack-create":      {opsv1.PhaseSucceeded, 3, cloudsim.AOS, "trim-4074942376"},
		"dws-snapshot":          {opsv1.PhaseSucceeded, 1, cloudsim.DWS, "9f76c502-fc9c-4a52-8656-65d0da6e3d57/SNAPSHOTTING"},
		"dws-restore-throttled": {opsv1.PhaseSucceeded, 2, cloudsim.DWS, "9f76c502-fc9c-4a52-8656-65d0da6e3d57/RESTORING"},
		// Jobs: one step per sub-job.
		"ecs-create-servers":     {opsv1.PhaseSucceeded, 2, cloudsim.ECS, "2c9eb2c5544cbf6101544f0602af2b4f"},
		"vpc-create-eips-fails":  {opsv1.PhaseFailed, 2, cloudsim.VPC, "ff808082843684110184e155fdb36461"},
		"cce-create-cluster-job": {opsv1.PhaseSucceeded, 2, cloudsim.CCE, "73ce052c-8b1b-11e8-8f9d-0255ac10193f"},
		// A database job has no sub-jobs: no steps, only a progress.
		"rds-create-instance-job": {opsv1.PhaseSucceeded, 0, cloudsim.RDS, "dff1d289-4d03-4942-8b9f-463ea07c000d"},
		// An RFS deployment: one step per resource of the stack.
		"rfs-deploy-stack": {opsv1.PhaseSucceeded, 3, cloudsim.RFS, "6a5b7c0e-1d2f-4e3a-9b8c-7d6e5f4a3b2c"},
	}
	// Operations nobody registered, one per source: each source mirrors
	// its own and leaves the registered ones to their objects. The CCE
	// and EVS ones start after the sources' first list.
	wantDiscovered := map[string]struct {
		service opsv1.Service
		id      string
		steps   int
	}{
		"bcs-blockchain": {opsv1.ServiceBCS, "BCSSVC01-07-1700000000000000002", 3},
		"cce-cluster":    {opsv1.ServiceCCE, "5d7e1c3a-9b2f-4c61-8e0d-3f4a5b6c7d8e", 4},
		"project-jobs":   {opsv1.ServiceEVS, "4010b39b5281d3590152874bfa3b1604", 1},
	}
	discovered := map[string][]opsv1.CloudOperation{}
	items = slices.DeleteFunc(items, func(o opsv1.CloudOperation) bool {
		if src := o.Labels[opsv1.LabelSource]; src != "" {
			discovered[src] = append(discovered[src], o)
			return true
		}
		return false
	})
	for src, w := range wantDiscovered {
		got := discovered[src]
		if len(got) != 1 || got[0].Spec.Service != w.service || got[0].Spec.OperationID != w.id {
			t.Fatalf("source %s mirrored %d operations, want only %s %s (the registered ones are not mirrored twice): %v", src, len(got), w.service, w.id, got)
		}
		if d := got[0]; d.Status.Phase != opsv1.PhaseSucceeded || len(d.Status.Steps) != w.steps || !d.IsReady() {
			t.Errorf("discovered by %s: %s", src, describe(&d))
		}
	}
	if len(discovered) != len(wantDiscovered) {
		t.Errorf("sources that mirrored something: %v", slices.Collect(maps.Keys(discovered)))
	}
	if len(items) != len(want) {
		t.Fatalf("%d CloudOperations, want %d", len(items), len(want))
	}
	// Every finished operation reached the demo's OTLP receiver as one
	// trace (test/tracing checks the spans against the Collector's).
	roots := 0
	for _, line := range env.Traces.Summary() {
		if strings.HasPrefix(line, "trace ") {
			roots++
		}
	}
	if finished := len(items) + len(discovered); roots < finished {
		t.Errorf("the demo's receiver holds %d traces, want one for each of the %d finished operations:\n%s", roots, finished, strings.Join(env.Traces.Summary(), "\n"))
	}
	callsAtEnd := map[string]int{}
	// Read before the request counts: a list counted here may have sent
	// its request before them, never the other way round.
	bcsSourceListsAtEnd := bcsSourceLists(t)
	for i := range items {
		o := &items[i]
		w, ok := want[o.Name]
		if !ok {
			t.Fatalf("unexpected CloudOperation %s", o.Name)
		}
		if o.Status.Phase != w.phase || len(o.Status.Steps) != w.steps {
			t.Errorf("%s: phase %s with %d steps, want %s with %d (%s)", o.Name, o.Status.Phase, len(o.Status.Steps), w.phase, w.steps, describe(o))
		}
		switch w.phase {
		case opsv1.PhaseSucceeded:
			if !o.IsReady() || o.Status.Progress == nil || *o.Status.Progress != 100 {
				t.Errorf("%s: not Ready at 100%%: %s", o.Name, describe(o))
			}
			for _, s := range o.Status.Steps {
				if s.Phase != opsv1.PhaseSucceeded {
					t.Errorf("%s: step %s is %s", o.Name, s.Name, s.Phase)
				}
			}
		case opsv1.PhaseFailed:
			if !o.IsStalled() || !strings.Contains(o.GetCondition(opsv1.ConditionReady).Message, "quota exceeded") {
				t.Errorf("%s: failure not explained: %s", o.Name, describe(o))
			}
		}
		callsAtEnd[o.Name] = requests(w.service, w.key)
		if callsAtEnd[o.Name] < 2 {
			t.Errorf("%s: cloudsim saw %d requests", o.Name, callsAtEnd[o.Name])
		}
	}
	throttled := env.Sim.Counts().Operations[cloudsim.DWS]["9f76c502-fc9c-4a52-8656-65d0da6e3d57/RESTORING"]
	if throttled.ByStatus[429] != 3 {
		t.Errorf("throttled operation saw %d 429s, want 3: %+v", throttled.ByStatus[429], throttled)
	}

	// Terminal operations are not polled again. The known event: an
	// operation that never ends, polled by the same manager at the same
	// 5 s interval, is polled three more times, so at least two intervals
	// pass in the manager's own time; a terminal operation still polled
	// would have been asked at least once more meanwhile.
	sentinelPolls := sentinel(t)
	from := sentinelPolls()
	testkit.Eventually(t, time.Minute, "three more polls of the sentinel", func() (bool, string) {
		n := sentinelPolls() - from
		return n >= 3, fmt.Sprintf("%d more polls", n)
	})
	// The BCS source goes on listing the blockchain, through the same
	// list call the trackers used: each of its lists may cost one.
	sourceLists := int(bcsSourceLists(t) - bcsSourceListsAtEnd)
	for name, w := range want {
		allowed := 0
		if w.service == cloudsim.BCS {
			allowed = sourceLists
		}
		if n := requests(w.service, w.key); n-callsAtEnd[name] > allowed {
			t.Errorf("%s: %d more requests after the terminal phase (%d lists of the blockchain's source meanwhile)", name, n-callsAtEnd[name], sourceLists)
		}
	}

	// One phase event per transition: each ends with exactly one event for
	// its terminal phase, none duplicated.
	var events eventsv1.EventList
	if err := env.Client.List(ctx, &events, client.InNamespace(demo.Namespace)); err != nil {
		t.Fatal(err)
	}
	terminalEvents := map[string]int{}
	for _, e := range events.Items {
		if e.Reason == "PhaseChanged" && (strings.Contains(e.Note, "→ Succeeded") || strings.Contains(e.Note, "→ Failed")) {
			terminalEvents[e.Regarding.Name]++
		}
	}
	for name := range want {
		if terminalEvents[name] != 1 {
			t.Errorf("%s: %d terminal phase events, want 1", name, terminalEvents[name])
		}
	}

	// The manager's metrics tell the same story.
	families, err := metrics.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	values := map[string]float64{}
	for _, f := range families {
		for _, m := range f.GetMetric() {
			key := f.GetName()
			for _, l := range m.GetLabel() {
				key += "," + l.GetName() + "=" + l.GetValue()
			}
			values[key] = m.GetGauge().GetValue() + m.GetCounter().GetValue()
		}
	}
	if values["cloudop_operations,phase=Succeeded"] < 5 || values["cloudop_operations,phase=Failed"] < 1 {
		t.Errorf("cloudop_operations by phase: Succeeded %v, Failed %v", values["cloudop_operations,phase=Succeeded"], values["cloudop_operations,phase=Failed"])
	}
	if values["cloudop_cloud_requests_total,code=429,service=DWS"] < 3 {
		t.Errorf("cloud request metric saw %v throttled DWS requests, want ≥ 3", values["cloudop_cloud_requests_total,code=429,service=DWS"])
	}
	if values["cloudop_status_writes_total"] == 0 {
		t.Error("no status writes counted")
	}
}

// bcsSourceLists is how many lists the manager's BCS sources have made
// (cloudop_source_lists_total, every result).
func bcsSourceLists(t *testing.T) float64 {
	t.Helper()
	families, err := metrics.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	total := 0.0
	for _, f := range families {
		if f.GetName() != "cloudop_source_lists_total" {
			continue
		}
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "service" && l.GetValue() == "BCS" {
					total += m.GetCounter().GetValue()
				}
			}
		}
	}
	return total
}
