package transport_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"testing"

	"github.com/cloudop/cloudop/internal/cloud"
	"github.com/cloudop/cloudop/internal/cloud/aos"
	"github.com/cloudop/cloudop/internal/cloud/bcs"
	"github.com/cloudop/cloudop/internal/cloud/cce"
	"github.com/cloudop/cloudop/internal/cloud/dws"
	"github.com/cloudop/cloudop/internal/cloud/transport"
)

// TestRouterEndToEnd routes each service through an override to a fake
// server answering with the seed body, and checks the phase.
func TestRouterEndToEnd(t *testing.T) {
	seeds := map[cloud.Service]string{
		cloud.ServiceBCS: "../bcs/testdata/000_list_op_record_200.json",
		cloud.ServiceCCE: "../cce/testdata/002_show_upgrade_workflow_200.json",
		cloud.ServiceAOS: "../aos/testdata/003_execution_200.json",
		cloud.ServiceDWS: "../dws/testdata/004_list_cluster_actions_200.json",
	}
	want := map[cloud.Service]cloud.Phase{
		cloud.ServiceBCS: cloud.PhaseRunning, cloud.ServiceCCE: cloud.PhaseFailed,
		cloud.ServiceAOS: cloud.PhaseSucceeded, cloud.ServiceDWS: cloud.PhaseFailed,
	}
	overrides := map[cloud.Service]string{}
	for svc, file := range seeds {
		body, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write(body) }))
		defer srv.Close()
		overrides[svc] = srv.URL
	}
	c := transport.NewHTTPClient(0)
	r := &transport.Router{
		Endpoints: &transport.EndpointResolver{Overrides: overrides},
		Services: map[cloud.Service]cloud.Fetcher{
			cloud.ServiceBCS: bcs.New(c), cloud.ServiceCCE: cce.New(c),
			cloud.ServiceAOS: aos.New(c), cloud.ServiceDWS: dws.New(c),
		},
	}
	for svc, phase := range want {
		tg := cloud.Target{
			Service: svc, Region: "cn-north-4", ProjectID: "p", OperationID: "BCSSVC01-99-1618218591906093855",
			ClusterID: "c", StackID: "s", Credentials: cloud.Credentials{AccessKey: "AK", SecretKey: "SK"},
		}
		op, err := r.Observe(context.Background(), tg, "")
		if err != nil {
			t.Errorf("%s: %v", svc, err)
			continue
		}
		if op.Phase != phase {
			t.Errorf("%s: phase %s, want %s", svc, op.Phase, phase)
		}
	}
}
