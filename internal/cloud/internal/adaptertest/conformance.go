package adaptertest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cloudop/cloudop/internal/cloud"
	"github.com/cloudop/cloudop/internal/cloud/transport"
	"github.com/cloudop/cloudop/internal/cloudsim"
)

// Conformance describes one adapter to RunConformance: how to build it and
// every kind of operation it observes.
type Conformance struct {
	// New returns the adapter under test sending through c. Every case
	// gets a fresh one, so that no cache (BCS's list cache) carries an
	// answer from one case to the next.
	New func(c *transport.HTTPClient) cloud.Fetcher
	// Kinds are the operations the adapter observes: each service of a
	// family, each operation type of a service with several.
	Kinds []Kind
}

// Kind is one kind of operation, the requests one fetch of it makes and
// the answers of its API the cases serve.
type Kind struct {
	// Name names the kind's subtests ("ECS", "Job").
	Name string
	// Target is the operation to fetch, with its service, project and
	// IDs; RunConformance sets BaseURL and Credentials.
	Target cloud.Target
	// Paths are the documented requests of one fetch, in order: the path
	// and the query as sent ("/v3/p1/jobs?id=j1").
	Paths []string
	// Running, Succeeded and Failed answer an operation in progress
	// (Pending or Running), one that succeeded and one that failed.
	Running, Succeeded, Failed Answer
	// Unknown answers with UnknownWord as the operation's status, a word
	// the adapter's table does not know.
	Unknown     Answer
	UnknownWord string
	// ErrorIn200 is a 200 body holding the service's error object (in
	// its documented shape) with code ErrorCode instead of an answer; it
	// is tried at each request of a fetch.
	ErrorIn200 string
	ErrorCode  string
}

// Answer is the 200 body of each request of one fetch, in the order of
// Kind.Paths; a request past the last gets the last body.
type Answer []string

// body is the answer to request i.
func (a Answer) body(i int) string {
	if len(a) == 0 {
		return ""
	}
	return a[min(i, len(a)-1)]
}

// Credentials the cases sign with; cloudsim's verifier knows both.
var (
	permanent = cloud.Credentials{AccessKey: "AKCONFORMANCE", SecretKey: "sk-conformance"}
	temporary = cloud.Credentials{AccessKey: "AKTEMPORARY", SecretKey: "sk-temporary", SecurityToken: "token-conformance"}
)

// retryAfter is the Retry-After the throttling cases send; throttled
// holds it as the header.
const retryAfter = 7 * time.Second

var throttled = http.Header{"Retry-After": {strconv.Itoa(int(retryAfter / time.Second))}}

// clientTimeout is the client's timeout in the case whose server never
// answers; the server waits for the client to give up, not for a clock.
// It bounds the requests before that one too, answered at once, so it
// leaves room for a loaded machine.
const clientTimeout = 250 * time.Millisecond

// result is what one case observed: the fetch's outcome and the requests
// that reached the server.
type result struct {
	op       *cloud.Operation
	err      error
	panicked any
	requests []request
}

// request is one request as the server saw it.
type request struct {
	// pathQuery is the path and raw query ("/v1/p/jobs/j?x=y").
	pathQuery string
	// verified is "" when cloudsim's verifier accepted the request, else
	// why not.
	verified string
}

// responder answers request i of a fetch (0-based, counting every
// request that reached the server).
type responder func(w http.ResponseWriter, r *http.Request, i int)

// conformanceCase is one case of the suite: how the server answers, how
// the client is set up and what the fetch must give.
type conformanceCase struct {
	name  string
	creds cloud.Credentials
	// timeout is the client's request timeout; 0 is the default.
	timeout time.Duration
	respond func(k Kind) responder
	// requests checks the paths and queries of the requests made.
	requests func(k Kind, got []string) string
	// check checks the outcome: an operation or an error, not both.
	check func(k Kind, res result) []string
}

// RunConformance runs the adapter conformance suite on every kind of c,
// each case a subtest "kind/case": the request is signed (as cloudsim's
// independent verifier checks it) and goes to the documented paths; the
// service's failures are classified (404 NotFound, 429 and APIGW.0308
// Throttled with Retry-After, 5xx, resets and timeouts Transient); a
// malformed 200 is a clear transient error, never a panic; an error
// object in a 200 is reported, not taken as success; an unknown status
// word is Unknown and named; a terminal answer is terminal.
func RunConformance(t *testing.T, c Conformance) {
	t.Helper()
	if c.New == nil || len(c.Kinds) == 0 {
		t.Fatal("Conformance needs New and at least one Kind")
	}
	for _, k := range c.Kinds {
		t.Run(k.Name, func(t *testing.T) {
			if problems := k.validate(); len(problems) > 0 {
				t.Fatalf("kind %s: %s", k.Name, strings.Join(problems, "; "))
			}
			srv := newConformanceServer(t, k)
			for _, cs := range cases(k) {
				t.Run(cs.name, func(t *testing.T) {
					for _, p := range srv.run(c.New, k, cs) {
						t.Error(p)
					}
				})
			}
		})
	}
}

// validate reports what is missing from k.
func (k Kind) validate() []string {
	var p []string
	if k.Name == "" || k.Target.Service == "" || k.Target.ProjectID == "" {
		p = append(p, "Name, Target.Service and Target.ProjectID are required")
	}
	if len(k.Paths) == 0 {
		p = append(p, "Paths lists no request")
	}
	for name, a := range map[string]Answer{"Running": k.Running, "Succeeded": k.Succeeded, "Failed": k.Failed,
		"Unknown": k.Unknown, "ErrorIn200": {k.ErrorIn200}} {
		if len(a) == 0 || a[0] == "" {
			p = append(p, name+" has no body")
		}
	}
	if k.UnknownWord == "" || k.ErrorCode == "" {
		p = append(p, "UnknownWord and ErrorCode are required")
	}
	return p
}

// cases are the suite's cases for k: the answers, then each fault at
// each request of a fetch.
func cases(k Kind) []conformanceCase {
	serve := func(a Answer) func(Kind) responder {
		return func(Kind) responder { return answering(a) }
	}
	out := []conformanceCase{
		{name: "signed request to the documented path", creds: permanent, respond: serve(k.Running), requests: documented, check: checkInProgress},
		{name: "signed with temporary credentials", creds: temporary, respond: serve(k.Running), requests: documented, check: checkInProgress},
		{name: "succeeded is terminal", creds: permanent, respond: serve(k.Succeeded), requests: documented, check: checkPhase(cloud.PhaseSucceeded)},
		{name: "failed is terminal", creds: permanent, respond: serve(k.Failed), requests: documented, check: checkPhase(cloud.PhaseFailed)},
		{name: "unknown status word", creds: permanent, respond: serve(k.Unknown), requests: documented, check: checkUnknown},
	}
	for at := range k.Paths {
		suffix := ""
		if len(k.Paths) > 1 {
			suffix = fmt.Sprintf(" at request %d", at+1)
		}
		for _, f := range faults {
			out = append(out, conformanceCase{
				name: f.name + suffix, creds: permanent, timeout: f.timeout,
				respond:  func(k Kind) responder { return faultAt(k, at, f.respond) },
				requests: stopsAt(at),
				check:    f.check,
			})
		}
		// The error object is an answer: reading on is not wrong, as long
		// as the error is reported.
		out = append(out, conformanceCase{
			name: "error object in a 200 is reported" + suffix, creds: permanent,
			respond:  func(k Kind) responder { return faultAt(k, at, status(http.StatusOK, nil, k.ErrorIn200)) },
			requests: reaches(at),
			check:    checkErrorIn200,
		})
	}
	return out
}

// fault is a failure the server answers with, and how it must be
// classified.
type fault struct {
	name    string
	timeout time.Duration
	// respond answers a request hit by the fault; running is the body
	// the request would have had.
	respond func(w http.ResponseWriter, r *http.Request, running string)
	check   func(k Kind, res result) []string
}

// faults are the failures each request of a fetch is tried with.
var faults = []fault{
	{name: "404 is NotFound", respond: status(http.StatusNotFound, nil, `{"error_code":"SVC.0404","error_msg":"not found"}`),
		check: checkError(cloud.KindNotFound, 0, "SVC.0404")},
	{name: "429 is Throttled with Retry-After", respond: status(http.StatusTooManyRequests, throttled,
		`{"error_code":"APIGW.0308","error_msg":"The throttling threshold has been reached"}`),
		check: checkError(cloud.KindThrottled, retryAfter, "APIGW.0308")},
	{name: "429 without a body is Throttled", respond: status(http.StatusTooManyRequests, throttled, ""),
		check: checkError(cloud.KindThrottled, retryAfter, "")},
	{name: "APIGW.0308 on a 403 is Throttled with Retry-After", respond: status(http.StatusForbidden, throttled,
		`{"error_code":"APIGW.0308","error_msg":"The throttling threshold has been reached"}`),
		check: checkError(cloud.KindThrottled, retryAfter, "APIGW.0308")},
	{name: "500 is Transient", respond: status(http.StatusInternalServerError, nil, `{"error_code":"SVC.0500","error_msg":"internal error"}`),
		check: checkError(cloud.KindTransient, 0, "SVC.0500")},
	{name: "502 HTML page is Transient", respond: status(http.StatusBadGateway, http.Header{"Content-Type": {"text/html"}}, "<html><body>Bad Gateway</body></html>"),
		check: checkError(cloud.KindTransient, 0, "")},
	{name: "503 is Transient", respond: status(http.StatusServiceUnavailable, nil, `{"error_code":"SVC.0503","error_msg":"busy"}`),
		check: checkError(cloud.KindTransient, 0, "SVC.0503")},
	{name: "connection reset is Transient", respond: reset, check: checkError(cloud.KindTransient, 0, "")},
	{name: "no answer within the timeout is Transient", timeout: clientTimeout, respond: hang,
		check: checkError(cloud.KindTransient, 0, "timed out")},
	{name: "malformed JSON in a 200 is Transient", respond: truncated, check: checkError(cloud.KindTransient, 0, "JSON")},
	{name: "HTML in a 200 is Transient", respond: func(w http.ResponseWriter, _ *http.Request, _ string) {
		w.Header().Set("Content-Type", "text/html")
		_, _ = w.Write([]byte("<html><body>maintenance</body></html>"))
	}, check: checkError(cloud.KindTransient, 0, "JSON")},
}

// answering serves a's bodies with 200.
func answering(a Answer) responder {
	return func(w http.ResponseWriter, _ *http.Request, i int) { writeBody(w, http.StatusOK, nil, a.body(i)) }
}

// faultAt serves Running before request at and the fault from it on
// (retries of the failed request are hit too).
func faultAt(k Kind, at int, f func(http.ResponseWriter, *http.Request, string)) responder {
	return func(w http.ResponseWriter, r *http.Request, i int) {
		if i < at {
			writeBody(w, http.StatusOK, nil, k.Running.body(i))
			return
		}
		f(w, r, k.Running.body(at))
	}
}

func status(code int, h http.Header, body string) func(http.ResponseWriter, *http.Request, string) {
	return func(w http.ResponseWriter, _ *http.Request, _ string) { writeBody(w, code, h, body) }
}

func writeBody(w http.ResponseWriter, code int, h http.Header, body string) {
	w.Header().Set("Content-Type", "application/json;charset=UTF-8")
	for k, vs := range h {
		w.Header()[k] = vs
	}
	w.WriteHeader(code)
	_, _ = w.Write([]byte(body))
}

// reset closes the connection without an answer, with a TCP RST, as
// cloudsim's reset fault does.
func reset(w http.ResponseWriter, _ *http.Request, _ string) { cloudsim.ResetConnection(w) }

// hang answers nothing until the client gives up.
func hang(_ http.ResponseWriter, r *http.Request, _ string) { <-r.Context().Done() }

// truncated is the first half of the answer the request would have had:
// a valid start, invalid JSON.
func truncated(w http.ResponseWriter, _ *http.Request, running string) {
	writeBody(w, http.StatusOK, nil, running[:len(running)/2])
}

// documented: exactly the documented requests, in order.
func documented(k Kind, got []string) string {
	if !slices.Equal(got, k.Paths) {
		return fmt.Sprintf("requests %q, want the documented %q", got, k.Paths)
	}
	return ""
}

// stopsAt: the documented requests up to the one at, which failed, and
// none after it. Repeats of one request in a row count once: Go's
// transport resends a GET whose reused connection broke.
func stopsAt(at int) func(Kind, []string) string {
	return func(k Kind, got []string) string {
		if c := slices.Compact(slices.Clone(got)); !slices.Equal(c, k.Paths[:at+1]) {
			return fmt.Sprintf("requests %q, want the documented %q and none after the failed one", got, k.Paths[:at+1])
		}
		return ""
	}
}

// reaches: the documented requests in order, at least up to the one at
// (repeats in a row counting once, as in stopsAt).
func reaches(at int) func(Kind, []string) string {
	return func(k Kind, got []string) string {
		c := slices.Compact(slices.Clone(got))
		if len(c) <= at || len(c) > len(k.Paths) || !slices.Equal(c, k.Paths[:len(c)]) {
			return fmt.Sprintf("requests %q, want the documented %q at least up to request %d", got, k.Paths, at+1)
		}
		return ""
	}
}

// checkInProgress: the Running answer is an operation in progress.
func checkInProgress(_ Kind, res result) []string {
	if res.err != nil {
		return []string{fmt.Sprintf("fetch failed: %v", res.err)}
	}
	if ph := res.op.Phase; ph != cloud.PhasePending && ph != cloud.PhaseRunning {
		return []string{fmt.Sprintf("the Running answer gave phase %s (%q), want Pending or Running", ph, res.op.ServiceStatus)}
	}
	return nil
}

// checkPhase: the answer gives want, a terminal phase, so polling stops.
func checkPhase(want cloud.Phase) func(Kind, result) []string {
	return func(_ Kind, res result) []string {
		switch {
		case res.err != nil:
			return []string{fmt.Sprintf("fetch failed: %v", res.err)}
		case res.op.Phase != want || !want.IsTerminal():
			return []string{fmt.Sprintf("phase %s (%q), want %s, terminal", res.op.Phase, res.op.ServiceStatus, want)}
		}
		return nil
	}
}

// checkUnknown: an unknown status word is PhaseUnknown and named in
// UnknownStatuses for the warning event.
func checkUnknown(k Kind, res result) []string {
	switch {
	case res.err != nil:
		return []string{fmt.Sprintf("fetch failed: %v", res.err)}
	case res.op.Phase != cloud.PhaseUnknown || !slices.Contains(res.op.UnknownStatuses, k.UnknownWord):
		return []string{fmt.Sprintf("phase %s, unknown statuses %q; want Unknown naming %q", res.op.Phase, res.op.UnknownStatuses, k.UnknownWord)}
	}
	return nil
}

// checkErrorIn200: the service's error object in a 200 is reported (its
// code in the error, or in the message of an operation still in
// progress), never taken for an operation that ended.
func checkErrorIn200(k Kind, res result) []string {
	switch {
	case res.err != nil:
		if !strings.Contains(res.err.Error(), k.ErrorCode) {
			return []string{fmt.Sprintf("error %q does not name the service's code %s", res.err, k.ErrorCode)}
		}
	case res.op.Phase.IsTerminal():
		return []string{fmt.Sprintf("an error object was taken as a %s operation: %+v", res.op.Phase, res.op)}
	case !strings.Contains(res.op.Message, k.ErrorCode):
		return []string{fmt.Sprintf("phase %s, message %q: the service's code %s is not reported", res.op.Phase, res.op.Message, k.ErrorCode)}
	}
	return nil
}

// checkError: the fetch fails with a *cloud.Error of kind, with
// RetryAfter retry and text saying what.
func checkError(kind cloud.ErrorKind, retry time.Duration, what string) func(Kind, result) []string {
	return func(_ Kind, res result) []string {
		var ce *cloud.Error
		switch {
		case res.err == nil:
			return []string{fmt.Sprintf("no error: phase %s (%q)", res.op.Phase, res.op.ServiceStatus)}
		case !errors.As(res.err, &ce):
			return []string{fmt.Sprintf("error %T %q is not a *cloud.Error", res.err, res.err)}
		}
		var p []string
		if ce.Kind != kind {
			p = append(p, fmt.Sprintf("kind %s, want %s: %v", ce.Kind, kind, res.err))
		}
		if ce.RetryAfter != retry {
			p = append(p, fmt.Sprintf("RetryAfter %v, want %v: %v", ce.RetryAfter, retry, res.err))
		}
		if !strings.Contains(res.err.Error(), what) {
			p = append(p, fmt.Sprintf("error %q does not say %q", res.err, what))
		}
		return p
	}
}

// problems checks what every case must hold (every request verified and
// as the case expects, no panic, an operation or an error but not both),
// then the case's own check.
func (cs conformanceCase) problems(k Kind, res result) []string {
	var p, got []string
	for _, r := range res.requests {
		got = append(got, r.pathQuery)
		if r.verified != "" {
			p = append(p, fmt.Sprintf("%s: %s", r.pathQuery, r.verified))
		}
	}
	if msg := cs.requests(k, got); msg != "" {
		p = append(p, msg)
	}
	switch {
	case res.panicked != nil:
		return append(p, fmt.Sprintf("Fetch panicked: %v", res.panicked))
	case (res.op == nil) == (res.err == nil):
		return append(p, fmt.Sprintf("Fetch returned operation %v and error %v: want exactly one", res.op, res.err))
	}
	return append(p, cs.check(k, res)...)
}

// conformanceServer is one kind's fake API: it answers with the current
// case's responder and records each request with cloudsim's verdict on
// its signature.
type conformanceServer struct {
	*httptest.Server
	verifier *cloudsim.Simulator

	mu       sync.Mutex
	respond  responder
	requests []request
}

func newConformanceServer(t *testing.T, k Kind) *conformanceServer {
	t.Helper()
	projects := []string{k.Target.ProjectID}
	sim, err := cloudsim.New(cloudsim.Config{Accounts: []cloudsim.Account{
		{AccessKey: permanent.AccessKey, SecretKey: permanent.SecretKey, ProjectIDs: projects},
		{AccessKey: temporary.AccessKey, SecretKey: temporary.SecretKey, SecurityToken: temporary.SecurityToken, ProjectIDs: projects},
	}})
	if err != nil {
		t.Fatal(err)
	}
	s := &conformanceServer{verifier: sim}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.Close)
	return s
}

func (s *conformanceServer) serve(w http.ResponseWriter, r *http.Request) {
	verdict := s.verify(r)
	s.mu.Lock()
	i := len(s.requests)
	s.requests = append(s.requests, request{pathQuery: pathQuery(r), verified: verdict})
	respond := s.respond
	s.mu.Unlock()
	respond(w, r, i)
}

// pathQuery is the request's path and raw query, as the documented
// paths are written.
func pathQuery(r *http.Request) string {
	if r.URL.RawQuery == "" {
		return r.URL.Path
	}
	return r.URL.Path + "?" + r.URL.RawQuery
}

// verify hands a copy of r to cloudsim, whose own SDK-HMAC-SHA256
// verifier (not the signer that made the signature) checks it as the
// gateway would: 401 is a signature it refuses, APIGW.0101 a path it
// does not route, 403 a project the credentials do not hold. Anything
// else (cloudsim has no such operation) means the request got through.
func (s *conformanceServer) verify(r *http.Request) string {
	rec := httptest.NewRecorder()
	s.verifier.ServeHTTP(rec, r.Clone(context.Background()))
	body := strings.TrimSpace(rec.Body.String())
	switch {
	case rec.Code == http.StatusUnauthorized:
		return "cloudsim refused the signature: " + body
	case rec.Code == http.StatusForbidden:
		return "cloudsim refused the project: " + body
	case bytes.Contains(rec.Body.Bytes(), []byte("APIGW.0101")):
		return "cloudsim does not route this path, so its signature was not checked"
	}
	return ""
}

// run fetches k's target once under cs with a fresh client and adapter.
func (s *conformanceServer) run(newAdapter func(*transport.HTTPClient) cloud.Fetcher, k Kind, cs conformanceCase) []string {
	s.mu.Lock()
	s.respond, s.requests = cs.respond(k), nil
	s.mu.Unlock()

	// A client of its own: no connection (nor a reset one) is shared
	// between cases, and the timeout is the case's.
	hc := transport.NewHTTPTransportClient()
	defer hc.CloseIdleConnections()
	tg := k.Target
	tg.BaseURL, tg.Credentials = s.URL, cs.creds
	res := fetch(newAdapter(&transport.HTTPClient{Client: hc, Timeout: cs.timeout}), tg)

	s.mu.Lock()
	res.requests = s.requests
	s.mu.Unlock()
	return cs.problems(k, res)
}

// fetch calls f, turning a panic into a result.
func fetch(f cloud.Fetcher, tg cloud.Target) (res result) {
	defer func() { res.panicked = recover() }()
	res.op, res.err = f.Fetch(context.Background(), tg)
	return res
}
