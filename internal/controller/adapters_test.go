package controller

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	opsv1 "github.com/cloudop/cloudop/api/v1alpha1"
	"github.com/cloudop/cloudop/internal/cloud"
	"github.com/cloudop/cloudop/internal/cloud/aos"
	"github.com/cloudop/cloudop/internal/cloud/bcs"
	"github.com/cloudop/cloudop/internal/cloud/cce"
	"github.com/cloudop/cloudop/internal/cloud/classicjob"
	"github.com/cloudop/cloudop/internal/cloud/cts"
	"github.com/cloudop/cloudop/internal/cloud/dws"
	"github.com/cloudop/cloudop/internal/cloud/transport"
)

// seedServer serves one seed body at one path, for signed GETs only.
func seedServer(t *testing.T, path, seedFile string) *httptest.Server {
	t.Helper()
	body, err := os.ReadFile(seedFile)
	NewWithT(t).Expect(err).NotTo(HaveOccurred())
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet || r.URL.Path != path ||
			!strings.HasPrefix(r.Header.Get("Authorization"), "SDK-HMAC-SHA256 Access=AK0000TEST,") || r.Header.Get("X-Sdk-Date") == "" {
			w.WriteHeader(http.StatusNotFound)
			_, _ = w.Write([]byte(`{"error_code":"APIGW.0101","error_msg":"The API does not exist or has not been published in the environment"}`))
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(body)
	}))
	t.Cleanup(srv.Close)
	return srv
}

// realRouter is the production router with every service sent to baseURL,
// signing with the clock now (nil: real time), which must agree with the
// server's within its X-Sdk-Date skew.
func realRouter(baseURL string, now func() time.Time) *transport.Router {
	httpClient := transport.NewHTTPClient(5 * time.Second)
	httpClient.Now = now
	overrides := map[cloud.Service]string{}
	for _, s := range []cloud.Service{cloud.ServiceBCS, cloud.ServiceCCE, cloud.ServiceAOS, cloud.ServiceDWS, cloud.ServiceECS, cloud.ServiceEVS, cloud.ServiceCTS} {
		overrides[s] = baseURL
	}
	lists := bcs.New(httpClient)
	jobs := classicjob.New(httpClient)
	lists.Lists.Now = now // the shared list expires on the test's clock
	return &transport.Router{
		Endpoints: &transport.EndpointResolver{Overrides: overrides},
		Services: map[cloud.Service]cloud.Fetcher{
			cloud.ServiceBCS: lists,
			cloud.ServiceCCE: cce.New(httpClient),
			cloud.ServiceAOS: aos.New(httpClient),
			cloud.ServiceDWS: dws.New(httpClient),
			cloud.ServiceECS: jobs,
			cloud.ServiceEVS: jobs,
		},
		Discoverers: map[cloud.Service]cloud.Discoverer{cloud.ServiceCTS: cts.New(httpClient)},
	}
}

// TestSeedsThroughTheRealAdapters points a CloudOperation per service at an
// HTTP server that serves the seed's example answer, and checks what the
// reconciler writes.
func TestSeedsThroughTheRealAdapters(t *testing.T) {
	const project = "051ddda57400d2982fccc014fab5749d"
	cases := []struct {
		name      string
		spec      opsv1.CloudOperationSpec
		path      string
		seed      string
		phase     opsv1.Phase
		service   string
		progress  int32
		current   string
		steps     []string // name=phase
		substeps  int      // sub-steps of the first step
		ready     string
		stalled   string
		completed bool
	}{
		{
			name: "BCS 000", seed: "../cloud/bcs/testdata/000_list_op_record_200.json",
			spec:  opsv1.CloudOperationSpec{Service: opsv1.ServiceBCS, OperationID: "BCSSVC01-99-1618218591906093855", BlockchainID: "23604f57-eac9-3777-e9f5-ae87457f2338"},
			path:  "/v2/" + project + "/operation/record",
			phase: opsv1.PhaseRunning, service: "processing", progress: 66, current: "Create Other Dependent Resource",
			steps: []string{"Preparation=Succeeded", "Create Other Dependent Resource=Running"}, substeps: 1,
			ready: "False/InProgress", stalled: "<absent>",
		},
		{
			name: "BCS 001 (spaces inside IDs)", seed: "../cloud/bcs/testdata/001_list_op_record_200.json",
			spec:  opsv1.CloudOperationSpec{Service: opsv1.ServiceBCS, OperationID: "BCSSVC01-99-1618218591906093855"},
			path:  "/v2/" + project + "/operation/record",
			phase: opsv1.PhaseRunning, service: "processing", progress: 66, current: "Create Other Dependent Resource",
			steps: []string{"Preparation=Succeeded", "Create Other Dependent Resource=Running"}, substeps: 1,
			ready: "False/InProgress", stalled: "<absent>",
		},
		{
			name: "CCE 002", seed: "../cloud/cce/testdata/002_show_upgrade_workflow_200.json",
			spec:  opsv1.CloudOperationSpec{Service: opsv1.ServiceCCE, OperationID: "c271e39e-1a6e-4d3d-8fa8-2a36329c68d1", ClusterID: "b4b9e60f-8aa2-11ee-af09-0255ac10004f"},
			path:  "/api/v3/projects/" + project + "/clusters/b4b9e60f-8aa2-11ee-af09-0255ac10004f/operation/upgradeworkflows/c271e39e-1a6e-4d3d-8fa8-2a36329c68d1",
			phase: opsv1.PhaseFailed, service: "Pending", progress: 25, current: "Cluster",
			steps: []string{"PreCheck=Succeeded", "Snapshot=Pending", "Cluster=Failed", "PostCheck=Pending"},
			ready: "False/FailedResumable", stalled: "True/FailedResumable", completed: true,
		},
		{
			name: "AOS 003", seed: "../cloud/aos/testdata/003_execution_200.json",
			spec:  opsv1.CloudOperationSpec{Service: opsv1.ServiceAOS, OperationID: "trim-4074942376", StackID: "cb2cdea0-cc70-11e6-8448-0242ac001004"},
			path:  "/v2/stacks/cb2cdea0-cc70-11e6-8448-0242ac001004/actions/trim-4074942376",
			phase: opsv1.PhaseSucceeded, service: "Succeeded", progress: 100,
			steps: []string{"hello-app=Succeeded", "hello-package=Succeeded", "hello-component=Succeeded"},
			ready: "True/Succeeded", stalled: "<absent>", completed: true,
		},
		{
			name: "DWS 004", seed: "../cloud/dws/testdata/004_list_cluster_actions_200.json",
			spec:  opsv1.CloudOperationSpec{Service: opsv1.ServiceDWS, OperationID: "SNAPSHOTTING_FAILED", ClusterID: "9f76c502-fc9c-4a52-8656-65d0da6e3d57"},
			path:  "/v1/" + project + "/clusters/9f76c502-fc9c-4a52-8656-65d0da6e3d57/actions/SNAPSHOTTING_FAILED",
			phase: opsv1.PhaseFailed, service: "FAILED", progress: 100, current: "创建快照",
			steps: []string{"创建快照=Failed"}, substeps: 1,
			ready: "False/Failed", stalled: "True/Failed",
		},
	}
	ns := newNamespace(t)
	creds := validCredentials()
	creds["projectID"] = project
	newSecret(t, ns, "creds", creds)
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			g := NewWithT(t)
			srv := seedServer(t, tc.path, filepath.FromSlash(tc.seed))
			obj := &opsv1.CloudOperation{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "seed-" + string(rune('a'+i))}, Spec: tc.spec}
			obj.Spec.Region = "cn-north-4"
			obj.Spec.CredentialsSecretRef.Name = "creds"
			g.Expect(k8s.Create(context.Background(), obj)).To(Succeed())
			r := newTestReconciler(realRouter(srv.URL, nil), testNow)
			reconcileOnce(t, r, obj)
			reconcileOnce(t, r, obj)

			got := fetch(t, obj)
			g.Expect(got.Status.Message).NotTo(ContainSubstring("APIGW.0101"))
			g.Expect(got.Status.Phase).To(Equal(tc.phase), got.Status.Message)
			g.Expect(got.Status.ServiceStatus).To(Equal(tc.service))
			g.Expect(got.Status.Progress).To(Equal(int32p(tc.progress)))
			g.Expect(got.Status.CurrentStep).To(Equal(tc.current))
			var steps []string
			for _, s := range got.Status.Steps {
				steps = append(steps, s.Name+"="+string(s.Phase))
			}
			g.Expect(steps).To(Equal(tc.steps))
			g.Expect(got.Status.Steps[0].SubSteps).To(HaveLen(tc.substeps))
			g.Expect(conditionReason(got, opsv1.ConditionReady)).To(Equal(tc.ready))
			g.Expect(conditionReason(got, opsv1.ConditionStalled)).To(Equal(tc.stalled))
			g.Expect(got.Status.CompletionTime != nil).To(Equal(tc.completed))
		})
	}
}
