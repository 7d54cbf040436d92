package transport

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cloudop/cloudop/internal/cloud"
)

var fixedNow = time.Date(2024, 3, 5, 6, 7, 8, 0, time.UTC)

func testTarget(base string) cloud.Target {
	return cloud.Target{
		Service: cloud.ServiceBCS, Region: "cn-north-4", ProjectID: "proj1", OperationID: "op1", BaseURL: base,
		Credentials: cloud.Credentials{AccessKey: "AK", SecretKey: "SK"},
	}
}

func TestHTTPClientGet(t *testing.T) {
	var got *http.Request
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = r.Clone(context.Background())
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"ok":true}`)
	}))
	defer srv.Close()

	c := &HTTPClient{Now: func() time.Time { return fixedNow }}
	q := url.Values{"operation_id": {" BCS SVC01-99"}, "blockchain_id": {"b1"}}
	body, err := c.Get(context.Background(), testTarget(srv.URL), "/v2/proj1/operation/record", q, http.Header{"X-Language": {"en-us"}})
	if err != nil {
		t.Fatal(err)
	}
	if string(body) != `{"ok":true}` {
		t.Errorf("body = %q", body)
	}
	if got.URL.Path != "/v2/proj1/operation/record" {
		t.Errorf("path = %q", got.URL.Path)
	}
	if got.URL.RawQuery != "blockchain_id=b1&operation_id=%20BCS%20SVC01-99" {
		t.Errorf("raw query = %q (spaces must be %%20, keys sorted)", got.URL.RawQuery)
	}
	if got.URL.Query().Get("operation_id") != " BCS SVC01-99" {
		t.Errorf("operation_id decoded as %q", got.URL.Query().Get("operation_id"))
	}
	for k, want := range map[string]string{
		"Accept": "application/json", "X-Project-Id": "proj1", "X-Sdk-Date": "20240305T060708Z",
		"X-Language": "en-us", "User-Agent": DefaultUserAgent,
	} {
		if v := got.Header.Get(k); v != want {
			t.Errorf("header %s = %q, want %q", k, v, want)
		}
	}
	auth := got.Header.Get("Authorization")
	if !strings.HasPrefix(auth, "SDK-HMAC-SHA256 Access=AK, SignedHeaders=accept;host;user-agent;x-language;x-project-id;x-sdk-date, Signature=") {
		t.Errorf("Authorization = %q", auth)
	}
	// The server can verify the signature from what it received.
	hdr := map[string]string{}
	for _, n := range []string{"Accept", "User-Agent", "X-Language", "X-Project-Id", "X-Sdk-Date"} {
		hdr[n] = got.Header.Get(n)
	}
	hdr["Host"] = got.Host
	canonical, signed := refCanonicalRequest("GET", got.URL.Path, got.URL.Query(), hdr, nil)
	if want := refSign("AK", "SK", "20240305T060708Z", canonical, signed); auth != want {
		t.Errorf("server-side verification failed\n got: %s\nwant: %s", auth, want)
	}
}

// TestHTTPClientProjectHeader: X-Project-Id carries the target's project
// and is left out when there is none (the client never defaults it).
func TestHTTPClientProjectHeader(t *testing.T) {
	var project string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		project = r.Header.Get("X-Project-Id")
		io.WriteString(w, `{}`)
	}))
	defer srv.Close()
	tg := testTarget(srv.URL)
	tg.ProjectID = "other"
	if _, err := (&HTTPClient{}).Get(context.Background(), tg, "/x", nil, nil); err != nil {
		t.Fatal(err)
	}
	if project != "other" {
		t.Errorf("X-Project-Id = %q", project)
	}
	tg.ProjectID = ""
	if _, err := (&HTTPClient{}).Get(context.Background(), tg, "/x", nil, nil); err != nil {
		t.Fatal(err)
	}
	if project != "" {
		t.Errorf("X-Project-Id sent without a project: %q", project)
	}
}

func TestHTTPClientErrors(t *testing.T) {
	var redirected atomic.Bool
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		redirected.Store(true)
		io.WriteString(w, `{}`)
	}))
	defer other.Close()

	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/throttled":
			w.Header().Set("X-Request-Id", "rid-1")
			w.Header().Set("Retry-After", "3")
			w.WriteHeader(429)
			io.WriteString(w, `{"error_code":"APIGW.0308","error_msg":"The throttling threshold has been reached"}`)
		case "/notfound":
			w.WriteHeader(404)
			io.WriteString(w, `{"error_code":"BCS.4040404","error_msg":"Not Found:the url is not found"}`)
		case "/huge":
			io.WriteString(w, strings.Repeat("x", 2048))
		case "/huge-error":
			w.WriteHeader(500)
			io.WriteString(w, strings.Repeat("x", 2048))
		case "/redirect":
			http.Redirect(w, r, other.URL+"/elsewhere?x=1", http.StatusFound)
		case "/slow":
			select {
			case <-r.Context().Done():
			case <-time.After(5 * time.Second):
			}
		case "/html":
			w.WriteHeader(502)
			io.WriteString(w, "<html><body>Bad Gateway</body></html>")
		}
	}))
	defer srv.Close()

	c := &HTTPClient{MaxBodyBytes: 1024, Timeout: 200 * time.Millisecond, Now: func() time.Time { return fixedNow }}
	tests := []struct {
		path     string
		wantKind cloud.ErrorKind
		wantMsg  string
		check    func(t *testing.T, e *cloud.Error)
	}{
		{"/throttled", cloud.KindThrottled, "The throttling threshold has been reached", func(t *testing.T, e *cloud.Error) {
			if e.RetryAfter != 3*time.Second || e.RequestID != "rid-1" || e.Code != "APIGW.0308" || e.HTTPStatus != 429 {
				t.Errorf("got %+v", e)
			}
		}},
		{"/notfound", cloud.KindNotFound, "Not Found:the url is not found", nil},
		{"/huge", cloud.KindTransient, "response too large", nil},
		{"/huge-error", cloud.KindTransient, "internal server error (response is not JSON)", nil},
		{"/redirect", cloud.KindTransient, "unexpected redirect", func(t *testing.T, e *cloud.Error) {
			if redirected.Load() {
				t.Errorf("redirect was followed")
			}
			if e.HTTPStatus != http.StatusFound {
				t.Errorf("status %d", e.HTTPStatus)
			}
		}},
		{"/slow", cloud.KindTransient, "request timed out", nil},
		{"/html", cloud.KindTransient, "bad gateway (response is not JSON)", nil},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			_, err := c.Get(context.Background(), testTarget(srv.URL), tt.path, url.Values{"q": {"secret-ish"}}, nil)
			e, ok := err.(*cloud.Error)
			if !ok {
				t.Fatalf("got %T %v, want *Error", err, err)
			}
			if e.Kind != tt.wantKind || e.Message != tt.wantMsg {
				t.Errorf("got %v %q, want %v %q", e.Kind, e.Message, tt.wantKind, tt.wantMsg)
			}
			if strings.Contains(e.Error(), "secret-ish") || strings.Contains(e.Error(), "127.0.0.1") {
				t.Errorf("error leaks the URL: %q", e.Error())
			}
			if tt.check != nil {
				tt.check(t, e)
			}
		})
	}
}

func TestHTTPClientCallerClientDoesNotFollowRedirects(t *testing.T) {
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/a" {
			http.Redirect(w, r, "/b", http.StatusMovedPermanently)
			return
		}
		hits.Add(1)
	}))
	defer srv.Close()
	c := &HTTPClient{Client: &http.Client{}} // default CheckRedirect would follow
	_, err := c.Get(context.Background(), testTarget(srv.URL), "/a", nil, nil)
	if cloud.KindOf(err) != cloud.KindTransient || hits.Load() != 0 {
		t.Errorf("err=%v hits=%d", err, hits.Load())
	}
}

func TestHTTPClientRejectsBadTargets(t *testing.T) {
	c := &HTTPClient{}
	tests := []struct {
		name string
		t    cloud.Target
		want cloud.ErrorKind
	}{
		{"no base URL", cloud.Target{Credentials: cloud.Credentials{AccessKey: "a", SecretKey: "b"}}, cloud.KindPermanent},
		{"base URL with path", cloud.Target{BaseURL: "https://x.myhuaweicloud.com/p", Credentials: cloud.Credentials{AccessKey: "a", SecretKey: "b"}}, cloud.KindPermanent},
		{"no credentials", cloud.Target{BaseURL: "https://127.0.0.1:1"}, cloud.KindAuth},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := c.Get(context.Background(), tt.t, "/x", nil, nil)
			if cloud.KindOf(err) != tt.want {
				t.Errorf("got %v, want %v", err, tt.want)
			}
		})
	}
}
