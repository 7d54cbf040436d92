package cloudsim

import (
	"encoding/base64"
	"fmt"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// This file serves RFS (Resource Formation Service, the aos SDK package):
// an operation is one deployment of a stack, read from two APIs,
// GetStackMetadata (the stack's status) and ListStackEvents (what the
// deployment did to each resource, newest first, in pages).

// The two RFS APIs, the last segment of their paths.
const (
	rfsMetadata = "metadata"
	rfsEvents   = "events"
)

// RFS request rules.
const (
	// headerClientRequestID is the header every RFS request must carry.
	headerClientRequestID = "Client-Request-Id"
	// rfsBadRequest is the stand-in code of a rejected RFS request.
	rfsBadRequest = "AOS.0400"
	// rfsDefaultLimit and rfsMaxLimit bound ListStackEvents' limit. The
	// SDK does not say; 100 is the documented maximum of RFS's other
	// lists, used as both default and cap.
	rfsDefaultLimit = 100
	rfsMaxLimit     = 100
)

// RFS event types (StackEvent.event_type) cloudsim emits.
const (
	rfsLog                = "LOG"
	rfsSummary            = "SUMMARY"
	rfsCreationInProgress = "CREATION_IN_PROGRESS"
	rfsCreationComplete   = "CREATION_COMPLETE"
	rfsCreationFailed     = "CREATION_FAILED"
	rfsDeletionInProgress = "DELETION_IN_PROGRESS"
	rfsDeletionComplete   = "DELETION_COMPLETE"
	rfsDeletionFailed     = "DELETION_FAILED"
)

// findStack resolves an RFS request to the deployment of the stack it
// names, if it has started by the simulated time sim. A request that
// names no deployment (the metadata, events without deployment_id)
// counts under the stack's deployment.
func (s *Simulator) findStack(rt *route, sim time.Time) *operation {
	op := s.lookup(rt.lookupKey(), sim)
	if op != nil && rt.id == "" {
		rt.id = op.spec.ID
	}
	return op
}

// rfsStatus is the stack's status: a failure ends in DEPLOYMENT_FAILED,
// or, when the stack rolls back automatically, in ROLLBACK_COMPLETE.
func rfsStatus(op *operation, sn *snapshot) string {
	if sn.state == StateFailed && op.plan.failRollback > 0 {
		return "ROLLBACK_COMPLETE"
	}
	return wordFor(RFS, sn.state, op.plan.word)
}

// rfsStackID is the stack's stack_id: the spec's, or a stable UUID.
func rfsStackID(sp OperationSpec) string {
	return or(sp.StackID, uuidFrom("rfs-stack/"+sp.ProjectID+"/"+sp.StackName))
}

// rfsStack is GetStackMetadata's answer (the fields of the SDK's
// GetStackMetadataResponse cloudsim fills, in its order).
type rfsStack struct {
	StackID                  string `json:"stack_id"`
	StackName                string `json:"stack_name"`
	Description              string `json:"description"`
	EnableDeletionProtection bool   `json:"enable_deletion_protection"`
	EnableAutoRollback       bool   `json:"enable_auto_rollback"`
	Status                   string `json:"status"`
	StatusMessage            string `json:"status_message,omitempty"`
	CreateTime               string `json:"create_time"`
	UpdateTime               string `json:"update_time"`
}

// rfsStack renders the stack: created with its deployment, updated at its
// last change; a status_message only in a state ending in FAILED.
func (rc *renderCtx) rfsStack() rfsStack {
	op, sn, sp := rc.op, &rc.sn, rc.op.spec
	st := rfsStack{
		StackID:            rfsStackID(sp),
		StackName:          sp.StackName,
		Description:        "stack " + sp.StackName + " (cloudsim)",
		EnableAutoRollback: op.plan.failRollback > 0,
		Status:             rfsStatus(op, sn),
		CreateTime:         aosTime(rc.at(0)),
		UpdateTime:         aosTime(rc.at(max(sn.changed, 0))),
	}
	if strings.HasSuffix(st.Status, "_FAILED") {
		st.StatusMessage = sn.message
	}
	return st
}

// rfsEvent is one StackEvent. LOG and SUMMARY events have no resource
// fields; resource_id_key/value appear once the resource exists.
type rfsEvent struct {
	ResourceType    string `json:"resource_type,omitempty"`
	ResourceName    string `json:"resource_name,omitempty"`
	ResourceIDKey   string `json:"resource_id_key,omitempty"`
	ResourceIDValue string `json:"resource_id_value,omitempty"`
	ResourceKey     string `json:"resource_key,omitempty"`
	Time            string `json:"time,omitempty"`
	EventType       string `json:"event_type"`
	EventMessage    string `json:"event_message,omitempty"`
	ElapsedSeconds  *int   `json:"elapsed_seconds,omitempty"`
	// seq is the event's place in the deployment's history, oldest 0;
	// markers point at it.
	seq int
}

// rfsEventList is ListStackEvents' answer.
type rfsEventList struct {
	StackEvents []rfsEvent  `json:"stack_events"`
	PageInfo    rfsPageInfo `json:"page_info"`
}

// rfsPageInfo is the SDK's PageInfo: next_marker while more events
// follow.
type rfsPageInfo struct {
	NextMarker   *string `json:"next_marker,omitempty"`
	CurrentCount int     `json:"current_count"`
}

// resourceAddress is a step's name read as a resource address:
// type.name, optionally with a count or for_each key, type.name[0] or
// type.name["a"].
type resourceAddress struct {
	typ, name, key string
}

func parseResourceAddress(s string) (resourceAddress, error) {
	var a resourceAddress
	typ, rest, ok := strings.Cut(s, ".")
	if !ok || typ == "" || rest == "" {
		return a, fmt.Errorf("resource %q is not an address type.name (e.g. huaweicloud_vpc.vpc)", s)
	}
	for _, c := range typ {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_') {
			return a, fmt.Errorf("resource %q: type %q has character %q (allowed: letters, digits, _)", s, typ, c)
		}
	}
	a.typ, a.name = typ, rest
	if i := strings.IndexByte(rest, '['); i >= 0 {
		if i == 0 || !strings.HasSuffix(rest, "]") {
			return a, fmt.Errorf("resource %q: want type.name[key]", s)
		}
		a.name, a.key = rest[:i], strings.Trim(rest[i+1:len(rest)-1], `"`)
		if a.key == "" {
			return a, fmt.Errorf("resource %q: empty key", s)
		}
	}
	return a, nil
}

// rfsEvents is the deployment's history up to the snapshot, oldest first:
// a LOG when it starts, each resource's CREATION_IN_PROGRESS and then
// CREATION_COMPLETE or CREATION_FAILED, and at the end a SUMMARY and a
// LOG (success) or a LOG (failure). A rolling back stack then deletes the
// resources it created, newest first, and logs the rollback's end.
func (rc *renderCtx) rfsEvents() []rfsEvent {
	op, sn, sp := rc.op, &rc.sn, rc.op.spec
	var out []rfsEvent
	add := func(off time.Duration, typ, msg string) *rfsEvent {
		out = append(out, rfsEvent{Time: aosTime(rc.at(off)), EventType: typ, EventMessage: msg, seq: len(out)})
		return &out[len(out)-1]
	}
	elapsed := func(from, to time.Duration) *int {
		n := int(math.Round(rc.at(to).Sub(rc.at(from)).Seconds()))
		return &n
	}
	stack := "stack " + sp.StackName
	add(0, rfsLog, "Deploying "+stack+": current status DEPLOYMENT_IN_PROGRESS, target status DEPLOYMENT_COMPLETE")

	type created struct {
		i    int
		addr resourceAddress
		id   string
	}
	var made []created
	failAt := time.Duration(-1)
	for i, ps := range op.plan.steps {
		st := sn.steps[i]
		if st.start < 0 {
			break
		}
		addr, _ := parseResourceAddress(ps.name)
		onResource := func(e *rfsEvent) {
			e.ResourceType, e.ResourceName, e.ResourceKey = addr.typ, addr.name, addr.key
		}
		onResource(add(st.start, rfsCreationInProgress, ps.name+": Creating..."))
		switch st.state {
		case StateSucceeded:
			id := uuidFrom(fmt.Sprintf("rfs-resource/%s/%d", op.key, i))
			took := elapsed(st.start, st.end)
			e := add(st.end, rfsCreationComplete, fmt.Sprintf("%s: Creation complete after %ds [id=%s]", ps.name, *took, id))
			onResource(e)
			e.ResourceIDKey, e.ResourceIDValue, e.ElapsedSeconds = "id", id, took
			made = append(made, created{i, addr, id})
		case StateFailed:
			e := add(st.end, rfsCreationFailed, sn.message)
			onResource(e)
			e.ElapsedSeconds = elapsed(st.start, st.end)
			failAt = st.end
		}
	}

	switch {
	case sn.state == StateSucceeded:
		e := add(sn.ended, rfsSummary, fmt.Sprintf("Apply complete! Resources: %d added, 0 changed, 0 destroyed.", len(made)))
		e.ElapsedSeconds = elapsed(0, sn.ended)
		add(sn.ended, rfsLog, "Deployed "+stack+": current status DEPLOYMENT_COMPLETE")
	case failAt >= 0 && op.plan.failRollback == 0:
		add(failAt, rfsLog, "Deployment of "+stack+" failed: current status DEPLOYMENT_FAILED: "+sn.message)
	case failAt >= 0:
		add(failAt, rfsLog, "Deployment of "+stack+" failed, rolling back: current status ROLLBACK_IN_PROGRESS, target status ROLLBACK_COMPLETE: "+sn.message)
		// The rollback deletes what was created, newest first, evenly
		// over its duration; a failing rollback fails on the last one.
		r := op.plan.failRollback
		for j, c := range slices.Backward(made) {
			k := len(made) - 1 - j
			from := failAt + r*time.Duration(k)/time.Duration(len(made))
			to := failAt + r*time.Duration(k+1)/time.Duration(len(made))
			if sn.at < from {
				break
			}
			onResource := func(e *rfsEvent) {
				e.ResourceType, e.ResourceName, e.ResourceKey = c.addr.typ, c.addr.name, c.addr.key
				e.ResourceIDKey, e.ResourceIDValue = "id", c.id
			}
			name := op.plan.steps[c.i].name
			onResource(add(from, rfsDeletionInProgress, fmt.Sprintf("%s: Destroying... [id=%s]", name, c.id)))
			if sn.at < to {
				break
			}
			took := elapsed(from, to)
			var e *rfsEvent
			if op.plan.rollbackFails && k == len(made)-1 {
				e = add(to, rfsDeletionFailed, name+": rollback failed: cannot delete the resource")
			} else {
				e = add(to, rfsDeletionComplete, fmt.Sprintf("%s: Destruction complete after %ds", name, *took))
			}
			onResource(e)
			e.ElapsedSeconds = took
		}
		switch sn.state {
		case StateFailed:
			add(sn.ended, rfsLog, "Rolled back "+stack+": current status ROLLBACK_COMPLETE")
		case StateRollbackFailed:
			add(sn.ended, rfsLog, "Rollback of "+stack+" failed: current status ROLLBACK_FAILED: "+sn.message)
		}
	}
	return out
}

// rfsFields are the event attributes the field parameter may select
// (event_type is always returned); timestamp selects time.
var rfsFields = map[string]func(*rfsEvent){
	"elapsed_seconds":   func(e *rfsEvent) { e.ElapsedSeconds = nil },
	"event_message":     func(e *rfsEvent) { e.EventMessage = "" },
	"resource_id_key":   func(e *rfsEvent) { e.ResourceIDKey = "" },
	"resource_id_value": func(e *rfsEvent) { e.ResourceIDValue = "" },
	"resource_key":      func(e *rfsEvent) { e.ResourceKey = "" },
	"resource_type":     func(e *rfsEvent) { e.ResourceType = "" },
	"resource_name":     func(e *rfsEvent) { e.ResourceName = "" },
	"timestamp":         func(e *rfsEvent) { e.Time = "" },
	"time":              func(e *rfsEvent) { e.Time = "" },
}

// rfsFilter is a parsed filter: every group (AND, ",") must match, a group
// matches when one of its terms (OR, "|") does. Terms are name==value over
// event_type, resource_type and resource_name; a term without "name=="
// takes its group's name.
type rfsFilter [][][2]string

func parseRFSFilter(v string) (rfsFilter, error) {
	if v == "" || strings.Contains(v, ";") {
		// The reference: a filter with a semicolon is ignored.
		return nil, nil
	}
	var f rfsFilter
	for group := range strings.SplitSeq(v, ",") {
		var terms [][2]string
		name := ""
		for term := range strings.SplitSeq(group, "|") {
			k, val, ok := strings.Cut(term, "==")
			if !ok {
				k, val = name, term
			}
			switch k {
			case "event_type", "resource_type", "resource_name":
			case "":
				return nil, fmt.Errorf("filter term %q has no name==value", term)
			default:
				return nil, fmt.Errorf("filter parameter %q unknown (want event_type, resource_type or resource_name)", k)
			}
			if name != "" && k != name {
				return nil, fmt.Errorf("filter group %q names both %s and %s (one parameter a group)", group, name, k)
			}
			name = k
			terms = append(terms, [2]string{k, val})
		}
		f = append(f, terms)
	}
	return f, nil
}

func (f rfsFilter) match(e *rfsEvent) bool {
	for _, group := range f {
		ok := false
		for _, t := range group {
			var v string
			switch t[0] {
			case "event_type":
				v = e.EventType
			case "resource_type":
				v = e.ResourceType
			case "resource_name":
				v = e.ResourceName
			}
			ok = ok || v == t[1]
		}
		if !ok {
			return false
		}
	}
	return true
}

func rfsMarker(deployment string, seq int) string {
	return base64.RawURLEncoding.EncodeToString([]byte(deployment + "/" + strconv.Itoa(seq)))
}

// parseRFSMarker reads a marker made for the deployment: the seq of the
// last event of the previous page.
func parseRFSMarker(m, deployment string) (int, error) {
	bad := fmt.Errorf("marker %q is invalid (use page_info.next_marker of a previous answer for the same deployment)", m)
	b, err := base64.RawURLEncoding.DecodeString(m)
	if err != nil {
		return 0, bad
	}
	dep, n, ok := strings.Cut(string(b), "/")
	seq, err := strconv.Atoi(n)
	if !ok || dep != deployment || err != nil || seq < 0 {
		return 0, bad
	}
	return seq, nil
}

// rfsEventPage answers ListStackEvents: the events that pass the filter,
// newest first, from after the marker, at most limit of them, with only
// the fields asked for. An error is the reason for a 400.
func (rc *renderCtx) rfsEventPage(q map[string][]string) (rfsEventList, error) {
	get := func(k string) string {
		if v := q[k]; len(v) > 0 {
			return v[0]
		}
		return ""
	}
	limit := rfsDefaultLimit
	if v := get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > rfsMaxLimit {
			return rfsEventList{}, fmt.Errorf("limit %q must be an integer from 1 to %d", v, rfsMaxLimit)
		}
		limit = n
	}
	before := math.MaxInt
	if v := get("marker"); v != "" {
		seq, err := parseRFSMarker(v, rc.op.spec.ID)
		if err != nil {
			return rfsEventList{}, err
		}
		before = seq
	}
	filter, err := parseRFSFilter(get("filter"))
	if err != nil {
		return rfsEventList{}, err
	}
	var drop []func(*rfsEvent)
	if v := get("field"); v != "" {
		keep := map[string]bool{}
		for f := range strings.SplitSeq(v, ",") {
			if _, ok := rfsFields[f]; !ok && f != "event_type" {
				return rfsEventList{}, fmt.Errorf("field %q unknown (want some of event_type, elapsed_seconds, event_message, resource_id_key, resource_id_value, resource_key, resource_type, resource_name, timestamp)", f)
			}
			keep[f] = true
		}
		if keep["time"] {
			keep["timestamp"] = true
		}
		for f, clear := range rfsFields {
			if !keep[f] && f != "time" {
				drop = append(drop, clear)
			}
		}
	}
	out := rfsEventList{StackEvents: []rfsEvent{}}
	all := rc.rfsEvents()
	for i := len(all) - 1; i >= 0; i-- {
		e := all[i]
		if e.seq >= before || !filter.match(&e) {
			continue
		}
		if len(out.StackEvents) == limit {
			last := out.StackEvents[limit-1].seq
			out.PageInfo.NextMarker = strp(rfsMarker(rc.op.spec.ID, last))
			break
		}
		out.StackEvents = append(out.StackEvents, e)
	}
	for i := range out.StackEvents {
		for _, clear := range drop {
			clear(&out.StackEvents[i])
		}
	}
	out.PageInfo.CurrentCount = len(out.StackEvents)
	return out, nil
}

// rfsAnswer is the status and body of an RFS request for an existing
// stack: the metadata or a page of events, or an error body.
func (rc *renderCtx) rfsAnswer(rt *route) (int, any) {
	sp := rc.op.spec
	if id := rt.query.Get("stack_id"); id != "" && id != rfsStackID(sp) {
		return http.StatusBadRequest, errorBody{ErrorCode: rfsBadRequest,
			ErrorMsg: fmt.Sprintf("stack_id %s does not match the ID of stack %s", id, sp.StackName)}
	}
	if rt.rfs == rfsMetadata {
		return http.StatusOK, rc.rfsStack()
	}
	if d := rt.query.Get("deployment_id"); d != "" && d != sp.ID {
		return http.StatusNotFound, errorBody{ErrorCode: serviceCodes[RFS].notFound,
			ErrorMsg: fmt.Sprintf("Deployment %s of stack %s does not exist", d, sp.StackName)}
	}
	page, err := rc.rfsEventPage(rt.query)
	if err != nil {
		return http.StatusBadRequest, errorBody{ErrorCode: rfsBadRequest, ErrorMsg: err.Error()}
	}
	return http.StatusOK, page
}

// answerRFS answers an RFS request: 400 without Client-Request-Id, 404
// for a stack the project does not have, else rfsAnswer's.
func (s *Simulator) answerRFS(w http.ResponseWriter, r *http.Request, rt *route, op *operation, acct *account, now time.Time) {
	if r.Header.Get(headerClientRequestID) == "" {
		writeError(w, http.StatusBadRequest, rfsBadRequest, "the "+headerClientRequestID+" header is required")
		return
	}
	if op == nil {
		serviceError(w, RFS, http.StatusNotFound, notFoundMessage(rt))
		return
	}
	status, body := s.newRenderCtx(op, now, acct, false).rfsAnswer(rt)
	writeJSON(w, status, body)
}
