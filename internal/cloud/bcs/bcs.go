// Package bcs observes Blockchain Service (BCS) operations through
// ListOpRecord (GET /v2/{project_id}/operation/record).
package bcs

import (
	"context"
	"errors"
	"net/url"
	"sort"
	"strings"
	"time"
	"unicode"

	"github.com/cloudop/cloudop/internal/cloud"
	"github.com/cloudop/cloudop/internal/cloud/internal/flex"
	"github.com/cloudop/cloudop/internal/cloud/transport"
)

// Statuses maps operation_status (and step/sub-step status) words.
// "stop" is BCS's "operation interrupted".
var Statuses = cloud.StatusTable{
	"waiting":    cloud.PhasePending,
	"processing": cloud.PhaseRunning,
	"finished":   cloud.PhaseSucceeded,
	"failed":     cloud.PhaseFailed,
	"stop":       cloud.PhaseCancelled,
}

type listResponse struct {
	// ErrorCode and ErrorMsg are BCS's error object: a 200 carrying it
	// answers for the query, and has no records because the query
	// failed, not because the operation does not exist.
	ErrorCode        flex.String       `json:"error_code"`
	ErrorMsg         flex.String       `json:"error_msg"`
	Count            flex.Int          `json:"count"`
	OperationRecords flex.List[record] `json:"operation_records"`
}

type record struct {
	OperationID      flex.String       `json:"operation_id"`
	ResourceType     flex.String       `json:"resource_type"`
	OperationType    flex.String       `json:"operation_type"`
	BlockchainID     flex.String       `json:"blockchain_id"`
	OperationProcess flex.Map[process] `json:"operation_process"`
	RecordTime       flex.Int          `json:"record_time"`
	OperationStatus  flex.String       `json:"operation_status"`
	Message          flex.Strings      `json:"message"`
	Desc             flex.String       `json:"desc"`
}

type process struct {
	StepName  flex.String         `json:"step_name"`
	Status    flex.String         `json:"status"`
	Detail    flex.String         `json:"detail"`
	SubSteps  flex.Map[subDetail] `json:"sub_steps"`
	SerialNum flex.Int            `json:"serial_num"`
}

type subDetail struct {
	SubstepName flex.String  `json:"substep_name"`
	Detail      flex.String  `json:"detail"`
	Status      flex.String  `json:"status"`
	Message     flex.Strings `json:"message"`
	StartTime   flex.Int     `json:"start_time"`
	EndTime     flex.Int     `json:"end_time"`
	SerialNum   flex.Int     `json:"serial_num"`
}

// Adapter fetches BCS operations. It implements cloud.Fetcher.
type Adapter struct {
	HTTP *transport.HTTPClient
	// Lists, when set, serves every operation of one (credentials,
	// project, blockchain) from one shared ListOpRecord call (see
	// ListCache). nil sends one call filtered by operation_id per Fetch.
	Lists *ListCache
}

var (
	_ cloud.Fetcher         = (*Adapter)(nil)
	_ cloud.OperationLister = (*Adapter)(nil)
)

// ListOperations returns every record ListOpRecord lists for the project
// (and t.BlockchainID when set). With a ListCache the call is shared with
// the Fetches of the same blockchain, so a source and the trackers of its
// operations cost one list per window.
func (a *Adapter) ListOperations(ctx context.Context, t cloud.Target) (map[string]*cloud.Operation, error) {
	project, err := t.RequireProjectID()
	if err != nil {
		return nil, err
	}
	var ops map[string]*cloud.Operation
	if a.Lists != nil {
		ops, err = a.Lists.list(ctx, a.HTTP, t, project)
	} else {
		ops, err = NewListCache(-1).list(ctx, a.HTTP, t, project)
	}
	if err != nil {
		return nil, err
	}
	// The list may be shared: each caller gets its own copies.
	out := make(map[string]*cloud.Operation, len(ops))
	for id, op := range ops {
		out[id] = op.Clone()
	}
	return out, nil
}

// New returns an Adapter sending its requests through c, with a ListCache
// of DefaultListWindow.
func New(c *transport.HTTPClient) *Adapter { return &Adapter{HTTP: c, Lists: NewListCache(0)} }

// Fetch returns the record of t.OperationID (see Lookup). With a
// ListCache it is picked from the shared list of the project (or of
// t.BlockchainID when set); an operation absent from it, or a list too
// large to read, is asked for on its own (the operation may have started
// after the list was fetched, and whether the unfiltered list is complete
// is not documented). Without one, the list is filtered by t.OperationID
// (and t.BlockchainID when set).
func (a *Adapter) Fetch(ctx context.Context, t cloud.Target) (*cloud.Operation, error) {
	if strings.TrimSpace(t.OperationID) == "" {
		return nil, cloud.Permanentf("spec.operationID is required")
	}
	project, err := t.RequireProjectID()
	if err != nil {
		return nil, err
	}
	c := a.HTTP
	if a.Lists != nil {
		ops, err := a.Lists.list(ctx, c, t, project)
		switch {
		case err == nil:
			op, err := Lookup(ops, t.OperationID)
			if err == nil {
				// The list is shared: each caller gets its own copy.
				return op.Clone(), nil
			}
			if cloud.KindOf(err) != cloud.KindNotFound {
				return nil, err
			}
			// Absent from the list: confirmed with a filtered call.
		case errors.Is(err, transport.ErrResponseTooLarge):
		default:
			return nil, err
		}
	}
	return fetchOne(ctx, c, t, project)
}

// fetchOne lists the records filtered by t.OperationID (and
// t.BlockchainID) and picks the matching one.
func fetchOne(ctx context.Context, c *transport.HTTPClient, t cloud.Target, project string) (*cloud.Operation, error) {
	q := url.Values{"operation_id": {t.OperationID}}
	if t.BlockchainID != "" {
		q.Set("blockchain_id", t.BlockchainID)
	}
	body, err := c.Get(ctx, t, recordPath(project), q, nil)
	if err != nil {
		return nil, err
	}
	ops, err := ParseList(body)
	if err != nil {
		return nil, err
	}
	return Lookup(ops, t.OperationID)
}

func recordPath(project string) string { return "/v2/" + project + "/operation/record" }

// Parse reads a ListOpRecord answer holding a single record, which is what
// the API returns when filtered by operation_id. No record is a
// KindNotFound error; several are a KindPermanent one (use ParseList and
// Lookup to choose).
func Parse(body []byte) (*cloud.Operation, error) {
	ops, err := ParseList(body)
	if err != nil {
		return nil, err
	}
	switch len(ops) {
	case 0:
		return nil, &cloud.Error{Kind: cloud.KindNotFound, Message: "no operation record in the answer"}
	case 1:
		for _, op := range ops {
			return op, nil
		}
	}
	return nil, cloud.Permanentf("the answer holds %d operation records, not one", len(ops))
}

// ParseList reads every record of a ListOpRecord answer, keyed by its
// operation_id exactly as the service wrote it. Records without an
// operation_id are skipped; of two records with the same ID the first
// wins. An error object instead of records is a KindTransient error with
// its code. ListCache serves many CloudOperations from one such list.
func ParseList(body []byte) (map[string]*cloud.Operation, error) {
	var resp listResponse
	if err := cloud.DecodeJSONObject(body, &resp); err != nil {
		return nil, err
	}
	if len(resp.OperationRecords) == 0 && (resp.ErrorCode != "" || resp.ErrorMsg != "") {
		return nil, &cloud.Error{Kind: cloud.KindTransient, Code: cloud.Excerpt(string(resp.ErrorCode), cloud.MaxQuotedRunes),
			Message: cloud.Excerpt(string(resp.ErrorMsg), transport.MaxErrorMessageRunes)}
	}
	ops := make(map[string]*cloud.Operation, len(resp.OperationRecords))
	for _, r := range resp.OperationRecords {
		id := string(r.OperationID)
		if id == "" {
			continue
		}
		if _, dup := ops[id]; dup {
			continue
		}
		ops[id] = convert(r)
	}
	return ops, nil
}

// Lookup picks the record for id from ParseList's result. An exact match
// wins. Otherwise IDs are compared with all whitespace removed, because
// the published examples show IDs with stray spaces (" BCS SVC01-99-…" for
// "BCSSVC01-99-…") while a CloudOperation's spec.operationID cannot hold
// spaces; BCS IDs are "TYPE-OP-TIMESTAMP" with no legitimate whitespace,
// so this cannot join two distinct IDs in practice. Exactly one such match
// is accepted; several are a KindPermanent error; none is KindNotFound.
func Lookup(ops map[string]*cloud.Operation, id string) (*cloud.Operation, error) {
	if op, ok := ops[id]; ok {
		return op, nil
	}
	want := stripSpace(id)
	var found *cloud.Operation
	n := 0
	for k, op := range ops {
		if stripSpace(k) == want {
			found = op
			n++
		}
	}
	switch {
	case n == 1:
		return found, nil
	case n > 1:
		return nil, cloud.Permanentf("%d operation records match operation_id %q when spaces are ignored", n, cloud.Excerpt(id, cloud.MaxQuotedRunes))
	}
	return nil, &cloud.Error{Kind: cloud.KindNotFound, Message: "no operation record with operation_id " + cloud.Excerpt(id, cloud.MaxQuotedRunes)}
}

func stripSpace(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsSpace(r) {
			return -1
		}
		return r
	}, s)
}

func convert(r record) *cloud.Operation {
	op := Statuses.NewOperation(string(r.OperationStatus))

	var steps []cloud.Step
	order := make([]int64, 0, len(r.OperationProcess))
	for key, p := range r.OperationProcess {
		steps = append(steps, convertStep(op, key, p))
		order = append(order, p.SerialNum.Value)
	}
	sortBySerial(steps, order)

	// Progress: BCS reports none, so it is the share of finished units
	// (sub-steps, or a step itself when it has none).
	done, total := 0, 0
	var start, end *time.Time
	for _, s := range steps {
		if len(s.SubSteps) == 0 {
			total++
			if s.Phase == cloud.PhaseSucceeded {
				done++
			}
		}
		for _, ss := range s.SubSteps {
			total++
			if ss.Phase == cloud.PhaseSucceeded {
				done++
			}
		}
		start = earliest(start, s.StartTime)
		end = latestEnd(end, s.SubSteps)
	}
	op.Progress = cloud.PercentOf(done, total)
	if op.Phase == cloud.PhaseSucceeded {
		op.Progress = cloud.PercentOf(1, 1)
	}
	op.CurrentStep = cloud.CurrentStepOf(steps)
	op.StartTime = start
	if op.Phase.IsTerminal() {
		op.CompletionTime = end
	}

	op.Message = cloud.SanitizeText(cloud.JoinNonEmpty("; ", r.Message...))
	if op.Message == "" {
		op.Message = cloud.SanitizeText(string(r.Desc))
	}
	if op.Message == "" && op.Phase == cloud.PhaseFailed {
		op.Message = cloud.FailureMessage(steps)
	}
	op.Steps = steps
	return op
}

func convertStep(op *cloud.Operation, key string, p process) cloud.Step {
	name := string(p.StepName)
	if strings.TrimSpace(name) == "" {
		name = key
	}
	s := cloud.Step{
		Name:          cloud.SanitizeText(name),
		Phase:         Statuses.MapStepStatus(op, string(p.Status)),
		ServiceStatus: cloud.SanitizeText(string(p.Status)),
		Message:       cloud.SanitizeText(string(p.Detail)),
	}
	order := make([]int64, 0, len(p.SubSteps))
	for k, sd := range p.SubSteps {
		sname := string(sd.SubstepName)
		if strings.TrimSpace(sname) == "" {
			sname = k
		}
		ss := cloud.Step{
			Name:          cloud.SanitizeText(sname),
			Phase:         Statuses.MapStepStatus(op, string(sd.Status)),
			ServiceStatus: cloud.SanitizeText(string(sd.Status)),
			// A not-started sub-step's detail ("waiting") is all it says.
			Message:   cloud.SanitizeText(cloud.JoinNonEmpty("; ", append([]string{string(sd.Detail)}, sd.Message...)...)),
			StartTime: parseEpoch(sd.StartTime.Value),
		}
		if ss.Phase.IsTerminal() {
			ss.CompletionTime = parseEpoch(sd.EndTime.Value)
		}
		s.SubSteps = append(s.SubSteps, ss)
		order = append(order, sd.SerialNum.Value)
	}
	sortBySerial(s.SubSteps, order)
	// A step carries no times of its own: it spans its sub-steps.
	for _, ss := range s.SubSteps {
		s.StartTime = earliest(s.StartTime, ss.StartTime)
	}
	if s.Phase.IsTerminal() {
		s.CompletionTime = latestEnd(nil, s.SubSteps)
	}
	return s
}

// sortBySerial orders steps by serial number, then name, keeping serial
// numbers paired with their steps.
func sortBySerial(steps []cloud.Step, serial []int64) {
	idx := make([]int, len(steps))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool {
		if serial[idx[a]] != serial[idx[b]] {
			return serial[idx[a]] < serial[idx[b]]
		}
		return steps[idx[a]].Name < steps[idx[b]].Name
	})
	sorted := make([]cloud.Step, len(steps))
	for i, j := range idx {
		sorted[i] = steps[j]
	}
	copy(steps, sorted)
}

func earliest(a, b *time.Time) *time.Time {
	if a == nil || (b != nil && b.Before(*a)) {
		return b
	}
	return a
}

func latestEnd(cur *time.Time, steps []cloud.Step) *time.Time {
	for _, s := range steps {
		if s.CompletionTime != nil && (cur == nil || s.CompletionTime.After(*cur)) {
			cur = s.CompletionTime
		}
	}
	return cur
}

// Epoch magnitude thresholds. A seconds value of 1e11 is the year 5138 and
// a nanoseconds value of 1e17 is 1973, so the ranges do not overlap for
// any date this operator will see.
const (
	epochMaxSeconds = 1e11
	epochMaxMillis  = 1e14
	epochMaxMicros  = 1e17
)

// parseEpoch reads a BCS epoch integer whose unit is not documented: it is
// taken as seconds, milliseconds, microseconds or nanoseconds by magnitude
// (the seeds carry nanoseconds). Zero means unset and, like negative
// values, gives nil; the result is in UTC.
func parseEpoch(v int64) *time.Time {
	var t time.Time
	switch {
	case v <= 0:
		return nil
	case v < epochMaxSeconds:
		t = time.Unix(v, 0)
	case v < epochMaxMillis:
		t = time.UnixMilli(v)
	case v < epochMaxMicros:
		t = time.UnixMicro(v)
	default:
		t = time.Unix(0, v)
	}
	t = t.UTC()
	return &t
}
