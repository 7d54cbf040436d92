package cloudsim

import (
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
// verified for real, like IAM does: against the signing key uploaded to
// the identity provider (never a live fetch of the issuer's keys), then
// iss, aud, exp and the subject against the identity provider's mapping
// rules.

// IAM paths.
const (
	PathIDTokenTokens  = "/v3.0/OS-AUTH/id-token/tokens"
	PathSecurityTokens = "/v3.0/OS-CREDENTIAL/securitytokens"
	headerIdpID        = "X-Idp-Id"
	headerSubjectToken = "X-Subject-Token"
	headerAuthToken    = "X-Auth-Token"
	iamTimeFormat      = "2006-01-02T15:04:05.000000Z"
	// IAM's bounds of duration_seconds, and what it gives when the request
	// names none (the SDK asks for 6 h).
	minTemporaryLifetime     = 15 * time.Minute
	maxTemporaryLifetime     = 24 * time.Hour
	defaultTemporaryLifetime = 15 * time.Minute
	iamTokenLifetime         = 24 * time.Hour
)

// IAM's error codes (its API reference's error-code table and the
// examples of CreateTokenWithIdToken), except codeNoMapping: IAM
// documents no code for a subject no mapping rule matches.
const (
	codeUnauthenticated = "IAM.0001" // 401 The request you have made requires authentication.
	codeBadParameter    = "IAM.0007" // 400 Request parameter %(key)s is invalid.
	codeBadBody         = "IAM.0011" // 400 Request body is invalid.
	codeNotFound        = "IAM.0004" // 404 Could not find %(target)s: %(target_id)s.
	codeInternal        = "IAM.0006" // 500 An unexpected error prevented the server from fulfilling your request.
	codeNoMapping       = "IAM.0302" // 403, cloudsim's stand-in
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
	// Issuer must equal the token's iss.
	Issuer string `json:"issuer"`
	// Audience must be one of the token's aud values (IAM's client_id).
	Audience string `json:"audience"`
	// SigningKey is the issuer's public keys as a JWKS JSON document (a
	// kube-apiserver's /openid/v1/jwks), uploaded like IAM's
	// CreateOpenIdConnectConfig signing_key: tokens are verified with
	// these keys only, so after the issuer rotates its key the provider
	// must be updated, as in IAM.
	SigningKey string `json:"signingKey"`
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
	if _, err := p.keys(); err != nil {
		return err
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

// keys parses SigningKey: a JWKS of public keys only (a private key
// there means the wrong file was uploaded).
func (p IdentityProvider) keys() (jose.JSONWebKeySet, error) {
	var set jose.JSONWebKeySet
	if strings.TrimSpace(p.SigningKey) == "" {
		return set, errors.New("signingKey is required: the issuer's JWKS (e.g. kubectl get --raw /openid/v1/jwks)")
	}
	if err := json.Unmarshal([]byte(p.SigningKey), &set); err != nil {
		return set, fmt.Errorf("signingKey is not a JWKS: %w", err)
	}
	if len(set.Keys) == 0 {
		return set, errors.New("signingKey has no keys")
	}
	for i, k := range set.Keys {
		if !k.Valid() || !k.IsPublic() {
			return set, fmt.Errorf("signingKey: keys[%d] (kid %q) is not a public key", i, k.KeyID)
		}
	}
	return set, nil
}

// trustedProvider is an identity provider with its signing key parsed.
type trustedProvider struct {
	IdentityProvider
	keySet jose.JSONWebKeySet
}

// iam is the simulator's IAM state.
type iam struct {
	// lifetime caps the temporary credentials' lifetime (0: as asked), a
	// simulator knob IAM does not have.
	lifetime time.Duration
	faults   faultSet

	mu     sync.Mutex
	issued []string // see IssuedSecrets
	idps   map[string]*trustedProvider
	tokens map[string]*iamToken // X-Subject-Token -> token
}

// iamToken is an IAM token issued for a verified ID token.
type iamToken struct {
	subject string
	idp     string
	acct    *account
	expires time.Time
}

func (m *iam) init(idps []IdentityProvider, lifetime time.Duration, faults []Fault) error {
	m.idps = map[string]*trustedProvider{}
	for _, p := range idps {
		keys, err := p.keys()
		if err != nil {
			return fmt.Errorf("identity provider %q: %w", p.ID, err)
		}
		m.idps[p.ID] = &trustedProvider{IdentityProvider: p, keySet: keys}
	}
	m.tokens = map[string]*iamToken{}
	m.lifetime = lifetime
	m.faults.set(faults)
	return nil
}

// AddIdentityProvider adds (or replaces) an identity provider. Its
// mappings must name existing accounts; replacing it with a new
// SigningKey is how a key rotation is uploaded.
func (s *Simulator) AddIdentityProvider(p IdentityProvider) error {
	if err := p.validate(nil); err != nil {
		return fmt.Errorf("identity provider %q: %w", p.ID, err)
	}
	for i, m := range p.Mappings {
		if s.account(m.AccessKey) == nil {
			return fmt.Errorf("identity provider %q: mappings[%d]: accessKey %q is not an account", p.ID, i, m.AccessKey)
		}
	}
	keys, _ := p.keys() // validated above
	s.iam.mu.Lock()
	s.iam.idps[p.ID] = &trustedProvider{IdentityProvider: p, keySet: keys}
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
// credentials issued from now on (0: as the client asks). It is a
// simulator knob for tests that watch credentials expire: requests must
// still ask for 900 to 86400 seconds, as IAM requires.
func (s *Simulator) SetTemporaryCredentialLifetime(d time.Duration) {
	s.iam.mu.Lock()
	s.iam.lifetime = d
	s.iam.mu.Unlock()
}

// iamErrorBody is the Keystone-style error answer of IAM's own APIs; the
// gateway in front of it (unknown path, throttling) answers in its
// {"error_code","error_msg"} shape instead.
type iamErrorBody struct {
	Error iamErrorDetail `json:"error"`
}

type iamErrorDetail struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Title   string `json:"title"`
}

// iamError answers {"error":{"code","message","title"}}, titled with the
// HTTP status text as Keystone does.
func iamError(w http.ResponseWriter, status int, code, msg string) {
	writeJSON(w, status, iamErrorBody{Error: iamErrorDetail{Code: code, Message: msg, Title: http.StatusText(status)}})
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
		writeError(rec, http.StatusNotFound, "APIGW.0101", "The API does not exist or has not been published in the environment")
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
			ResetConnection(rec)
			return
		case FaultUnauthorized:
			iamError(rec, http.StatusUnauthorized, codeUnauthenticated, "The request you have made requires authentication.")
			return
		case FaultError500, FaultMalformed, FaultNotFound:
			iamError(rec, http.StatusInternalServerError, codeInternal, "An unexpected error prevented the server from fulfilling your request.")
			return
		}
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxSignedBody))
	if err != nil {
		iamError(rec, http.StatusBadRequest, codeBadBody, "Request body is invalid: it cannot be read.")
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
		iamError(w, http.StatusBadRequest, codeBadBody, "Request body is invalid: auth.id_token.id is required.")
		return
	}
	idpID := r.Header.Get(headerIdpID)
	s.iam.mu.Lock()
	idp := s.iam.idps[idpID]
	s.iam.mu.Unlock()
	if idp == nil {
		iamError(w, http.StatusNotFound, codeNotFound, fmt.Sprintf("Could not find identity provider: %q.", idpID))
		return
	}
	now := s.now()
	sub, err := verifyIDToken(idp, req.Auth.IDToken.ID, now)
	if err != nil {
		// The reason is cloudsim's: it tells a test (or a person setting
		// up the identity provider) which check failed.
		iamError(w, http.StatusUnauthorized, codeUnauthenticated, "The request you have made requires authentication: the id_token is invalid: "+err.Error())
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
		iamError(w, http.StatusForbidden, codeNoMapping, fmt.Sprintf("No mapping rule of identity provider %q matches the user %q", idp.ID, sub))
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
				// ID is deprecated in favour of X-Auth-Token.
				ID string `json:"id"`
				// DurationSeconds is a pointer to tell 0 from absent.
				DurationSeconds *int `json:"duration_seconds"`
			} `json:"token"`
		} `json:"identity"`
	} `json:"auth"`
}

func (s *Simulator) createTemporaryAccessKey(w http.ResponseWriter, r *http.Request, body []byte) {
	var req securityTokenRequest
	if err := json.Unmarshal(body, &req); err != nil {
		iamError(w, http.StatusBadRequest, codeBadBody, "Request body is invalid.")
		return
	}
	if m := req.Auth.Identity.Methods; len(m) != 1 || m[0] != "token" {
		iamError(w, http.StatusBadRequest, codeBadBody, `Request body is invalid: auth.identity.methods must be ["token"].`)
		return
	}
	// X-Auth-Token takes precedence over the body's token.id, which the
	// SDK marks "to be deprecated" but IAM still accepts.
	id := r.Header.Get(headerAuthToken)
	if id == "" {
		id = req.Auth.Identity.Token.ID
	}
	d := defaultTemporaryLifetime
	if secs := req.Auth.Identity.Token.DurationSeconds; secs != nil {
		// Compared in seconds: a huge value must not overflow into range.
		lo, hi := int(minTemporaryLifetime/time.Second), int(maxTemporaryLifetime/time.Second)
		if *secs < lo || *secs > hi {
			iamError(w, http.StatusBadRequest, codeBadParameter, fmt.Sprintf("Request parameter duration_seconds is invalid: %d is not between %d and %d.", *secs, lo, hi))
			return
		}
		d = time.Duration(*secs) * time.Second
	}
	now := s.now()
	s.iam.mu.Lock()
	tok := s.iam.tokens[id]
	if s.iam.lifetime > 0 {
		d = min(d, s.iam.lifetime)
	}
	s.iam.mu.Unlock()
	switch {
	case id == "" || tok == nil:
		iamError(w, http.StatusUnauthorized, codeUnauthenticated, "The request you have made requires authentication: the token is invalid.")
		return
	case !now.Before(tok.expires):
		iamError(w, http.StatusUnauthorized, codeUnauthenticated, "The request you have made requires authentication: the token has expired.")
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

// verifyIDToken checks raw against idp's uploaded signing key, issuer and
// audience, and returns its subject.
func verifyIDToken(idp *trustedProvider, raw string, now time.Time) (string, error) {
	tok, err := jwt.ParseSigned(raw, []jose.SignatureAlgorithm{jose.RS256, jose.RS384, jose.RS512, jose.ES256, jose.ES384, jose.ES512, jose.PS256})
	if err != nil {
		return "", errors.New("not a signed JWT")
	}
	kid := ""
	if len(tok.Headers) == 1 {
		kid = tok.Headers[0].KeyID
	}
	if len(idp.keySet.Key(kid)) == 0 {
		return "", fmt.Errorf("its key (kid %q) is not in the identity provider's signing key", kid)
	}
	var claims jwt.Claims
	if err := tok.Claims(&idp.keySet, &claims); err != nil {
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

func randomHex(n int) string {
	b := make([]byte, (n+1)/2)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)[:n]
}
