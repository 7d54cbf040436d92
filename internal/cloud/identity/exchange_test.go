package identity

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/cloudop/cloudop/internal/cloud/transport"
)

const testIDToken = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ0ZWFtLWEifQ.c2lnbmF0dXJl"

// fakeIAM answers the two calls as scripted and records what it got.
type fakeIAM struct {
	tokenStatus, credStatus int
	subjectToken            string
	credBody                string
	header                  http.Header
	gotIdp                  string
	gotTokenBody            map[string]any
	gotCredBody             map[string]any
	gotAuthToken            string
	// tokenBody, when set, replaces the token call's error body.
	tokenBody string
}

func (f *fakeIAM) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	for k, vs := range f.header {
		w.Header()[k] = vs
	}
	switch r.URL.Path {
	case pathIDTokenTokens:
		f.gotIdp = r.Header.Get(headerIdpID)
		_ = json.Unmarshal(body, &f.gotTokenBody)
		if f.subjectToken != "" {
			w.Header().Set(headerSubjectToken, f.subjectToken)
		}
		w.WriteHeader(f.tokenStatus)
		answer := `{"error_code":"IAM.0302","error_msg":"No mapping rule matches"}`
		if f.tokenBody != "" {
			answer = f.tokenBody
		}
		_, _ = w.Write([]byte(answer))
	case pathSecurityTokens:
		_ = json.Unmarshal(body, &f.gotCredBody)
		f.gotAuthToken = r.Header.Get(headerAuthToken)
		w.WriteHeader(f.credStatus)
		_, _ = w.Write([]byte(f.credBody))
	default:
		w.WriteHeader(http.StatusNotFound)
	}
}

func TestExchange(t *testing.T) {
	good := `{"credential":{"access":"TMPAK","secret":"tmp-secret","securitytoken":"tmp-token","expires_at":"2026-11-30T07:00:00.000000Z"}}`
	cases := []struct {
		name       string
		iam        fakeIAM
		wantKind   ErrorKind
		wantErr    string
		retryAfter time.Duration
	}{
		{name: "ok", iam: fakeIAM{tokenStatus: 201, credStatus: 201, subjectToken: "iam-token", credBody: good}},
		{name: "no mapping", iam: fakeIAM{tokenStatus: 403}, wantKind: KindRejected, wantErr: "IAM.0302"},
		{name: "unknown idp", iam: fakeIAM{tokenStatus: 404}, wantKind: KindRejected, wantErr: "HTTP 404"},
		{name: "token refused", iam: fakeIAM{tokenStatus: 401}, wantKind: KindRejected, wantErr: "HTTP 401"},
		// IAM's Keystone-style API nests its errors.
		{name: "nested error body", iam: fakeIAM{tokenStatus: 403, tokenBody: `{"error":{"code":"IAM.0302","message":"No mapping rule matches","title":"Forbidden"}}`}, wantKind: KindRejected, wantErr: "IAM.0302: No mapping rule matches"},
		{name: "nested error, no code", iam: fakeIAM{tokenStatus: 400, tokenBody: `{"error":{"message":"duration_seconds out of range"}}`}, wantKind: KindRejected, wantErr: "duration_seconds out of range"},
		{name: "throttled", iam: fakeIAM{tokenStatus: 429, header: http.Header{"Retry-After": {"7"}}}, wantKind: KindUnavailable, wantErr: "throttled", retryAfter: 7 * time.Second},
		// One Retry-After parser for IAM and the services: dates read,
		// absurd values capped instead of overflowing.
		{name: "throttled until a date", iam: fakeIAM{tokenStatus: 429, header: http.Header{"Retry-After": {"Thu, 30 Nov 2026 10:00:30 GMT"}}}, wantKind: KindUnavailable, wantErr: "throttled", retryAfter: 30 * time.Second},
		{name: "throttled for ever", iam: fakeIAM{tokenStatus: 429, header: http.Header{"Retry-After": {"99999999999999999999"}}}, wantKind: KindUnavailable, wantErr: "throttled", retryAfter: time.Hour},
		{name: "down", iam: fakeIAM{tokenStatus: 503}, wantKind: KindUnavailable, wantErr: "HTTP 503"},
		{name: "no subject token", iam: fakeIAM{tokenStatus: 201}, wantKind: KindUnavailable, wantErr: "X-Subject-Token"},
		{name: "credential refused", iam: fakeIAM{tokenStatus: 201, subjectToken: "iam-token", credStatus: 401, credBody: `{"error_code":"IAM.0301","error_msg":"token expired"}`}, wantKind: KindRejected, wantErr: "IAM.0301"},
		{name: "incomplete credential", iam: fakeIAM{tokenStatus: 201, subjectToken: "iam-token", credStatus: 201, credBody: `{"credential":{"access":"TMPAK","expires_at":"2026-11-30T07:00:00Z"}}`}, wantKind: KindUnavailable, wantErr: "incomplete"},
		{name: "bad expiry", iam: fakeIAM{tokenStatus: 201, subjectToken: "iam-token", credStatus: 201, credBody: `{"credential":{"access":"A","secret":"S","securitytoken":"T","expires_at":"tomorrow"}}`}, wantKind: KindUnavailable, wantErr: "incomplete"},
		{name: "line break in the access key", iam: fakeIAM{tokenStatus: 201, subjectToken: "iam-token", credStatus: 201, credBody: `{"credential":{"access":"A\r\nB","secret":"S","securitytoken":"T","expires_at":"2026-11-30T07:00:00Z"}}`}, wantKind: KindUnavailable, wantErr: "malformed"},
		{name: "not JSON", iam: fakeIAM{tokenStatus: 201, subjectToken: "iam-token", credStatus: 201, credBody: `<html>`}, wantKind: KindUnavailable, wantErr: "unreadable"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			iam := tc.iam
			srv := httptest.NewServer(&iam)
			defer srv.Close()
			x := &Exchanger{Endpoint: srv.URL, Now: func() time.Time { return time.Date(2026, 11, 30, 10, 0, 0, 0, time.UTC) }}
			c, exp, err := x.Exchange(context.Background(), "cn-north-4", "idp-1", testIDToken, 6*time.Hour)
			if tc.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				if c.AccessKey != "TMPAK" || c.SecretKey != "tmp-secret" || c.SecurityToken != "tmp-token" || !exp.Equal(time.Date(2026, 11, 30, 7, 0, 0, 0, time.UTC)) {
					t.Fatalf("got %+v %v", c, exp)
				}
				// The SDK's request shapes.
				if iam.gotIdp != "idp-1" {
					t.Errorf("X-Idp-Id %q", iam.gotIdp)
				}
				if id, _ := iam.gotTokenBody["auth"].(map[string]any)["id_token"].(map[string]any)["id"].(string); id != testIDToken {
					t.Errorf("id_token body %v", iam.gotTokenBody)
				}
				ident := iam.gotCredBody["auth"].(map[string]any)["identity"].(map[string]any)
				tok := ident["token"].(map[string]any)
				if m := ident["methods"].([]any); len(m) != 1 || m[0] != "token" || tok["duration_seconds"] != float64(21600) {
					t.Errorf("securitytokens body %v", iam.gotCredBody)
				}
				// The IAM token goes in X-Auth-Token, never in the body
				// (token.id is deprecated).
				if iam.gotAuthToken != "iam-token" || tok["id"] != nil {
					t.Errorf("X-Auth-Token %q, body token %v", iam.gotAuthToken, tok)
				}
				return
			}
			var e *Error
			if !errors.As(err, &e) || e.Kind != tc.wantKind || !strings.Contains(e.Error(), tc.wantErr) || e.RetryAfter() != tc.retryAfter {
				t.Fatalf("got %#v, want kind %d saying %q (retry after %s)", err, tc.wantKind, tc.wantErr, tc.retryAfter)
			}
			for _, secret := range []string{testIDToken, "iam-token", "tmp-secret", "tmp-token"} {
				if strings.Contains(e.Error(), secret) {
					t.Errorf("error %q leaks a secret", e.Error())
				}
			}
		})
	}
}

func TestExchangeUnreachableAndDefaultEndpoint(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close()
	_, _, err := (&Exchanger{Endpoint: url}).Exchange(context.Background(), "cn-north-4", "idp", testIDToken, time.Hour)
	if k, ok := KindOf(err); !ok || k != KindUnavailable || strings.Contains(err.Error(), url) {
		t.Fatalf("unreachable IAM: %v", err)
	}
	_, _, err = (&Exchanger{}).Exchange(context.Background(), "not a region", "idp", testIDToken, time.Hour)
	if k, ok := KindOf(err); !ok || k != KindInvalid {
		t.Fatalf("bad region: %v", err)
	}
}

// TestExchangeAsksForDurationsIAMAccepts: the duration sent is within
// IAM's 900 to 86,400 seconds whatever the caller asks.
func TestExchangeAsksForDurationsIAMAccepts(t *testing.T) {
	good := `{"credential":{"access":"TMPAK","secret":"tmp-secret","securitytoken":"tmp-token","expires_at":"2026-11-30T07:00:00Z"}}`
	for _, tc := range []struct {
		ask  time.Duration
		want float64
	}{{time.Minute, 900}, {6 * time.Hour, 21600}, {48 * time.Hour, 86400}} {
		iam := fakeIAM{tokenStatus: 201, credStatus: 201, subjectToken: "iam-token", credBody: good}
		srv := httptest.NewServer(&iam)
		if _, _, err := (&Exchanger{Endpoint: srv.URL}).Exchange(context.Background(), "cn-north-4", "idp", testIDToken, tc.ask); err != nil {
			t.Fatal(err)
		}
		srv.Close()
		got := iam.gotCredBody["auth"].(map[string]any)["identity"].(map[string]any)["token"].(map[string]any)["duration_seconds"]
		if got != tc.want {
			t.Errorf("asked %v: sent duration_seconds %v, want %v", tc.ask, got, tc.want)
		}
	}
}

// FuzzParseTemporaryCredentials: any answer is either refused with a
// message that quotes nothing from it, or gives credentials that can be
// sent as headers.
func FuzzParseTemporaryCredentials(f *testing.F) {
	f.Add([]byte(`{"credential":{"access":"TMPAK","secret":"tmp-secret","securitytoken":"tmp-token","expires_at":"2026-11-30T07:00:00.000000Z"}}`))
	f.Add([]byte(`{"credential":{"access":"A\r\nB","secret":"S","securitytoken":"T","expires_at":"2026-11-30T07:00:00Z"}}`))
	f.Add([]byte(`{"credential":null}`))
	f.Add([]byte(`<html>`))
	f.Fuzz(func(t *testing.T, answer []byte) {
		c, exp, err := ParseTemporaryCredentials(answer)
		if err != nil {
			if k, ok := KindOf(err); !ok || k != KindUnavailable {
				t.Fatalf("error %v is not KindUnavailable", err)
			}
			if strings.ContainsAny(err.Error(), "{}\"") {
				t.Fatalf("error %q quotes the answer", err.Error())
			}
			return
		}
		if c.Check() != nil || c.SecurityToken == "" || exp.IsZero() {
			t.Fatalf("accepted unusable credentials %v expiring %v", c, exp)
		}
	})
}

// FuzzIAMError: every failed answer, whatever its status, body and
// Retry-After, is classified with a bounded, valid UTF-8 message and a
// wait of at most an hour.
func FuzzIAMError(f *testing.F) {
	f.Add(403, []byte(`{"error":{"code":"IAM.0302","message":"No mapping rule matches","title":"Forbidden"}}`), "")
	f.Add(429, []byte(`{"error_code":"IAM.0008","error_msg":"too many requests"}`), "99999999999999999999")
	f.Add(500, []byte(`<html>`), "Thu, 30 Nov 2026 10:00:30 GMT")
	f.Fuzz(func(t *testing.T, status int, body []byte, retryAfter string) {
		if status < 100 || status > 999 || status/100 == 2 {
			return
		}
		e := statusError("CreateTokenWithIdToken", transport.ClassifyResponse(status, http.Header{"Retry-After": {retryAfter}}, body, time.Now()))
		if !utf8.ValidString(e.Msg) || utf8.RuneCountInString(e.Msg) > 400 {
			t.Fatalf("message %q", e.Msg)
		}
		if e.RetryAfter() < 0 || e.RetryAfter() > transport.MaxRetryAfter {
			t.Fatalf("retry after %v", e.RetryAfter())
		}
		if e.Kind == KindRejected && status/100 == 5 {
			t.Fatalf("a %d is no rejection", status)
		}
	})
}
