// Package cce observes Cloud Container Engine operations of two kinds:
// cluster upgrade workflows through ShowUpgradeWorkFlow (GET
// /api/v3/projects/{project_id}/clusters/{cluster_id}/operation/
// upgradeworkflows/{upgrade_workflow_id}), and jobs (creating clusters,
// nodes, node pools, …) through ShowJob (GET /api/v3/projects/
// {project_id}/jobs/{job_id}, see job.go).
package cce

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/cloudop/cloudop/internal/cloud"
	"github.com/cloudop/cloudop/internal/cloud/internal/flex"
	"github.com/cloudop/cloudop/internal/cloud/transport"
)

// WorkflowPhases maps status.phase. CCE's "Pending" means a task failed
// and the workflow can be resumed, so it is Failed with Resumable set.
var WorkflowPhases = cloud.StatusTable{
	"Init":    cloud.PhasePending,
	"Running": cloud.PhaseRunning,
	"Pending": cloud.PhaseFailed,
	"Success": cloud.PhaseSucceeded,
	"Cancel":  cloud.PhaseCancelled,
}

// TaskStatuses maps pointStatuses[].status. A task without a status has
// not started and is Pending.
var TaskStatuses = cloud.StatusTable{
	"Init":    cloud.PhasePending,
	"Queuing": cloud.PhasePending,
	"Running": cloud.PhaseRunning,
	"Success": cloud.PhaseSucceeded,
	"Failed":  cloud.PhaseFailed,
}

// MaxTasks bounds the tasks read from one answer (real workflows have
// five); it keeps ordering cheap on a hostile or corrupt body.
const MaxTasks = 1024

// metadata is the metadata of a workflow and of a job.
type metadata struct {
	UID               flex.String `json:"uid"`
	CreationTimestamp flex.String `json:"creationTimestamp"`
	UpdateTimestamp   flex.String `json:"updateTimestamp"`
}

// apiError is CCE's error object ({errorCode, errorMessage}): a 200
// carrying it answers for the query, not for a workflow or job, and must
// reach the message rather than read as one.
type apiError struct {
	ErrorCode    flex.String `json:"errorCode"`
	ErrorMessage flex.String `json:"errorMessage"`
}

// text is "code: message", or "" when there is no error.
func (e apiError) text() string {
	return cloud.JoinNonEmpty(": ", string(e.ErrorCode), string(e.ErrorMessage))
}

type workflow struct {
	apiError
	Metadata metadata `json:"metadata"`
	Spec     struct {
		ClusterVersion flex.String `json:"clusterVersion"`
		TargetVersion  flex.String `json:"targetVersion"`
	} `json:"spec"`
	Status struct {
		Phase         flex.String      `json:"phase"`
		PointStatuses flex.List[point] `json:"pointStatuses"`
		LineStatuses  flex.List[line]  `json:"lineStatuses"`
	} `json:"status"`
}

type point struct {
	TaskType        flex.String `json:"taskType"`
	TaskID          flex.String `json:"taskID"`
	Status          flex.String `json:"status"`
	StartTimeStamp  flex.String `json:"startTimeStamp"`
	EndTimeStamp    flex.String `json:"endTimeStamp"`
	ExpireTimeStamp flex.String `json:"expireTimeStamp"`
}

type line struct {
	StartPoint struct {
		TaskType flex.String `json:"taskType"`
	} `json:"startPoint"`
	EndPoint struct {
		TaskType flex.String `json:"taskType"`
	} `json:"endPoint"`
}

// Adapter fetches CCE upgrade workflows and jobs. It implements
// cloud.Fetcher.
type Adapter struct {
	HTTP *transport.HTTPClient
}

var _ cloud.Fetcher = (*Adapter)(nil)

// New returns an Adapter sending its requests through c.
func New(c *transport.HTTPClient) *Adapter { return &Adapter{HTTP: c} }

// Fetch reads t.OperationID as the kind of operation t.OperationType
// names: the upgrade workflow of cluster t.ClusterID (empty or
// UpgradeWorkflow, parsed by Parse) or a job (Job, parsed by ParseJob;
// no cluster needed). Any other type is a permanent error.
func (a *Adapter) Fetch(ctx context.Context, t cloud.Target) (*cloud.Operation, error) {
	project, err := t.RequireProjectID()
	if err != nil {
		return nil, err
	}
	switch t.OperationType {
	case "", cloud.OperationTypeUpgradeWorkflow:
		if err := cloud.RequireSegment("spec.clusterID", t.ClusterID); err != nil {
			return nil, err
		}
		return a.get(ctx, t, "/api/v3/projects/"+project+"/clusters/"+t.ClusterID+"/operation/upgradeworkflows/", Parse)
	case cloud.OperationTypeJob:
		return a.get(ctx, t, "/api/v3/projects/"+project+"/jobs/", ParseJob)
	}
	return nil, cloud.Permanentf("spec.operationType %q is not supported for CCE (want %s or %s)",
		cloud.Excerpt(string(t.OperationType), cloud.MaxQuotedRunes), cloud.OperationTypeUpgradeWorkflow, cloud.OperationTypeJob)
}

// get reads prefix + t.OperationID and parses the answer with parse.
func (a *Adapter) get(ctx context.Context, t cloud.Target, prefix string, parse func([]byte) (*cloud.Operation, error)) (*cloud.Operation, error) {
	if err := cloud.RequireSegment("spec.operationID", t.OperationID); err != nil {
		return nil, err
	}
	// The API reference lists Content-Type as a required header even for
	// these GETs; it is not signed.
	body, err := a.HTTP.Get(ctx, t, prefix+t.OperationID, nil, http.Header{"Content-Type": {"application/json"}})
	if err != nil {
		return nil, err
	}
	return parse(body)
}

// Parse reads a ShowUpgradeWorkFlow answer.
func Parse(body []byte) (*cloud.Operation, error) {
	var w workflow
	if err := cloud.DecodeJSONObject(body, &w); err != nil {
		return nil, err
	}
	return w.operation(), nil
}

// operation is the workflow as an Operation.
func (w *workflow) operation() *cloud.Operation {
	word := string(w.Status.Phase)
	op := WorkflowPhases.NewOperation(word)
	if p, ok := WorkflowPhases.Lookup(word); ok && p == cloud.PhaseFailed {
		op.Resumable = true
	}

	points := []point(w.Status.PointStatuses)
	if len(points) > MaxTasks {
		points = points[:MaxTasks]
	}
	var steps []cloud.Step
	names := make([]string, 0, len(points))
	done := 0
	var lastEnd *time.Time
	for i, p := range points {
		name := strings.TrimSpace(string(p.TaskType))
		if name == "" {
			name = strings.TrimSpace(string(p.TaskID))
		}
		if name == "" {
			name = "task-" + strconv.Itoa(i+1)
		}
		s := cloud.Step{
			Name:          cloud.SanitizeText(name),
			Phase:         TaskStatuses.MapStepStatus(op, string(p.Status)),
			ServiceStatus: cloud.SanitizeText(string(p.Status)),
			StartTime:     parseTime(string(p.StartTimeStamp)),
		}
		if s.Phase.IsTerminal() {
			s.CompletionTime = parseTime(string(p.EndTimeStamp))
		}
		if s.Phase == cloud.PhaseSucceeded {
			done++
		}
		if s.CompletionTime != nil && (lastEnd == nil || s.CompletionTime.After(*lastEnd)) {
			lastEnd = s.CompletionTime
		}
		steps = append(steps, s)
		names = append(names, string(p.TaskType))
	}

	edges := make([][2]string, 0, len(w.Status.LineStatuses))
	for _, l := range w.Status.LineStatuses {
		edges = append(edges, [2]string{string(l.StartPoint.TaskType), string(l.EndPoint.TaskType)})
	}
	order := TopoOrder(names, edges)
	sorted := make([]cloud.Step, len(steps))
	for i, j := range order {
		sorted[i] = steps[j]
	}
	steps = sorted

	op.Progress = cloud.PercentOf(done, len(steps))
	if op.Progress == nil && op.Phase == cloud.PhaseSucceeded {
		op.Progress = cloud.PercentOf(1, 1)
	}
	op.CurrentStep = cloud.CurrentStepOf(steps)
	op.StartTime = parseTime(string(w.Metadata.CreationTimestamp))
	if op.Phase.IsTerminal() {
		op.CompletionTime = lastEnd
	}
	msg := []string{w.text()}
	if from, to := string(w.Spec.ClusterVersion), string(w.Spec.TargetVersion); from != "" || to != "" {
		msg = append(msg, "upgrade "+orUnknown(from)+" to "+orUnknown(to))
	}
	if op.Resumable {
		failed := "a task"
		for _, s := range steps {
			if s.Phase == cloud.PhaseFailed {
				failed = "task " + s.Name
				break
			}
		}
		msg = append(msg, failed+" failed; the workflow can be resumed")
	}
	op.Message = cloud.SanitizeText(cloud.JoinNonEmpty("; ", msg...))
	op.Steps = steps
	return op
}

// TopoOrder returns the indexes of tasks in execution order: a topological
// order of the edges (start task type → end task type) in which, whenever
// several tasks could come next, the one earliest in the list goes first.
// Tasks on no edge therefore keep their list position relative to the
// others, edges naming unknown types are ignored, and a cycle is broken at
// its earliest-listed task, so the function always terminates and returns
// every index exactly once. A task type repeated in the list names its
// first task; the repeats keep their list position. The work is quadratic
// in the number of tasks, so callers bound it (Parse uses MaxTasks).
func TopoOrder(types []string, edges [][2]string) []int {
	n := len(types)
	byType := make(map[string]int, n)
	for i, t := range types {
		if _, dup := byType[t]; t != "" && !dup {
			byType[t] = i
		}
	}
	succ := make([][]int, n)
	indeg := make([]int, n)
	seen := map[[2]int]bool{}
	for _, e := range edges {
		from, ok1 := byType[e[0]]
		to, ok2 := byType[e[1]]
		if !ok1 || !ok2 || from == to || seen[[2]int{from, to}] {
			continue
		}
		seen[[2]int{from, to}] = true
		succ[from] = append(succ[from], to)
		indeg[to]++
	}
	placed := make([]bool, n)
	order := make([]int, 0, n)
	for len(order) < n {
		next := -1
		for i := 0; i < n; i++ {
			if !placed[i] && indeg[i] == 0 {
				next = i
				break
			}
		}
		if next < 0 {
			// Only cycles remain: break at the earliest unplaced task.
			for i := 0; i < n; i++ {
				if !placed[i] {
					next = i
					break
				}
			}
		}
		placed[next] = true
		order = append(order, next)
		for _, s := range succ[next] {
			indeg[s]--
		}
	}
	return order
}

func orUnknown(s string) string {
	if s == "" {
		return "?"
	}
	return s
}

// timeLayouts: CCE prints Go's time.Time.String() form; tolerate the
// variants a change of server code could produce.
var timeLayouts = []string{
	"2006-01-02 15:04:05.999999999 -0700 MST",
	"2006-01-02 15:04:05.999999999 -0700",
	"2006-01-02 15:04:05.999999999Z07:00",
	time.RFC3339Nano,
}

// parseTime reads a CCE timestamp such as
// "2023-11-25 06:32:34.923248 +0000 UTC" (nil when unreadable, see
// cloud.ParseTime). A Go monotonic-clock suffix (" m=+0.000001") is
// ignored; RFC 3339 is accepted as a fallback.
func parseTime(s string) *time.Time {
	s = strings.TrimSpace(s)
	if i := strings.Index(s, " m="); i >= 0 {
		s = s[:i]
	}
	return cloud.ParseTime(s, timeLayouts...)
}
