package cloudsim

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

const (
	testIdp      = "cce-cluster-1"
	testAudience = "iam.myhuaweicloud.com"
	subjectTeamA = "system:serviceaccount:team-a:ops"
)

// testIssuer is an OIDC issuer like the kube-apiserver: discovery document
// and JWKS over HTTP, tokens signed with an RSA key.
type testIssuer struct {
	t   *testing.T
	srv *httptest.Server
	key *rsa.PrivateKey
	kid string
}

func newTestIssuer(t *testing.T) *testIssuer {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	is := &testIssuer{t: t, key: key, kid: "key-1"}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		_ = json.NewEncoder(w).Encode(map[string]string{"issuer": is.srv.URL, "jwks_uri": is.srv.URL + "/openid/v1/jwks"})
	})
	mux.HandleFunc("GET /openid/v1/jwks", func(w http.ResponseWriter, r *http.Request) {
		_ = json.NewEncoder(w).Encode(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &is.key.PublicKey, KeyID: is.kid, Algorithm: "RS256", Use: "sig"}}})
	})
	is.srv = httptest.NewServer(mux)
	t.Cleanup(is.srv.Close)
	return is
}

// token signs claims with key (the issuer's own when nil).
func (is *testIssuer) token(c jwt.Claims, key *rsa.PrivateKey) string {
	is.t.Helper()
	if key == nil {
		key = is.key
	}
	sig, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: key}, (&jose.SignerOptions{}).WithHeader("kid", is.kid).WithType("JWT"))
	if err != nil {
		is.t.Fatal(err)
	}
	raw, err := jwt.Signed(sig).Claims(c).Serialize()
	if err != nil {
		is.t.Fatal(err)
	}
	return raw
}

// claims are valid claims for subject at the fake clock's time.
func (is *testIssuer) claims(subject string) jwt.Claims {
	return jwt.Claims{Issuer: is.srv.URL, Subject: subject, Audience: jwt.Audience{testAudience},
		IssuedAt: jwt.NewNumericDate(t0), Expiry: jwt.NewNumericDate(t0.Add(10 * time.Minute))}
}

func newIAMEnv(t *testing.T) (*env, *testIssuer) {
	is := newTestIssuer(t)
	cfg := Config{
		Accounts: testAccounts(),
		IdentityProviders: []IdentityProvider{{ID: testIdp, Issuer: is.srv.URL, Audience: testAudience,
			Mappings: []IdentityMapping{{Subject: "system:serviceaccount:team-a:*", AccessKey: testAK}}}},
		Settings: Settings{TemporaryCredentialLifetime: D(5 * time.Minute)},
	}
	return newEnv(t, cfg), is
}

func (e *env) post(path string, headers map[string]string, body any) (int, []byte, *http.Response) {
	e.t.Helper()
	b, _ := json.Marshal(body)
	hr, _ := http.NewRequest(http.MethodPost, e.srv.URL+path, bytes.NewReader(b))
	hr.Header.Set("Content-Type", "application/json;charset=UTF-8")
	for k, v := range headers {
		hr.Header.Set(k, v)
	}
	return e.send(hr)
}

func idTokenBody(tok string) any {
	return map[string]any{"auth": map[string]any{"id_token": map[string]string{"id": tok}}}
}

func securityTokenBody(iamToken string, seconds int) any {
	return map[string]any{"auth": map[string]any{"identity": map[string]any{
		"methods": []string{"token"}, "token": map[string]any{"id": iamToken, "duration_seconds": seconds}}}}
}

type credential struct {
	Access        string `json:"access"`
	Secret        string `json:"secret"`
	SecurityToken string `json:"securitytoken"`
	ExpiresAt     string `json:"expires_at"`
}

// exchange runs both IAM calls the way the SDK does and returns the
// temporary credential.
func (e *env) exchange(idToken string) credential {
	e.t.Helper()
	status, body, resp := e.post(PathIDTokenTokens, map[string]string{headerIdpID: testIdp}, idTokenBody(idToken))
	if status != http.StatusCreated || resp.Header.Get(headerSubjectToken) == "" {
		e.t.Fatalf("CreateTokenWithIdToken: %d %s", status, body)
	}
	var tok struct {
		Token struct {
			ExpiresAt string `json:"expires_at"`
		} `json:"token"`
	}
	if err := json.Unmarshal(body, &tok); err != nil || tok.Token.ExpiresAt == "" {
		e.t.Fatalf("token body %s: %v", body, err)
	}
	status, body, _ = e.post(PathSecurityTokens, nil, securityTokenBody(resp.Header.Get(headerSubjectToken), 21600))
	if status != http.StatusCreated {
		e.t.Fatalf("CreateTemporaryAccessKeyByToken: %d %s", status, body)
	}
	var out struct {
		Credential credential `json:"credential"`
	}
	if err := json.Unmarshal(body, &out); err != nil {
		e.t.Fatal(err)
	}
	return out.Credential
}

func TestIAMExchangeIssuesWorkingTemporaryCredentials(t *testing.T) {
	e, is := newIAMEnv(t)
	c := e.exchange(is.token(is.claims(subjectTeamA), nil))
	if c.Access == "" || c.Secret == "" || c.SecurityToken == "" {
		t.Fatalf("incomplete credential %+v", c)
	}
	// The SDK parses expires_at with this layout (fraction allowed).
	exp, err := time.ParseInLocation("2006-01-02T15:04:05Z", c.ExpiresAt, time.UTC)
	if err != nil || !exp.Equal(t0.Add(5*time.Minute)) {
		t.Fatalf("expires_at %q (%v): want the scenario's 5m lifetime, %v", c.ExpiresAt, err, t0.Add(5*time.Minute))
	}
	list := req{path: bcsPath(testProject), ak: c.Access, sk: c.Secret, token: c.SecurityToken}
	if status, body, _ := e.do(list); status != http.StatusOK {
		t.Fatalf("signed with temporary credentials: %d %s", status, body)
	}
	for name, r := range map[string]req{
		"without security token": {path: bcsPath(testProject), ak: c.Access, sk: c.Secret},
		"with another token":     {path: bcsPath(testProject), ak: c.Access, sk: c.Secret, token: tempToken},
		"other project":          {path: bcsPath("pother"), ak: c.Access, sk: c.Secret, token: c.SecurityToken},
	} {
		if status, body, _ := e.do(r); status != http.StatusUnauthorized && status != http.StatusForbidden {
			t.Errorf("%s: status %d %s, want 401/403", name, status, body)
		}
	}
	e.clock.Step(5 * time.Minute)
	if status, body, _ := e.do(list); status != http.StatusUnauthorized || !strings.Contains(string(body), "expired") {
		t.Fatalf("after expiry: %d %s, want 401 expired", status, body)
	}
	counts := e.sim.Counts()
	if got := counts.Principals[subjectTeamA]; got.Total != 2 || got.ByStatus[200] != 1 {
		t.Errorf("principal counts %+v: want the one good call and the other-project call counted for %s", got, subjectTeamA)
	}
	if counts.IAM[IAMCreateTokenWithIDToken].Total != 1 || counts.IAM[IAMCreateTemporaryAccessKey].Total != 1 {
		t.Errorf("IAM counts %+v", counts.IAM)
	}
	var temporary int
	for _, r := range e.sim.Requests() {
		if r.Principal == subjectTeamA {
			temporary++
			if !r.Temporary || r.AccessKey != c.Access {
				t.Errorf("log entry %+v", r)
			}
		}
	}
	if temporary != 2 {
		t.Errorf("request log has %d entries of %s, want 2", temporary, subjectTeamA)
	}
	issued := strings.Join(e.sim.IssuedSecrets(), " ")
	if !strings.Contains(issued, c.Secret) || !strings.Contains(issued, c.SecurityToken) {
		t.Errorf("IssuedSecrets lacks the credential issued")
	}
}

func TestIAMRejectsBadIDTokens(t *testing.T) {
	e, is := newIAMEnv(t)
	other, _ := rsa.GenerateKey(rand.Reader, 2048)
	with := func(mut func(*jwt.Claims)) string {
		c := is.claims(subjectTeamA)
		mut(&c)
		return is.token(c, nil)
	}
	cases := []struct {
		name   string
		idp    string
		token  string
		status int
		says   string
	}{
		{"unknown identity provider", "nope", is.token(is.claims(subjectTeamA), nil), 404, "does not exist"},
		{"not a JWT", testIdp, "abc.def", 401, "not a signed JWT"},
		{"signed by another key", testIdp, is.token(is.claims(subjectTeamA), other), 401, "signature"},
		{"wrong audience", testIdp, with(func(c *jwt.Claims) { c.Audience = jwt.Audience{"kubernetes"} }), 401, "aud"},
		{"wrong issuer", testIdp, with(func(c *jwt.Claims) { c.Issuer = "https://evil.example.com" }), 401, "iss"},
		{"expired", testIdp, with(func(c *jwt.Claims) { c.Expiry = jwt.NewNumericDate(t0.Add(-time.Second)) }), 401, "expired"},
		{"no exp", testIdp, with(func(c *jwt.Claims) { c.Expiry = nil }), 401, "exp"},
		{"no mapping (team-b)", testIdp, is.token(is.claims("system:serviceaccount:team-b:ops"), nil), 403, "No mapping rule"},
		{"empty", testIdp, "", 400, "id_token"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			status, body, resp := e.post(PathIDTokenTokens, map[string]string{headerIdpID: tc.idp}, idTokenBody(tc.token))
			if status != tc.status || !strings.Contains(string(body), tc.says) || resp.Header.Get(headerSubjectToken) != "" {
				t.Fatalf("got %d %s, want %d saying %q and no token", status, body, tc.status, tc.says)
			}
		})
	}
	if status, body, _ := e.post(PathSecurityTokens, nil, securityTokenBody("made-up", 900)); status != http.StatusUnauthorized {
		t.Fatalf("securitytokens with an unknown IAM token: %d %s", status, body)
	}
}

func TestIAMFaults(t *testing.T) {
	e, is := newIAMEnv(t)
	for _, tc := range []struct {
		fault  Fault
		status int
	}{
		{Fault{Kind: FaultThrottle, Count: 1}, http.StatusTooManyRequests},
		{Fault{Kind: FaultError500, Count: 1}, http.StatusInternalServerError},
	} {
		if err := e.sim.SetIAMFaults(tc.fault); err != nil {
			t.Fatal(err)
		}
		if status, body, _ := e.post(PathIDTokenTokens, map[string]string{headerIdpID: testIdp}, idTokenBody(is.token(is.claims(subjectTeamA), nil))); status != tc.status {
			t.Fatalf("%s: %d %s", tc.fault.Kind, status, body)
		}
	}
	// Spent: the exchange works again.
	e.exchange(is.token(is.claims(subjectTeamA), nil))
}

func TestIdentityProviderConfigIsValidated(t *testing.T) {
	for name, yaml := range map[string]string{
		"unknown account": "accounts: [{accessKey: A, secretKey: S, projectIDs: [p]}]\nidentityProviders: [{id: i, issuer: 'https://k', audience: a, mappings: [{subject: 'x', accessKey: B}]}]",
		"no audience":     "accounts: [{accessKey: A, secretKey: S, projectIDs: [p]}]\nidentityProviders: [{id: i, issuer: 'https://k', mappings: []}]",
		"bad pattern":     "accounts: [{accessKey: A, secretKey: S, projectIDs: [p]}]\nidentityProviders: [{id: i, issuer: 'https://k', audience: a, mappings: [{subject: '[', accessKey: A}]}]",
		"duplicate":       "accounts: [{accessKey: A, secretKey: S, projectIDs: [p]}]\nidentityProviders: [{id: i, issuer: 'https://k', audience: a}, {id: i, issuer: 'https://k', audience: a}]",
	} {
		if _, err := ParseConfig([]byte(yaml)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if _, err := ParseConfig([]byte("accounts: [{accessKey: A, secretKey: S, projectIDs: [p]}]\nsettings: {temporaryCredentialLifetime: 2m}\nidentityProviders: [{id: i, issuer: 'https://k', audience: a, mappings: [{subject: 'system:serviceaccount:team-a:*', accessKey: A}]}]")); err != nil {
		t.Errorf("valid scenario rejected: %v", err)
	}
}
