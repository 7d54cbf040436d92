package transport

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"time"

	"golang.org/x/sync/singleflight"

	"github.com/cloudop/cloudop/internal/cloud"
)

// Client defaults.
const (
	// DefaultRequestTimeout bounds one request, connection to last byte.
	DefaultRequestTimeout = 15 * time.Second
	// DefaultMaxBodyBytes bounds an answer. Operation records are a few
	// KiB; anything near this is a misbehaving endpoint, not data.
	DefaultMaxBodyBytes int64 = 4 << 20
	// DefaultUserAgent identifies the operator to the cloud's logs.
	DefaultUserAgent = "cloudop"
)

// HTTPClient sends signed, bounded GET requests to a cloud API, coalescing
// identical in-flight requests and, with a Limiter, rate-limiting them.
// The zero value is usable (coalescing, no rate limit); NewHTTPClient
// returns one with an explicit transport and the default rate limits. An
// HTTPClient must not be copied after first use.
type HTTPClient struct {
	// Client sends the requests; nil means a client built by
	// NewHTTPTransportClient. Its CheckRedirect is replaced per request:
	// redirects are never followed.
	Client *http.Client
	// Timeout bounds each request (via its context); 0 means
	// DefaultRequestTimeout.
	Timeout time.Duration
	// MaxBodyBytes bounds each answer; 0 means DefaultMaxBodyBytes.
	MaxBodyBytes int64
	// Now is the signing clock; nil means time.Now. Tests fix it.
	Now func() time.Time
	// UserAgent is sent (and signed); "" means DefaultUserAgent.
	UserAgent string
	// Limiter, when set, rate-limits requests per (access key, service,
	// region) and globally, and slows a bucket after throttled answers.
	// nil sends without client-side limits. NewHTTPClient sets one with
	// the default configuration.
	Limiter *RateLimiter

	flight singleflight.Group
}

// ErrResponseTooLarge marks a 2xx answer larger than MaxBodyBytes; the
// *Error wrapping it is KindTransient. Adapters that list many records may
// fall back to a narrower request.
var ErrResponseTooLarge = errors.New("response too large")

// NewHTTPClient returns an HTTPClient with its own transport (see
// NewHTTPTransportClient), the given per-request timeout (0 means
// DefaultRequestTimeout) and a RateLimiter with the default configuration
// (replace the Limiter field before first use to change it).
func NewHTTPClient(timeout time.Duration) *HTTPClient {
	return &HTTPClient{Client: NewHTTPTransportClient(), Timeout: timeout, Limiter: NewRateLimiter(RateLimitConfig{})}
}

// NewHTTPTransportClient returns an *http.Client with a cloned default
// transport (proxy from the environment, HTTP/2, keep-alives) that
// requires TLS 1.2 and never follows redirects.
func NewHTTPTransportClient() *http.Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	if tr.TLSClientConfig == nil {
		tr.TLSClientConfig = &tls.Config{}
	}
	tr.TLSClientConfig.MinVersion = tls.VersionTLS12
	return &http.Client{Transport: tr, CheckRedirect: noRedirect}
}

// noRedirect stops at the first redirect and hands the 3xx answer back:
// following one could send a signed request (and the project ID) to a
// host nobody allowed. The 3xx is then classified like any other failure.
func noRedirect(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

var defaultTransportClient = NewHTTPTransportClient()

// Get sends a signed GET to t.BaseURL + path with query, the given extra
// headers, Accept: application/json and X-Project-Id (when the project is
// known). It returns the body of a 2xx answer, or a classified *Error:
// transport failures and bodies over MaxBodyBytes are KindTransient, other
// statuses are classified by ClassifyResponse.
//
// Identical requests in flight at the same time (same URL and query, same
// headers, same credentials) share one HTTP exchange (see Coalesce); each
// caller gets its own copy of the body. The shared exchange is not
// cancelled when one caller's context is, only by Timeout. With a Limiter,
// the request first waits for a token of its (access key, service, region)
// bucket, or fails at once with a KindThrottled error wrapping
// cloud.ErrRateLimited (see RateLimiter.Wait), and its outcome is fed back
// to the bucket (see RateLimiter.Record).
//
// path must be unescaped (each segment is escaped when sent); callers
// check segments with cloud.ValidPathSegment so IDs cannot change the path.
//
// A nil client behaves like a zero HTTPClient, so adapters built without
// one still work (with defaults and no rate limit).
func (c *HTTPClient) Get(ctx context.Context, t cloud.Target, path string, query url.Values, headers http.Header) ([]byte, error) {
	if c == nil {
		c = &HTTPClient{}
	}
	u, err := requestURL(t, path, query)
	if err != nil {
		return nil, err
	}
	body, coalesced, err := Coalesce(ctx, &c.flight, flightKey(t, u, headers), func(ctx context.Context) ([]byte, error) {
		return c.send(ctx, t, u, headers)
	}, bytes.Clone)
	if coalesced {
		coalescedTotal.WithLabelValues(serviceLabel(t.Service)).Inc()
	}
	return body, err
}

// requestURL builds the absolute URL of a request.
func requestURL(t cloud.Target, path string, query url.Values) (string, error) {
	base, err := NormalizeBaseURL(t.BaseURL)
	if err != nil {
		return "", cloud.Permanentf("endpoint %q: %s", cloud.Excerpt(t.BaseURL, cloud.MaxQuotedRunes), err)
	}
	u, _ := url.Parse(base)
	if !strings.HasPrefix(path, "/") {
		path = "/" + path
	}
	u.Path = path
	u.RawQuery = encodeQuery(query)
	return u.String(), nil
}

// flightKey identifies requests that may share one exchange: same
// credentials (by fingerprint, so a wrong secret never reads what a right
// one fetched), project header, URL and extra headers.
func flightKey(t cloud.Target, u string, headers http.Header) string {
	var b strings.Builder
	b.WriteString(Fingerprint(t.Credentials))
	b.WriteByte('\n')
	b.WriteString(t.ProjectID)
	b.WriteByte('\n')
	b.WriteString(u)
	names := make([]string, 0, len(headers))
	for k := range headers {
		names = append(names, http.CanonicalHeaderKey(k))
	}
	sort.Strings(names)
	for _, k := range names {
		b.WriteByte('\n')
		b.WriteString(k)
		for _, v := range headers.Values(k) {
			b.WriteByte('\x00')
			b.WriteString(v)
		}
	}
	return b.String()
}

// send waits for the rate limiter, then makes one HTTP exchange and
// records its metrics and outcome.
func (c *HTTPClient) send(ctx context.Context, t cloud.Target, u string, headers http.Header) ([]byte, error) {
	req, err := http.NewRequest(http.MethodGet, u, nil)
	if err != nil {
		return nil, cloud.Permanentf("cannot build request: %s", err)
	}
	for k, vs := range headers {
		for _, v := range vs {
			req.Header.Add(k, v)
		}
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", c.userAgent())
	if t.ProjectID != "" {
		req.Header.Set(HeaderProjectID, t.ProjectID)
	}

	key := bucketKeyOf(t)
	if c.Limiter != nil {
		if err := c.Limiter.Wait(ctx, key); err != nil {
			return nil, err
		}
	}
	// Signed after the wait, so the signature's date is fresh.
	if err := Sign(req, nil, t.Credentials, c.now()); err != nil {
		return nil, err
	}

	start := time.Now()
	body, status, err := c.exchange(ctx, req)
	svc := serviceLabel(t.Service)
	requestDuration.WithLabelValues(svc).Observe(time.Since(start).Seconds())
	requestsTotal.WithLabelValues(svc, codeLabel(status)).Inc()
	if c.Limiter != nil {
		c.Limiter.Record(key, err)
	}
	return body, err
}

// exchange sends req under Timeout and reads the bounded answer. status is
// 0 when no response arrived.
func (c *HTTPClient) exchange(ctx context.Context, req *http.Request) (body []byte, status int, err error) {
	ctx, cancel := context.WithTimeout(ctx, c.timeout())
	defer cancel()
	resp, err := c.httpClient().Do(req.WithContext(ctx))
	if err != nil {
		return nil, 0, ClassifyTransport(err)
	}
	defer resp.Body.Close()

	limit := c.maxBody()
	body, err = io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return nil, resp.StatusCode, ClassifyTransport(err)
	}
	tooLarge := int64(len(body)) > limit
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		if tooLarge {
			return nil, resp.StatusCode, &cloud.Error{
				Kind: cloud.KindTransient, HTTPStatus: resp.StatusCode,
				RequestID: cloud.Excerpt(resp.Header.Get(HeaderRequestID), maxRequestIDRunes),
				Message:   "response too large",
				Err:       ErrResponseTooLarge,
			}
		}
		return body, resp.StatusCode, nil
	}
	// An oversized error body is classified from its first bytes; it will
	// not parse, which is fine: the status alone decides the kind.
	return nil, resp.StatusCode, ClassifyResponse(resp.StatusCode, resp.Header, body[:min(int64(len(body)), limit)], c.now())
}

func (c *HTTPClient) httpClient() *http.Client {
	base := defaultTransportClient
	if c.Client != nil {
		base = c.Client
	}
	// A shallow copy so that a caller-supplied client cannot follow
	// redirects, without mutating it.
	hc := *base
	hc.CheckRedirect = noRedirect
	return &hc
}

func (c *HTTPClient) timeout() time.Duration {
	if c.Timeout > 0 {
		return c.Timeout
	}
	return DefaultRequestTimeout
}

func (c *HTTPClient) maxBody() int64 {
	if c.MaxBodyBytes > 0 {
		return c.MaxBodyBytes
	}
	return DefaultMaxBodyBytes
}

func (c *HTTPClient) now() time.Time {
	if c.Now != nil {
		return c.Now()
	}
	return time.Now()
}

func (c *HTTPClient) userAgent() string {
	if c.UserAgent != "" {
		return c.UserAgent
	}
	return DefaultUserAgent
}

// encodeQuery encodes q with keys sorted and everything but A-Za-z0-9-_.~
// percent-encoded: the form the signature's canonical query uses, so the
// gateway decodes exactly the values that were signed (url.Values.Encode
// would write a space as "+", which the gateway does not decode).
func encodeQuery(q url.Values) string {
	if len(q) == 0 {
		return ""
	}
	keys := make([]string, 0, len(q))
	for k := range q {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		for _, v := range q[k] {
			if b.Len() > 0 {
				b.WriteByte('&')
			}
			b.WriteString(escapeUnreserved(k))
			b.WriteByte('=')
			b.WriteString(escapeUnreserved(v))
		}
	}
	return b.String()
}

func escapeUnreserved(s string) string {
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.' || c == '~' {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hex[c>>4])
		b.WriteByte(hex[c&15])
	}
	return b.String()
}
