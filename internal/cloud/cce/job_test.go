package cce

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/cloudop/cloudop/internal/cloud"
	"github.com/cloudop/cloudop/internal/cloud/internal/adaptertest"
	"github.com/cloudop/cloudop/internal/cloud/transport"
)

const fixtureCluster = "4d3c2b1a-12ab-11ef-9c3d-0255ac100a01"

// jobFixtures are the job answers in testdata (see testdata/README.md) and
// what each must give.
var jobFixtures = []struct {
	file string
	want *cloud.Operation
}{
	{"job_create_cluster_running.json", &cloud.Operation{
		Phase: cloud.PhaseRunning, ServiceStatus: "Running", Progress: pct(33), CurrentStep: "InstallAddons",
		StartTime: at("2024-05-14 08:00:03.118402731 +0000 UTC"),
		Steps: []cloud.Step{
			{Name: "CreateMaster (prod-cluster)", Phase: cloud.PhaseSucceeded, ServiceStatus: "Success",
				StartTime: at("2024-05-14 08:00:03.250117024 +0000 UTC"), CompletionTime: at("2024-05-14 08:03:12.774903118 +0000 UTC")},
			{Name: "InstallAddons", Phase: cloud.PhaseRunning, ServiceStatus: "Running",
				StartTime: at("2024-05-14 08:03:13.001274590 +0000 UTC"),
				SubSteps: []cloud.Step{
					{Name: "InstallAddon (coredns)", Phase: cloud.PhaseSucceeded, ServiceStatus: "Success",
						StartTime: at("2024-05-14 08:03:13.120554871 +0000 UTC"), CompletionTime: at("2024-05-14 08:05:02.415880263 +0000 UTC")},
					{Name: "InstallAddon (everest)", Phase: cloud.PhaseRunning, ServiceStatus: "Running",
						StartTime: at("2024-05-14 08:03:13.239817663 +0000 UTC")},
				}},
			{Name: "ConfigureCluster", Phase: cloud.PhasePending, ServiceStatus: "Initializing",
				StartTime: at("2024-05-14 08:00:03.391006712 +0000 UTC")},
		},
		Resources: []cloud.Resource{res("cluster", fixtureCluster), res("addon", "7e6d5c4b-12ab-11ef-9c3d-0255ac100c01")},
	}},
	{"job_create_node_failed.json", &cloud.Operation{
		Phase: cloud.PhaseFailed, ServiceStatus: "Failed", Progress: pct(50), CurrentStep: "CreateNode (prod-cluster-nodes-k9q3)",
		StartTime: at("2018-08-02 08:12:40.672772389 +0000 UTC"), CompletionTime: at("2018-08-02 08:21:50.386108218 +0000 UTC"),
		Message: "CreateNode (prod-cluster-nodes-k9q3) failed: install kubelet failed: timed out waiting for the node to register",
		Steps: []cloud.Step{
			{Name: "CreateNode (prod-cluster-nodes-x1f2)", Phase: cloud.PhaseSucceeded, ServiceStatus: "Success",
				StartTime: at("2018-08-02 08:12:40.801332116 +0000 UTC"), CompletionTime: at("2018-08-02 08:18:03.510929340 +0000 UTC")},
			{Name: "CreateNode (prod-cluster-nodes-k9q3)", Phase: cloud.PhaseFailed, ServiceStatus: "Failed",
				Message:   "install kubelet failed: timed out waiting for the node to register",
				StartTime: at("2018-08-02 08:12:40.913804457 +0000 UTC"), CompletionTime: at("2018-08-02 08:21:50.386108218 +0000 UTC")},
		},
		Resources: []cloud.Resource{res("cluster", fixtureCluster),
			res("node", "1a2b3c4d-12ab-11ef-9c3d-0255ac100e01"), res("node", "1a2b3c4d-12ab-11ef-9c3d-0255ac100e02")},
	}},
	{"job_create_nodepool_success.json", &cloud.Operation{
		Phase: cloud.PhaseSucceeded, ServiceStatus: "Success", Progress: pct(100),
		StartTime: at("2024-05-14 09:30:00.000412957 +0000 UTC"), CompletionTime: at("2024-05-14 09:30:02.119384206 +0000 UTC"),
		Resources: []cloud.Resource{res("cluster", fixtureCluster), res("nodepool", "c3d4e5f6-12ab-11ef-9c3d-0255ac100f02")},
	}},
	// The documented example (one trailing comma removed, see
	// testdata/README.md): Running with both listed sub-jobs done is 99 %,
	// not 100 %.
	{"doc_cce_show_job_running_no_trailing_comma.json", &cloud.Operation{
		Phase: cloud.PhaseRunning, ServiceStatus: "Running", Progress: pct(99),
		StartTime: at("2020-02-02 08:12:40.672772389 +0000 UTC"),
		Steps: []cloud.Step{
			{Name: "InstallMaster", Phase: cloud.PhaseSucceeded, ServiceStatus: "Success",
				StartTime: at("2020-02-02 03:52:34.615819618 +0000 UTC"), CompletionTime: at("2020-02-02 04:05:29.196243031 +0000 UTC")},
			{Name: "CreatePSMCert", Phase: cloud.PhaseSucceeded, ServiceStatus: "Success",
				StartTime: at("2020-02-02 03:52:33.859150791 +0000 UTC"), CompletionTime: at("2020-02-02 03:52:34.615655429 +0000 UTC")},
		},
		Resources: []cloud.Resource{res("cluster", "4d1ecb2c-229a-11e8-9c75-0255ac100ceb"), res("cluster", "6f4dcb2c-229a-11e8-9c75-0255ac100ceb"),
			res("cluster", "fcc72de0-9606-11e8-baa8-0255ac10215d"), res("resource", "fd3b4ac0-9606-11e8-baa8-0255ac10215d")},
	}},
}

// TestParseJob: the fixtures, then answers written inline for the rules
// they do not reach.
func TestParseJob(t *testing.T) {
	var cases []adaptertest.Case
	for _, f := range jobFixtures {
		cases = append(cases, adaptertest.Fixture(t, f.file, f.want))
	}
	adaptertest.Run(t, ParseJob, append(cases, []adaptertest.Case{
		{
			Name: "initializing, lower case, no sub-jobs",
			Body: `{"metadata":{"creationTimestamp":"2024-05-14 14:00:00 +0800 CST"},"spec":{"type":"DeleteCluster","clusterUID":"c1","resourceID":"c1"},"status":{"phase":"initializing"}}`,
			Want: &cloud.Operation{Phase: cloud.PhasePending, ServiceStatus: "initializing", StartTime: at("2024-05-14T06:00:00Z"),
				Resources: []cloud.Resource{res("cluster", "c1")}},
		},
		{
			Name: "failed with a reason of its own; unknown sub-job word; unnamed sub-jobs",
			Body: `{"spec":{"type":"UpgradeCluster","subJobs":[{"status":{"phase":"Paused"}},{"metadata":{"uid":"u2"},"status":{}},null]},
				"status":{"phase":"Failed","reason":"quota exceeded"}}`,
			Want: &cloud.Operation{Phase: cloud.PhaseFailed, ServiceStatus: "Failed", Progress: pct(0), CurrentStep: "sub-job-1",
				Message: "quota exceeded", UnknownStatuses: []string{"Paused"},
				Steps: []cloud.Step{{Name: "sub-job-1", Phase: cloud.PhaseUnknown, ServiceStatus: "Paused"}, {Name: "u2", Phase: cloud.PhasePending}}},
		},
		{
			Name: "failed sub-step named in the message; resource types from spec.type",
			Body: `{"spec":{"type":"CreateCluster","subJobs":[{"spec":{"type":"ScaleNodePool","resourceID":"p1","subJobs":[
				{"spec":{"type":"CreateNode","resourceID":"n1","resourceName":"a"},"status":{"phase":"Failed","reason":"no capacity"}}]},
				"status":{"phase":"Failed"}},{"spec":{"type":"MigrateVolumes","resourceID":"v1"},"status":{"phase":"Success"}}]},"status":{"phase":"Failed"}}`,
			Want: &cloud.Operation{Phase: cloud.PhaseFailed, ServiceStatus: "Failed", Progress: pct(50), CurrentStep: "ScaleNodePool",
				Message: "ScaleNodePool / CreateNode (a) failed: no capacity",
				Steps: []cloud.Step{
					{Name: "ScaleNodePool", Phase: cloud.PhaseFailed, ServiceStatus: "Failed",
						SubSteps: []cloud.Step{{Name: "CreateNode (a)", Phase: cloud.PhaseFailed, ServiceStatus: "Failed", Message: "no capacity"}}},
					{Name: "MigrateVolumes", Phase: cloud.PhaseSucceeded, ServiceStatus: "Success"},
				},
				Resources: []cloud.Resource{res("nodepool", "p1"), res("node", "n1"), res("resource", "v1")}},
		},
		{
			Name: "Initializing with every listed sub-job done: capped at 99",
			Body: `{"spec":{"subJobs":[{"status":{"phase":"Success"}}]},"status":{"phase":"Initializing"}}`,
			Want: &cloud.Operation{Phase: cloud.PhasePending, ServiceStatus: "Initializing", Progress: pct(99),
				Steps: []cloud.Step{{Name: "sub-job-1", Phase: cloud.PhaseSucceeded, ServiceStatus: "Success"}}},
		},
		{
			Name: "unknown job word with every listed sub-job done: capped at 99",
			Body: `{"spec":{"subJobs":[{"status":{"phase":"Success"}}]},"status":{"phase":"Paused"}}`,
			Want: &cloud.Operation{Phase: cloud.PhaseUnknown, ServiceStatus: "Paused", Progress: pct(99), UnknownStatuses: []string{"Paused"},
				Steps: []cloud.Step{{Name: "sub-job-1", Phase: cloud.PhaseSucceeded, ServiceStatus: "Success"}}},
		},
		{
			Name: "Success is 100 even with a sub-job not marked done",
			Body: `{"spec":{"subJobs":[{"status":{"phase":"Success"}},{"metadata":{"uid":"u2"},"status":{}}]},"status":{"phase":"Success"}}`,
			Want: &cloud.Operation{Phase: cloud.PhaseSucceeded, ServiceStatus: "Success", Progress: pct(100), CurrentStep: "u2",
				Steps: []cloud.Step{{Name: "sub-job-1", Phase: cloud.PhaseSucceeded, ServiceStatus: "Success"}, {Name: "u2", Phase: cloud.PhasePending}}},
		},
		{
			Name: "Failed after every sub-job succeeded keeps the count: the cap is for unfinished jobs",
			Body: `{"spec":{"subJobs":[{"status":{"phase":"Success"}}]},"status":{"phase":"Failed","reason":"post-check failed"}}`,
			Want: &cloud.Operation{Phase: cloud.PhaseFailed, ServiceStatus: "Failed", Progress: pct(100), Message: "post-check failed",
				Steps: []cloud.Step{{Name: "sub-job-1", Phase: cloud.PhaseSucceeded, ServiceStatus: "Success"}}},
		},
		{
			Name: "error object in a 200: Unknown, the code and message as the message",
			Body: `{"errorCode":"CCE.01404001","errorMessage":"Job not found"}`,
			Want: &cloud.Operation{Phase: cloud.PhaseUnknown, UnknownStatuses: []string{"(missing)"}, Message: "CCE.01404001: Job not found"},
		},
		{
			Name: "missing phase",
			Body: `{"metadata":{"updateTimestamp":"garbage"},"status":{"reason":"?"}}`,
			Want: &cloud.Operation{Phase: cloud.PhaseUnknown, UnknownStatuses: []string{"(missing)"}, Message: "?"},
		},
	}...))
	// The documented example as published is not JSON (a comma after the
	// subJobs list): like any broken body, a transient error.
	documented := string(adaptertest.Read(t, "doc_cce_show_job_running.json"))
	for _, body := range []string{``, `null`, `{"status":"broken"}`, `{"spec":[]}`, documented} {
		if _, err := ParseJob([]byte(body)); err == nil || cloud.KindOf(err) != cloud.KindTransient {
			t.Errorf("ParseJob(%q): want a transient error, got %v", body, err)
		}
	}
}

func TestResourceType(t *testing.T) {
	for in, want := range map[string]string{
		"CreateNodePool": "nodepool", "DeleteNodePool": "nodepool", "CreateNode": "node", "DeleteNode": "node",
		"CreateCluster": "cluster", "UpgradeCluster": "cluster", "InstallAddon": "addon", "": "resource", "MigrateVolumes": "resource",
	} {
		if got := resourceType(in); got != want {
			t.Errorf("resourceType(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestFetchJob: operationType Job reads /api/v3/projects/{project}/jobs/
// {job} (no cluster needed) with X-Project-Id and Content-Type; other
// types are refused before any request.
func TestFetchJob(t *testing.T) {
	var path, project, ct string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		path, project, ct = r.URL.Path, r.Header.Get("X-Project-Id"), r.Header.Get("Content-Type")
		w.Write(adaptertest.Read(t, strings.TrimPrefix(r.URL.Path, "/api/v3/projects/p1/jobs/")))
	}))
	defer srv.Close()
	a := New(&transport.HTTPClient{})
	base := cloud.Target{Service: cloud.ServiceCCE, ProjectID: "p1", OperationType: cloud.OperationTypeJob, BaseURL: srv.URL,
		Credentials: cloud.Credentials{AccessKey: "AK", SecretKey: "SK"}}
	for _, f := range jobFixtures {
		target := base
		target.OperationID = f.file
		adaptertest.Fetched(t, f.file, a, target, f.want)
		if path != "/api/v3/projects/p1/jobs/"+f.file || project != "p1" || ct != "application/json" {
			t.Errorf("%s: path %q project %q content-type %q", f.file, path, project, ct)
		}
	}

	var rejected []cloud.Target
	for _, mod := range []func(*cloud.Target){
		func(t *cloud.Target) { t.OperationID = "" },
		func(t *cloud.Target) { t.OperationID = "a/../../clusters" },
		func(t *cloud.Target) { t.OperationID = "j1"; t.ProjectID = "" },
		func(t *cloud.Target) { t.OperationID = "j1"; t.OperationType = "Addon" },
	} {
		bad := base
		mod(&bad)
		rejected = append(rejected, bad)
	}
	adaptertest.Rejected(t, New(nil), rejected)
	wrongType := base
	wrongType.OperationID, wrongType.OperationType = "j1", "Addon"
	if _, err := New(nil).Fetch(t.Context(), wrongType); err == nil || !strings.Contains(err.Error(), "spec.operationType") {
		t.Errorf("got %v", err)
	}
}

func FuzzParseJob(f *testing.F) {
	for _, fx := range jobFixtures {
		f.Add(adaptertest.Read(f, fx.file))
	}
	f.Add([]byte(`{"spec":{"subJobs":[{"spec":{"subJobs":[{"spec":{"subJobs":[{}]}}]}}]},"status":{"phase":"Success"}}`))
	f.Add(adaptertest.Read(f, "doc_cce_show_job_running.json"))
	f.Add([]byte(`{"spec":{"subJobs":[{"status":{"phase":"Success"}},{"status":{"phase":"Success"}}]},"status":{"phase":"Running"}}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		if op, err := ParseJob(body); err == nil {
			adaptertest.CheckInvariants(t, op)
		}
	})
}
