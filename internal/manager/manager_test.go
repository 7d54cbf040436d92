package manager

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/cloudop/cloudop/internal/cloud"
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
