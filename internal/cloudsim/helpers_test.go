package cloudsim

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"testing"
	"time"

	"github.com/huaweicloud/huaweicloud-sdk-go-v3/core/auth/signer"
	"github.com/huaweicloud/huaweicloud-sdk-go-v3/core/request"
	testingclock "k8s.io/utils/clock/testing"
)

// t0 is the fake clock's start in every test.
var t0 = time.Date(2025, 5, 19, 9, 5, 10, 0, time.UTC)

const (
	testAK      = "TESTAK"
	testSK      = "test-secret-key"
	testProject = "p0123456789abcdef"
	tempAK      = "TEMPAK"
	tempSK      = "temp-secret"
	tempToken   = "temporary-security-token"
)

func testAccounts() []Account {
	return []Account{
		{AccessKey: testAK, SecretKey: testSK, ProjectIDs: []string{testProject}, DomainID: "d0123456789abcdef"},
		{AccessKey: tempAK, SecretKey: tempSK, SecurityToken: tempToken, ProjectIDs: []string{testProject}},
	}
}

// env is a simulator behind a real HTTP server with a fake clock.
type env struct {
	t     *testing.T
	sim   *Simulator
	clock *testingclock.FakeClock
	srv   *httptest.Server
}

func newEnv(t *testing.T, cfg Config, opts ...Option) *env {
	t.Helper()
	if cfg.Accounts == nil {
		cfg.Accounts = testAccounts()
	}
	clock := testingclock.NewFakeClock(t0)
	sim, err := New(cfg, append([]Option{WithClock(clock.Now), WithSeed(1)}, opts...)...)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	srv := httptest.NewServer(sim.Handler())
	t.Cleanup(srv.Close)
	return &env{t: t, sim: sim, clock: clock, srv: srv}
}

// parseSim parses a scenario file and starts a simulator (real clock,
// no server) from it.
func parseSim(t *testing.T, yaml string) *Simulator {
	t.Helper()
	cfg, err := ParseConfig([]byte(yaml))
	if err != nil {
		t.Fatal(err)
	}
	sim, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return sim
}

// req describes a service request; the zero value is a GET signed with
// the test account at the fake clock's time.
type req struct {
	path    string
	query   map[string]string
	headers map[string]string
	ak, sk  string
	token   string
	date    time.Time
	// tamper changes the signed request before it is sent.
	tamper func(*http.Request)
}

// sdkRequest signs with the official SDK signer, the way the SDK's
// credentials do (X-Project-Id, X-Security-Token and X-Sdk-Date headers
// set before signing), and converts to an *http.Request.
func (e *env) sdkRequest(r req) *http.Request {
	e.t.Helper()
	ak, sk := r.ak, r.sk
	if ak == "" {
		ak, sk = testAK, testSK
	}
	date := r.date
	if date.IsZero() {
		date = e.clock.Now()
	}
	b := request.NewHttpRequestBuilder().WithEndpoint(e.srv.URL).WithPath(r.path).WithMethod("GET").
		AddHeaderParam("Content-Type", "application/json").
		AddHeaderParam("User-Agent", "huaweicloud-usdk-go/3.0").
		AddHeaderParam("X-Sdk-Date", date.UTC().Format("20060102T150405Z"))
	for k, v := range r.query {
		b.AddQueryParam(k, reflect.ValueOf(v))
	}
	for k, v := range r.headers {
		b.AddHeaderParam(k, v)
	}
	if r.token != "" {
		b.AddHeaderParam("X-Security-Token", r.token)
	}
	hr := b.Build()
	added, err := signer.Sign(hr, ak, sk)
	if err != nil {
		e.t.Fatalf("sign: %v", err)
	}
	for k, v := range added {
		hr.AddHeaderParam(k, v)
	}
	out, err := hr.ConvertRequest()
	if err != nil {
		e.t.Fatalf("convert: %v", err)
	}
	if r.tamper != nil {
		r.tamper(out)
	}
	return out
}

// do sends r and returns the status, body and response.
func (e *env) do(r req) (int, []byte, *http.Response) {
	e.t.Helper()
	return e.send(e.sdkRequest(r))
}

func (e *env) send(hr *http.Request) (int, []byte, *http.Response) {
	e.t.Helper()
	resp, err := e.srv.Client().Do(hr)
	if err != nil {
		e.t.Fatalf("%s %s: %v", hr.Method, hr.URL, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		e.t.Fatalf("read body: %v", err)
	}
	return resp.StatusCode, body, resp
}

// getJSON does r, expects 200 and decodes into v.
func (e *env) getJSON(r req, v any) {
	e.t.Helper()
	status, body, _ := e.do(r)
	if status != http.StatusOK {
		e.t.Fatalf("GET %s: status %d, body %s", r.path, status, body)
	}
	if err := json.Unmarshal(body, v); err != nil {
		e.t.Fatalf("GET %s: decode %s: %v", r.path, body, err)
	}
}

func bcsPath(project string) string { return "/v2/" + project + "/operation/record" }

func ccePath(project, cluster, id string) string {
	return "/api/v3/projects/" + project + "/clusters/" + cluster + "/operation/upgradeworkflows/" + id
}

func aosPath(stack, id string) string { return "/v2/stacks/" + stack + "/actions/" + id }

func dwsPath(project, cluster, action string) string {
	return "/v1/" + project + "/clusters/" + cluster + "/actions/" + action
}

// jobPath is the classic job path, the same for ECS, EVS, IMS, BMS and
// VPC.
func jobPath(project, id string) string { return "/v1/" + project + "/jobs/" + id }

func cceJobPath(project, id string) string { return "/api/v3/projects/" + project + "/jobs/" + id }

// dbJobReq queries a database job: the same path for RDS, GaussDB, DDS,
// GaussDBforOpenGauss and GaussDBforNoSQL, the job ID in the id query
// parameter.
func dbJobReq(project, id string) req {
	return req{path: "/v3/" + project + "/jobs", query: map[string]string{"id": id}}
}

// aosReq is an AOS request: the project travels in X-Project-Id.
func aosReq(stack, id string) req {
	return req{path: aosPath(stack, id), headers: map[string]string{"X-Project-Id": testProject}}
}

// errBody decodes a {error_code, error_msg} body.
func errBody(t *testing.T, body []byte) errorBody {
	t.Helper()
	var eb errorBody
	if err := json.Unmarshal(body, &eb); err != nil {
		t.Fatalf("decode error body %s: %v", body, err)
	}
	return eb
}

// errorOf decodes an error body of any of the three shapes the simulator
// sends and says which: "flat" {error_code, error_msg} (CCE's with
// errorCode/errorMessage too), "nested" {"error": {code, message}} or
// "code" {code, message}.
func errorOf(t *testing.T, body []byte) (shape, code, msg string) {
	t.Helper()
	var v struct {
		ErrorCode string       `json:"error_code"`
		ErrorMsg  string       `json:"error_msg"`
		Error     *codeMessage `json:"error"`
		codeMessage
	}
	if err := json.Unmarshal(body, &v); err != nil {
		t.Fatalf("decode error body %s: %v", body, err)
	}
	switch {
	case v.ErrorCode != "":
		return "flat", v.ErrorCode, v.ErrorMsg
	case v.Error != nil:
		return "nested", v.Error.Code, v.Error.Message
	}
	return "code", v.Code, v.Message
}
