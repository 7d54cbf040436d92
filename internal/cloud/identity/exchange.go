package identity

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/cloudop/cloudop/internal/cloud"
	"github.com/cloudop/cloudop/internal/cloud/transport"
)

// IAM paths and headers of the exchange (official Go SDK v0.1.207,
// core/auth/internal/iam_helper.go).
const (
	pathIDTokenTokens  = "/v3.0/OS-AUTH/id-token/tokens"
	pathSecurityTokens = "/v3.0/OS-CREDENTIAL/securitytokens"
	headerIdpID        = "X-Idp-Id"
	headerSubjectToken = "X-Subject-Token"
	headerAuthToken    = "X-Auth-Token"
	// maxIAMBody bounds an IAM answer (a token body lists a catalog, a
	// few KiB).
	maxIAMBody = 1 << 20
)

// IAMService names IAM in --service-endpoint (IAM=URL).
const IAMService cloud.Service = "IAM"

// Bounds IAM puts on temporary credentials (securitytokens
// duration_seconds): IAM answers 400 outside them.
const (
	MinCredentialDuration = 15 * time.Minute
	MaxCredentialDuration = 24 * time.Hour
)

// CheckCredentialDuration refuses a temporary credential lifetime IAM
// would refuse, so the manager fails at start instead of every exchange
// failing as IdentityRejected.
func CheckCredentialDuration(d time.Duration) error {
	if d < MinCredentialDuration || d > MaxCredentialDuration || d%time.Second != 0 {
		return fmt.Errorf("identity credential duration %v: IAM issues temporary credentials for whole seconds from %v to %v", d, MinCredentialDuration, MaxCredentialDuration)
	}
	return nil
}

// Exchanger performs the two IAM calls that turn a ServiceAccount token
// into temporary credentials.
type Exchanger struct {
	// Client sends the requests; nil means one client made on first use by
	// transport.NewHTTPTransportClient (TLS 1.2+, no redirects) and kept,
	// so exchanges reuse its connections.
	Client *http.Client
	// Endpoint, when set, is IAM's base URL in every region (the
	// manager's --service-endpoint IAM=URL); otherwise
	// https://iam.{region}.myhuaweicloud.com (…eu for eu-* regions).
	Endpoint string
	// Timeout bounds each call; 0 means transport.DefaultRequestTimeout.
	Timeout time.Duration
	// Now is the clock Retry-After dates are read against; nil means
	// time.Now.
	Now func() time.Time

	clientOnce sync.Once
	client     *http.Client
}

// Exchange trades the ServiceAccount token for temporary credentials
// valid for about duration, through identity provider idp of region's
// IAM. It returns them with their expiry.
func (x *Exchanger) Exchange(ctx context.Context, region, idp, token string, duration time.Duration) (cloud.Credentials, time.Time, error) {
	base := x.Endpoint
	if base == "" {
		var err error
		if base, err = transport.DefaultEndpoint(IAMService, region); err != nil {
			return cloud.Credentials{}, time.Time{}, &Error{Kind: KindInvalid, Msg: err.Error()}
		}
	}
	body, _ := json.Marshal(map[string]any{"auth": map[string]any{"id_token": map[string]string{"id": token}}})
	header, _, err := x.post(ctx, base+pathIDTokenTokens, "CreateTokenWithIdToken", map[string]string{headerIdpID: idp}, body)
	if err != nil {
		return cloud.Credentials{}, time.Time{}, err
	}
	iamToken := header.Get(headerSubjectToken)
	if iamToken == "" {
		return cloud.Credentials{}, time.Time{}, &Error{Kind: KindUnavailable, Msg: "IAM CreateTokenWithIdToken answered without " + headerSubjectToken}
	}
	seconds := int(min(max(duration, MinCredentialDuration), MaxCredentialDuration) / time.Second)
	// The IAM token travels in X-Auth-Token, the documented way (the
	// body's token.id is deprecated in the SDK's model).
	body, _ = json.Marshal(map[string]any{"auth": map[string]any{"identity": map[string]any{
		"methods": []string{"token"},
		"token":   map[string]any{"duration_seconds": seconds},
	}}})
	_, answer, err := x.post(ctx, base+pathSecurityTokens, "CreateTemporaryAccessKeyByToken", map[string]string{headerAuthToken: iamToken}, body)
	if err != nil {
		return cloud.Credentials{}, time.Time{}, err
	}
	return ParseTemporaryCredentials(answer)
}

// ParseTemporaryCredentials reads CreateTemporaryAccessKeyByToken's
// answer: credential {access, secret, securitytoken, expires_at}. Every
// field must be present and printable (they become request headers), and
// the expiry must parse; its errors never quote the answer.
func ParseTemporaryCredentials(answer []byte) (cloud.Credentials, time.Time, error) {
	var out struct {
		Credential struct {
			Access        string `json:"access"`
			Secret        string `json:"secret"`
			SecurityToken string `json:"securitytoken"`
			ExpiresAt     string `json:"expires_at"`
		} `json:"credential"`
	}
	if err := json.Unmarshal(answer, &out); err != nil {
		return cloud.Credentials{}, time.Time{}, &Error{Kind: KindUnavailable, Msg: "IAM CreateTemporaryAccessKeyByToken: unreadable answer"}
	}
	c := out.Credential
	// The SDK's layout; a fraction of a second is accepted when parsing.
	expires, perr := time.ParseInLocation("2006-01-02T15:04:05Z", c.ExpiresAt, time.UTC)
	creds := cloud.Credentials{AccessKey: c.Access, SecretKey: c.Secret, SecurityToken: c.SecurityToken}
	if perr != nil || creds.Check() != nil || c.SecurityToken == "" {
		return cloud.Credentials{}, time.Time{}, &Error{Kind: KindUnavailable, Msg: "IAM CreateTemporaryAccessKeyByToken: incomplete or malformed credential in the answer"}
	}
	return creds, expires, nil
}

// post sends one unsigned JSON POST and returns a 2xx answer's header and
// body, or a classified *Error.
func (x *Exchanger) post(ctx context.Context, url, api string, headers map[string]string, body []byte) (http.Header, []byte, error) {
	timeout := x.Timeout
	if timeout <= 0 {
		timeout = transport.DefaultRequestTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return nil, nil, &Error{Kind: KindInvalid, Msg: fmt.Sprintf("IAM endpoint %q is not usable", cloud.Excerpt(url, cloud.MaxQuotedRunes))}
	}
	req.Header.Set("Content-Type", "application/json;charset=UTF-8")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", transport.DefaultUserAgent)
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := x.httpClient().Do(req)
	if err != nil {
		// The transport's own words, without the URL (it carries nothing
		// secret, but keeps messages short and stable).
		return nil, nil, &Error{Kind: KindUnavailable, Msg: "IAM " + api + ": " + transport.ClassifyTransport(err).Message, Err: err}
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxIAMBody))
	if err != nil {
		return nil, nil, &Error{Kind: KindUnavailable, Msg: "IAM " + api + ": reading the answer failed", Err: err}
	}
	if resp.StatusCode/100 != 2 {
		return nil, nil, statusError(api, transport.ClassifyResponse(resp.StatusCode, resp.Header, data, x.now()))
	}
	return resp.Header, data, nil
}

func (x *Exchanger) httpClient() *http.Client {
	if x.Client != nil {
		return x.Client
	}
	x.clientOnce.Do(func() { x.client = transport.NewHTTPTransportClient() })
	return x.client
}

func (x *Exchanger) now() time.Time {
	if x.Now != nil {
		return x.Now()
	}
	return time.Now()
}
