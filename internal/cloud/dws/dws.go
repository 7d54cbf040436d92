// Package dws observes GaussDB(DWS) cluster actions through
// ListClusterActions (GET /v1/{project_id}/clusters/{cluster_id}/actions/
// {action_name}).
package dws

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/cloudop/cloudop/internal/cloud"
	"github.com/cloudop/cloudop/internal/cloud/internal/flex"
	"github.com/cloudop/cloudop/internal/cloud/transport"
)

// Statuses maps the action's and each sub-item's status. A rolled-back
// action did not do what was asked, so ROLLBACK_SUCCESS is Failed (the
// message says it was rolled back); ROLLBACK_RUNNING is still Running.
var Statuses = cloud.StatusTable{
	"WAITING":          cloud.PhasePending,
	"RUNNING":          cloud.PhaseRunning,
	"SUCCESS":          cloud.PhaseSucceeded,
	"FAILED":           cloud.PhaseFailed,
	"ROLLBACK_RUNNING": cloud.PhaseRunning,
	"ROLLBACK_SUCCESS": cloud.PhaseFailed,
	"ROLLBACK_FAIL":    cloud.PhaseFailed,
}

// statusNotes explain the rollback statuses, whose phase alone would hide
// what happened.
var statusNotes = map[string]string{
	"ROLLBACK_RUNNING": "the action failed and is rolling back",
	"ROLLBACK_SUCCESS": "the action failed and was rolled back",
	"ROLLBACK_FAIL":    "the action failed and its rollback failed",
}

// maxEstimate bounds estimated_time; larger values are treated as noise.
const maxEstimate = 30 * 24 * time.Hour

type action struct {
	// ErrorCode and ErrorMsg are DWS's error object: a 200 carrying it
	// answers for the query, not for an action, and must reach the
	// message rather than read as one.
	ErrorCode   flex.String     `json:"error_code"`
	ErrorMsg    flex.String     `json:"error_msg"`
	ActionName  flex.String     `json:"action_name"`
	Status      flex.String     `json:"status"`
	ClusterName flex.String     `json:"cluster_name"`
	SubmitTime  flex.String     `json:"submit_time"`
	Items       flex.List[item] `json:"items"`
}

type item struct {
	ItemName flex.String        `json:"item_name"`
	SubItems flex.List[subItem] `json:"sub_items"`
}

type subItem struct {
	Status        flex.String `json:"status"`
	Detail        flex.String `json:"detail"`
	SubItemName   flex.String `json:"sub_item_name"`
	BeginTime     flex.String `json:"begin_time"`
	EndTime       flex.String `json:"end_time"`
	EstimatedTime flex.Int    `json:"estimated_time"`
}

// ProgressInfo is what a sub-item's detail may carry, itself JSON inside
// a JSON string (see ParseDetail).
type ProgressInfo struct {
	Progress    flex.String `json:"progress"`
	ErrorMsg    flex.String `json:"errorMsg"`
	CurrentStep flex.String `json:"currentStep"`
	FailedStep  flex.String `json:"failedStep"`
}

// Adapter fetches DWS cluster actions. It implements cloud.Fetcher.
type Adapter struct {
	HTTP *transport.HTTPClient
}

var _ cloud.Fetcher = (*Adapter)(nil)

// New returns an Adapter sending its requests through c.
func New(c *transport.HTTPClient) *Adapter { return &Adapter{HTTP: c} }

// Fetch reads action t.OperationID (an action name such as RESTORING) of
// cluster t.ClusterID. It asks for English sub-item names (x-language).
func (a *Adapter) Fetch(ctx context.Context, t cloud.Target) (*cloud.Operation, error) {
	project, err := t.RequireProjectID()
	if err != nil {
		return nil, err
	}
	if err := cloud.RequireSegment("spec.clusterID", t.ClusterID); err != nil {
		return nil, err
	}
	if err := cloud.RequireSegment("spec.operationID", t.OperationID); err != nil {
		return nil, err
	}
	c := a.HTTP
	path := "/v1/" + project + "/clusters/" + t.ClusterID + "/actions/" + t.OperationID
	body, err := c.Get(ctx, t, path, nil, http.Header{"X-Language": {"en-us"}})
	if err != nil {
		return nil, err
	}
	return Parse(body)
}

// Parse reads a ListClusterActions answer.
func Parse(body []byte) (*cloud.Operation, error) {
	var a action
	if err := cloud.DecodeJSONObject(body, &a); err != nil {
		return nil, err
	}
	word := string(a.Status)
	op := Statuses.NewOperation(word)

	// The "current" sub-item is the first failed one, else the first
	// running one: its progress and message speak for the action.
	type pick struct {
		step cloud.Step
		prog *int32
	}
	var (
		steps                 []cloud.Step
		firstFailed, firstRun *pick
		lastProg              *int32
		estimate              time.Duration
	)
	for i, it := range a.Items {
		step := cloud.Step{Name: cloud.SanitizeText(string(it.ItemName))}
		if step.Name == "" {
			step.Name = "item-" + strconv.Itoa(i+1)
		}
		for j, si := range it.SubItems {
			ss := cloud.Step{
				Name:          cloud.SanitizeText(string(si.SubItemName)),
				Phase:         Statuses.MapStepStatus(op, string(si.Status)),
				ServiceStatus: cloud.SanitizeText(string(si.Status)),
				StartTime:     parseTime(string(si.BeginTime)),
			}
			if ss.Name == "" {
				ss.Name = "sub-item-" + strconv.Itoa(j+1)
			}
			if ss.Phase.IsTerminal() {
				ss.CompletionTime = parseTime(string(si.EndTime))
			}
			info, isJSON := ParseDetail(string(si.Detail))
			var prog *int32
			switch {
			case info != nil:
				failed := ""
				if ss.Phase == cloud.PhaseFailed {
					failed = prefixed("failed step ", string(info.FailedStep))
				}
				ss.Message = cloud.SanitizeText(cloud.JoinNonEmpty("; ",
					prefixed("current step ", string(info.CurrentStep)), failed, string(info.ErrorMsg)))
				prog = cloud.ParsePercent(string(info.Progress))
			case !isJSON:
				ss.Message = cloud.SanitizeText(string(si.Detail))
			}
			if prog != nil {
				lastProg = prog
			}
			if ss.Phase == cloud.PhaseRunning && si.EstimatedTime.Valid && si.EstimatedTime.Value > 0 {
				d := maxEstimate
				if si.EstimatedTime.Value < int64(maxEstimate/time.Second) {
					d = time.Duration(si.EstimatedTime.Value) * time.Second
				}
				estimate = max(estimate, d)
			}
			if ss.Phase == cloud.PhaseFailed && firstFailed == nil {
				firstFailed = &pick{ss, prog}
			}
			if ss.Phase == cloud.PhaseRunning && firstRun == nil {
				firstRun = &pick{ss, prog}
			}
			step.SubSteps = append(step.SubSteps, ss)
			step.StartTime = earliest(step.StartTime, ss.StartTime)
		}
		step.Phase = itemPhase(step.SubSteps)
		if step.Phase.IsTerminal() {
			for _, ss := range step.SubSteps {
				if ss.CompletionTime != nil && (step.CompletionTime == nil || ss.CompletionTime.After(*step.CompletionTime)) {
					step.CompletionTime = ss.CompletionTime
				}
			}
		}
		steps = append(steps, step)
	}

	current := firstFailed
	if current == nil {
		current = firstRun
	}
	switch {
	case current != nil && current.prog != nil:
		op.Progress = current.prog
	case lastProg != nil:
		op.Progress = lastProg
	case op.Phase == cloud.PhaseSucceeded:
		op.Progress = cloud.PercentOf(1, 1)
	}
	op.EstimatedRemaining = estimate
	op.CurrentStep = cloud.CurrentStepOf(steps)
	op.StartTime = parseTime(string(a.SubmitTime))
	if op.Phase.IsTerminal() {
		for _, s := range steps {
			if s.CompletionTime != nil && (op.CompletionTime == nil || s.CompletionTime.After(*op.CompletionTime)) {
				op.CompletionTime = s.CompletionTime
			}
		}
	}
	note := statusNotes[strings.ToUpper(strings.TrimSpace(word))]
	detail := ""
	if current != nil && current.step.Message != "" {
		detail = current.step.Name + ": " + current.step.Message
	}
	op.Message = cloud.SanitizeText(cloud.JoinNonEmpty("; ",
		cloud.JoinNonEmpty(": ", string(a.ErrorCode), string(a.ErrorMsg)), note, detail))
	op.Steps = steps
	return op, nil
}

// itemPhase derives an item's phase from its sub-items: any failed →
// Failed; all succeeded → Succeeded; any running → Running; else Pending
// (including an item without sub-items).
func itemPhase(subs []cloud.Step) cloud.Phase {
	succeeded, running := 0, false
	for _, s := range subs {
		switch s.Phase {
		case cloud.PhaseFailed:
			return cloud.PhaseFailed
		case cloud.PhaseSucceeded:
			succeeded++
		case cloud.PhaseRunning:
			running = true
		}
	}
	switch {
	case len(subs) > 0 && succeeded == len(subs):
		return cloud.PhaseSucceeded
	case running:
		return cloud.PhaseRunning
	}
	return cloud.PhasePending
}

// ParseDetail reads a sub-item's detail. DWS puts JSON in it, whose
// progressInfo is JSON again inside a string (seed 004); progressInfo may
// also be an object, or the fields may sit in detail directly. isJSON
// reports whether detail was a JSON object at all; info is nil when it
// was not, or when nothing in it could be read. It never fails.
func ParseDetail(detail string) (info *ProgressInfo, isJSON bool) {
	d := bytes.TrimSpace([]byte(detail))
	if len(d) == 0 || d[0] != '{' {
		return nil, false
	}
	var m map[string]json.RawMessage
	if json.Unmarshal(d, &m) != nil {
		return nil, false
	}
	raw := d
	if pi, ok := m["progressInfo"]; ok {
		raw = bytes.TrimSpace(pi)
		if len(raw) > 0 && raw[0] == '"' {
			var s string
			if json.Unmarshal(raw, &s) != nil {
				return nil, true
			}
			raw = bytes.TrimSpace([]byte(s))
		}
	}
	var p ProgressInfo
	if len(raw) == 0 || raw[0] != '{' || json.Unmarshal(raw, &p) != nil {
		return nil, true
	}
	if p == (ProgressInfo{}) {
		return nil, true
	}
	return &p, true
}

func prefixed(prefix, v string) string {
	if strings.TrimSpace(v) == "" {
		return ""
	}
	return prefix + v
}

func earliest(a, b *time.Time) *time.Time {
	if a == nil || (b != nil && b.Before(*a)) {
		return b
	}
	return a
}

// timeLayouts: DWS's own form (with a space or a "T" between date and
// time), RFC 3339 as a fallback.
var timeLayouts = []string{
	"2006-01-02 15:04:05.999999999",
	"2006-01-02T15:04:05.999999999",
	time.RFC3339Nano,
}

// parseTime reads a DWS timestamp such as "2025-05-19 09:06:18.0" or
// "2025-05-19 09:06:18" (nil when unreadable, see cloud.ParseTime). DWS
// gives no zone; it is taken as UTC (unverified). Empty (the API's null)
// gives nil.
func parseTime(s string) *time.Time {
	return cloud.ParseTime(strings.TrimSpace(s), timeLayouts...)
}
