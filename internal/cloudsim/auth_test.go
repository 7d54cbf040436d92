package cloudsim

import (
	"net/http"
	"strings"
	"testing"
	"time"
)

func authConfig() Config {
	return Config{Operations: []OperationSpec{
		{Service: BCS, ID: "op-1", ProjectID: testProject, BlockchainID: "bc-1"},
		{Service: CCE, ID: "wf-1", ProjectID: testProject, ClusterID: "cl-1"},
		{Service: AOS, ID: "act-1", ProjectID: testProject, StackID: "st-1"},
		{Service: DWS, ID: "RESTORING", ProjectID: testProject, ClusterID: "cl-1"},
	}}
}

// TestVerifierAcceptsSDKSignatures proves the simulator's own verifier
// accepts exactly what the official SDK signer produces, for every API,
// with query strings that need escaping and with temporary credentials.
func TestVerifierAcceptsSDKSignatures(t *testing.T) {
	e := newEnv(t, authConfig())
	tests := []struct {
		name string
		r    req
	}{
		{"BCS list", req{path: bcsPath(testProject)}},
		{"BCS filters", req{path: bcsPath(testProject), query: map[string]string{
			"operation_id": "op-1", "blockchain_id": "bc-1", "operation_status": "processing"}}},
		{"query needing escapes", req{path: bcsPath(testProject), query: map[string]string{
			"resource_type": "a b/c+d=e&f", "operation_type": "ü~*"}}},
		{"CCE", req{path: ccePath(testProject, "cl-1", "wf-1")}},
		{"AOS", aosReq("st-1", "act-1")},
		{"DWS with x-language", req{path: dwsPath(testProject, "cl-1", "RESTORING"), headers: map[string]string{"X-Language": "zh-cn"}}},
		{"unsigned payload (non-JSON content type)", req{path: ccePath(testProject, "cl-1", "wf-1"), headers: map[string]string{"Content-Type": "text/plain"}}},
		{"temporary credentials", req{path: ccePath(testProject, "cl-1", "wf-1"), ak: tempAK, sk: tempSK, token: tempToken}},
		{"date at the edge of the skew", req{path: ccePath(testProject, "cl-1", "wf-1"), date: t0.Add(-15 * time.Minute)}},
		{"date ahead of the server", req{path: ccePath(testProject, "cl-1", "wf-1"), date: t0.Add(14 * time.Minute)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, body, resp := e.do(tt.r)
			if status != http.StatusOK {
				t.Fatalf("status %d, body %s", status, body)
			}
			if resp.Header.Get("X-Request-Id") == "" {
				t.Error("no X-Request-Id")
			}
		})
	}
}

// TestVerifierRejectsTampering checks every way a request can fail
// authentication, and the gateway body it gets.
func TestVerifierRejectsTampering(t *testing.T) {
	e := newEnv(t, authConfig())
	path := ccePath(testProject, "cl-1", "wf-1")
	tests := []struct {
		name    string
		r       req
		status  int
		code    string
		msgPart string
	}{
		{"changed query", req{path: bcsPath(testProject), query: map[string]string{"operation_id": "op-1"},
			tamper: func(r *http.Request) { r.URL.RawQuery = "operation_id=op-2" }},
			401, "APIGW.0301", "verify aksk signature fail"},
		{"added query", req{path: bcsPath(testProject),
			tamper: func(r *http.Request) { r.URL.RawQuery = "operation_status=failed" }},
			401, "APIGW.0301", "verify aksk signature fail"},
		{"changed path", req{path: path,
			tamper: func(r *http.Request) { r.URL.Path = ccePath(testProject, "cl-1", "wf-2") }},
			401, "APIGW.0301", "verify aksk signature fail"},
		{"changed signed header", req{path: aosPath("st-1", "act-1"), headers: map[string]string{"X-Project-Id": testProject},
			tamper: func(r *http.Request) { r.Header.Set("X-Project-Id", "other") }},
			401, "APIGW.0301", "verify aksk signature fail"},
		{"wrong secret", req{path: path, ak: testAK, sk: "not-the-secret"},
			401, "APIGW.0301", "verify aksk signature fail"},
		{"unknown access key", req{path: path, ak: "NOSUCHAK", sk: "x"},
			401, "APIGW.0301", "access key NOSUCHAK not found"},
		{"old date", req{path: path, date: t0.Add(-16 * time.Minute)},
			401, "APIGW.0301", "the request has expired"},
		{"future date", req{path: path, date: t0.Add(20 * time.Minute)},
			401, "APIGW.0301", "the request has expired"},
		{"missing token", req{path: path, ak: tempAK, sk: tempSK},
			401, "APIGW.0301", "security token is missing"},
		{"wrong token", req{path: path, ak: tempAK, sk: tempSK, token: "stolen"},
			401, "APIGW.0301", "security token is invalid"},
		{"token removed after signing", req{path: path, ak: tempAK, sk: tempSK, token: tempToken,
			tamper: func(r *http.Request) { r.Header.Del("X-Security-Token") }},
			401, "APIGW.0301", "security token is missing"},
		{"token with permanent credentials", req{path: path, token: "x"},
			401, "APIGW.0301", "security token given for permanent credentials"},
		{"no Authorization", req{path: path, tamper: func(r *http.Request) { r.Header.Del("Authorization") }},
			401, "APIGW.0301", "Authorization header is missing"},
		{"other algorithm", req{path: path, tamper: func(r *http.Request) {
			r.Header.Set("Authorization", strings.Replace(r.Header.Get("Authorization"), "SDK-HMAC-SHA256", "SDK-HMAC-SM3", 1))
		}}, 401, "APIGW.0301", "unsupported authorization algorithm"},
		{"malformed Authorization", req{path: path, tamper: func(r *http.Request) {
			r.Header.Set("Authorization", "SDK-HMAC-SHA256 garbage")
		}}, 401, "APIGW.0301", "malformed Authorization header"},
		{"missing X-Sdk-Date", req{path: path, tamper: func(r *http.Request) { r.Header.Del("X-Sdk-Date") }},
			401, "APIGW.0301", "X-Sdk-Date header is missing"},
		{"bad X-Sdk-Date", req{path: path, tamper: func(r *http.Request) { r.Header.Set("X-Sdk-Date", "2025-05-19") }},
			401, "APIGW.0301", "is not in the format"},
		{"X-Sdk-Date not signed", req{path: path, tamper: func(r *http.Request) {
			a := r.Header.Get("Authorization")
			r.Header.Set("Authorization", strings.Replace(a, ";x-sdk-date", "", 1))
		}}, 401, "APIGW.0301", "x-sdk-date must be a signed header"},
		{"foreign project", req{path: ccePath("otherproject", "cl-1", "wf-1")},
			403, "APIGW.0302", "project otherproject does not belong to the account"},
		{"AOS without X-Project-Id", req{path: aosPath("st-1", "act-1")},
			403, "APIGW.0302", "X-Project-Id header (missing)"},
		{"no such API", req{path: "/v3/nothing/here"},
			404, "APIGW.0101", "The API does not exist"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, body, resp := e.do(tt.r)
			if status != tt.status {
				t.Fatalf("status %d, want %d; body %s", status, tt.status, body)
			}
			eb := errBody(t, body)
			if eb.ErrorCode != tt.code || !strings.Contains(eb.ErrorMsg, tt.msgPart) {
				t.Errorf("body %s, want code %s and a message containing %q", body, tt.code, tt.msgPart)
			}
			if resp.Header.Get("X-Request-Id") == "" {
				t.Error("no X-Request-Id")
			}
		})
	}
}

func TestVerifierSkewSetting(t *testing.T) {
	e := newEnv(t, Config{Settings: Settings{ClockSkew: D(time.Minute)}, Operations: authConfig().Operations})
	path := ccePath(testProject, "cl-1", "wf-1")
	if status, body, _ := e.do(req{path: path, date: t0.Add(-2 * time.Minute)}); status != 401 || !strings.Contains(string(body), "at most 1m0s allowed") {
		t.Fatalf("2m old with 1m tolerance: %d %s", status, body)
	}
	if status, body, _ := e.do(req{path: path, date: t0.Add(-50 * time.Second)}); status != 200 {
		t.Fatalf("50s old: %d %s", status, body)
	}
}

func TestCanonicalHelpers(t *testing.T) {
	if got := escape("a b/c~-_.Z9ü"); got != "a%20b%2Fc~-_.Z9%C3%BC" {
		t.Errorf("escape = %q", got)
	}
	for in, want := range map[string]string{"": "/", "/": "/", "/v2/p/operation/record": "/v2/p/operation/record/", "/a/b/": "/a/b/"} {
		if got := canonicalURI(in); got != want {
			t.Errorf("canonicalURI(%q) = %q, want %q", in, got, want)
		}
	}
	a, err := parseAuthorization("SDK-HMAC-SHA256 Access=AK, SignedHeaders=host;x-sdk-date, Signature=ABCDEF")
	if err != nil || a.accessKey != "AK" || len(a.signedHeaders) != 2 || a.signature != "abcdef" {
		t.Errorf("parseAuthorization = %+v, %v", a, err)
	}
}
