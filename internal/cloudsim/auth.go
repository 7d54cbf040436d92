package cloudsim

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
	"time"
)

// This file is the simulator's own SDK-HMAC-SHA256 verifier. It rebuilds
// the canonical request from what arrived on the wire, as the gateway
// does, instead of calling the SDK's signer: a shared implementation would
// hide bugs on both sides. The tests sign with the official SDK signer to
// prove the two agree.

const (
	signAlgorithm   = "SDK-HMAC-SHA256"
	sdkDateFormat   = "20060102T150405Z"
	headerSdkDate   = "X-Sdk-Date"
	headerToken     = "X-Security-Token"
	headerBodyHash  = "X-Sdk-Content-Sha256"
	headerProjectID = "X-Project-Id"
	maxSignedBody   = 1 << 20
)

// authError is a rejected request: the status and gateway body to send.
type authError struct {
	status int
	code   string
	msg    string
}

// Error implements error.
func (e *authError) Error() string { return e.code + ": " + e.msg }

func unauthorized(format string, args ...any) *authError {
	return &authError{status: http.StatusUnauthorized, code: "APIGW.0301",
		msg: "Incorrect IAM authentication information: " + fmt.Sprintf(format, args...)}
}

// authorization is the parsed Authorization header.
type authorization struct {
	accessKey     string
	signedHeaders []string
	signature     string
}

func parseAuthorization(v string) (authorization, *authError) {
	var a authorization
	if v == "" {
		return a, unauthorized("Authorization header is missing")
	}
	alg, rest, ok := strings.Cut(v, " ")
	if !ok || alg != signAlgorithm {
		return a, unauthorized("unsupported authorization algorithm %q (want %s)", alg, signAlgorithm)
	}
	for part := range strings.SplitSeq(rest, ",") {
		k, val, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			return a, unauthorized("malformed Authorization header")
		}
		switch k {
		case "Access":
			a.accessKey = val
		case "SignedHeaders":
			if val != "" {
				a.signedHeaders = strings.Split(val, ";")
			}
		case "Signature":
			a.signature = strings.ToLower(val)
		default:
			return a, unauthorized("malformed Authorization header: unknown field %q", k)
		}
	}
	if a.accessKey == "" || a.signature == "" || len(a.signedHeaders) == 0 {
		return a, unauthorized("malformed Authorization header: Access, SignedHeaders and Signature are required")
	}
	return a, nil
}

// verify authenticates r and returns the account that signed it.
func (s *Simulator) verify(r *http.Request, now time.Time) (*account, *authError) {
	a, err := parseAuthorization(r.Header.Get("Authorization"))
	if err != nil {
		return nil, err
	}
	dateStr := r.Header.Get(headerSdkDate)
	if dateStr == "" {
		return nil, unauthorized("%s header is missing", headerSdkDate)
	}
	date, perr := time.Parse(sdkDateFormat, dateStr)
	if perr != nil {
		return nil, unauthorized("%s %q is not in the format %s", headerSdkDate, dateStr, sdkDateFormat)
	}
	if !signs(a.signedHeaders, headerSdkDate) {
		return nil, unauthorized("%s must be a signed header", strings.ToLower(headerSdkDate))
	}
	acct := s.account(a.accessKey)
	if acct == nil {
		return nil, unauthorized("access key %s not found", a.accessKey)
	}
	if skew := now.Sub(date).Abs(); skew > s.skew {
		return nil, unauthorized("the request has expired: %s %s is %s away from the server time %s (at most %s allowed)",
			headerSdkDate, dateStr, skew.Truncate(time.Second), now.UTC().Format(sdkDateFormat), s.skew)
	}
	token := r.Header.Get(headerToken)
	switch {
	case acct.SecurityToken == "" && token != "":
		return nil, unauthorized("security token given for permanent credentials")
	case acct.SecurityToken != "" && token == "":
		return nil, unauthorized("security token is missing (%s) for temporary credentials", headerToken)
	case acct.SecurityToken != "" && subtle.ConstantTimeCompare([]byte(token), []byte(acct.SecurityToken)) != 1:
		return nil, unauthorized("security token is invalid or expired")
	case !acct.expires.IsZero() && !now.Before(acct.expires):
		return nil, unauthorized("security token is invalid or expired")
	case token != "" && !signs(a.signedHeaders, headerToken):
		return nil, unauthorized("%s must be a signed header", strings.ToLower(headerToken))
	}
	cr, rerr := canonicalRequest(r, a.signedHeaders)
	if rerr != nil {
		return nil, unauthorized("cannot read the request body: %v", rerr)
	}
	want := signString(stringToSign(dateStr, cr), acct.SecretKey)
	if subtle.ConstantTimeCompare([]byte(want), []byte(a.signature)) != 1 {
		s.log.Debug("signature mismatch", "accessKey", a.accessKey, "canonicalRequest", cr)
		return nil, unauthorized("verify aksk signature fail")
	}
	return acct, nil
}

func signs(signed []string, header string) bool {
	h := strings.ToLower(header)
	for _, s := range signed {
		if s == h {
			return true
		}
	}
	return false
}

// canonicalRequest builds the SDK-HMAC-SHA256 canonical request:
// method, URI, query, headers, signed header names and body hash, one per
// line.
func canonicalRequest(r *http.Request, signed []string) (string, error) {
	bodyHash := r.Header.Get(headerBodyHash)
	if bodyHash == "" {
		var body []byte
		if r.Body != nil {
			b, err := io.ReadAll(io.LimitReader(r.Body, maxSignedBody))
			if err != nil {
				return "", err
			}
			body = b
			// Leave the body readable for whoever comes next.
			r.Body = io.NopCloser(bytes.NewReader(b))
		}
		sum := sha256.Sum256(body)
		bodyHash = hex.EncodeToString(sum[:])
	}
	var b strings.Builder
	b.WriteString(r.Method)
	b.WriteByte('\n')
	b.WriteString(canonicalURI(r.URL.Path))
	b.WriteByte('\n')
	b.WriteString(canonicalQuery(r))
	b.WriteByte('\n')
	for _, h := range signed {
		var vals []string
		if h == "host" {
			vals = []string{r.Host}
		} else {
			vals = append(vals, r.Header.Values(h)...)
		}
		sort.Strings(vals)
		for _, v := range vals {
			b.WriteString(h)
			b.WriteByte(':')
			b.WriteString(strings.TrimSpace(v))
			b.WriteByte('\n')
		}
	}
	b.WriteByte('\n')
	b.WriteString(strings.Join(signed, ";"))
	b.WriteByte('\n')
	b.WriteString(bodyHash)
	return b.String(), nil
}

// canonicalURI escapes each path segment and always ends with "/".
func canonicalURI(path string) string {
	segs := strings.Split(path, "/")
	for i, s := range segs {
		segs[i] = escape(s)
	}
	u := strings.Join(segs, "/")
	if !strings.HasSuffix(u, "/") {
		u += "/"
	}
	return u
}

// canonicalQuery sorts keys, and the values of each key, and escapes both.
func canonicalQuery(r *http.Request) string {
	q := r.URL.Query()
	if len(q) == 0 {
		return ""
	}
	keys := make([]string, 0, len(q))
	for k := range q {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var parts []string
	for _, k := range keys {
		vals := append([]string(nil), q[k]...)
		sort.Strings(vals)
		for _, v := range vals {
			parts = append(parts, escape(k)+"="+escape(v))
		}
	}
	return strings.Join(parts, "&")
}

func stringToSign(date, canonical string) string {
	sum := sha256.Sum256([]byte(canonical))
	return signAlgorithm + "\n" + date + "\n" + hex.EncodeToString(sum[:])
}

// signString is hex HMAC-SHA256 keyed with the secret key itself (no key
// derivation, unlike AWS SigV4).
func signString(sts, secret string) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(sts))
	return hex.EncodeToString(m.Sum(nil))
}

// escape percent-encodes everything except A-Z a-z 0-9 - _ . ~ with
// upper-case hex digits.
func escape(s string) string {
	const hexDigits = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.' || c == '~' {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hexDigits[c>>4])
		b.WriteByte(hexDigits[c&15])
	}
	return b.String()
}
