package transport

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/cloudop/cloudop/internal/cloud"
)

// Bounds on what an error carries into status and logs.
const (
	// MaxErrorMessageRunes bounds Error.Message taken from a response body.
	MaxErrorMessageRunes = 512
	maxErrorCodeRunes    = 64
	maxRequestIDRunes    = 128
	// MaxRetryAfter caps a server's Retry-After so a bogus value cannot
	// park an operation for days.
	MaxRetryAfter = time.Hour
)

// HeaderRequestID is the response header carrying the gateway's request ID.
const HeaderRequestID = "X-Request-Id"

// throttleCodes are the API Gateway's "rate limit reached" codes. They mean
// throttling whatever HTTP status carries them.
var throttleCodes = []string{"APIGW.0308", "APIG.0308"}

// ClassifyResponse turns a non-2xx answer into a classified *Error:
// 400 → KindPermanent; 401/403 → KindAuth; 404 → KindNotFound; 429 or a
// gateway throttling code (APIGW.0308/APIG.0308, any status) →
// KindThrottled; 5xx and everything else, including bodies that are not
// JSON → KindTransient.
//
// The code and message come from whichever of the three body shapes is
// present ({error_code, error_msg}, {errorCode, errorMessage},
// {code, message}; also nested under "error"). The message never carries
// header values or the raw body of a non-JSON answer (often an HTML page
// from a proxy), and is cut to MaxErrorMessageRunes. now is the time a
// Retry-After date is measured from. IAM's answers go through it too, so
// one parser reads every error body and Retry-After cloudop receives.
func ClassifyResponse(status int, header http.Header, body []byte, now time.Time) *cloud.Error {
	e := &cloud.Error{HTTPStatus: status}
	if header != nil {
		e.RequestID = cloud.Excerpt(header.Get(HeaderRequestID), maxRequestIDRunes)
	}
	code, msg, isJSON := parseErrorBody(body)
	e.Code = cloud.Excerpt(code, maxErrorCodeRunes)
	e.Message = cloud.Excerpt(msg, MaxErrorMessageRunes)
	if e.Message == "" {
		e.Message = defaultErrorMessage(status, isJSON, len(bytes.TrimSpace(body)) > 0)
	}

	switch {
	case status == http.StatusTooManyRequests || isThrottleCode(e.Code):
		e.Kind = cloud.KindThrottled
		if header != nil {
			e.RetryAfter = parseRetryAfter(header.Get("Retry-After"), now)
		}
	case status == http.StatusBadRequest:
		e.Kind = cloud.KindPermanent
	case status == http.StatusUnauthorized || status == http.StatusForbidden:
		e.Kind = cloud.KindAuth
	case status == http.StatusNotFound:
		e.Kind = cloud.KindNotFound
	default:
		e.Kind = cloud.KindTransient
	}
	return e
}

func defaultErrorMessage(status int, isJSON, hasBody bool) string {
	text := http.StatusText(status)
	if text == "" {
		text = "unexpected status"
	}
	text = strings.ToLower(text)
	switch {
	case status >= 300 && status < 400:
		// We never follow redirects (a redirect could point anywhere);
		// the Location is not echoed, it may carry a signed URL.
		return "unexpected redirect"
	case hasBody && !isJSON:
		return text + " (response is not JSON)"
	default:
		return text
	}
}

func isThrottleCode(code string) bool {
	c := strings.ReplaceAll(code, " ", "")
	for _, t := range throttleCodes {
		if strings.EqualFold(c, t) {
			return true
		}
	}
	return false
}

// errorFieldPairs lists the body shapes in order of preference: the
// gateway's own shape first because it is the most specific (CCE answers
// sometimes carry two shapes at once, and a numeric "code" that is just
// the HTTP status).
var errorFieldPairs = [][2]string{
	{"error_code", "error_msg"},
	{"errorCode", "errorMessage"},
	{"code", "message"},
}

// parseErrorBody extracts a code and message from an error body; isJSON
// reports whether the body was a JSON object at all.
func parseErrorBody(body []byte) (code, msg string, isJSON bool) {
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) == 0 || trimmed[0] != '{' {
		return "", "", false
	}
	var m map[string]json.RawMessage
	if json.Unmarshal(trimmed, &m) != nil {
		return "", "", false
	}
	code, msg = errorFields(m)
	if code == "" && msg == "" {
		// Some services (OpenStack heritage) nest the error one level.
		if inner, ok := m["error"]; ok {
			var im map[string]json.RawMessage
			if json.Unmarshal(inner, &im) == nil {
				code, msg = errorFields(im)
			}
		}
	}
	return code, msg, true
}

func errorFields(m map[string]json.RawMessage) (code, msg string) {
	for _, pair := range errorFieldPairs {
		c := jsonScalar(m[pair[0]])
		t := jsonScalar(m[pair[1]])
		if code == "" {
			code = c
		}
		if msg == "" {
			msg = t
		}
	}
	return code, msg
}

// jsonScalar returns a JSON string's value or a number's literal; other
// values give "".
func jsonScalar(raw json.RawMessage) string {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return ""
	}
	if raw[0] == '"' {
		var s string
		if json.Unmarshal(raw, &s) == nil {
			return s
		}
		return ""
	}
	var n json.Number
	if json.Unmarshal(raw, &n) == nil {
		return n.String()
	}
	return ""
}

// parseRetryAfter reads delay-seconds or an HTTP date, relative to now;
// the result is within [0, MaxRetryAfter].
func parseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	var d time.Duration
	secs, err := strconv.ParseInt(v, 10, 64)
	if errors.Is(err, strconv.ErrRange) && v[0] != '-' {
		// More seconds than an int64 holds: as long as we ever wait.
		return MaxRetryAfter
	}
	if err == nil {
		if secs <= 0 {
			return 0
		}
		if secs > int64(MaxRetryAfter/time.Second) {
			return MaxRetryAfter
		}
		d = time.Duration(secs) * time.Second
	} else if t, err := http.ParseTime(v); err == nil {
		d = t.Sub(now)
	} else {
		return 0
	}
	if d < 0 {
		return 0
	}
	if d > MaxRetryAfter {
		return MaxRetryAfter
	}
	return d
}

// ClassifyTransport turns an error from sending a request or reading its
// answer into a KindTransient *Error with a short message ("request timed
// out", "connection reset", ...). The message never includes the URL (its
// query could identify resources); the *url.Error wrapper that carries it
// is dropped from the kept cause as well. An *Error is returned unchanged.
func ClassifyTransport(err error) *cloud.Error {
	if err == nil {
		return nil
	}
	var ce *cloud.Error
	if errors.As(err, &ce) {
		return ce
	}
	cause := err
	var ue *url.Error
	if errors.As(err, &ue) && ue.Err != nil {
		cause = ue.Err
	}
	return &cloud.Error{Kind: cloud.KindTransient, Message: transportMessage(cause), Err: cause}
}

func transportMessage(err error) string {
	var (
		netErr     net.Error
		dnsErr     *net.DNSError
		unknownCA  x509.UnknownAuthorityError
		hostErr    x509.HostnameError
		certErr    x509.CertificateInvalidError
		verifyErr  *tls.CertificateVerificationError
		recordErr  tls.RecordHeaderError
		alertErr   tls.AlertError
		opErr      *net.OpError
		maxBytes   *http.MaxBytesError
		tlsMessage = "TLS handshake failed"
	)
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return "request timed out"
	case errors.Is(err, context.Canceled):
		return "request cancelled"
	case errors.As(err, &dnsErr):
		if dnsErr.IsNotFound {
			return "host not found"
		}
		return "DNS lookup failed"
	case errors.As(err, &unknownCA), errors.As(err, &hostErr),
		errors.As(err, &certErr), errors.As(err, &verifyErr):
		return "TLS certificate verification failed"
	case errors.As(err, &recordErr), errors.As(err, &alertErr):
		return tlsMessage
	case errors.Is(err, syscall.ECONNRESET):
		return "connection reset"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused"
	case errors.Is(err, syscall.EHOSTUNREACH), errors.Is(err, syscall.ENETUNREACH):
		return "host unreachable"
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return "connection closed unexpectedly"
	case errors.As(err, &maxBytes):
		return "response too large"
	case errors.As(err, &netErr) && netErr.Timeout():
		return "request timed out"
	case errors.As(err, &opErr):
		if opErr.Op == "dial" {
			return "connection failed"
		}
		return "network error"
	case strings.Contains(err.Error(), "tls:"):
		return tlsMessage
	}
	return "request failed"
}
