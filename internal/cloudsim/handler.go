package cloudsim

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"math"
	"net"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"
)

// route is a request matched to one of the simulated APIs.
type route struct {
	svc     Service
	project string
	// target is the cluster (CCE, DWS), stack (AOS; the stack's name for
	// RFS) or blockchain_id filter (BCS).
	target string
	// id is the operation ID; for a BCS list, the operation_id filter;
	// for RFS events, the deployment_id filter, or the stack's deployment
	// once found (see findStack).
	id    string
	query url.Values
	// job marks the job paths: CCE's, the classic jobs' and the database
	// jobs'.
	job bool
	// family is set on a job family's shared path; svc is empty until
	// findJob resolves it.
	family *jobFamily
	// rfs is the RFS API addressed: rfsMetadata or rfsEvents.
	rfs string
	// list marks CCE ListUpgradeWorkFlows, which lists the cluster's
	// workflows rather than addressing one.
	list bool
	// lists are the listed resources a list call counts under (see
	// Counts.Lists); none for a request that addresses one operation.
	lists []string
}

func (rt *route) key() string {
	if rt.svc == DWS {
		return rt.target + "/" + rt.id
	}
	return rt.id
}

// lookupKey is how the route finds its operation (see
// operation.lookupKey); BCS records are found by project and ID alone.
func (rt *route) lookupKey() lookupKey {
	k := lookupKey{rt.svc, rt.project, rt.target, rt.id}
	switch rt.svc {
	case BCS:
		k.target = ""
	case RFS:
		k.id = ""
	}
	return k
}

// parseRoute matches the documented paths. It splits the path once and
// compares fixed segments, so routing is O(1) per request.
func parseRoute(r *http.Request) *route {
	if r.Method != http.MethodGet {
		return nil
	}
	seg := strings.Split(strings.TrimPrefix(r.URL.Path, "/"), "/")
	for _, s := range seg {
		if s == "" {
			return nil
		}
	}
	switch {
	case len(seg) == 4 && seg[0] == "v2" && seg[2] == "operation" && seg[3] == "record":
		q := r.URL.Query()
		rt := &route{svc: BCS, project: seg[1], target: q.Get("blockchain_id"), id: q.Get("operation_id"), query: q}
		if rt.id == "" {
			rt.lists = listed(rt.project, rt.target)
		}
		return rt
	case len(seg) == 9 && seg[0] == "api" && seg[1] == "v3" && seg[2] == "projects" && seg[4] == "clusters" &&
		seg[6] == "operation" && seg[7] == "upgradeworkflows":
		return &route{svc: CCE, project: seg[3], target: seg[5], id: seg[8]}
	case len(seg) == 8 && seg[0] == "api" && seg[1] == "v3" && seg[2] == "projects" && seg[4] == "clusters" &&
		seg[6] == "operation" && seg[7] == "upgradeworkflows":
		return &route{svc: CCE, project: seg[3], target: seg[5], list: true, lists: []string{seg[3] + "/" + seg[5]}}
	case len(seg) == 3 && seg[0] == "v3" && seg[2] == "traces":
		q := r.URL.Query()
		return &route{svc: CTS, project: seg[1], query: q, lists: listed(seg[1], q.Get("service_type"))}
	case len(seg) == 6 && seg[0] == "api" && seg[1] == "v3" && seg[2] == "projects" && seg[4] == "jobs":
		return &route{svc: CCE, project: seg[3], id: seg[5], job: true}
	case len(seg) == 4 && seg[0] == "v1" && seg[2] == "jobs":
		return &route{project: seg[1], id: seg[3], job: true, family: classicJobFamily}
	case len(seg) == 3 && seg[0] == "v3" && seg[2] == "jobs":
		q := r.URL.Query()
		return &route{project: seg[1], id: q.Get("id"), query: q, job: true, family: dbJobFamily}
	case len(seg) == 5 && seg[0] == "v2" && seg[1] == "stacks" && seg[3] == "actions":
		// The project comes from X-Project-Id once authenticated.
		return &route{svc: AOS, target: seg[2], id: seg[4]}
	case len(seg) == 5 && seg[0] == "v1" && seg[2] == "stacks" && seg[4] == rfsMetadata:
		return &route{svc: RFS, project: seg[1], target: seg[3], query: r.URL.Query(), rfs: rfsMetadata}
	case len(seg) == 5 && seg[0] == "v1" && seg[2] == "stacks" && seg[4] == rfsEvents:
		q := r.URL.Query()
		rt := &route{svc: RFS, project: seg[1], target: seg[3], id: q.Get("deployment_id"), query: q, rfs: rfsEvents}
		if rt.id == "" {
			rt.lists = []string{rt.project + "/" + rt.target}
		}
		return rt
	case len(seg) == 6 && seg[0] == "v1" && seg[2] == "clusters" && seg[4] == "actions":
		return &route{svc: DWS, project: seg[1], target: seg[3], id: seg[5]}
	}
	return nil
}

// listed names what a list call of project lists: the project and, when
// the call narrows it to one resource (a blockchain, a service), that too.
func listed(project, narrow string) []string {
	if narrow == "" {
		return []string{project}
	}
	return []string{project, project + "/" + narrow}
}

// recorder remembers the status written, for logging, and counts the
// request as soon as its status is known: before the client can see the
// answer, so a test that reads the counters right after a response
// always finds that response counted.
type recorder struct {
	http.ResponseWriter
	status int
	wrote  bool
	count  func(status int)
}

// settle records the status once.
func (w *recorder) settle(code int) {
	if !w.wrote {
		w.status, w.wrote = code, true
		w.count(code)
	}
}

// WriteHeader counts the request, then writes the status.
func (w *recorder) WriteHeader(code int) {
	w.settle(code)
	w.ResponseWriter.WriteHeader(code)
}

// Write writes the body, with status 200 if none was written yet.
func (w *recorder) Write(b []byte) (int, error) {
	if !w.wrote {
		w.WriteHeader(http.StatusOK)
	}
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the connection (reset fault).
func (w *recorder) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (s *Simulator) newHandler() http.Handler {
	admin := s.adminHandler()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Request-Id", s.requestID())
		if r.URL.Path == "/admin" || strings.HasPrefix(r.URL.Path, "/admin/") {
			admin.ServeHTTP(w, r)
			return
		}
		if strings.HasPrefix(r.URL.Path, "/v3.0/") {
			s.serveIAM(w, r)
			return
		}
		s.serveAPI(w, r)
	})
}

// errorBody is the {error_code, error_msg} shape of the gateway and most
// services. CCE additionally sends errorCode/errorMessage.
type errorBody struct {
	ErrorCode    string `json:"error_code"`
	ErrorMsg     string `json:"error_msg"`
	CCEErrorCode string `json:"errorCode,omitempty"`
	CCEErrorMsg  string `json:"errorMessage,omitempty"`
}

// codeMessage is the {code, message} error shape: VPC's as is, and ECS,
// EVS, IMS and BMS's nested under "error".
type codeMessage struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// errorShape is how a service lays out its own error bodies.
type errorShape int

const (
	shapeFlat   errorShape = iota // {"error_code","error_msg"}
	shapeCCE                      // shapeFlat plus "errorCode","errorMessage"
	shapeNested                   // {"error":{"code","message"}}
	shapeCode                     // {"code","message"}
)

func (sh errorShape) body(code, msg string) any {
	switch sh {
	case shapeCCE:
		return errorBody{ErrorCode: code, ErrorMsg: msg, CCEErrorCode: code, CCEErrorMsg: msg}
	case shapeNested:
		return map[string]codeMessage{"error": {Code: code, Message: msg}}
	case shapeCode:
		return codeMessage{Code: code, Message: msg}
	}
	return errorBody{ErrorCode: code, ErrorMsg: msg}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status = http.StatusInternalServerError
		b = []byte(`{"error_code":"APIGW.0103","error_msg":"simulator: cannot encode response"}`)
	}
	w.Header().Set("Content-Type", "application/json;charset=UTF-8")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

func writeError(w http.ResponseWriter, status int, code, msg string) {
	writeJSON(w, status, errorBody{ErrorCode: code, ErrorMsg: msg})
}

type errorCodes struct {
	notFound, internal string
	shape              errorShape
}

// serviceCodes are the services' own codes for an unknown operation and an
// internal error, and their error shapes. BCS's codes come from its API
// reference, ECS's Ecs.0114 from real answers; the others are plausible
// stand-ins (see docs/cloudsim.md). The database services share the DBS.*
// codes.
var serviceCodes = map[Service]errorCodes{
	BCS: {"BCS.4040404", "BCS.5000500", shapeFlat},
	CCE: {"CCE.01404001", "CCE.01500001", shapeCCE},
	AOS: {"AOS.0404", "AOS.0500", shapeFlat},
	DWS: {"DWS.0001", "DWS.0000", shapeFlat},
	ECS: {"Ecs.0114", "Ecs.0500", shapeNested},
	EVS: {"EVS.0404", "EVS.0500", shapeNested},
	IMS: {"IMG.0404", "IMG.0500", shapeNested},
	BMS: {"BMS.0404", "BMS.0500", shapeNested},
	VPC: {"VPC.0404", "VPC.0500", shapeCode},

	RDS:                 dbCodes,
	GaussDB:             dbCodes,
	DDS:                 dbCodes,
	GaussDBforOpenGauss: dbCodes,
	GaussDBforNoSQL:     dbCodes,

	RFS: {"AOS.0404", "AOS.0500", shapeFlat},

	CTS: {"CTS.0404", "CTS.0005", shapeFlat},
}

var dbCodes = errorCodes{"DBS.0404", "DBS.0500", shapeFlat}

// dbBadRequest is the database services' code for a bad parameter (their
// references list it as DBS.200001 "Parameter error").
const dbBadRequest = "DBS.200001"

// serviceError answers with the service's own error body for 404 and 500.
func serviceError(w http.ResponseWriter, svc Service, status int, what string) {
	c := serviceCodes[svc]
	code, msg := c.internal, "Internal Server Error"
	if status == http.StatusNotFound {
		code, msg = c.notFound, what
	}
	writeJSON(w, status, c.shape.body(code, msg))
}

func notFoundMessage(rt *route) string {
	switch {
	case rt.job:
		return fmt.Sprintf("Job %s not found", rt.id)
	case rt.list:
		return fmt.Sprintf("Cluster %s not found", rt.target)
	case rt.svc == CTS:
		return "The requested resource does not exist"
	case rt.svc == BCS:
		return "Not Found:the url is not found"
	case rt.svc == CCE:
		return fmt.Sprintf("Upgrade workflow %s of cluster %s not found", rt.id, rt.target)
	case rt.svc == AOS:
		return fmt.Sprintf("Execution %s of stack %s not found", rt.id, rt.target)
	case rt.svc == RFS:
		return fmt.Sprintf("Stack %s does not exist", rt.target)
	}
	return fmt.Sprintf("Action %s of cluster %s does not exist", rt.id, rt.target)
}

// hostService is the service of family f a real-looking Host names
// ("ecs.cn-north-4.myhuaweicloud.com" is ECS, "gaussdb-nosql.…" is
// GaussDBforNoSQL), or "" (an IP address, localhost, any other name).
func (f *jobFamily) hostService(host string) Service {
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	label, rest, ok := strings.Cut(host, ".")
	if !ok || !strings.Contains(rest, ".") {
		return ""
	}
	return f.hosts[strings.ToLower(label)]
}

// findJob resolves a request on a job family's path, which one path
// serves for all the family's services: it finds the job by its ID and
// sets the route's service to the job's. When the Host names one of the
// family's services (a real-looking host) it must be the job's; a
// request for no job (or one not started by the simulated time sim) is
// answered and counted as the Host's service, or the family's first
// (ECS, RDS).
func (s *Simulator) findJob(rt *route, host string, sim time.Time) *operation {
	f := rt.family
	hs := f.hostService(host)
	op := s.lookup(lookupKey{f.key, rt.project, "", rt.id}, sim)
	if op != nil && (hs == "" || hs == op.spec.Service) {
		rt.svc = op.spec.Service
		return op
	}
	rt.svc = Service(or(string(hs), string(f.members[0])))
	return nil
}

func throttled(w http.ResponseWriter, limit string, retryAfter time.Duration) {
	if retryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(retryAfter.Seconds()))))
	}
	writeError(w, http.StatusTooManyRequests, "APIGW.0308",
		"The throttling threshold has been reached: policy user over ratelimit, limit:"+limit+", time:1 second")
}

func (s *Simulator) serveAPI(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	rt := parseRoute(r)
	// sim is the simulated time operations are looked up at: one not
	// started by then is unknown to this request.
	sim := s.clock.simAt(s.now())
	var op *operation
	switch {
	case rt != nil && rt.family != nil:
		// Resolved first, so that even a request that fails
		// authentication counts under the job's service.
		op = s.findJob(rt, r.Host, sim)
	case rt != nil && rt.svc == RFS:
		// Resolved first, so that a metadata request counts under the
		// stack's deployment.
		op = s.findStack(rt, sim)
	}
	// who signed the request, once its signature is verified.
	var signer *account
	rec := &recorder{ResponseWriter: w, count: func(status int) {
		s.counts.record(rt, status)
		if signer != nil {
			s.counts.recordPrincipal(signer.principal, status)
		}
		s.requests.add(r, status, signer, s.now())
	}}
	defer func() {
		// No answer at all (the client gave up during a delay) counts
		// as StatusReset.
		rec.settle(StatusReset)
		if s.log.Enabled(r.Context(), slog.LevelDebug) {
			s.log.Debug("request", "method", r.Method, "path", r.URL.Path, "query", r.URL.RawQuery,
				"status", rec.status, "duration", time.Since(start), "requestID", w.Header().Get("X-Request-Id"))
		}
	}()
	defer drain(r)
	if rt == nil {
		writeError(rec, http.StatusNotFound, "APIGW.0101", "The API does not exist or has not been published in the environment")
		return
	}
	acct, aerr := s.verify(r, s.now())
	if aerr != nil {
		writeError(rec, aerr.status, aerr.code, aerr.msg)
		return
	}
	signer = acct
	if s.rateLimit != nil && !s.limiter(acct.AccessKey).AllowN(s.now(), 1) {
		throttled(rec, strconv.FormatFloat(s.rateLimit.RPS, 'f', -1, 64), 0)
		return
	}
	if rt.svc == AOS {
		rt.project = r.Header.Get(headerProjectID)
	}
	if rt.project == "" || !acct.projects[rt.project] {
		what := "project " + rt.project
		if rt.project == "" {
			what = "the " + headerProjectID + " header (missing)"
		}
		writeError(rec, http.StatusForbidden, "APIGW.0302",
			"The IAM user is not authorized to access the API: "+what+" does not belong to the account")
		return
	}

	if rt.id != "" && rt.family == nil && rt.svc != RFS {
		op = s.lookup(rt.lookupKey(), sim)
	}
	delay, hit := time.Duration(0), (*Fault)(nil)
	if src := s.faultSource(rt, op, sim); src != nil {
		delay, hit = src.faults.pick(s.chance)
	}
	if hit == nil {
		d, h := s.global.pick(s.chance)
		delay, hit = delay+d, h
	}
	if !sleep(r.Context(), delay) {
		return // client gone: nothing to answer
	}
	if hit != nil && s.applyFault(rec, r, rt, op, acct, hit) {
		return
	}
	s.answer(rec, r, rt, op, acct, s.now())
}

// faultSource is the operation whose faults apply to a request: the one it
// addresses or, for a list call that serves several, the first of them
// (started by the simulated time sim) that has faults: of the blockchain
// for a BCS list of a whole blockchain (of the project without
// blockchain_id), of the cluster for a CCE list. A CTS list takes the
// global faults only.
func (s *Simulator) faultSource(rt *route, op *operation, sim time.Time) *operation {
	var cands []*operation
	s.mu.RLock()
	switch {
	case op != nil:
	case rt.svc == BCS && rt.id == "":
		cands = s.bcs[rt.project]
	case rt.list:
		cands = s.cce[rt.project+"/"+rt.target]
	}
	s.mu.RUnlock()
	for _, c := range cands {
		if (rt.svc != BCS || rt.target == "" || c.spec.BlockchainID == rt.target) && c.startedBy(sim) && c.faults.any() {
			return c
		}
	}
	return op
}

// applyFault answers the request as the fault says; it reports false for
// faults that only delay.
func (s *Simulator) applyFault(w *recorder, r *http.Request, rt *route, op *operation, acct *account, f *Fault) bool {
	switch f.Kind {
	case FaultThrottle:
		throttled(w, "10", f.RetryAfter.Duration)
	case FaultError500:
		serviceError(w, rt.svc, http.StatusInternalServerError, "")
	case FaultNotFound:
		serviceError(w, rt.svc, http.StatusNotFound, notFoundMessage(rt))
	case FaultUnauthorized:
		writeError(w, http.StatusUnauthorized, "APIGW.0301", "Incorrect IAM authentication information: verify aksk signature fail")
	case FaultMalformed:
		// A truncated copy of the real answer: valid start, invalid JSON.
		body := s.body(r, rt, op, acct, s.now())
		b, _ := json.Marshal(body)
		w.Header().Set("Content-Type", "application/json;charset=UTF-8")
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write(b[:len(b)/2])
	case FaultReset:
		w.settle(StatusReset)
		ResetConnection(w)
	default:
		return false
	}
	return true
}

// ResetConnection closes the client connection without a response, with
// a TCP RST when possible so the client sees "connection reset by peer".
// The simulator's reset fault uses it, and so do other tests' servers.
func ResetConnection(w http.ResponseWriter) {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		// HTTP/2 or a test recorder: abort the handler; the server resets
		// the stream.
		panic(http.ErrAbortHandler)
	}
	if tc, ok := conn.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
	_ = conn.Close()
}

// body renders the answer for a request, or nil when the addressed
// operation does not exist (BCS lists never are nil).
func (s *Simulator) body(r *http.Request, rt *route, op *operation, acct *account, now time.Time) any {
	switch {
	case rt.svc == BCS:
		return s.bcsList(rt, op, acct, now)
	case rt.list:
		return s.cceList(rt, acct, now)
	case rt.svc == CTS:
		if page, err := s.ctsList(rt, acct, now); err == nil {
			return page
		}
		return nil
	}
	if op == nil {
		return nil
	}
	rc := s.newRenderCtx(op, now, acct, strings.HasPrefix(strings.ToLower(r.Header.Get("X-Language")), "zh"))
	switch {
	case rt.svc == CCE && rt.job:
		return rc.cceJob()
	case rt.svc == CCE:
		return rc.cce()
	case rt.svc == AOS:
		return rc.aos()
	case rt.svc.classicJob():
		return rc.classicJob()
	case rt.svc.dbJob():
		return rc.dbJobAnswer()
	case rt.svc == RFS:
		if status, body := rc.rfsAnswer(rt); status == http.StatusOK {
			return body
		}
		return nil
	}
	return rc.dws()
}

func (s *Simulator) answer(w http.ResponseWriter, r *http.Request, rt *route, op *operation, acct *account, now time.Time) {
	switch rt.svc {
	case RFS:
		s.answerRFS(w, r, rt, op, acct, now)
		return
	case CTS:
		s.answerCTS(w, rt, acct, now)
		return
	}
	body := s.body(r, rt, op, acct, now)
	if rt.svc == BCS && s.bcsNotFound && rt.id != "" && op == nil {
		body = nil
	}
	if rt.family == dbJobFamily && rt.id == "" {
		// cloudsim serves the query by job ID only.
		writeError(w, http.StatusBadRequest, dbBadRequest, "Parameter error: the query parameter id is required")
		return
	}
	if body == nil {
		serviceError(w, rt.svc, http.StatusNotFound, notFoundMessage(rt))
		return
	}
	writeJSON(w, http.StatusOK, body)
}

// bcsList answers ListOpRecord: every operation of the project that
// passes the filters (and has started), oldest first. An operation_id
// filter is a direct lookup; otherwise the project's operations are
// scanned.
func (s *Simulator) bcsList(rt *route, op *operation, acct *account, now time.Time) bcsListResponse {
	sim := s.clock.simAt(now)
	var cands []*operation
	if rt.id != "" {
		if op != nil {
			cands = []*operation{op}
		}
	} else {
		s.mu.RLock()
		cands = append(cands, s.bcs[rt.project]...)
		s.mu.RUnlock()
	}
	q := rt.query
	out := bcsListResponse{OperationRecords: make([]bcsRecord, 0, len(cands))}
	for _, c := range cands {
		sp := c.spec
		if rt.target != "" && sp.BlockchainID != rt.target || !c.startedBy(sim) {
			continue
		}
		if v := q.Get("resource_type"); v != "" && or(sp.Params.ResourceType, "BCSSVC01") != v {
			continue
		}
		if v := q.Get("operation_type"); v != "" && or(sp.Params.OperationType, "99") != v {
			continue
		}
		rc := s.newRenderCtx(c, now, acct, false)
		if v := q.Get("operation_status"); v != "" && wordFor(BCS, rc.sn.state, c.plan.word) != v {
			continue
		}
		out.OperationRecords = append(out.OperationRecords, rc.bcs())
	}
	out.Count = len(out.OperationRecords)
	return out
}

// cceList answers ListUpgradeWorkFlows: each upgrade workflow of the
// cluster that has started, newest first, as ShowUpgradeWorkFlow renders
// it. A cluster without any is an empty list: cloudsim does not model
// clusters, only their workflows.
func (s *Simulator) cceList(rt *route, acct *account, now time.Time) cceWorkflowList {
	s.mu.RLock()
	cands := s.cce[rt.project+"/"+rt.target]
	s.mu.RUnlock()
	sim := s.clock.simAt(now)
	ordered := make([]*operation, 0, len(cands))
	for _, c := range cands {
		if c.startedBy(sim) {
			ordered = append(ordered, c)
		}
	}
	// Newest first by creation: started later, or of two that started
	// together the one added later.
	sort.SliceStable(ordered, func(i, j int) bool {
		a, b := ordered[i], ordered[j]
		return a.simStart.After(b.simStart) || a.simStart.Equal(b.simStart) && a.seq > b.seq
	})
	out := cceWorkflowList{Kind: "List", APIVersion: "v3", Items: make([]cceWorkflow, 0, len(ordered))}
	for _, c := range ordered {
		out.Items = append(out.Items, s.newRenderCtx(c, now, acct, false).cce())
	}
	return out
}

// sleep waits d (a latency fault) unless ctx ends first; false means the
// client is gone.
func sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
