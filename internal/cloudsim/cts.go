package cloudsim

import (
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"
)

// This file serves CTS (Cloud Trace Service) ListTraces v3, the audit log
// a client reads to discover operations it did not start: each job of
// the two job families is recorded by one trace, whose response names
// the job_id, from the instant the job starts; a few synchronous calls
// without a job are recorded too, so that a client has to filter.

// CTS is the Cloud Trace Service. It runs no operations, so it is not
// one of Services and an OperationSpec cannot name it; it names CTS in
// request counts (Counts.CTS, ListCount).
const CTS Service = "CTS"

// CTS request rules.
const (
	// ctsBadRequest is the code of a rejected ListTraces query: CTS.0003
	// is CTS's documented code for an invalid request body, the closest
	// it documents for an invalid parameter.
	ctsBadRequest = "CTS.0003"
	// ctsDefaultLimit and ctsMaxLimit bound limit, as the SDK documents.
	ctsDefaultLimit = 10
	ctsMaxLimit     = 200
	// ctsDefaultWindow is how far back from reaches when not given: the
	// SDK documents "the last hour".
	ctsDefaultWindow = time.Hour
	// ctsSyncLead is how long before its job a job's synchronous
	// companion call is recorded.
	ctsSyncLead = time.Second
)

// traceKind is how CTS records one job service: the trace of the call
// that started the job and that of a synchronous call without a job.
type traceKind struct {
	// serviceType is the service_type CTS writes for the service.
	serviceType string
	// name and resourceType are the job trace's trace_name and
	// resource_type.
	name, resourceType string
	// syncName and syncResourceType are the synchronous trace's.
	syncName, syncResourceType string
	// wrap is the key the request body nests the resource under ("" for
	// none).
	wrap string
	// apiVersion is the trace's api_version.
	apiVersion string
}

// traceKinds are the traces of each job service: the API names of the
// services' create calls and CTS's resource types where the service
// guides list them (ECS createServer and updateServer, EVS createVolume),
// plausible stand-ins otherwise (see docs/cloudsim.md). The service types
// of openGauss and NoSQL are unconfirmed guesses, the same cloudop reads
// (internal/cloud/cts).
var traceKinds = map[Service]traceKind{
	ECS: {"ECS", "createServer", "ecs", "updateServer", "ecs", "server", "v1"},
	EVS: {"EVS", "createVolume", "evs", "updateVolume", "evs", "volume", "v2"},
	IMS: {"IMS", "createImage", "ims", "updateImage", "ims", "", "v2"},
	BMS: {"BMS", "createBareMetalServers", "bms", "updateBareMetalServer", "bms", "server", "v1"},
	VPC: {"VPC", "createEip", "eip", "updateVpc", "vpc", "publicip", "v2"},

	RDS:                 {"RDS", "createInstance", "instance", "updateInstanceName", "instance", "", "v3"},
	GaussDB:             {"GaussDB", "createInstance", "instance", "updateInstanceName", "instance", "", "v3"},
	DDS:                 {"DDS", "createInstance", "instance", "updateInstanceName", "instance", "", "v3"},
	GaussDBforOpenGauss: {"GaussDBforopenGauss", "createInstance", "instance", "updateInstanceName", "instance", "", "v3"},
	GaussDBforNoSQL:     {"NoSQL", "createInstance", "instance", "updateInstanceName", "instance", "", "v3"},

	// An RFS deployment: DeployStack answers with its deployment_id, on
	// the stack the trace's resource_name names.
	RFS: {"RFS", "deployStack", "stack", "updateStack", "stack", "", "v1"},
}

// traced reports whether op's service records its operations in CTS
// traces: the job services, and RFS deployments.
func traced(op *operation) bool {
	return op.spec.Service.family() != nil || op.spec.Service == RFS
}

// traceEntry is one trace in a project's index. Its content is rendered
// per request from the operation; the index only orders the traces.
type traceEntry struct {
	op *operation
	// sync marks the synchronous companion call, not the job's trace.
	sync bool
	// at is when the trace is recorded, in simulated time: the job's
	// start, or ctsSyncLead before it.
	at time.Time
	// tie orders traces recorded at the same instant: by creation.
	tie uint64
	id  string
}

// traceBefore orders the index: oldest first.
func traceBefore(a, b *traceEntry) bool {
	return a.at.Before(b.at) || a.at.Equal(b.at) && a.tie < b.tie
}

// traceEntries are the traces that record a job: its synchronous
// companion and the job itself.
func traceEntries(op *operation) []*traceEntry {
	base := string(op.spec.Service) + "/" + op.key
	return []*traceEntry{
		{op: op, sync: true, at: op.simStart.Add(-ctsSyncLead), tie: op.seq << 1, id: uuidFrom("cts-sync-trace/" + base)},
		{op: op, at: op.simStart, tie: op.seq<<1 | 1, id: uuidFrom("cts-trace/" + base)},
	}
}

// addTracesLocked indexes the traces of the jobs among ops, which have
// their seq. The caller holds s.mu. Each project's list is replaced, not
// changed, so that readers holding the old one are not disturbed.
func (s *Simulator) addTracesLocked(ops []*operation) {
	add := map[string][]*traceEntry{}
	for _, op := range ops {
		if !traced(op) {
			continue
		}
		for _, e := range traceEntries(op) {
			add[op.spec.ProjectID] = append(add[op.spec.ProjectID], e)
			s.traceByID[e.id] = e
		}
	}
	for p, news := range add {
		sort.Slice(news, func(i, j int) bool { return traceBefore(news[i], news[j]) })
		old := s.traces[p]
		merged := make([]*traceEntry, 0, len(old)+len(news))
		i, j := 0, 0
		for i < len(old) || j < len(news) {
			if j == len(news) || i < len(old) && traceBefore(old[i], news[j]) {
				merged = append(merged, old[i])
				i++
			} else {
				merged = append(merged, news[j])
				j++
			}
		}
		s.traces[p] = merged
	}
}

// removeTracesLocked drops the traces of op. The caller holds s.mu.
func (s *Simulator) removeTracesLocked(op *operation) {
	if !traced(op) {
		return
	}
	p := op.spec.ProjectID
	old := s.traces[p]
	kept := make([]*traceEntry, 0, len(old))
	for _, e := range old {
		if e.op == op {
			delete(s.traceByID, e.id)
		} else {
			kept = append(kept, e)
		}
	}
	if len(kept) == 0 {
		delete(s.traces, p)
	} else {
		s.traces[p] = kept
	}
}

// ctsTrace is one trace: the fields of the SDK's Traces that cloudsim
// fills, in its order. request and response are JSON in strings.
type ctsTrace struct {
	ResourceID          string  `json:"resource_id"`
	TraceName           string  `json:"trace_name"`
	TraceRating         string  `json:"trace_rating"`
	TraceType           string  `json:"trace_type"`
	Request             string  `json:"request"`
	Response            string  `json:"response"`
	Code                string  `json:"code"`
	APIVersion          string  `json:"api_version"`
	RecordTime          int64   `json:"record_time"`
	TraceID             string  `json:"trace_id"`
	Time                int64   `json:"time"`
	User                ctsUser `json:"user"`
	ServiceType         string  `json:"service_type"`
	ResourceType        string  `json:"resource_type"`
	SourceIP            string  `json:"source_ip"`
	ResourceName        string  `json:"resource_name"`
	RequestID           string  `json:"request_id"`
	EnterpriseProjectID string  `json:"enterprise_project_id"`
	ReadOnly            bool    `json:"read_only"`
}

// ctsUser is the SDK's UserInfo: who made the call.
type ctsUser struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	Domain    ctsDomain `json:"domain"`
	AccountID string    `json:"account_id"`
}

// ctsDomain is the SDK's BaseUser: the account.
type ctsDomain struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

// ctsTraceList is ListTraces' answer.
type ctsTraceList struct {
	Traces   []ctsTrace  `json:"traces"`
	MetaData ctsMetaData `json:"meta_data"`
}

// ctsMetaData is the SDK's MetaData: count is the page's size, marker
// the trace_id of its last trace while more follow, null after the last
// page.
type ctsMetaData struct {
	Count  int     `json:"count"`
	Marker *string `json:"marker"`
}

// ctsJobResponse is the response a job's trace records, in the shape of
// the service's create call: always "job_id", plus what that call
// returns besides (ECS serverIds, EVS volume_ids, the database
// instance).
type ctsJobResponse struct {
	Instance  *dbInstance `json:"instance,omitempty"`
	ID        string      `json:"id,omitempty"`
	Name      string      `json:"name,omitempty"`
	JobID     string      `json:"job_id"`
	ServerIDs []string    `json:"serverIds,omitempty"`
	VolumeIDs []string    `json:"volume_ids,omitempty"`
}

func jsonString(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// wrapped nests body under key, unless key is "".
func wrapped(key string, body map[string]any) map[string]any {
	if key == "" {
		return body
	}
	return map[string]any{key: body}
}

// traceName is the job trace's trace_name: params.traceName or the
// service's.
func (op *operation) traceName() string {
	return or(op.spec.Params.TraceName, traceKinds[op.spec.Service].name)
}

// traceHead fills what a query filters on: service, name, rating, user
// and resource. It is cheap (no JSON), so that a list renders only the
// traces that pass.
func traceHead(e *traceEntry) ctsTrace {
	op, sp := e.op, e.op.spec
	k := traceKinds[sp.Service]
	tr := ctsTrace{TraceRating: "normal", TraceType: "ApiCall", ServiceType: k.serviceType, User: ctsUser{Name: "cloudsim-user"}}
	switch {
	case e.sync:
		// A rename of another resource of the service.
		tr.TraceName, tr.ResourceType = k.syncName, k.syncResourceType
		tr.ResourceID = uuidFrom("cts-sync-resource/" + string(sp.Service) + "/" + op.key)
		tr.ResourceName = strings.ToLower(string(sp.Service)) + "-" + hashHex("cts-sync-name/"+op.key, 6)
	case sp.Service == RFS:
		tr.TraceName, tr.ResourceType, tr.ResourceName = op.traceName(), k.resourceType, sp.StackName
		tr.ResourceID = or(sp.StackID, uuidFrom("rfs-stack/"+sp.ProjectID+"/"+sp.StackName))
	case sp.Service.dbJob():
		inst := dbInstanceOf(op)
		tr.TraceName, tr.ResourceType, tr.ResourceID, tr.ResourceName = op.traceName(), k.resourceType, inst.ID, inst.Name
	default:
		tr.TraceName, tr.ResourceType, tr.ResourceID = op.traceName(), k.resourceType, classicResourceID(op, 0)
		tr.ResourceName = strings.ToLower(string(sp.Service)) + "-" + hashHex("cts-name/"+op.key, 6)
	}
	return tr
}

// renderTrace completes the head of e, recorded at ms (epoch
// milliseconds), as acct's domain sees it.
func renderTrace(tr ctsTrace, e *traceEntry, ms int64, acct *account) ctsTrace {
	op, sp := e.op, e.op.spec
	k := traceKinds[sp.Service]
	tr.APIVersion = k.apiVersion
	tr.RecordTime, tr.Time, tr.TraceID = ms, ms, e.id
	tr.User = ctsUser{
		ID:        hashHex("cts-user/"+acct.DomainID, 32),
		Name:      tr.User.Name,
		Domain:    ctsDomain{ID: acct.DomainID, Name: "cloudsim-" + acct.DomainID[:min(6, len(acct.DomainID))]},
		AccountID: acct.DomainID,
	}
	tr.SourceIP = "192.0.2.10"
	tr.RequestID = uuidFrom("cts-request/" + e.id)
	tr.EnterpriseProjectID = "0"
	if e.sync {
		// Synchronous: 200, and no job in the response.
		tr.Code = "200"
		tr.Request = jsonString(wrapped(k.wrap, map[string]any{"name": tr.ResourceName}))
		tr.Response = jsonString(wrapped(k.wrap, map[string]any{"id": tr.ResourceID, "name": tr.ResourceName}))
		return tr
	}
	if sp.Service == RFS {
		tr.Code = "200"
		tr.Request = jsonString(map[string]any{"stack_id": tr.ResourceID})
		tr.Response = jsonString(map[string]any{"deployment_id": sp.ID})
		return tr
	}
	tr.Code = "202"
	resp := ctsJobResponse{JobID: sp.ID}
	body := map[string]any{"name": tr.ResourceName}
	if sp.Service.dbJob() {
		inst := dbInstance{ID: tr.ResourceID, Name: tr.ResourceName}
		switch sp.Service {
		case RDS, GaussDB, GaussDBforOpenGauss:
			// Their create calls nest the instance; DDS's and NoSQL's
			// answer with its fields.
			resp.Instance = &inst
		default:
			resp.ID, resp.Name = inst.ID, inst.Name
		}
	} else {
		// One resource a sub-job, as the job's entities name them.
		ids := make([]string, len(op.plan.steps))
		for i := range ids {
			ids[i] = classicResourceID(op, i)
		}
		body["count"] = len(ids)
		switch sp.Service {
		case ECS:
			resp.ServerIDs = ids
		case EVS:
			resp.VolumeIDs = ids
		}
	}
	tr.Request = jsonString(wrapped(k.wrap, body))
	tr.Response = jsonString(resp)
	return tr
}

// ctsQuery is a parsed ListTraces query.
type ctsQuery struct {
	data     bool
	limit    int
	from, to int64 // epoch ms, both exclusive
	next     string
	traceID  string
	// filters maps a trace field to the value it must have.
	filters map[string]string
}

func parseCTSQuery(q map[string][]string, now time.Time) (ctsQuery, error) {
	get := func(k string) string {
		if v := q[k]; len(v) > 0 {
			return v[0]
		}
		return ""
	}
	cq := ctsQuery{limit: ctsDefaultLimit, from: now.Add(-ctsDefaultWindow).UnixMilli(), to: math.MaxInt64}
	switch v := get("trace_type"); v {
	case "system":
	case "data":
		cq.data = true
	default:
		return cq, fmt.Errorf("trace_type %q is invalid: it is required, system or data", v)
	}
	if v := get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > ctsMaxLimit {
			return cq, fmt.Errorf("limit %q must be an integer from 1 to %d", v, ctsMaxLimit)
		}
		cq.limit = n
	}
	for _, t := range []struct {
		name string
		dst  *int64
	}{{"from", &cq.from}, {"to", &cq.to}} {
		if v := get(t.name); v != "" {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil || n < 0 {
				return cq, fmt.Errorf("%s %q must be a timestamp in milliseconds (13 digits)", t.name, v)
			}
			*t.dst = n
		}
	}
	cq.next, cq.traceID = get("next"), get("trace_id")
	if cq.from >= cq.to && cq.traceID == "" {
		return cq, fmt.Errorf("from %d must be before to %d", cq.from, cq.to)
	}
	cq.filters = map[string]string{}
	for _, f := range []string{"service_type", "trace_name", "resource_type", "resource_id", "resource_name", "trace_rating", "user"} {
		if v := get(f); v != "" {
			cq.filters[f] = v
		}
	}
	return cq, nil
}

// match reports whether the rendered trace passes the query's filters.
func (cq *ctsQuery) match(tr *ctsTrace) bool {
	for f, want := range cq.filters {
		var got string
		switch f {
		case "service_type":
			got = tr.ServiceType
		case "trace_name":
			got = tr.TraceName
		case "resource_type":
			got = tr.ResourceType
		case "resource_id":
			got = tr.ResourceID
		case "resource_name":
			got = tr.ResourceName
		case "trace_rating":
			got = tr.TraceRating
		case "user":
			got = tr.User.Name
		}
		if got != want {
			return false
		}
	}
	return true
}

// ctsList answers ListTraces: the project's traces recorded by now that
// pass the query, newest first, a page of at most limit, continuing
// after the trace next names. An error is the reason for a 400.
func (s *Simulator) ctsList(rt *route, acct *account, now time.Time) (ctsTraceList, error) {
	out := ctsTraceList{Traces: []ctsTrace{}}
	cq, err := parseCTSQuery(rt.query, now)
	if err != nil {
		return out, err
	}
	s.mu.RLock()
	list := s.traces[rt.project]
	marker, byID := s.traceByID[cq.next], s.traceByID[cq.traceID]
	s.mu.RUnlock()
	sim := s.clock.simAt(now)
	// The traces recorded by now are list[:top].
	top := sort.Search(len(list), func(i int) bool { return list[i].at.After(sim) })
	if cq.next != "" {
		if marker == nil || marker.op.spec.ProjectID != rt.project {
			return out, fmt.Errorf("next %q is not the trace_id of a trace of project %s (use meta_data.marker of a previous answer)", cq.next, rt.project)
		}
		top = min(top, sort.Search(len(list), func(i int) bool { return !traceBefore(list[i], marker) }))
	}
	if cq.data {
		// cloudsim records management traces only.
		return out, nil
	}
	ms := func(e *traceEntry) int64 { return s.clock.realAt(e.at).UnixMilli() }
	if cq.traceID != "" {
		// The SDK: with trace_id, the other conditions do not apply.
		if e := byID; e != nil && e.op.spec.ProjectID == rt.project && !e.at.After(sim) {
			out.Traces = append(out.Traces, renderTrace(traceHead(e), e, ms(e), acct))
		}
		out.MetaData.Count = len(out.Traces)
		return out, nil
	}
	for i := top - 1; i >= 0; i-- {
		e := list[i]
		t := ms(e)
		if t >= cq.to {
			continue
		}
		if t <= cq.from {
			break // older still below
		}
		head := traceHead(e)
		if !cq.match(&head) {
			continue
		}
		if len(out.Traces) == cq.limit {
			out.MetaData.Marker = strp(out.Traces[cq.limit-1].TraceID)
			break
		}
		out.Traces = append(out.Traces, renderTrace(head, e, t, acct))
	}
	out.MetaData.Count = len(out.Traces)
	return out, nil
}

// answerCTS answers a CTS request: a page of traces, or 400 for a bad
// query.
func (s *Simulator) answerCTS(w http.ResponseWriter, rt *route, acct *account, now time.Time) {
	page, err := s.ctsList(rt, acct, now)
	if err != nil {
		writeError(w, http.StatusBadRequest, ctsBadRequest, err.Error())
		return
	}
	writeJSON(w, http.StatusOK, page)
}
