package install

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	opsv1 "github.com/cloudop/cloudop/api/v1alpha1"
)

// The jobs cloudsim plays, by ID. ECS and VPC jobs need only a project,
// so the scenario stays small; the adapters of every service are covered
// by test/e2e.
const (
	jobSucceeds  = "e2e00000000000000000000000000001"
	jobFails     = "e2e00000000000000000000000000002"
	jobThrottled = "e2e00000000000000000000000000003"
	jobWrongKey  = "e2e00000000000000000000000000004"
	jobDeleted   = "e2e00000000000000000000000000005"
	jobTeamA     = "e2e00000000000000000000000000006"
	jobTeamB     = "e2e00000000000000000000000000007"
	// jobSentinel never ends: its polls are the clock of absence checks.
	jobSentinel = "e2e00000000000000000000000000008"
)

const scenario = `settings:
  speed: 1
  stepDuration: 4s
accounts:
  - accessKey: ` + accessKey + `
    secretKey: ` + secretKey + `
    projectIDs: [` + project + `]
operations:
  - {service: ECS, id: ` + jobSucceeds + `, projectID: ` + project + `, scenario: success, params: {jobType: createServer}}
  - {service: VPC, id: ` + jobFails + `, projectID: ` + project + `, scenario: fail, params: {jobType: createBatchPublicip, errorCode: VPC.9999, message: "Insufficient EIP quota"}}
  - {service: ECS, id: ` + jobThrottled + `, projectID: ` + project + `, scenario: success, faults: [{kind: throttle, count: 2}]}
  - {service: ECS, id: ` + jobWrongKey + `, projectID: ` + project + `, scenario: success}
  - {service: ECS, id: ` + jobDeleted + `, projectID: ` + project + `, scenario: never}
  - {service: ECS, id: ` + jobTeamA + `, projectID: ` + project + `, scenario: success}
  - {service: ECS, id: ` + jobTeamB + `, projectID: ` + project + `, scenario: success}
  - {service: ECS, id: ` + jobSentinel + `, projectID: ` + project + `, scenario: never}
`

// values are the chart values both installs share: the manager reaches
// cloudsim through --service-endpoint, as a staging install would.
func values(simURL string) map[string]any {
	return map[string]any{
		"replicaCount": 1,
		"cloud": map[string]any{
			"serviceEndpoints": map[string]any{"ECS": simURL, "VPC": simURL},
		},
	}
}

// setUpContainers loads the images and starts cloudsim; without Docker it
// returns "" and the caller runs only the steps that need no container.
func setUpContainers(t *testing.T) (simURL string, sim *simulator) {
	t.Helper()
	if dockerErr != nil {
		t.Logf("container steps skipped: no Docker engine answers `docker version` (%v); installing and checking RBAC only", dockerErr)
		return "http://127.0.0.1:1", nil
	}
	sim = startSimulator(t, scenario)
	return sim.url, sim
}

func uninstall(t *testing.T) {
	t.Helper()
	mustRun(t, helm, "uninstall", release, "--namespace", releaseNamespace, "--wait", "--timeout", "60s")
}

// TestClusterWideInstall: the default install (every namespace) runs from
// the release bundle: the manager, run as its pod would be, tracks
// operations to Succeeded and Failed, reports throttling and a wrong key
// as conditions, serves metrics only to an authorized reader, makes no
// cloud call for a deleted operation, and leaves nothing but the kept CRD
// behind after helm uninstall.
func TestClusterWideInstall(t *testing.T) {
	simURL, sim := setUpContainers(t)
	manifest := helmInstall(t, values(simURL))
	const ns = "apps"
	createNamespace(t, ns)

	if sim != nil {
		t.Log("container steps: running the manager and cloudsim images under Docker")
		manager, dep := startManager(t, manifest)
		createJob(t, ns, "succeeds", opsv1.ServiceECS, jobSucceeds, "huaweicloud-credentials")
		createJob(t, ns, "fails", opsv1.ServiceVPC, jobFails, "huaweicloud-credentials")
		createJob(t, ns, "throttled", opsv1.ServiceECS, jobThrottled, "huaweicloud-credentials")
		createJob(t, ns, "wrong-key", opsv1.ServiceECS, jobWrongKey, "wrong-credentials")
		// Never ends: a step is running whenever /metrics is read, so the
		// gauge of running steps' ages has a series to check.
		createJob(t, ns, "sentinel", opsv1.ServiceECS, jobSentinel, "huaweicloud-credentials")
		waitForPhase(t, ns, "succeeds", opsv1.PhaseSucceeded, 90*time.Second)
		waitForPhase(t, ns, "fails", opsv1.PhaseFailed, 90*time.Second)
		waitForReason(t, ns, "wrong-key", opsv1.ReasonAuthFailed, 60*time.Second)
		waitForPhase(t, ns, "throttled", opsv1.PhaseSucceeded, 2*time.Minute)
		if n := sim.requests(t, "ECS", jobThrottled); n < 3 {
			t.Errorf("cloudsim saw %d requests for the throttled job; want its 2 throttled answers and at least one more", n)
		}

		waitForPhase(t, ns, "sentinel", opsv1.PhaseRunning, 60*time.Second)

		t.Run("metrics need an authorized token", func(t *testing.T) {
			u := metricsURL(t, dep)
			if !strings.HasPrefix(u, "https://") {
				t.Fatalf("the default install serves metrics at %s, want HTTPS", u)
			}
			if code, body, err := httpGet(u, "", nil); err != nil || code != http.StatusUnauthorized {
				t.Errorf("GET %s without a token: %d %v %.200s, want 401", u, code, err, body)
			}
			unbound := serviceAccountToken(t, releaseNamespace, createServiceAccount(t, releaseNamespace, "no-metrics-role"))
			if code, body, err := httpGet(u, unbound, nil); err != nil || code != http.StatusForbidden {
				t.Errorf("GET %s as a ServiceAccount without the metrics-reader role: %d %v %.200s, want 403", u, code, err, body)
			}
			token := metricsScraper(t)
			var body string
			eventually(t, 30*time.Second, "metrics answer the metrics-reader", func() (bool, string) {
				code, b, err := httpGet(u, token, nil)
				body = b
				return err == nil && code == http.StatusOK, fmt.Sprintf("%d %v %.200s", code, err, b)
			})
			if want := `cloudop_build_info{commit="e2e"`; !strings.Contains(body, want) || !strings.Contains(body, Version) {
				t.Errorf("/metrics lacks %s with version %s", want, Version)
			}
			checkQueriesUseExposedMetrics(t, body)
		})

		t.Run("deleting an operation makes no further cloud call", func(t *testing.T) {
			createJob(t, ns, "deleted", opsv1.ServiceECS, jobDeleted, "huaweicloud-credentials")
			waitForPhase(t, ns, "deleted", opsv1.PhaseRunning, 60*time.Second)
			waitForPhase(t, ns, "sentinel", opsv1.PhaseRunning, 60*time.Second)
			op := getOperation(t, ns, "deleted")
			if err := k8sClient.Delete(context.Background(), op); err != nil {
				t.Fatal(err)
			}
			eventually(t, 30*time.Second, "the operation is gone", func() (bool, string) {
				err := k8sClient.Get(context.Background(), client.ObjectKeyFromObject(op), op)
				return client.IgnoreNotFound(err) == nil && err != nil, fmt.Sprint(err)
			})
			// The known event: the sentinel, polled by the same manager at
			// the same interval, is polled three more times, so at least
			// two intervals pass in the manager's own time.
			before := sim.requests(t, "ECS", jobDeleted)
			from := sim.requests(t, "ECS", jobSentinel)
			eventually(t, time.Minute, "three more polls of the sentinel", func() (bool, string) {
				n := sim.requests(t, "ECS", jobSentinel) - from
				return n >= 3, fmt.Sprintf("%d more polls", n)
			})
			if after := sim.requests(t, "ECS", jobDeleted); after != before {
				t.Errorf("cloudsim saw %d requests for the deleted operation's job after it was deleted", after-before)
			}
		})
		uninstall(t)
		manager.stop(t)
	} else {
		uninstall(t)
	}
	noLeftovers(t, manifest, true)
}

// TestNamespacedInstall: with watchNamespaces [team-a] the manager's
// ServiceAccount can read nothing and mint no token outside team-a (no
// ClusterRole grants Secrets, CloudOperations or ServiceAccounts), tracks
// team-a's operation and never touches team-b's; uninstalling with
// crds.keep false removes the CRD too.
func TestNamespacedInstall(t *testing.T) {
	simURL, sim := setUpContainers(t)
	createNamespace(t, "team-a")
	createNamespace(t, "team-b")
	v := values(simURL)
	v["watchNamespaces"] = []string{"team-a"}
	v["crds"] = map[string]any{"enabled": true, "keep": false}
	manifest := helmInstall(t, v)

	t.Run("no access outside team-a", func(t *testing.T) {
		for _, objs := range manifestObjects(t, manifest) {
			if objs["kind"] != "ClusterRole" {
				continue
			}
			for _, rule := range objs["rules"].([]any) {
				if r := fmt.Sprint(rule); strings.Contains(r, "secrets") || strings.Contains(r, "cloudoperations") || strings.Contains(r, "serviceaccounts") {
					t.Errorf("namespaced install renders ClusterRole %v granting %s", objs["metadata"].(map[string]any)["name"], r)
				}
			}
		}
		as := "system:serviceaccount:" + releaseNamespace + ":" + managerName
		for _, tc := range []struct {
			verb, resource, subresource, namespace, want string
		}{
			{"get", "secrets", "", "team-a", "yes"},
			{"list", "cloudoperations.ops.cloudop.dev", "", "team-a", "yes"},
			{"patch", "cloudoperations.ops.cloudop.dev", "status", "team-a", "yes"},
			{"get", "secrets", "", "team-b", "no"},
			{"list", "cloudoperations.ops.cloudop.dev", "", "team-b", "no"},
			{"patch", "cloudoperations.ops.cloudop.dev", "status", "team-b", "no"},
			{"create", "events", "", "team-b", "no"},
			{"get", "secrets", "", "kube-system", "no"},
			{"get", "secrets", "", releaseNamespace, "no"},
			// Token rights stay in team-a's Role; TestTokenRequests shows
			// what the admission policy adds.
			{"create", "serviceaccounts", "token", "team-a", "yes"},
			{"create", "serviceaccounts", "token", "team-b", "no"},
			{"create", "serviceaccounts", "token", "kube-system", "no"},
		} {
			args := []string{"auth", "can-i", tc.verb, tc.resource, "--namespace", tc.namespace, "--as", as}
			if tc.subresource != "" {
				args = append(args, "--subresource", tc.subresource)
			}
			out, _ := cmdOutput(context.Background(), kubectl, args...)
			if got := strings.TrimSpace(out); got != tc.want {
				t.Errorf("kubectl %s = %q, want %q", strings.Join(args, " "), got, tc.want)
			}
		}
		out, _ := cmdOutput(context.Background(), kubectl, "auth", "can-i", "list", "cloudoperations.ops.cloudop.dev", "--all-namespaces", "--as", as)
		if got := strings.TrimSpace(out); got != "no" {
			t.Errorf("kubectl auth can-i list cloudoperations --all-namespaces = %q, want no", got)
		}
	})

	if sim != nil {
		t.Log("container steps: running the namespaced manager under Docker")
		manager, _ := startManager(t, manifest)
		createJob(t, "team-b", "theirs", opsv1.ServiceECS, jobTeamB, "huaweicloud-credentials")
		createJob(t, "team-a", "ours", opsv1.ServiceECS, jobTeamA, "huaweicloud-credentials")
		waitForPhase(t, "team-a", "ours", opsv1.PhaseSucceeded, 90*time.Second)
		// team-a's operation took several polls; team-b's, created first,
		// was never read: no status, no cloud call.
		theirs := getOperation(t, "team-b", "theirs")
		if theirs.Status.Phase != "" || len(theirs.Status.Conditions) > 0 {
			t.Errorf("team-b's operation was reconciled: %+v", theirs.Status)
		}
		if n := sim.requests(t, "ECS", jobTeamB); n != 0 {
			t.Errorf("cloudsim saw %d requests for team-b's job", n)
		}
		events, err := kube.CoreV1().Events("team-b").List(context.Background(), metav1.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if len(events.Items) > 0 {
			t.Errorf("the manager wrote %d events in team-b, e.g. %q", len(events.Items), events.Items[0].Message)
		}
		uninstall(t)
		manager.stop(t)
	} else {
		uninstall(t)
	}
	noLeftovers(t, manifest, false)
}
