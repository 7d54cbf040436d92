package manager

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/cloudop/cloudop/internal/cloud"
)

// TestNewRouterServices: every supported service has an adapter, and the
// classic job services each reach their own host (here the
// --service-endpoint override) at /v1/{project}/jobs/{job}.
func TestNewRouterServices(t *testing.T) {
	var host, path string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		host, path = r.Host, r.URL.Path
		w.Write([]byte(`{"status":"RUNNING","job_id":"j1"}`))
	}))
	defer srv.Close()
	jobServices := []cloud.Service{cloud.ServiceECS, cloud.ServiceEVS, cloud.ServiceIMS, cloud.ServiceBMS, cloud.ServiceVPC}
	var overrides []string
	for _, s := range jobServices {
		overrides = append(overrides, string(s)+"="+srv.URL)
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
	for _, s := range jobServices {
		host, path = "", ""
		op, err := r.Observe(context.Background(), cloud.Target{Service: s, Region: "cn-north-4", ProjectID: "p1", OperationID: "j1",
			Credentials: cloud.Credentials{AccessKey: "AK", SecretKey: "SK"}}, "")
		if err != nil || op.Phase != cloud.PhaseRunning {
			t.Errorf("%s: %v, %v", s, op, err)
		}
		if host != srv.Listener.Addr().String() || path != "/v1/p1/jobs/j1" {
			t.Errorf("%s: sent to %s%s", s, host, path)
		}
	}
}
