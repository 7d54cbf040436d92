package cloudsim

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"net/http"
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

// testIssuer is an OIDC issuer like the kube-apiserver: tokens signed
// with an RSA key whose public half (a JWKS) is uploaded to the identity
// provider. It serves nothing: IAM never fetches an issuer's keys.
type testIssuer struct {
	t   *testing.T
	url string
	key *rsa.PrivateKey
	kid string
}

const testIssuerURL = "https://kubernetes.default.svc.cluster.local"

func newTestIssuer(t *testing.T) *testIssuer {
	t.Helper()
	return &testIssuer{t: t, url: testIssuerURL, key: newRSAKey(t), kid: "key-1"}
}

func newRSAKey(t *testing.T) *rsa.PrivateKey {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	return key
}

// jwks is the JWKS JSON of the given public keys by kid, as
// /openid/v1/jwks serves it.
func jwks(t *testing.T, keys map[string]*rsa.PublicKey) string {
	t.Helper()
	var set jose.JSONWebKeySet
	for kid, k := range keys {
		set.Keys = append(set.Keys, jose.JSONWebKey{Key: k, KeyID: kid, Algorithm: "RS256", Use: "sig"})
	}
	b, err := json.Marshal(set)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// signingKey is the issuer's JWKS, what the identity provider uploads.
func (is *testIssuer) signingKey() string {
	return jwks(is.t, map[string]*rsa.PublicKey{is.kid: &is.key.PublicKey})
}

// token signs claims with key (the issuer's own when nil).
func (is *testIssuer) token(c jwt.Claims, key *rsa.PrivateKey) string {
	is.t.Helper()
	return is.tokenWithKid(c, key, is.kid)
}

// tokenWithKid signs claims with key, naming kid in the header.
func (is *testIssuer) tokenWithKid(c jwt.Claims, key *rsa.PrivateKey, kid string) string {
	is.t.Helper()
	if key == nil {
		key = is.key
	}
	sig, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: key}, (&jose.SignerOptions{}).WithHeader("kid", kid).WithType("JWT"))
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
	return jwt.Claims{Issuer: is.url, Subject: subject, Audience: jwt.Audience{testAudience},
		IssuedAt: jwt.NewNumericDate(t0), Expiry: jwt.NewNumericDate(t0.Add(10 * time.Minute))}
}

// provider is the identity provider trusting the issuer, mapping team-a.
func (is *testIssuer) provider() IdentityProvider {
	return IdentityProvider{ID: testIdp, Issuer: is.url, Audience: testAudience, SigningKey: is.signingKey(),
		Mappings: []IdentityMapping{{Subject: "system:serviceaccount:team-a:*", AccessKey: testAK}}}
}

func newIAMEnv(t *testing.T) (*env, *testIssuer) {
	is := newTestIssuer(t)
	cfg := Config{
		Accounts:          testAccounts(),
		IdentityProviders: []IdentityProvider{is.provider()},
		Settings:          Settings{TemporaryCredentialLifetime: D(5 * time.Minute)},
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

// securityTokenBody is CreateTemporaryAccessKeyByToken's body: the IAM
// token in the deprecated token.id unless empty, and duration_seconds
// unless nil.
func securityTokenBody(iamToken string, seconds *int) any {
	token := map[string]any{}
	if iamToken != "" {
		token["id"] = iamToken
	}
	if seconds != nil {
		token["duration_seconds"] = *seconds
	}
	return map[string]any{"auth": map[string]any{"identity": map[string]any{"methods": []string{"token"}, "token": token}}}
}

func seconds(n int) *int { return &n }

// iamToken runs CreateTokenWithIdToken and returns the IAM token.
func (e *env) iamToken(idToken string) string {
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
	return resp.Header.Get(headerSubjectToken)
}

// iamErrorOf decodes IAM's nested error answer, failing on any other shape.
func iamErrorOf(t *testing.T, body []byte) iamErrorDetail {
	t.Helper()
	var out map[string]json.RawMessage
	if err := json.Unmarshal(body, &out); err != nil || len(out) != 1 || out["error"] == nil {
		t.Fatalf("body %s: want only {\"error\":{…}}", body)
	}
	var d iamErrorDetail
	if err := json.Unmarshal(out["error"], &d); err != nil || d.Code == "" || d.Message == "" || d.Title == "" {
		t.Fatalf("body %s: want error.code, error.message and error.title (%v)", body, err)
	}
	return d
}

type credential struct {
	Access        string `json:"access"`
	Secret        string `json:"secret"`
	SecurityToken string `json:"securitytoken"`
	ExpiresAt     string `json:"expires_at"`
}

// exchange runs both IAM calls the way the SDK does (the IAM token in
// X-Auth-Token, as documented) and returns the temporary credential.
func (e *env) exchange(idToken string) credential {
	e.t.Helper()
	tok := e.iamToken(idToken)
	status, body, _ := e.post(PathSecurityTokens, map[string]string{headerAuthToken: tok}, securityTokenBody("", seconds(21600)))
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

// TestIAMRejectsBadIDTokens: every check of the ID token fails with 401
// IAM.0001 saying which one; an unknown identity provider is 404, an
// unmapped subject 403, and none gets an IAM token.
func TestIAMRejectsBadIDTokens(t *testing.T) {
	e, is := newIAMEnv(t)
	other := newRSAKey(t)
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
		code   string
		says   string
	}{
		{"unknown identity provider", "nope", is.token(is.claims(subjectTeamA), nil), 404, "IAM.0004", "Could not find identity provider"},
		{"not a JWT", testIdp, "abc.def", 401, "IAM.0001", "not a signed JWT"},
		{"kid not in the signing key", testIdp, is.tokenWithKid(is.claims(subjectTeamA), other, "key-2"), 401, "IAM.0001", `(kid "key-2") is not in the identity provider's signing key`},
		{"no kid", testIdp, is.tokenWithKid(is.claims(subjectTeamA), nil, ""), 401, "IAM.0001", "signing key"},
		{"signed by another key under the uploaded kid", testIdp, is.token(is.claims(subjectTeamA), other), 401, "IAM.0001", "signature"},
		{"wrong audience", testIdp, with(func(c *jwt.Claims) { c.Audience = jwt.Audience{"kubernetes"} }), 401, "IAM.0001", "aud"},
		{"wrong issuer", testIdp, with(func(c *jwt.Claims) { c.Issuer = "https://evil.example.com" }), 401, "IAM.0001", "iss"},
		{"expired", testIdp, with(func(c *jwt.Claims) { c.Expiry = jwt.NewNumericDate(t0.Add(-time.Second)) }), 401, "IAM.0001", "expired"},
		{"no exp", testIdp, with(func(c *jwt.Claims) { c.Expiry = nil }), 401, "IAM.0001", "exp"},
		{"no sub", testIdp, with(func(c *jwt.Claims) { c.Subject = "" }), 401, "IAM.0001", "sub"},
		{"no mapping (team-b)", testIdp, is.token(is.claims("system:serviceaccount:team-b:ops"), nil), 403, "IAM.0302", "No mapping rule"},
		{"empty", testIdp, "", 400, "IAM.0011", "id_token"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			status, body, resp := e.post(PathIDTokenTokens, map[string]string{headerIdpID: tc.idp}, idTokenBody(tc.token))
			if status != tc.status || resp.Header.Get(headerSubjectToken) != "" {
				t.Fatalf("got %d %s (token %q), want %d and no token", status, body, resp.Header.Get(headerSubjectToken), tc.status)
			}
			if got := iamErrorOf(t, body); got.Code != tc.code || !strings.Contains(got.Message, tc.says) {
				t.Fatalf("error %+v, want code %s saying %q", got, tc.code, tc.says)
			}
		})
	}
	if n := e.sim.Counts().IAM[IAMCreateTemporaryAccessKey].Total; n != 0 {
		t.Fatalf("%d securitytokens calls", n)
	}
}

// TestIAMVerifiesWithTheUploadedSigningKeyOnly: like IAM, cloudsim trusts
// the keys uploaded to the identity provider and nothing else, so a key
// rotation at the issuer is refused until the new key is uploaded, and a
// key removed from the upload stops working.
func TestIAMVerifiesWithTheUploadedSigningKeyOnly(t *testing.T) {
	e, is := newIAMEnv(t)
	newKey := newRSAKey(t)
	oldToken := is.tokenWithKid(is.claims(subjectTeamA), is.key, "key-1")
	newToken := is.tokenWithKid(is.claims(subjectTeamA), newKey, "key-2")
	for _, step := range []struct {
		name       string
		upload     map[string]*rsa.PublicKey // nil: as configured
		oldStatus  int
		newStatus  int
		newMessage string
	}{
		{"issuer rotated, old key uploaded", nil, 201, 401, "signing key"},
		{"both keys uploaded", map[string]*rsa.PublicKey{"key-1": &is.key.PublicKey, "key-2": &newKey.PublicKey}, 201, 201, ""},
		{"only the new key uploaded", map[string]*rsa.PublicKey{"key-2": &newKey.PublicKey}, 401, 201, ""},
	} {
		t.Run(step.name, func(t *testing.T) {
			if step.upload != nil {
				p := is.provider()
				p.SigningKey = jwks(t, step.upload)
				if err := e.sim.AddIdentityProvider(p); err != nil {
					t.Fatal(err)
				}
			}
			for _, c := range []struct {
				which  string
				token  string
				status int
			}{{"old key", oldToken, step.oldStatus}, {"new key", newToken, step.newStatus}} {
				status, body, _ := e.post(PathIDTokenTokens, map[string]string{headerIdpID: testIdp}, idTokenBody(c.token))
				if status != c.status {
					t.Fatalf("token signed with the %s: %d %s, want %d", c.which, status, body, c.status)
				}
				if c.which == "new key" && step.newMessage != "" && !strings.Contains(string(body), step.newMessage) {
					t.Fatalf("token signed with the %s: %s, want it to say %q", c.which, body, step.newMessage)
				}
			}
		})
	}
}

// TestIAMSecurityTokenDuration: duration_seconds must be 900 to 86400
// (IAM answers 400 otherwise) and defaults to 900; the simulator's
// lifetime cap shortens what a valid request gets, it does not widen
// what a request may ask for.
func TestIAMSecurityTokenDuration(t *testing.T) {
	e, is := newIAMEnv(t)
	tok := e.iamToken(is.token(is.claims(subjectTeamA), nil))
	cases := []struct {
		name     string
		seconds  *int
		cap      time.Duration
		status   int
		lifetime time.Duration
	}{
		{"absent: IAM's default", nil, 0, 201, 15 * time.Minute},
		{"minimum", seconds(900), 0, 201, 15 * time.Minute},
		{"the SDK's 6 h", seconds(21600), 0, 201, 6 * time.Hour},
		{"maximum", seconds(86400), 0, 201, 24 * time.Hour},
		{"below the minimum", seconds(899), 0, 400, 0},
		{"short, as tests once asked", seconds(6), 0, 400, 0},
		{"zero", seconds(0), 0, 400, 0},
		{"negative", seconds(-1), 0, 400, 0},
		{"above the maximum", seconds(86401), 0, 400, 0},
		{"would overflow a Duration", seconds(1 << 40), 0, 400, 0},
		{"capped by the simulator", seconds(900), 6 * time.Second, 201, 6 * time.Second},
		{"cap above the request", seconds(900), time.Hour, 201, 15 * time.Minute},
		{"below the minimum, even with a cap", seconds(6), 6 * time.Second, 400, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e.sim.SetTemporaryCredentialLifetime(tc.cap)
			status, body, _ := e.post(PathSecurityTokens, map[string]string{headerAuthToken: tok}, securityTokenBody("", tc.seconds))
			if status != tc.status {
				t.Fatalf("got %d %s, want %d", status, body, tc.status)
			}
			if status != http.StatusCreated {
				if got := iamErrorOf(t, body); got.Code != "IAM.0007" || !strings.Contains(got.Message, "duration_seconds") {
					t.Fatalf("error %+v, want IAM.0007 naming duration_seconds", got)
				}
				return
			}
			var out struct {
				Credential credential `json:"credential"`
			}
			if err := json.Unmarshal(body, &out); err != nil {
				t.Fatal(err)
			}
			exp, err := time.ParseInLocation("2006-01-02T15:04:05Z", out.Credential.ExpiresAt, time.UTC)
			if err != nil || !exp.Equal(t0.Add(tc.lifetime)) {
				t.Fatalf("expires_at %q (%v), want %v", out.Credential.ExpiresAt, err, t0.Add(tc.lifetime))
			}
		})
	}
}

// TestIAMSecurityTokenAuthToken: the IAM token comes in X-Auth-Token (it
// takes precedence) or, deprecated, in the body's token.id.
func TestIAMSecurityTokenAuthToken(t *testing.T) {
	e, is := newIAMEnv(t)
	tok := e.iamToken(is.token(is.claims(subjectTeamA), nil))
	cases := []struct {
		name, header, body string
		status             int
		says               string
	}{
		{"header", tok, "", 201, ""},
		{"body (deprecated)", "", tok, 201, ""},
		{"both: the header wins over a bad body", tok, "made-up", 201, ""},
		{"both: the header wins over a good body", "made-up", tok, 401, "invalid"},
		{"neither", "", "", 401, "invalid"},
		{"unknown", "made-up", "", 401, "invalid"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var headers map[string]string
			if tc.header != "" {
				headers = map[string]string{headerAuthToken: tc.header}
			}
			status, body, _ := e.post(PathSecurityTokens, headers, securityTokenBody(tc.body, seconds(900)))
			if status != tc.status {
				t.Fatalf("got %d %s, want %d", status, body, tc.status)
			}
			if status != http.StatusCreated {
				if got := iamErrorOf(t, body); got.Code != "IAM.0001" || !strings.Contains(got.Message, tc.says) {
					t.Fatalf("error %+v, want IAM.0001 saying %q", got, tc.says)
				}
			}
		})
	}
	// An IAM token lives 24 h.
	e.clock.Step(24 * time.Hour)
	status, body, _ := e.post(PathSecurityTokens, map[string]string{headerAuthToken: tok}, securityTokenBody("", seconds(900)))
	if status != http.StatusUnauthorized || !strings.Contains(iamErrorOf(t, body).Message, "expired") {
		t.Fatalf("expired IAM token: %d %s, want 401 saying expired", status, body)
	}
}

// TestIAMErrorShapes: IAM's own errors are Keystone-style
// {"error":{"code","message","title"}}; what the gateway in front of it
// answers (throttling, an unknown API) keeps the gateway's
// {"error_code","error_msg"}.
func TestIAMErrorShapes(t *testing.T) {
	e, is := newIAMEnv(t)
	good := is.token(is.claims(subjectTeamA), nil)
	idp := map[string]string{headerIdpID: testIdp}
	cases := []struct {
		name   string
		method string
		path   string
		header map[string]string
		body   any
		fault  *Fault
		status int
		code   string
		nested bool
	}{
		{"malformed body", http.MethodPost, PathIDTokenTokens, idp, "not an object", nil, 400, "IAM.0011", true},
		{"unknown identity provider", http.MethodPost, PathIDTokenTokens, map[string]string{headerIdpID: "nope"}, idTokenBody(good), nil, 404, "IAM.0004", true},
		{"invalid id token", http.MethodPost, PathIDTokenTokens, idp, idTokenBody("abc.def"), nil, 401, "IAM.0001", true},
		{"no mapping rule", http.MethodPost, PathIDTokenTokens, idp, idTokenBody(is.token(is.claims("system:serviceaccount:team-b:ops"), nil)), nil, 403, "IAM.0302", true},
		{"securitytokens: wrong method", http.MethodPost, PathSecurityTokens, nil, map[string]any{"auth": map[string]any{"identity": map[string]any{"methods": []string{"password"}}}}, nil, 400, "IAM.0011", true},
		{"securitytokens: duration out of range", http.MethodPost, PathSecurityTokens, nil, securityTokenBody("made-up", seconds(60)), nil, 400, "IAM.0007", true},
		{"securitytokens: unknown token", http.MethodPost, PathSecurityTokens, nil, securityTokenBody("made-up", seconds(900)), nil, 401, "IAM.0001", true},
		{"fault unauthorized", http.MethodPost, PathIDTokenTokens, idp, idTokenBody(good), &Fault{Kind: FaultUnauthorized, Count: 1}, 401, "IAM.0001", true},
		{"fault error500", http.MethodPost, PathSecurityTokens, nil, securityTokenBody("made-up", seconds(900)), &Fault{Kind: FaultError500, Count: 1}, 500, "IAM.0006", true},
		{"gateway: throttled", http.MethodPost, PathIDTokenTokens, idp, idTokenBody(good), &Fault{Kind: FaultThrottle, Count: 1}, 429, "APIGW.0308", false},
		{"gateway: no such API", http.MethodGet, PathIDTokenTokens, idp, nil, nil, 404, "APIGW.0101", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var faults []Fault
			if tc.fault != nil {
				faults = append(faults, *tc.fault)
			}
			if err := e.sim.SetIAMFaults(faults...); err != nil {
				t.Fatal(err)
			}
			b, _ := json.Marshal(tc.body)
			if s, ok := tc.body.(string); ok {
				b = []byte(s)
			}
			hr, _ := http.NewRequest(tc.method, e.srv.URL+tc.path, bytes.NewReader(b))
			for k, v := range tc.header {
				hr.Header.Set(k, v)
			}
			status, body, _ := e.send(hr)
			if status != tc.status {
				t.Fatalf("got %d %s, want %d", status, body, tc.status)
			}
			if tc.nested {
				if got := iamErrorOf(t, body); got.Code != tc.code || got.Title != http.StatusText(tc.status) {
					t.Fatalf("error %+v, want code %s titled %q", got, tc.code, http.StatusText(tc.status))
				}
				return
			}
			var flat errorBody
			if err := json.Unmarshal(body, &flat); err != nil || flat.ErrorCode != tc.code || flat.ErrorMsg == "" || strings.Contains(string(body), `"error":`) {
				t.Fatalf("body %s: want the gateway's {error_code: %s, error_msg}", body, tc.code)
			}
		})
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
		{Fault{Kind: FaultUnauthorized, Count: 1}, http.StatusUnauthorized},
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

// TestIdentityProviderConfigIsValidated: the scenario file and
// AddIdentityProvider refuse an identity provider IAM would not accept
// or that could never verify a token, signingKey included.
func TestIdentityProviderConfigIsValidated(t *testing.T) {
	key := newRSAKey(t)
	public := jwks(t, map[string]*rsa.PublicKey{"k": &key.PublicKey})
	private, _ := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: key, KeyID: "k", Algorithm: "RS256", Use: "sig"}}})
	symmetric, _ := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: []byte("0123456789abcdef0123456789abcdef"), KeyID: "k", Algorithm: "HS256"}}})
	const accounts = "accounts: [{accessKey: A, secretKey: S, projectIDs: [p]}]\n"
	provider := func(fields string) string {
		return accounts + "identityProviders: [{id: i, issuer: 'https://k', " + fields + "}]"
	}
	mappings := "mappings: [{subject: 'system:serviceaccount:team-a:*', accessKey: A}]"
	for _, tc := range []struct {
		name    string
		yaml    string
		signing string // checked through AddIdentityProvider too, when set
		says    string
	}{
		{"unknown account", provider("audience: a, signingKey: '" + public + "', mappings: [{subject: 'x', accessKey: B}]"), "", "not an account"},
		{"no audience", provider("signingKey: '" + public + "', mappings: []"), "", "audience"},
		{"bad pattern", provider("audience: a, signingKey: '" + public + "', mappings: [{subject: '[', accessKey: A}]"), "", "pattern"},
		{"duplicate", accounts + "identityProviders: [{id: i, issuer: 'https://k', audience: a, signingKey: '" + public + "'}, {id: i, issuer: 'https://k', audience: a, signingKey: '" + public + "'}]", "", "duplicate"},
		{"no signing key", provider("audience: a, " + mappings), " ", "signingKey is required"},
		{"signing key not JSON", provider("audience: a, signingKey: 'PEM?', " + mappings), "PEM?", "not a JWKS"},
		{"signing key without keys", provider(`audience: a, signingKey: '{"keys":[]}', ` + mappings), `{"keys":[]}`, "no keys"},
		{"private signing key", provider("audience: a, signingKey: '" + string(private) + "', " + mappings), string(private), "not a public key"},
		{"symmetric signing key", provider("audience: a, signingKey: '" + string(symmetric) + "', " + mappings), string(symmetric), "not a public key"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := ParseConfig([]byte(tc.yaml)); err == nil || !strings.Contains(err.Error(), tc.says) {
				t.Errorf("scenario: error %v, want one saying %q", err, tc.says)
			}
			if tc.signing == "" {
				return
			}
			sim, err := New(Config{Accounts: []Account{{AccessKey: "A", SecretKey: "S", ProjectIDs: []string{"p"}}}})
			if err != nil {
				t.Fatal(err)
			}
			err = sim.AddIdentityProvider(IdentityProvider{ID: "i", Issuer: "https://k", Audience: "a", SigningKey: tc.signing,
				Mappings: []IdentityMapping{{Subject: "system:serviceaccount:team-a:*", AccessKey: "A"}}})
			if err == nil || !strings.Contains(err.Error(), tc.says) {
				t.Errorf("AddIdentityProvider: error %v, want one saying %q", err, tc.says)
			}
		})
	}
	if _, err := ParseConfig([]byte(accounts + "settings: {temporaryCredentialLifetime: 2m}\n" + "identityProviders: [{id: i, issuer: 'https://k', audience: a, signingKey: '" + public + "', " + mappings + "}]")); err != nil {
		t.Errorf("valid scenario rejected: %v", err)
	}
}
