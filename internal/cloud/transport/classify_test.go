package transport

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/cloudop/cloudop/internal/cloud"
)

func readFile(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.FromSlash(path))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestClassifyResponse(t *testing.T) {
	now := time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)
	reqID := http.Header{"X-Request-Id": {"req-123"}}
	tests := []struct {
		name       string
		status     int
		header     http.Header
		file       string // body from a file
		body       string // or inline
		wantKind   cloud.ErrorKind
		wantCode   string
		wantMsg    string
		wantRetry  time.Duration
		wantReqID  string
		wantString string
	}{
		// Seed 000 (BCS ListOpRecord), bodies byte for byte.
		{name: "seed000 400", status: 400, header: reqID, file: "../bcs/testdata/000_list_op_record_400.json",
			wantKind: cloud.KindPermanent, wantCode: "BCS.4006005", wantMsg: "keyType error, keyType: blok not supported", wantReqID: "req-123",
			wantString: "BCS.4006005: keyType error, keyType: blok not supported (HTTP 400, request req-123)"},
		{name: "seed000 401", status: 401, file: "../bcs/testdata/000_list_op_record_401.json",
			wantKind: cloud.KindAuth, wantCode: "BCS.4010401", wantMsg: "Incorrect token or token resolution failed"},
		{name: "seed000 403", status: 403, file: "../bcs/testdata/000_list_op_record_403.json",
			wantKind: cloud.KindAuth, wantCode: "BCS.4030403", wantMsg: "No permissions to request this method"},
		{name: "seed000 404", status: 404, file: "../bcs/testdata/000_list_op_record_404.json",
			wantKind: cloud.KindNotFound, wantCode: "BCS.4040404", wantMsg: "Not Found:the url is not found"},
		{name: "seed000 500", status: 500, file: "../bcs/testdata/000_list_op_record_500.json",
			wantKind: cloud.KindTransient, wantCode: "BCS.5000500", wantMsg: "Internal Server Error"},
		// Seed 001 keeps its odd spacing inside the code.
		{name: "seed001 400 spaced code", status: 400, file: "../bcs/testdata/001_list_op_record_400.json",
			wantKind: cloud.KindPermanent, wantCode: "B CS .4006005", wantMsg: "keyType error, keyType: blok not supported"},
		// Gateway bodies.
		{name: "APIGW.0301", status: 401, file: "testdata/gateway_apigw_0301_401.json",
			wantKind: cloud.KindAuth, wantCode: "APIGW.0301", wantMsg: "Incorrect IAM authentication information: verify aksk signature fail"},
		{name: "APIGW.0308 429 no Retry-After", status: 429, file: "testdata/gateway_apigw_0308_429.json",
			wantKind: cloud.KindThrottled, wantCode: "APIGW.0308", wantMsg: "The throttling threshold has been reached: policy user over ratelimit, limit:60, time:1 minute"},
		{name: "APIGW.0308 Retry-After seconds", status: 429, header: http.Header{"Retry-After": {"7"}}, file: "testdata/gateway_apigw_0308_429.json",
			wantKind: cloud.KindThrottled, wantCode: "APIGW.0308", wantMsg: "The throttling threshold has been reached: policy user over ratelimit, limit:60, time:1 minute", wantRetry: 7 * time.Second},
		{name: "APIG.0308 on 403 is throttling", status: 403, header: http.Header{"Retry-After": {now.Add(90 * time.Second).Format(http.TimeFormat)}}, file: "testdata/gateway_apig_0308_403.json",
			wantKind: cloud.KindThrottled, wantCode: "APIG.0308", wantMsg: "The throttling threshold has been reached: policy user over ratelimit, limit:10, time:1 second", wantRetry: 90 * time.Second},
		{name: "429 without body, huge Retry-After capped", status: 429, header: http.Header{"Retry-After": {"999999"}},
			wantKind: cloud.KindThrottled, wantMsg: "too many requests", wantRetry: MaxRetryAfter},
		{name: "429 without body, Retry-After beyond int64 capped", status: 429, header: http.Header{"Retry-After": {"99999999999999999999"}},
			wantKind: cloud.KindThrottled, wantMsg: "too many requests", wantRetry: MaxRetryAfter},
		{name: "429 Retry-After in the past", status: 429, header: http.Header{"Retry-After": {now.Add(-time.Minute).Format(http.TimeFormat)}},
			wantKind: cloud.KindThrottled, wantMsg: "too many requests"},
		{name: "429 Retry-After garbage", status: 429, header: http.Header{"Retry-After": {"soon"}},
			wantKind: cloud.KindThrottled, wantMsg: "too many requests"},
		// Other shapes.
		{name: "CCE errorCode shape", status: 400, file: "testdata/cce_error_code_400.json",
			wantKind: cloud.KindPermanent, wantCode: "CCE.01400001", wantMsg: "Invalid request: upgrade workflow id is invalid"},
		{name: "CCE status with numeric code", status: 404, file: "testdata/cce_status_404.json",
			wantKind: cloud.KindNotFound, wantCode: "CCE.01404001", wantMsg: "Resource not found"},
		{name: "code/message 503", status: 503, file: "testdata/code_message_503.json",
			wantKind: cloud.KindTransient, wantCode: "DWS.0047", wantMsg: "The DWS service is temporarily unavailable."},
		{name: "nested error object", status: 400, body: `{"error":{"code":"IMS.0001","message":"bad image"}}`,
			wantKind: cloud.KindPermanent, wantCode: "IMS.0001", wantMsg: "bad image"},
		{name: "HTML 502", status: 502, header: reqID, file: "testdata/html_502.html",
			wantKind: cloud.KindTransient, wantMsg: "bad gateway (response is not JSON)", wantReqID: "req-123"},
		{name: "HTML 404 stays not found", status: 404, file: "testdata/html_502.html",
			wantKind: cloud.KindNotFound, wantMsg: "not found (response is not JSON)"},
		{name: "503 empty body", status: 503,
			wantKind: cloud.KindTransient, wantMsg: "service unavailable"},
		{name: "JSON without known fields", status: 500, body: `{"foo":"bar"}`,
			wantKind: cloud.KindTransient, wantMsg: "internal server error"},
		{name: "redirect", status: 302, header: http.Header{"Location": {"https://evil.example/?sig=secret"}},
			wantKind: cloud.KindTransient, wantMsg: "unexpected redirect"},
		{name: "409 is transient", status: 409, body: `{"error_code":"X.1","error_msg":"conflict"}`,
			wantKind: cloud.KindTransient, wantCode: "X.1", wantMsg: "conflict"},
		{name: "control characters collapsed", status: 500, body: "{\"error_code\":\"A.1\",\"error_msg\":\"line1\\n\\tline2\\u0000x\"}",
			wantKind: cloud.KindTransient, wantCode: "A.1", wantMsg: "line1 line2 x"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body := []byte(tt.body)
			if tt.file != "" {
				body = readFile(t, tt.file)
			}
			e := ClassifyResponse(tt.status, tt.header, body, now)
			if e.Kind != tt.wantKind || e.Code != tt.wantCode || e.Message != tt.wantMsg ||
				e.RetryAfter != tt.wantRetry || e.RequestID != tt.wantReqID || e.HTTPStatus != tt.status {
				t.Errorf("got kind=%v code=%q msg=%q retry=%v req=%q status=%d\nwant kind=%v code=%q msg=%q retry=%v req=%q",
					e.Kind, e.Code, e.Message, e.RetryAfter, e.RequestID, e.HTTPStatus,
					tt.wantKind, tt.wantCode, tt.wantMsg, tt.wantRetry, tt.wantReqID)
			}
			if tt.wantString != "" && e.Error() != tt.wantString {
				t.Errorf("Error() = %q, want %q", e.Error(), tt.wantString)
			}
			if cloud.KindOf(e) != tt.wantKind {
				t.Errorf("KindOf = %v", cloud.KindOf(e))
			}
		})
	}
}

func TestClassifyResponseMessageBounded(t *testing.T) {
	long := strings.Repeat("é", 5000)
	e := ClassifyResponse(500, http.Header{"Authorization": {"SDK-HMAC-SHA256 Access=AK, Signature=abc"}},
		[]byte(`{"error_code":"X.1","error_msg":"`+long+`"}`), time.Now())
	if n := utf8.RuneCountInString(e.Message); n != MaxErrorMessageRunes {
		t.Errorf("message has %d runes, want %d", n, MaxErrorMessageRunes)
	}
	if !strings.HasSuffix(e.Message, "…") {
		t.Errorf("truncated message should end with an ellipsis")
	}
	if strings.Contains(e.Error(), "Signature") || strings.Contains(e.Error(), "Access=") {
		t.Errorf("header value leaked into %q", e.Error())
	}
	bad := ClassifyResponse(400, nil, []byte("{\"error_msg\":\"\xff\xfe ok\"}"), time.Now())
	if !utf8.ValidString(bad.Message) {
		t.Errorf("message is not valid UTF-8: %q", bad.Message)
	}
}

type timeoutErr struct{}

func (timeoutErr) Error() string   { return "i/o timeout" }
func (timeoutErr) Timeout() bool   { return true }
func (timeoutErr) Temporary() bool { return true }

func TestClassifyTransport(t *testing.T) {
	secretURL := "https://cce.cn-north-4.myhuaweicloud.com/v2/x/operation/record?operation_id=abc&token=secret"
	wrap := func(err error) error { return &url.Error{Op: "Get", URL: secretURL, Err: err} }
	tests := []struct {
		name string
		err  error
		want string
	}{
		{"context deadline", wrap(context.DeadlineExceeded), "request timed out"},
		{"net timeout", wrap(&net.OpError{Op: "read", Net: "tcp", Err: timeoutErr{}}), "request timed out"},
		{"cancelled", wrap(context.Canceled), "request cancelled"},
		{"reset", wrap(&net.OpError{Op: "read", Net: "tcp", Err: os.NewSyscallError("read", syscall.ECONNRESET)}), "connection reset"},
		{"refused", wrap(&net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}), "connection refused"},
		{"eof", wrap(io.EOF), "connection closed unexpectedly"},
		{"unexpected eof", io.ErrUnexpectedEOF, "connection closed unexpectedly"},
		{"dns", wrap(&net.DNSError{Err: "no such host", Name: "x", IsNotFound: true}), "host not found"},
		{"unknown CA", wrap(x509.UnknownAuthorityError{}), "TLS certificate verification failed"},
		{"hostname", wrap(x509.HostnameError{Certificate: &x509.Certificate{}, Host: "x"}), "TLS certificate verification failed"},
		{"tls text", wrap(errors.New("remote error: tls: handshake failure")), "TLS handshake failed"},
		{"other", wrap(errors.New("boom")), "request failed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := ClassifyTransport(tt.err)
			if e.Kind != cloud.KindTransient || e.Message != tt.want {
				t.Fatalf("got %v %q, want Transient %q", e.Kind, e.Message, tt.want)
			}
			if strings.Contains(e.Error(), "secret") || strings.Contains(e.Error(), "http") {
				t.Errorf("message leaks the URL: %q", e.Error())
			}
			var ue *url.Error
			if errors.As(e, &ue) {
				t.Errorf("the url.Error (with its URL) is still in the chain")
			}
		})
	}
	if ClassifyTransport(nil) != nil {
		t.Error("nil error should give nil")
	}
	orig := &cloud.Error{Kind: cloud.KindAuth, Message: "x"}
	if got := ClassifyTransport(fmt.Errorf("wrapped: %w", orig)); got != orig {
		t.Errorf("an *Error should pass through, got %v", got)
	}
}

func FuzzClassifyResponse(f *testing.F) {
	for _, p := range []string{
		"../bcs/testdata/000_list_op_record_400.json", "../bcs/testdata/001_list_op_record_400.json",
		"testdata/gateway_apigw_0308_429.json", "testdata/cce_status_404.json", "testdata/html_502.html",
	} {
		f.Add(429, "120", readFile(f, p))
	}
	f.Add(500, "Wed, 21 Oct 2015 07:28:00 GMT", []byte(`{"error":{"code":1,"message":[1]}}`))
	f.Fuzz(func(t *testing.T, status int, retryAfter string, body []byte) {
		e := ClassifyResponse(status, http.Header{"Retry-After": {retryAfter}}, body, time.Now())
		if e == nil {
			t.Fatal("nil error")
		}
		if utf8.RuneCountInString(e.Message) > MaxErrorMessageRunes || !utf8.ValidString(e.Message) {
			t.Fatalf("bad message %q", e.Message)
		}
		if e.RetryAfter < 0 || e.RetryAfter > MaxRetryAfter {
			t.Fatalf("bad RetryAfter %v", e.RetryAfter)
		}
		_ = e.Error()
	})
}
