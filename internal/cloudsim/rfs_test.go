package cloudsim

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	aosmodel "github.com/huaweicloud/huaweicloud-sdk-go-v3/services/aos/v1/model"
)

// rfsReq is an RFS request with the Client-Request-Id RFS requires.
func rfsReq(stack, api string, query map[string]string) req {
	return req{path: "/v1/" + testProject + "/stacks/" + stack + "/" + api, query: query,
		headers: map[string]string{"Client-Request-Id": "0b3e4c9a-5a43-4a7e-9b1e-1f0e2d3c4b5a"}}
}

// rfsMeta GETs a stack's metadata through the SDK's model, after checking
// the model knows every field.
func (e *env) rfsMeta(stack string) aosmodel.GetStackMetadataResponse {
	e.t.Helper()
	status, body, _ := e.do(rfsReq(stack, "metadata", nil))
	if status != http.StatusOK {
		e.t.Fatalf("metadata of %s: %d %s", stack, status, body)
	}
	var m aosmodel.GetStackMetadataResponse
	assertSDKFields(e.t, body, &m)
	sdkDecode(e.t, body, &m)
	return m
}

// rfsList GETs one page of events through the SDK's model.
func (e *env) rfsList(stack string, query map[string]string) aosmodel.ListStackEventsResponse {
	e.t.Helper()
	status, body, _ := e.do(rfsReq(stack, "events", query))
	if status != http.StatusOK {
		e.t.Fatalf("events of %s %v: %d %s", stack, query, status, body)
	}
	var l aosmodel.ListStackEventsResponse
	assertSDKFields(e.t, body, &l)
	sdkDecode(e.t, body, &l)
	return l
}

// brief renders events as "TYPE resource_name [id] message", newest
// first, for comparison.
func brief(l aosmodel.ListStackEventsResponse) []string {
	var out []string
	for _, ev := range *l.StackEvents {
		s := ev.EventType.Value()
		if ev.ResourceName != nil {
			s += " " + *ev.ResourceName
		}
		if ev.ResourceIdValue != nil {
			s += " [id]"
		}
		out = append(out, s)
	}
	return out
}

func rfsTS(d time.Duration) string { return t0.Add(d).Format(time.RFC3339) }

func str(p *string) string {
	if p == nil {
		return "<nil>"
	}
	return *p
}

// TestRFSDeploymentOverTime follows a succeeding deployment of the default
// three resources (10s each) through the metadata and the events.
func TestRFSDeploymentOverTime(t *testing.T) {
	e := newEnv(t, Config{Operations: []OperationSpec{
		{Service: RFS, ID: "dep-ok", ProjectID: testProject, StackName: "web", Params: Params{StepDuration: D(10 * time.Second)}},
	}})
	steps := []struct {
		at     time.Duration
		status string
		events []string
	}{
		{0, "DEPLOYMENT_IN_PROGRESS", []string{"CREATION_IN_PROGRESS vpc", "LOG"}},
		{15 * time.Second, "DEPLOYMENT_IN_PROGRESS", []string{"CREATION_IN_PROGRESS subnet", "CREATION_COMPLETE vpc [id]", "CREATION_IN_PROGRESS vpc", "LOG"}},
		{30 * time.Second, "DEPLOYMENT_COMPLETE", []string{"LOG", "SUMMARY", "CREATION_COMPLETE ecs [id]", "CREATION_IN_PROGRESS ecs",
			"CREATION_COMPLETE subnet [id]", "CREATION_IN_PROGRESS subnet", "CREATION_COMPLETE vpc [id]", "CREATION_IN_PROGRESS vpc", "LOG"}},
	}
	for _, st := range steps {
		e.clock.SetTime(t0.Add(st.at))
		m := e.rfsMeta("web")
		if m.Status == nil || m.Status.Value() != st.status || m.StackName != "web" || str(m.StackId) != rfsStackID(OperationSpec{ProjectID: testProject, StackName: "web"}) ||
			str(m.CreateTime) != rfsTS(0) || m.StatusMessage != nil || *m.EnableAutoRollback {
			t.Errorf("at %s: metadata %v, want %s", st.at, m, st.status)
		}
		l := e.rfsList("web", map[string]string{"deployment_id": "dep-ok"})
		if got := strings.Join(brief(l), ", "); got != strings.Join(st.events, ", ") {
			t.Errorf("at %s: events %s, want %s", st.at, got, strings.Join(st.events, ", "))
		}
		if l.PageInfo == nil || l.PageInfo.NextMarker != nil || *l.PageInfo.CurrentCount != int32(len(st.events)) {
			t.Errorf("at %s: page_info %v", st.at, l.PageInfo)
		}
	}
	// At the end: update_time is the end, the resource events carry
	// their type, name, ID and duration, LOG and SUMMARY none.
	m := e.rfsMeta("web")
	if str(m.UpdateTime) != rfsTS(30*time.Second) {
		t.Errorf("update_time %s", str(m.UpdateTime))
	}
	evs := *e.rfsList("web", nil).StackEvents // no deployment_id: all of the stack's
	sum, ecs := evs[1], evs[2]
	if str(sum.EventMessage) != "Apply complete! Resources: 3 added, 0 changed, 0 destroyed." || *sum.ElapsedSeconds != 30 ||
		sum.ResourceType != nil || sum.ResourceName != nil || str(sum.Time) != rfsTS(30*time.Second) {
		t.Errorf("summary %v", sum)
	}
	if str(ecs.ResourceType) != "huaweicloud_compute_instance" || str(ecs.ResourceName) != "ecs" || str(ecs.ResourceIdKey) != "id" ||
		ecs.ResourceIdValue == nil || *ecs.ElapsedSeconds != 10 || str(ecs.Time) != rfsTS(30*time.Second) ||
		str(ecs.EventMessage) != "huaweicloud_compute_instance.ecs: Creation complete after 10s [id="+str(ecs.ResourceIdValue)+"]" {
		t.Errorf("ecs complete %v", ecs)
	}
	if inProgress := evs[3]; inProgress.ResourceIdValue != nil || inProgress.ElapsedSeconds != nil || str(inProgress.Time) != rfsTS(20*time.Second) {
		t.Errorf("ecs in progress %v", inProgress)
	}
	st, _ := e.sim.Operation(RFS, "dep-ok")
	if st.ServiceStatus != "DEPLOYMENT_COMPLETE" || st.StackName != "web" || st.Progress != 100 {
		t.Errorf("admin status %+v", st)
	}
}

// TestRFSFailures covers a failure, a failure rolled back, a failed
// rollback, a deployment that never ends and an unknown status word.
func TestRFSFailures(t *testing.T) {
	msg := "Error creating subnet: quota exceeded"
	fail := Params{StepDuration: D(10 * time.Second), Message: msg}
	rollback := fail
	rollback.Rollback = D(20 * time.Second)
	rollbackFails := rollback
	rollbackFails.RollbackFails = true
	e := newEnv(t, Config{Operations: []OperationSpec{
		{Service: RFS, ID: "d-fail", ProjectID: testProject, StackName: "fail", Scenario: ScenarioFail, Params: fail},
		{Service: RFS, ID: "d-rb", ProjectID: testProject, StackName: "rb", Scenario: ScenarioFail, Params: rollback},
		{Service: RFS, ID: "d-rbf", ProjectID: testProject, StackName: "rbf", Scenario: ScenarioFail, Params: rollbackFails},
		{Service: RFS, ID: "d-never", ProjectID: testProject, StackName: "never", Scenario: ScenarioNever, Params: Params{StepDuration: D(10 * time.Second)}},
		{Service: RFS, ID: "d-unk", ProjectID: testProject, StackName: "unk", Scenario: ScenarioUnknownStatus,
			Params: Params{StepDuration: D(10 * time.Second), Status: "DEPLOYMENT_PAUSED"}},
	}})
	e.clock.SetTime(t0.Add(25 * time.Second))
	m := e.rfsMeta("fail")
	if m.Status.Value() != "DEPLOYMENT_FAILED" || str(m.StatusMessage) != msg || str(m.UpdateTime) != rfsTS(20*time.Second) {
		t.Errorf("failed stack %v", m)
	}
	l := e.rfsList("fail", map[string]string{"deployment_id": "d-fail"})
	want := "LOG, CREATION_FAILED subnet, CREATION_IN_PROGRESS subnet, CREATION_COMPLETE vpc [id], CREATION_IN_PROGRESS vpc, LOG"
	if got := strings.Join(brief(l), ", "); got != want {
		t.Errorf("failed events %s, want %s", got, want)
	}
	evs := *l.StackEvents
	if failed := evs[1]; str(failed.EventMessage) != msg || failed.ResourceIdValue != nil || *failed.ElapsedSeconds != 10 {
		t.Errorf("failed event %v", failed)
	}
	if !strings.HasSuffix(str(evs[0].EventMessage), "current status DEPLOYMENT_FAILED: "+msg) {
		t.Errorf("last LOG %q", str(evs[0].EventMessage))
	}

	// Rollback: 20s from the failure at 20s, deleting the VPC.
	for _, c := range []struct {
		at     time.Duration
		stack  string
		status string
		msg    string
		events string
	}{
		{25 * time.Second, "rb", "ROLLBACK_IN_PROGRESS", "", "DELETION_IN_PROGRESS vpc [id], LOG, CREATION_FAILED subnet"},
		{40 * time.Second, "rb", "ROLLBACK_COMPLETE", "", "LOG, DELETION_COMPLETE vpc [id], DELETION_IN_PROGRESS vpc [id], LOG, CREATION_FAILED subnet"},
		{40 * time.Second, "rbf", "ROLLBACK_FAILED", msg, "LOG, DELETION_FAILED vpc [id], DELETION_IN_PROGRESS vpc [id], LOG, CREATION_FAILED subnet"},
	} {
		e.clock.SetTime(t0.Add(c.at))
		m := e.rfsMeta(c.stack)
		if m.Status.Value() != c.status || str(m.StatusMessage) != or(c.msg, "<nil>") || !*m.EnableAutoRollback {
			t.Errorf("%s at %s: %v, want %s", c.stack, c.at, m, c.status)
		}
		got := strings.Join(brief(e.rfsList(c.stack, map[string]string{"limit": "5"})), ", ")
		if !strings.HasPrefix(got, c.events) {
			t.Errorf("%s at %s: events %s, want %s…", c.stack, c.at, got, c.events)
		}
	}
	if st, _ := e.sim.Operation(RFS, "d-rb"); st.State != StateFailed || st.ServiceStatus != "ROLLBACK_COMPLETE" {
		t.Errorf("rolled back: %+v", st)
	}

	e.clock.SetTime(t0.Add(time.Hour))
	if m := e.rfsMeta("never"); m.Status.Value() != "DEPLOYMENT_IN_PROGRESS" {
		t.Errorf("never: %v", m)
	}
	if got := strings.Join(brief(e.rfsList("never", nil)), ", "); got != "CREATION_IN_PROGRESS subnet, CREATION_COMPLETE vpc [id], CREATION_IN_PROGRESS vpc, LOG" {
		t.Errorf("never: events %s", got)
	}
	if m := e.rfsMeta("unk"); m.Status.Value() != "DEPLOYMENT_PAUSED" || m.StatusMessage != nil {
		t.Errorf("unknown status: %v", m)
	}
}

// TestRFSPaging pages through a long deployment's events by limit and
// marker, filters them and selects fields.
func TestRFSPaging(t *testing.T) {
	var steps []StepSpec
	for i := range 12 {
		steps = append(steps, StepSpec{Name: fmt.Sprintf("huaweicloud_vpc.vpc[%d]", i), Duration: D(time.Second)})
	}
	e := newEnv(t, Config{Operations: []OperationSpec{
		{Service: RFS, ID: "dep-many", ProjectID: testProject, StackName: "many", StackID: "9c8f0ad6-4c4b-4d3a-9a4f-1d2c3b4a5e6f", Steps: steps},
	}})
	e.clock.SetTime(t0.Add(time.Minute))
	all := *e.rfsList("many", map[string]string{"deployment_id": "dep-many"}).StackEvents
	if len(all) != 2*12+3 { // LOG, 12 × (in progress, complete), SUMMARY, LOG
		t.Fatalf("%d events", len(all))
	}
	if str(all[2].ResourceKey) != "11" || str(all[2].ResourceName) != "vpc" {
		t.Errorf("count key: %v", all[2])
	}
	var paged []aosmodel.StackEvent
	marker, pages := "", 0
	for {
		q := map[string]string{"deployment_id": "dep-many", "limit": "10", "stack_id": "9c8f0ad6-4c4b-4d3a-9a4f-1d2c3b4a5e6f"}
		if marker != "" {
			q["marker"] = marker
		}
		l := e.rfsList("many", q)
		pages++
		paged = append(paged, *l.StackEvents...)
		if l.PageInfo.NextMarker == nil {
			break
		}
		marker = *l.PageInfo.NextMarker
		// Time passing between pages changes nothing: the marker is a
		// place in the history, not an offset.
		e.clock.Step(time.Second)
	}
	if pages != 3 || fmt.Sprint(paged) != fmt.Sprint(all) {
		t.Errorf("%d pages: %v, want %v", pages, paged, all)
	}

	failed := e.rfsList("many", map[string]string{"filter": "event_type==SUMMARY|LOG", "field": "event_message"})
	if got := brief(failed); fmt.Sprint(got) != "[LOG SUMMARY LOG]" || (*failed.StackEvents)[1].Time != nil || (*failed.StackEvents)[1].EventMessage == nil {
		t.Errorf("filtered %v", *failed.StackEvents)
	}
	one := e.rfsList("many", map[string]string{"filter": "resource_name==vpc,event_type==CREATION_COMPLETE", "limit": "1", "field": "resource_id_value,timestamp"})
	if ev := (*one.StackEvents)[0]; ev.ResourceIdValue == nil || ev.Time == nil || ev.ResourceName != nil || ev.EventMessage != nil || one.PageInfo.NextMarker == nil {
		t.Errorf("one %v, %v", ev, one.PageInfo)
	}

	for _, q := range []map[string]string{
		{"limit": "0"}, {"limit": "101"}, {"limit": "ten"},
		{"marker": "nonsense"}, {"marker": rfsMarker("other-deployment", 3)},
		{"filter": "status==FAILED"}, {"field": "colour"},
	} {
		status, body, _ := e.do(rfsReq("many", "events", q))
		if shape, code, _ := errorOf(t, body); status != http.StatusBadRequest || shape != "flat" || code != "AOS.0400" {
			t.Errorf("%v: %d %s", q, status, body)
		}
	}
}

// TestRFSRequests covers what RFS refuses: no Client-Request-Id, an
// unknown stack or deployment, a stack_id of another stack; and faults in
// RFS's error shape, counted under the deployment.
func TestRFSRequests(t *testing.T) {
	e := newEnv(t, Config{Operations: []OperationSpec{
		{Service: RFS, ID: "dep-1", ProjectID: testProject, StackName: "web",
			Faults: []Fault{{Kind: FaultError500, Count: 1}}},
	}})
	status, body, _ := e.do(rfsReq("web", "metadata", nil))
	if shape, code, _ := errorOf(t, body); status != http.StatusInternalServerError || shape != "flat" || code != "AOS.0500" {
		t.Errorf("fault: %d %s", status, body)
	}
	r := rfsReq("web", "metadata", nil)
	r.headers = nil
	status, body, _ = e.do(r)
	if eb := errBody(t, body); status != http.StatusBadRequest || eb.ErrorCode != "AOS.0400" || !strings.Contains(eb.ErrorMsg, "Client-Request-Id") {
		t.Errorf("without Client-Request-Id: %d %s", status, body)
	}
	for _, c := range []struct {
		r      req
		status int
		code   string
		msg    string
	}{
		{rfsReq("nope", "metadata", nil), 404, "AOS.0404", "Stack nope does not exist"},
		{rfsReq("nope", "events", map[string]string{"deployment_id": "dep-1"}), 404, "AOS.0404", "Stack nope does not exist"},
		{rfsReq("web", "events", map[string]string{"deployment_id": "dep-2"}), 404, "AOS.0404", "Deployment dep-2 of stack web does not exist"},
		{rfsReq("web", "metadata", map[string]string{"stack_id": "0c0ffee0-0000-0000-0000-000000000000"}), 400, "AOS.0400", "does not match"},
		{rfsReq("web", "metadata", map[string]string{"stack_id": rfsStackID(OperationSpec{ProjectID: testProject, StackName: "web"})}), 200, "", ""},
	} {
		status, body, _ := e.do(c.r)
		if status != c.status {
			t.Errorf("%s %v: %d %s, want %d", c.r.path, c.r.query, status, body, c.status)
			continue
		}
		if c.code != "" {
			if eb := errBody(t, body); eb.ErrorCode != c.code || !strings.Contains(eb.ErrorMsg, c.msg) {
				t.Errorf("%s %v: %s", c.r.path, c.r.query, body)
			}
		}
	}
	// The metadata names no deployment and counts under the stack's;
	// an unknown deployment counts under its own ID.
	counts := e.sim.Counts().Operations[RFS]
	if counts["dep-1"].Total != 5 || counts["dep-2"].Total != 1 {
		t.Errorf("counts %+v", counts)
	}
}

// TestRFSEventsWithoutDeploymentID: without deployment_id ListStackEvents
// lists all of the stack's events, those of its one deployment in
// cloudsim, newest first and paged alike, and no other stack's. Events
// carry no deployment_id: StackEvent has none (SDK and API reference).
func TestRFSEventsWithoutDeploymentID(t *testing.T) {
	e := newEnv(t, Config{Operations: []OperationSpec{
		{Service: RFS, ID: "dep-web", ProjectID: testProject, StackName: "web", Scenario: ScenarioFail,
			Params: Params{Message: "quota exceeded", Rollback: D(20 * time.Second)}},
		{Service: RFS, ID: "dep-db", ProjectID: testProject, StackName: "db"},
	}})
	e.clock.SetTime(t0.Add(time.Hour))
	byDeployment := e.rfsList("web", map[string]string{"deployment_id": "dep-web"})
	all := e.rfsList("web", nil) // assertSDKFields: no field the SDK lacks
	if len(*all.StackEvents) < 8 || fmt.Sprint(brief(all)) != fmt.Sprint(brief(byDeployment)) ||
		fmt.Sprint(*all.StackEvents) != fmt.Sprint(*byDeployment.StackEvents) {
		t.Errorf("without deployment_id %v, with %v", brief(all), brief(byDeployment))
	}
	for _, ev := range *all.StackEvents {
		if m := str(ev.EventMessage); strings.Contains(m, "stack db") {
			t.Errorf("event of another stack: %v", ev)
		}
	}
	var paged []string
	marker := ""
	for {
		q := map[string]string{"limit": "3"}
		if marker != "" {
			q["marker"] = marker
		}
		l := e.rfsList("web", q)
		paged = append(paged, brief(l)...)
		if l.PageInfo.NextMarker == nil {
			break
		}
		marker = *l.PageInfo.NextMarker
	}
	if fmt.Sprint(paged) != fmt.Sprint(brief(all)) {
		t.Errorf("paged %v, want %v", paged, brief(all))
	}
}
