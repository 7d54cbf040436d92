package cloudsim

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"path"
	"strings"
	"sync"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

// This file plays IAM for workload identity, as the official Go SDK's
// federal credential provider uses it (core/auth/internal/iam_helper.go):
// a ServiceAccount token (an OIDC ID token) is exchanged for an IAM token
// at CreateTokenWithIdToken, and that token for temporary AK/SK and a
// security token at CreateTemporaryAccessKeyByToken. The ID token is
// verified for real: discovery document and JWKS fetched from the issuer
// (the kube-apiserver), then signature, iss, aud, exp and the subject
// against the identity provider's mapping rules.

// IAM paths.
const (
	PathIDTokenTokens  = "/v3.0/OS-AUTH/id-token/tokens"
	PathSecurityTokens = "/v3.0/OS-CREDENTIAL/securitytokens"
	headerIdpID        = "X-Idp-Id"
	headerSubjectToken = "X-Subject-Token"
	headerAuthToken    = "X-Auth-Token"
	iamTimeFormat      = "2006-01-02T15:04:05.000000Z"
	// defaultTemporaryLifetime is what IAM gives when the request names no
	// duration (the SDK asks for 6 h).
	defaultTemporaryLifetime = 15 * time.Minute
	iamTokenLifetime         = 24 * time.Hour
	jwksRefreshInterval      = time.Minute
)

// IAM API names in Counts.IAM.
const (
	IAMCreateTokenWithIDToken   = "CreateTokenWithIdToken"
	IAMCreateTemporaryAccessKey = "CreateTemporaryAccessKeyByToken"
)

// IdentityProvider is an IAM identity provider of protocol OpenID Connect
// (virtual-user SSO) that trusts one issuer's ServiceAccount tokens.
type IdentityProvider struct {
	// ID is sent by clients in X-Idp-Id.
	ID string `json:"id"`
	// Issuer must equal the token's iss; its discovery document
	// (Issuer + /.well-known/openid-configuration) names the JWKS.
	Issuer string `json:"issuer"`
	// Audience must be one of the token's aud values.
	Audience string `json:"audience"`
	// JWKSURL, when set, is fetched instead of the discovery document's
	// jwks_uri (which a kube-apiserver builds from its advertised address,
	// not always reachable from cloudsim, as in envtest).
	JWKSURL string `json:"jwksURL,omitempty"`
	// Mappings are tried in order; the first whose subject pattern matches
	// the token's sub decides the account. A token no rule matches is
	// refused.
	Mappings []IdentityMapping `json:"mappings"`
}

// IdentityMapping maps token subjects to an account: the temporary
// credentials get that account's projects (its permissions).
type IdentityMapping struct {
	// Subject is a pattern of the token's sub (path.Match syntax), e.g.
	// "system:serviceaccount:team-a:*".
	Subject string `json:"subject"`
	// AccessKey names the account of Accounts whose projects the
	// temporary credentials may address.
	AccessKey string `json:"accessKey"`
}

func (p IdentityProvider) validate(accounts map[string]bool) error {
	if p.ID == "" {
		return errors.New("id is required")
	}
	if !strings.HasPrefix(p.Issuer, "https://") && !strings.HasPrefix(p.Issuer, "http://") {
		return fmt.Errorf("issuer %q must be an http(s) URL", p.Issuer)
	}
	if p.Audience == "" {
		return errors.New("audience is required")
	}
	if p.JWKSURL != "" && !strings.HasPrefix(p.JWKSURL, "https://") && !strings.HasPrefix(p.JWKSURL, "http://") {
		return fmt.Errorf("jwksURL %q must be an http(s) URL", p.JWKSURL)
	}
	for i, m := range p.Mappings {
		if _, err := path.Match(m.Subject, ""); err != nil || m.Subject == "" {
			return fmt.Errorf("mappings[%d]: subject %q is not a valid pattern", i, m.Subject)
		}
		if accounts != nil && !accounts[m.AccessKey] {
			return fmt.Errorf("mappings[%d]: accessKey %q is not an account", i, m.AccessKey)
		}
	}
	return nil
}

// WithOIDCClient sets the HTTP client that fetches issuers' discovery
// documents and JWKS (for a kube-apiserver: one trusting its CA and
// authenticated, since /openid/v1/jwks needs a user allowed by the
// system:service-account-issuer-discovery role). The default is
// http.DefaultClient.
func WithOIDCClient(c *http.Client) Option {
	return func(s *Simulator) { s.iam.client = c }
}

// iam is the simulator's IAM state.
type iam struct {
	client *http.Client
	// lifetime caps the temporary credentials' lifetime (0: as asked).
	lifetime time.Duration
	faults   faultSet

	mu     sync.Mutex
	issued []string // see IssuedSecrets
	idps   map[string]IdentityProvider
	keys   map[string]*issuerKeys // issuer -> keys
	tokens map[string]*iamToken   // X-Subject-Token -> token
}

type issuerKeys struct {
	set     jose.JSONWebKeySet
	fetched time.Time
}

// iamToken is an IAM token issued for a verified ID token.
type iamToken struct {
	subject string
	idp     string
	acct    *account
	expires time.Time
}

func (m *iam) init(idps []IdentityProvider, lifetime time.Duration, faults []Fault) {
	m.idps = map[string]IdentityProvider{}
	for _, p := range idps {
		m.idps[p.ID] = p
	}
	m.keys = map[string]*issuerKeys{}
	m.tokens = map[string]*iamToken{}
	m.lifetime = lifetime
	m.faults.set(faults)
}

// AddIdentityProvider adds (or replaces) an identity provider. Its
// mappings must name existing accounts.
func (s *Simulator) AddIdentityProvider(p IdentityProvider) error {
	if err := p.validate(nil); err != nil {
		return fmt.Errorf("identity provider %q: %w", p.ID, err)
	}
	for i, m := range p.Mappings {
		if s.account(m.AccessKey) == nil {
			return fmt.Errorf("identity provider %q: mappings[%d]: accessKey %q is not an account", p.ID, i, m.AccessKey)
		}
	}
	s.iam.mu.Lock()
	s.iam.idps[p.ID] = p
	s.iam.mu.Unlock()
	return nil
}

// SetIAMFaults replaces the faults of the IAM endpoints (latency,
// throttle, error500, reset, unauthorized); none clears them.
func (s *Simulator) SetIAMFaults(faults ...Fault) error {
	if err := validateFaults(faults); err != nil {
		return err
	}
	s.iam.faults.set(faults)
	return nil
}

// SetTemporaryCredentialLifetime caps the lifetime of temporary
// credentials issued from now on (0: as the client asks).
func (s *Simulator) SetTemporaryCredentialLifetime(d time.Duration) {
	s.iam.mu.Lock()
	s.iam.lifetime = d
	s.iam.mu.Unlock()
}

// iamError is IAM's {"error_code","error_msg"} answer. The codes are
// cloudsim's stand-ins (docs/cloudsim.md).
func iamError(w http.ResponseWriter, status int, code, msg string) {
	writeError(w, status, code, msg)
}

// serveIAM answers the two IAM APIs; both are unsigned (the ID token or
// the IAM token is the credential).
func (s *Simulator) serveIAM(w http.ResponseWriter, r *http.Request) {
	api := ""
	switch r.URL.Path {
	case PathIDTokenTokens:
		api = IAMCreateTokenWithIDToken
	case PathSecurityTokens:
		api = IAMCreateTemporaryAccessKey
	}
	rec := &recorder{ResponseWriter: w, count: func(status int) { s.counts.recordIAM(api, status) }}
	defer rec.settle(StatusReset)
	defer drain(r)
	if api == "" || r.Method != http.MethodPost {
		iamError(rec, http.StatusNotFound, "APIGW.0101", "The API does not exist or has not been published in the environment")
		return
	}
	delay, hit := s.iam.faults.pick(s.chance)
	if !sleep(r.Context(), delay) {
		return
	}
	if hit != nil {
		switch hit.Kind {
		case FaultThrottle:
			throttled(rec, "10", hit.RetryAfter.Duration)
			return
		case FaultReset:
			rec.settle(StatusReset)
			resetConnection(rec)
			return
		case FaultUnauthorized:
			iamError(rec, http.StatusUnauthorized, "IAM.0301", "The token is invalid")
			return
		case FaultError500, FaultMalformed, FaultNotFound:
			iamError(rec, http.StatusInternalServerError, "IAM.0500", "Internal Server Error")
			return
		}
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxSignedBody))
	if err != nil {
		iamError(rec, http.StatusBadRequest, "IAM.0003", "cannot read the request body")
		return
	}
	if api == IAMCreateTokenWithIDToken {
		s.createTokenWithIDToken(rec, r, body)
		return
	}
	s.createTemporaryAccessKey(rec, r, body)
}

// idTokenRequest is CreateTokenWithIdToken's body.
type idTokenRequest struct {
	Auth struct {
		IDToken struct {
			ID string `json:"id"`
		} `json:"id_token"`
		Scope json.RawMessage `json:"scope,omitempty"`
	} `json:"auth"`
}

func (s *Simulator) createTokenWithIDToken(w http.ResponseWriter, r *http.Request, body []byte) {
	var req idTokenRequest
	if err := json.Unmarshal(body, &req); err != nil || req.Auth.IDToken.ID == "" {
		iamError(w, http.StatusBadRequest, "IAM.0003", "The request body is invalid: auth.id_token.id is required")
		return
	}
	idpID := r.Header.Get(headerIdpID)
	s.iam.mu.Lock()
	idp, ok := s.iam.idps[idpID]
	s.iam.mu.Unlock()
	if !ok {
		iamError(w, http.StatusNotFound, "IAM.0005", fmt.Sprintf("The identity provider %q does not exist", idpID))
		return
	}
	now := s.now()
	sub, err := s.verifyIDToken(r.Context(), idp, req.Auth.IDToken.ID, now)
	if err != nil {
		var fe *fetchError
		if errors.As(err, &fe) {
			// IAM cannot reach the issuer: its problem, not the caller's.
			iamError(w, http.StatusInternalServerError, "IAM.0500", "cannot fetch the identity provider's keys: "+err.Error())
			s.log.Warn("oidc fetch failed", "idp", idp.ID, "error", err)
			return
		}
		iamError(w, http.StatusUnauthorized, "IAM.0301", "The id_token is invalid: "+err.Error())
		return
	}
	var acct *account
	for _, m := range idp.Mappings {
		if ok, _ := path.Match(m.Subject, sub); ok {
			acct = s.account(m.AccessKey)
			break
		}
	}
	if acct == nil {
		iamError(w, http.StatusForbidden, "IAM.0302", fmt.Sprintf("No mapping rule of identity provider %q matches the user %q", idp.ID, sub))
		return
	}
	tok := randomHex(64)
	expires := now.Add(iamTokenLifetime)
	s.iam.mu.Lock()
	s.iam.tokens[tok] = &iamToken{subject: sub, idp: idp.ID, acct: acct, expires: expires}
	s.iam.remember(req.Auth.IDToken.ID, tok)
	s.iam.mu.Unlock()
	w.Header().Set(headerSubjectToken, tok)
	writeJSON(w, http.StatusCreated, map[string]any{"token": map[string]any{
		"expires_at": expires.UTC().Format(iamTimeFormat),
		"issued_at":  now.UTC().Format(iamTimeFormat),
		"methods":    []string{"mapped"},
		"user": map[string]any{
			"OS-FEDERATION": map[string]any{
				"identity_provider": map[string]string{"id": idp.ID},
				"protocol":          map[string]string{"id": "oidc"},
				"groups":            []any{},
			},
			"domain": map[string]string{"id": acct.DomainID, "name": acct.DomainID},
			"id":     hashHex("user/"+sub, 32),
			"name":   sub,
		},
	}})
}

// securityTokenRequest is CreateTemporaryAccessKeyByToken's body.
type securityTokenRequest struct {
	Auth struct {
		Identity struct {
			Methods []string `json:"methods"`
			Token   struct {
				ID              string `json:"id"`
				DurationSeconds int    `json:"duration_seconds"`
			} `json:"token"`
		} `json:"identity"`
	} `json:"auth"`
}

func (s *Simulator) createTemporaryAccessKey(w http.ResponseWriter, r *http.Request, body []byte) {
	var req securityTokenRequest
	if err := json.Unmarshal(body, &req); err != nil || len(req.Auth.Identity.Methods) != 1 || req.Auth.Identity.Methods[0] != "token" {
		iamError(w, http.StatusBadRequest, "IAM.0003", `The request body is invalid: auth.identity.methods must be ["token"]`)
		return
	}
	id := req.Auth.Identity.Token.ID
	if id == "" {
		id = r.Header.Get(headerAuthToken)
	}
	d := time.Duration(req.Auth.Identity.Token.DurationSeconds) * time.Second
	if d == 0 {
		d = defaultTemporaryLifetime
	}
	if d < 0 || d > 24*time.Hour {
		iamError(w, http.StatusBadRequest, "IAM.0003", "duration_seconds must be between 900 and 86400")
		return
	}
	now := s.now()
	s.iam.mu.Lock()
	tok := s.iam.tokens[id]
	if s.iam.lifetime > 0 {
		d = min(d, s.iam.lifetime)
	}
	s.iam.mu.Unlock()
	if id == "" || tok == nil || !now.Before(tok.expires) {
		iamError(w, http.StatusUnauthorized, "IAM.0301", "The token is invalid or expired")
		return
	}
	expires := now.Add(d)
	temp := &account{
		Account: Account{
			AccessKey:     "TMP" + strings.ToUpper(randomHex(17)),
			SecretKey:     randomHex(20),
			SecurityToken: randomHex(96),
			DomainID:      tok.acct.DomainID,
			ProjectIDs:    tok.acct.ProjectIDs,
		},
		projects:  tok.acct.projects,
		expires:   expires,
		principal: tok.subject,
	}
	s.mu.Lock()
	s.dropExpiredLocked(now)
	s.accounts[temp.AccessKey] = temp
	s.mu.Unlock()
	s.iam.mu.Lock()
	s.iam.remember(temp.SecretKey, temp.SecurityToken)
	s.iam.mu.Unlock()
	writeJSON(w, http.StatusCreated, map[string]any{"credential": map[string]string{
		"access":        temp.AccessKey,
		"secret":        temp.SecretKey,
		"securitytoken": temp.SecurityToken,
		"expires_at":    expires.UTC().Format(iamTimeFormat),
	}})
}

// maxIssued bounds the secrets IssuedSecrets keeps.
const maxIssued = 10000

// remember keeps secrets for IssuedSecrets. The caller holds m.mu.
func (m *iam) remember(secrets ...string) {
	if len(m.issued)+len(secrets) > maxIssued {
		m.issued = m.issued[len(secrets):]
	}
	m.issued = append(m.issued, secrets...)
}

// IssuedSecrets returns every secret that went through the simulated IAM:
// the ID tokens it accepted, the IAM tokens, secret keys and security
// tokens it issued (the last 10000). Leak tests look for them in what a
// client writes; nothing else should need them.
func (s *Simulator) IssuedSecrets() []string {
	s.iam.mu.Lock()
	defer s.iam.mu.Unlock()
	return append([]string(nil), s.iam.issued...)
}

// dropExpiredLocked forgets temporary credentials expired for over an
// hour (kept that long so a late request is told "expired", not "not
// found"). The caller holds s.mu.
func (s *Simulator) dropExpiredLocked(now time.Time) {
	for ak, a := range s.accounts {
		if !a.expires.IsZero() && now.Sub(a.expires) > time.Hour {
			delete(s.accounts, ak)
		}
	}
}

// fetchError is a failure to fetch an issuer's discovery document or keys.
type fetchError struct{ err error }

// Error implements error.
func (e *fetchError) Error() string { return e.err.Error() }

// Unwrap returns the cause.
func (e *fetchError) Unwrap() error { return e.err }

// verifyIDToken checks raw against idp and returns its subject.
func (s *Simulator) verifyIDToken(ctx context.Context, idp IdentityProvider, raw string, now time.Time) (string, error) {
	tok, err := jwt.ParseSigned(raw, []jose.SignatureAlgorithm{jose.RS256, jose.RS384, jose.RS512, jose.ES256, jose.ES384, jose.ES512, jose.PS256})
	if err != nil {
		return "", errors.New("not a signed JWT")
	}
	kid := ""
	if len(tok.Headers) == 1 {
		kid = tok.Headers[0].KeyID
	}
	keys, err := s.issuerKeys(ctx, idp, kid, now)
	if err != nil {
		return "", err
	}
	var claims jwt.Claims
	if err := tok.Claims(keys, &claims); err != nil {
		return "", errors.New("signature verification failed")
	}
	if claims.Expiry == nil {
		return "", errors.New("the token has no exp")
	}
	if err := claims.ValidateWithLeeway(jwt.Expected{Issuer: idp.Issuer, AnyAudience: []string{idp.Audience}, Time: now}, 0); err != nil {
		switch {
		case errors.Is(err, jwt.ErrInvalidIssuer):
			return "", fmt.Errorf("iss %q is not the identity provider's issuer", claims.Issuer)
		case errors.Is(err, jwt.ErrInvalidAudience):
			return "", fmt.Errorf("aud %v does not include %q", []string(claims.Audience), idp.Audience)
		}
		return "", err
	}
	if claims.Subject == "" {
		return "", errors.New("the token has no sub")
	}
	return claims.Subject, nil
}

// issuerKeys returns the issuer's JWKS, fetched through its discovery
// document, cached and fetched again when a token names a key the cache
// lacks (at most once per jwksRefreshInterval).
func (s *Simulator) issuerKeys(ctx context.Context, idp IdentityProvider, kid string, now time.Time) (*jose.JSONWebKeySet, error) {
	issuer := idp.Issuer
	s.iam.mu.Lock()
	cached := s.iam.keys[issuer]
	s.iam.mu.Unlock()
	if cached != nil && (len(cached.set.Key(kid)) > 0 || now.Sub(cached.fetched) < jwksRefreshInterval) {
		return &cached.set, nil
	}
	var disc struct {
		Issuer  string `json:"issuer"`
		JWKSURI string `json:"jwks_uri"`
	}
	if err := s.getJSON(ctx, strings.TrimSuffix(issuer, "/")+"/.well-known/openid-configuration", &disc); err != nil {
		return nil, &fetchError{fmt.Errorf("discovery: %w", err)}
	}
	if disc.Issuer != issuer {
		return nil, fmt.Errorf("discovery document names issuer %q, not %q", disc.Issuer, issuer)
	}
	jwksURL := disc.JWKSURI
	if idp.JWKSURL != "" {
		jwksURL = idp.JWKSURL
	}
	var set jose.JSONWebKeySet
	if err := s.getJSON(ctx, jwksURL, &set); err != nil {
		return nil, &fetchError{fmt.Errorf("jwks: %w", err)}
	}
	s.iam.mu.Lock()
	s.iam.keys[issuer] = &issuerKeys{set: set, fetched: now}
	s.iam.mu.Unlock()
	return &set, nil
}

func (s *Simulator) getJSON(ctx context.Context, url string, v any) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	c := s.iam.client
	if c == nil {
		c = http.DefaultClient
	}
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: HTTP %d", url, resp.StatusCode)
	}
	return json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(v)
}

func randomHex(n int) string {
	b := make([]byte, (n+1)/2)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)[:n]
}
