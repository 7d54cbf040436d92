package identity

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
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
	// maxIAMBody bounds an IAM answer (a token body lists a catalog, a
	// few KiB).
	maxIAMBody = 1 << 20
)

// IAMService names IAM in --service-endpoint (IAM=URL).
const IAMService cloud.Service = "IAM"

// Exchanger performs the two IAM calls that turn a ServiceAccount token
// into temporary credentials.
type Exchanger struct {
	// Client sends the requests; nil means transport.NewHTTPTransportClient
	// (TLS 1.2+, no redirects).
	Client *http.Client
	// Endpoint, when set, is IAM's base URL in every region (the
	// manager's --service-endpoint IAM=URL); otherwise
	// https://iam.{region}.myhuaweicloud.com (…eu for eu-* regions).
	Endpoint string
	// Timeout bounds each call; 0 means transport.DefaultRequestTimeout.
	Timeout time.Duration
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
	seconds := max(int(duration/time.Second), 900)
	body, _ = json.Marshal(map[string]any{"auth": map[string]any{"identity": map[string]any{
		"methods": []string{"token"},
		"token":   map[string]any{"id": iamToken, "duration_seconds": seconds},
	}}})
	_, answer, err := x.post(ctx, base+pathSecurityTokens, "CreateTemporaryAccessKeyByToken", nil, body)
	if err != nil {
		return cloud.Credentials{}, time.Time{}, err
	}
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
	if c.Access == "" || c.Secret == "" || c.SecurityToken == "" || perr != nil {
		return cloud.Credentials{}, time.Time{}, &Error{Kind: KindUnavailable, Msg: "IAM CreateTemporaryAccessKeyByToken: incomplete credential in the answer"}
	}
	return cloud.Credentials{AccessKey: c.Access, SecretKey: c.Secret, SecurityToken: c.SecurityToken}, expires, nil
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
	c := x.Client
	if c == nil {
		c = transport.NewHTTPTransportClient()
	}
	resp, err := c.Do(req)
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
		var e struct {
			Code    string `json:"error_code"`
			Message string `json:"error_msg"`
		}
		_ = json.Unmarshal(data, &e)
		return nil, nil, statusError(api, resp.StatusCode, resp.Header, e.Code, e.Message)
	}
	return resp.Header, data, nil
}

// retryAfter reads a Retry-After header in whole seconds.
func retryAfter(h http.Header) time.Duration {
	n, err := strconv.Atoi(strings.TrimSpace(h.Get("Retry-After")))
	if err != nil || n <= 0 {
		return 0
	}
	return time.Duration(n) * time.Second
}
