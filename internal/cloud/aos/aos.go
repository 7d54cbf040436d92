// Package aos observes Application Orchestration Service stack executions
// through GET /v2/stacks/{stack_id}/actions/{action_id}. The API is not in
// the Huawei Cloud SDK and its host is unverified (see transport.DefaultEndpoint).
package aos

import (
	"context"
	"sort"
	"strings"
	"time"

	"github.com/cloudop/cloudop/internal/cloud"
	"github.com/cloudop/cloudop/internal/cloud/internal/flex"
	"github.com/cloudop/cloudop/internal/cloud/transport"
)

// Phases maps status.objectStatus.phase and the sub-object phases. The
// reference names no values; the seed shows "Succeeded" and AOS is built
// on Kubernetes-style phases, so the table takes those and their common
// spellings. "Unknown" is recognised (and stays Unknown).
var Phases = cloud.StatusTable{
	"Pending":    cloud.PhasePending,
	"Waiting":    cloud.PhasePending,
	"Running":    cloud.PhaseRunning,
	"Processing": cloud.PhaseRunning,
	"Succeeded":  cloud.PhaseSucceeded,
	"Success":    cloud.PhaseSucceeded,
	"Failed":     cloud.PhaseFailed,
	"Error":      cloud.PhaseFailed,
	"Timeout":    cloud.PhaseFailed,
	"Cancelled":  cloud.PhaseCancelled,
	"Canceled":   cloud.PhaseCancelled,
	"Unknown":    cloud.PhaseUnknown,
}

type execution struct {
	// Code and Message are AOS's error object ({code, message, extend,
	// showdetail}): a 200 carrying it answers for the query, not for an
	// execution, and must reach the message rather than read as one.
	Code     flex.String `json:"code"`
	Message  flex.String `json:"message"`
	Metadata struct {
		CreationTimestamp flex.String `json:"creationTimestamp"`
	} `json:"metadata"`
	Spec struct {
		ActionName flex.String `json:"actionName"`
	} `json:"spec"`
	Status struct {
		ActionName        flex.String            `json:"actionName"`
		Progress          flex.Int               `json:"progress"`
		ObjectStatus      actionStatus           `json:"objectStatus"`
		SubObjectStatuses flex.Map[actionStatus] `json:"subObjectStatuses"`
	} `json:"status"`
}

type actionStatus struct {
	Phase         flex.String `json:"phase"`
	Message       flex.String `json:"message"`
	Reason        flex.String `json:"reason"`
	UpdateAt      flex.String `json:"updateAt"`
	CreateAt      flex.String `json:"createAt"`
	SubActionName flex.String `json:"subActionName"`
}

// Adapter fetches AOS executions. It implements cloud.Fetcher.
type Adapter struct {
	HTTP *transport.HTTPClient
}

var _ cloud.Fetcher = (*Adapter)(nil)

// New returns an Adapter sending its requests through c.
func New(c *transport.HTTPClient) *Adapter { return &Adapter{HTTP: c} }

// Fetch reads execution t.OperationID of stack t.StackID. The URL has no
// project; the project goes in X-Project-Id (set by the client).
func (a *Adapter) Fetch(ctx context.Context, t cloud.Target) (*cloud.Operation, error) {
	if err := cloud.RequireSegment("spec.stackID", t.StackID); err != nil {
		return nil, err
	}
	if err := cloud.RequireSegment("spec.operationID", t.OperationID); err != nil {
		return nil, err
	}
	c := a.HTTP
	body, err := c.Get(ctx, t, "/v2/stacks/"+t.StackID+"/actions/"+t.OperationID, nil, nil)
	if err != nil {
		return nil, err
	}
	return Parse(body)
}

// Parse reads an execution answer.
func Parse(body []byte) (*cloud.Operation, error) {
	var e execution
	if err := cloud.DecodeJSONObject(body, &e); err != nil {
		return nil, err
	}
	st := e.Status
	word := string(st.ObjectStatus.Phase)
	op := Phases.NewOperation(word)

	type keyed struct {
		step cloud.Step
		at   *time.Time
	}
	subs := make([]keyed, 0, len(st.SubObjectStatuses))
	for name, s := range st.SubObjectStatuses {
		created := parseTime(string(s.CreateAt))
		updated := parseTime(string(s.UpdateAt))
		step := cloud.Step{
			Name:          cloud.SanitizeText(name),
			Phase:         Phases.MapStepStatus(op, string(s.Phase)),
			ServiceStatus: cloud.SanitizeText(string(s.Phase)),
			Message:       cloud.SanitizeText(cloud.JoinNonEmpty(": ", string(s.Reason), string(s.Message))),
			StartTime:     created,
		}
		if step.Phase.IsTerminal() {
			step.CompletionTime = updated
		}
		sortKey := created
		if sortKey == nil {
			sortKey = updated
		}
		subs = append(subs, keyed{step, sortKey})
	}
	// Execution order is not given; creation (else last update) time is
	// the best proxy. Entries without times go last; ties by name.
	sort.Slice(subs, func(i, j int) bool {
		a, b := subs[i], subs[j]
		switch {
		case a.at != nil && b.at != nil && !a.at.Equal(*b.at):
			return a.at.Before(*b.at)
		case (a.at == nil) != (b.at == nil):
			return a.at != nil
		}
		return a.step.Name < b.step.Name
	})
	var steps []cloud.Step
	for _, s := range subs {
		steps = append(steps, s.step)
	}

	if st.Progress.Valid {
		op.Progress = cloud.ClampPercent(float64(st.Progress.Value))
	} else if op.Phase == cloud.PhaseSucceeded {
		op.Progress = cloud.PercentOf(1, 1)
	}
	op.CurrentStep = cloud.CurrentStepOf(steps)
	op.StartTime = parseTime(string(e.Metadata.CreationTimestamp))
	if op.StartTime == nil {
		for _, s := range steps {
			if s.StartTime != nil && (op.StartTime == nil || s.StartTime.Before(*op.StartTime)) {
				op.StartTime = s.StartTime
			}
		}
	}
	if op.Phase.IsTerminal() {
		op.CompletionTime = parseTime(string(st.ObjectStatus.UpdateAt))
	}
	action := string(st.ActionName)
	if action == "" {
		action = string(e.Spec.ActionName)
	}
	if action != "" {
		action = "action " + action
	}
	op.Message = cloud.SanitizeText(cloud.JoinNonEmpty("; ",
		cloud.JoinNonEmpty(": ", string(e.Code), string(e.Message)),
		cloud.JoinNonEmpty(": ", action, string(st.ObjectStatus.Reason), string(st.ObjectStatus.Message))))
	op.Steps = steps
	return op, nil
}

// parseTime reads an AOS timestamp: RFC 3339, with or without fractional
// seconds (nil when unreadable, see cloud.ParseTime).
func parseTime(s string) *time.Time {
	return cloud.ParseTime(strings.TrimSpace(s), time.RFC3339Nano)
}
