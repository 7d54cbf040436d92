package manager

import (
	"context"
	"math"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"k8s.io/client-go/rest"

	"github.com/cloudop/cloudop/internal/cloud"
	"github.com/cloudop/cloudop/internal/cloud/identity"
	"github.com/cloudop/cloudop/internal/controller"
)

// TestNewRouterServices: every supported service has an adapter, and the
// job services each reach their own host (here the --service-endpoint
// override, named in any case) with their job query: the classic ones
// /v1/{project}/jobs/{job}, the database ones /v3/{project}/jobs?id={job}.
func TestNewRouterServices(t *testing.T) {
	var host, uri string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		host, uri = r.Host, r.URL.RequestURI()
		if strings.HasPrefix(r.URL.Path, "/v3/") {
			w.Write([]byte(`{"job":{"id":"j1","status":"Running"},"jobs":[{"id":"j1","status":"Running"}]}`))
			return
		}
		w.Write([]byte(`{"status":"RUNNING","job_id":"j1"}`))
	}))
	defer srv.Close()
	jobServices := map[cloud.Service]string{
		cloud.ServiceECS: "/v1/p1/jobs/j1", cloud.ServiceEVS: "/v1/p1/jobs/j1", cloud.ServiceIMS: "/v1/p1/jobs/j1",
		cloud.ServiceBMS: "/v1/p1/jobs/j1", cloud.ServiceVPC: "/v1/p1/jobs/j1",
		cloud.ServiceRDS: "/v3/p1/jobs?id=j1", cloud.ServiceGaussDB: "/v3/p1/jobs?id=j1", cloud.ServiceDDS: "/v3/p1/jobs?id=j1",
		cloud.ServiceGaussDBforOpenGauss: "/v3/p1/jobs?id=j1", cloud.ServiceGaussDBforNoSQL: "/v3/p1/jobs?id=j1",
	}
	var overrides []string
	for s := range jobServices {
		overrides = append(overrides, strings.ToLower(string(s))+"="+srv.URL)
	}
	r, err := NewRouter(Options{RequestTimeout: 5 * time.Second, ServiceEndpoints: overrides})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range cloud.Services {
		if r.Services[s] == nil {
			t.Errorf("no adapter for %s", s)
		}
	}
	for s, want := range jobServices {
		host, uri = "", ""
		op, err := r.Observe(context.Background(), cloud.Target{Service: s, Region: "cn-north-4", ProjectID: "p1", OperationID: "j1",
			Credentials: cloud.Credentials{AccessKey: "AK", SecretKey: "SK"}}, "")
		if err != nil || op.Phase != cloud.PhaseRunning {
			t.Errorf("%s: %v, %v", s, op, err)
		}
		if host != srv.Listener.Addr().String() || uri != want {
			t.Errorf("%s: sent to %s%s, want %s", s, host, uri, want)
		}
	}
}

// TestNewRouterRFS: an RFS deployment is read from the RFS host (here the
// override) as the stack's metadata, then the deployment's events.
func TestNewRouterRFS(t *testing.T) {
	var uris []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		uris = append(uris, r.URL.RequestURI())
		if strings.HasSuffix(r.URL.Path, "/metadata") {
			w.Write([]byte(`{"status":"DEPLOYMENT_IN_PROGRESS"}`))
			return
		}
		w.Write([]byte(`{"stack_events":[{"resource_type":"t","resource_name":"a","event_type":"CREATION_IN_PROGRESS"}]}`))
	}))
	defer srv.Close()
	r, err := NewRouter(Options{RequestTimeout: 5 * time.Second, ServiceEndpoints: []string{"rfs=" + srv.URL}})
	if err != nil {
		t.Fatal(err)
	}
	op, err := r.Observe(context.Background(), cloud.Target{Service: cloud.ServiceRFS, Region: "cn-north-4", ProjectID: "p1",
		StackName: "s1", OperationID: "d1", Credentials: cloud.Credentials{AccessKey: "AK", SecretKey: "SK"}}, "")
	if err != nil || op.Phase != cloud.PhaseRunning {
		t.Errorf("%v, %v", op, err)
	}
	if want := []string{"/v1/p1/stacks/s1/metadata", "/v1/p1/stacks/s1/events?deployment_id=d1"}; strings.Join(uris, " ") != strings.Join(want, " ") {
		t.Errorf("sent %v, want %v", uris, want)
	}
}

// TestSplitIAMEndpoint: IAM=URL leaves the service overrides and becomes
// the exchange's endpoint; a bad URL is an error naming the flag value.
func TestSplitIAMEndpoint(t *testing.T) {
	for _, tc := range []struct {
		in       []string
		rest     []string
		iam      string
		wantsErr bool
	}{
		{in: nil},
		{in: []string{"CCE=http://a:1"}, rest: []string{"CCE=http://a:1"}},
		{in: []string{"CCE=http://a:1", "iam=http://127.0.0.1:9443/"}, rest: []string{"CCE=http://a:1"}, iam: "http://127.0.0.1:9443"},
		{in: []string{"IAM=ftp://x"}, wantsErr: true},
	} {
		rest, iam, err := splitIAMEndpoint(tc.in)
		if tc.wantsErr != (err != nil) || !slices.Equal(rest, tc.rest) || iam != tc.iam {
			t.Errorf("%v: got %v %q %v, want %v %q (error %v)", tc.in, rest, iam, err, tc.rest, tc.iam, tc.wantsErr)
		}
	}
}

// TestParseServiceAccount: --manager-identity takes NAMESPACE/NAME and
// names what is wrong otherwise.
func TestParseServiceAccount(t *testing.T) {
	for _, tc := range []struct {
		in, want, err string
	}{
		{in: "cloudop-system/cloudop-manager", want: "cloudop-system/cloudop-manager"},
		{in: "cloudop-manager", err: "want NAMESPACE/NAME"},
		{in: "Cloudop/x", err: "namespace"},
		{in: "ns/", err: "name"},
		{in: "ns/a/b", err: "name"},
	} {
		got, err := parseServiceAccount(tc.in)
		switch {
		case tc.err == "" && (err != nil || got.String() != tc.want):
			t.Errorf("parseServiceAccount(%q) = %v, %v; want %s", tc.in, got, err, tc.want)
		case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
			t.Errorf("parseServiceAccount(%q) error = %v, want one mentioning %q", tc.in, err, tc.err)
		}
	}
}

// TestNewRejectsBadStepEvents: an unknown --step-events value stops the
// manager before it starts, naming the value.
func TestNewRejectsBadStepEvents(t *testing.T) {
	_, err := New(&rest.Config{Host: "https://127.0.0.1:1"}, Options{StepEvents: "some"})
	if err == nil || !strings.Contains(err.Error(), `step events "some"`) {
		t.Errorf("error %v, want one naming the bad value", err)
	}
}

// TestNewRejectsBadStepPaceFactor: a negative or NaN --step-pace-factor
// stops the manager before it starts, naming the flag.
func TestNewRejectsBadStepPaceFactor(t *testing.T) {
	for _, f := range []float64{-0.5, math.NaN()} {
		policy := controller.DefaultPollPolicy()
		policy.StepPaceFactor = f
		_, err := New(&rest.Config{Host: "https://127.0.0.1:1"}, Options{Policy: &policy})
		if err == nil || !strings.Contains(err.Error(), "step pace factor") {
			t.Errorf("factor %v: error %v, want one naming the step pace factor", f, err)
		}
	}
}

// TestNewChecksIdentityCredentialDuration: IAM issues temporary
// credentials for 15 min to 24 h in whole seconds; anything else stops the
// manager at start instead of failing every exchange as IdentityRejected.
func TestNewChecksIdentityCredentialDuration(t *testing.T) {
	for _, tc := range []struct {
		d  time.Duration
		ok bool
	}{
		{14*time.Minute + 59*time.Second, false},
		{15 * time.Minute, true},
		{6 * time.Hour, true},
		{24 * time.Hour, true},
		{24*time.Hour + time.Second, false},
		{time.Hour + 500*time.Millisecond, false},
		{-time.Hour, false},
	} {
		err := identity.CheckCredentialDuration(tc.d)
		if (err == nil) != tc.ok {
			t.Errorf("CheckCredentialDuration(%v) = %v, want ok %v", tc.d, err, tc.ok)
		}
		if tc.ok {
			continue
		}
		_, err = New(&rest.Config{Host: "https://127.0.0.1:1"}, Options{IdentityCredentialDuration: tc.d})
		if err == nil || !strings.Contains(err.Error(), "identity credential duration") {
			t.Errorf("New with duration %v: error %v, want one naming the duration", tc.d, err)
		}
	}
}

// TestLeaderTimings: the defaults, and every timing the tests and the
// chart use, leave no window in which two leaders run; timings that do
// stop the manager before it starts, saying why.
func TestLeaderTimings(t *testing.T) {
	for _, tc := range []struct {
		name               string
		lease, renew, retr time.Duration
		ok                 bool
	}{
		{"defaults", DefaultLeaseDuration, DefaultRenewDeadline, DefaultRetryPeriod, true},
		{"controller-runtime's defaults: 15s < 2s + 10s + 5s", 15 * time.Second, 10 * time.Second, 2 * time.Second, false},
		{"resilience tests", 6 * time.Second, 3 * time.Second, time.Second, true},
		{"resilience tests before: 6s < 1s + 4s + 2s", 6 * time.Second, 4 * time.Second, time.Second, false},
		{"partition test", 8 * time.Second, 4 * time.Second, time.Second, true},
		{"an API outage outlasted", 50 * time.Second, 30 * time.Second, 2 * time.Second, true},
		{"release at least 1s: 3s = 1s + 1s + 1s", 3 * time.Second, time.Second, time.Second, false},
	} {
		err := CheckLeaderTimings(tc.lease, tc.renew, tc.retr)
		if (err == nil) != tc.ok {
			t.Errorf("%s: %v", tc.name, err)
		}
	}
	lease, renew, retry := leaderTimings(Options{})
	if lease != 15*time.Second || renew != 8*time.Second || retry != 2*time.Second {
		t.Errorf("zero options: %v/%v/%v", lease, renew, retry)
	}
	_, err := New(&rest.Config{Host: "https://127.0.0.1:1"}, Options{LeaderElect: true, LeaderElectionNamespace: "x", RenewDeadline: 10 * time.Second})
	if err == nil || !strings.Contains(err.Error(), "two leaders overlap") {
		t.Errorf("New with a 10s renew deadline and the 15s lease: %v", err)
	}
}
