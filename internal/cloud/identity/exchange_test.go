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
		_, _ = w.Write([]byte(`{"error_code":"IAM.0302","error_msg":"No mapping rule matches"}`))
	case pathSecurityTokens:
		_ = json.Unmarshal(body, &f.gotCredBody)
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
		{name: "throttled", iam: fakeIAM{tokenStatus: 429, header: http.Header{"Retry-After": {"7"}}}, wantKind: KindUnavailable, wantErr: "throttled", retryAfter: 7 * time.Second},
		{name: "down", iam: fakeIAM{tokenStatus: 503}, wantKind: KindUnavailable, wantErr: "HTTP 503"},
		{name: "no subject token", iam: fakeIAM{tokenStatus: 201}, wantKind: KindUnavailable, wantErr: "X-Subject-Token"},
		{name: "credential refused", iam: fakeIAM{tokenStatus: 201, subjectToken: "iam-token", credStatus: 401, credBody: `{"error_code":"IAM.0301","error_msg":"token expired"}`}, wantKind: KindRejected, wantErr: "IAM.0301"},
		{name: "incomplete credential", iam: fakeIAM{tokenStatus: 201, subjectToken: "iam-token", credStatus: 201, credBody: `{"credential":{"access":"TMPAK","expires_at":"2026-11-30T07:00:00Z"}}`}, wantKind: KindUnavailable, wantErr: "incomplete"},
		{name: "bad expiry", iam: fakeIAM{tokenStatus: 201, subjectToken: "iam-token", credStatus: 201, credBody: `{"credential":{"access":"A","secret":"S","securitytoken":"T","expires_at":"tomorrow"}}`}, wantKind: KindUnavailable, wantErr: "incomplete"},
		{name: "not JSON", iam: fakeIAM{tokenStatus: 201, subjectToken: "iam-token", credStatus: 201, credBody: `<html>`}, wantKind: KindUnavailable, wantErr: "unreadable"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			iam := tc.iam
			srv := httptest.NewServer(&iam)
			defer srv.Close()
			x := &Exchanger{Endpoint: srv.URL}
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
				if m := ident["methods"].([]any); len(m) != 1 || m[0] != "token" || tok["id"] != "iam-token" || tok["duration_seconds"] != float64(21600) {
					t.Errorf("securitytokens body %v", iam.gotCredBody)
				}
				return
			}
			var e *Error
			if !errors.As(err, &e) || e.Kind != tc.wantKind || !strings.Contains(e.Error(), tc.wantErr) || e.RetryAfter != tc.retryAfter {
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
