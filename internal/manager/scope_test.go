package manager

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	opsv1 "github.com/cloudop/cloudop/api/v1alpha1"
	"github.com/cloudop/cloudop/internal/controller"
	"github.com/cloudop/cloudop/internal/testkit"
)

// TestParseWatchNamespaces: namespace names pass (sorted, duplicates
// folded), anything that cannot name a namespace is refused with a
// message naming it.
func TestParseWatchNamespaces(t *testing.T) {
	for _, tc := range []struct {
		in      []string
		want    []string
		wantErr string
	}{
		{in: nil, want: nil},
		{in: []string{"team-a"}, want: []string{"team-a"}},
		{in: []string{"team-b", "team-a", "team-b"}, want: []string{"team-a", "team-b"}},
		{in: []string{""}, wantErr: "empty name"},
		{in: []string{"team-a", "Team-B"}, wantErr: `"Team-B": not a namespace name`},
		{in: []string{"team_a"}, wantErr: `"team_a"`},
		{in: []string{"a.b"}, wantErr: `"a.b"`},
		{in: []string{strings.Repeat("a", 64)}, wantErr: "not a namespace name"},
	} {
		got, err := parseWatchNamespaces(tc.in)
		switch {
		case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
			t.Errorf("%q: error %v, want one containing %q", tc.in, err, tc.wantErr)
		case tc.wantErr == "" && (err != nil || fmt.Sprint(got) != fmt.Sprint(tc.want)):
			t.Errorf("%q: %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
}

// TestCacheOptionsNamespaces: with namespaces, every cached type is
// limited to them (and the shard selector still applies); without, the
// cache spans the cluster as before.
func TestCacheOptionsNamespaces(t *testing.T) {
	if o := cacheOptions(nil, nil); o.DefaultNamespaces != nil {
		t.Errorf("no namespaces: cache limited to %v", o.DefaultNamespaces)
	}
	sel, err := parseWatchSelector(ShardLabel + "=shard1")
	if err != nil {
		t.Fatal(err)
	}
	o := cacheOptions(sel, []string{"team-a", "team-b"})
	if len(o.DefaultNamespaces) != 2 || len(o.ByObject) != 2 {
		t.Fatalf("%+v, want namespaces team-a and team-b and the selector", o)
	}
	for _, ns := range []string{"team-a", "team-b"} {
		if _, ok := o.DefaultNamespaces[ns]; !ok {
			t.Errorf("namespace %s not cached: %v", ns, o.DefaultNamespaces)
		}
	}
}

// TestNewRejectsBadNamespace: a bad --watch-namespace stops the manager
// before it starts, naming the value.
func TestNewRejectsBadNamespace(t *testing.T) {
	_, err := New(&rest.Config{Host: "https://127.0.0.1:1"}, Options{WatchNamespaces: []string{"team-a", "Team A"}})
	if err == nil || !strings.Contains(err.Error(), `watch namespace "Team A"`) {
		t.Errorf("error %v, want one naming the bad namespace", err)
	}
}

// jobServer answers ECS job queries (GET /v1/{project}/jobs/{job}) with
// SUCCESS and records which jobs were asked for.
type jobServer struct {
	*httptest.Server
	mu    sync.Mutex
	asked map[string]int
}

func newJobServer(t *testing.T) *jobServer {
	s := &jobServer{asked: map[string]int{}}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		job := path.Base(r.URL.Path)
		s.mu.Lock()
		s.asked[job]++
		s.mu.Unlock()
		fmt.Fprintf(w, `{"status":"SUCCESS","job_id":%q,"job_type":"createServer"}`, job)
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *jobServer) count(job string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.asked[job]
}

// credentials is the Secret "creds" the operations of newOperation name.
func credentials() *corev1.Secret {
	return testkit.CredentialsSecret("creds", "AK0000TEST", "sk-test", "0123456789abcdef0123456789abcdef")
}

// newOperation creates, in ns, an ECS CloudOperation for job signed with
// the Secret "creds" (see credentials).
func newOperation(t *testing.T, ns, job string) client.ObjectKey {
	t.Helper()
	op := &opsv1.CloudOperation{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: job},
		Spec: opsv1.CloudOperationSpec{Service: opsv1.ServiceECS, Region: "cn-north-4", OperationID: job,
			CredentialsSecretRef: opsv1.SecretReference{Name: "creds"}},
	}
	create(t, op)
	return client.ObjectKeyFromObject(op)
}

// namespacedRole grants what a namespaced install's Role does.
func namespacedRole(ns string) *rbacv1.Role {
	return &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "cloudop-manager"}, Rules: []rbacv1.PolicyRule{
		{APIGroups: []string{opsv1.GroupVersion.Group}, Resources: []string{"cloudoperations"}, Verbs: []string{"create", "delete", "get", "list", "watch"}},
		{APIGroups: []string{opsv1.GroupVersion.Group}, Resources: []string{"cloudoperations/status", "cloudoperationsources/status"}, Verbs: []string{"get", "patch", "update"}},
		{APIGroups: []string{opsv1.GroupVersion.Group}, Resources: []string{"cloudoperationsources"}, Verbs: []string{"get", "list", "watch"}},
		{APIGroups: []string{""}, Resources: []string{"secrets"}, Verbs: []string{"get"}},
		{APIGroups: []string{""}, Resources: []string{"events"}, Verbs: []string{"create"}},
	}}
}

// TestWatchNamespaces runs a manager as a ServiceAccount whose only
// permissions are a Role in team-a, watching team-a: it tracks team-a's
// operation to Succeeded (status, conditions, events), while team-b's
// operation is never read from the cloud, its status and events stay
// empty, and no request of the manager is refused. As a control, the same
// identity watching the whole cluster is refused its list, which shows the
// namespaced cache is what makes the Role enough.
func TestWatchNamespaces(t *testing.T) {
	system := testkit.Namespace(t, k8s, "cloudop-system")
	teamA, teamB := testkit.Namespace(t, k8s, "team-a", credentials()), testkit.Namespace(t, k8s, "team-b", credentials())
	token := serviceAccount(t, system, "cloudop-manager")
	role := namespacedRole(teamA)
	create(t, role)
	create(t, &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Namespace: teamA, Name: "cloudop-manager"},
		RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: role.Name},
		Subjects: subject(system, "cloudop-manager")})
	cloudSide := newJobServer(t)
	keyA, keyB := newOperation(t, teamA, "job-a"), newOperation(t, teamB, "job-b")

	_, logStart := managerLog.Since(0)
	t.Cleanup(func() {
		if t.Failed() {
			log, _ := managerLog.Since(logStart)
			t.Logf("manager log:\n%s", log)
		}
	})
	opts := Options{WatchNamespaces: []string{teamA}, RequestTimeout: 5 * time.Second,
		ServiceEndpoints: []string{"ECS=" + cloudSide.URL}, Workers: 2}
	mgr, err := newTestManager(tokenConfig(token), opts)
	if err != nil {
		t.Fatal(err)
	}
	startManager(t, mgr)

	ctx := context.Background()
	succeeded := func(key client.ObjectKey) func() (bool, string) {
		return func() (bool, string) {
			var op opsv1.CloudOperation
			if err := k8s.Get(ctx, key, &op); err != nil {
				return false, err.Error()
			}
			return op.Status.Phase == opsv1.PhaseSucceeded && len(op.Status.Conditions) > 0,
				fmt.Sprintf("phase %q, conditions %v", op.Status.Phase, op.Status.Conditions)
		}
	}
	testkit.Eventually(t, 30*time.Second, "team-a's operation to succeed", succeeded(keyA))
	testkit.Eventually(t, 10*time.Second, "an event in team-a", func() (bool, string) {
		var events corev1.EventList
		if err := k8s.List(ctx, &events, client.InNamespace(teamA)); err != nil {
			return false, err.Error()
		}
		return len(events.Items) > 0, "no event in team-a"
	})
	// The phase gauge lists through the manager's cache: it sees team-a's
	// operation only, and does not fail for lack of a cluster-wide list.
	if got := phaseTotal(t, mgr.GetClient()); got != 1 {
		t.Errorf("phase gauge counts %v operations, want team-a's one", got)
	}
	// The known event after which team-b must still be untouched: an
	// operation created in team-a after a second one in team-b has been
	// tracked to the end. A manager that wrongly saw team-b had job-b in
	// the same first list as job-a, and job-b2's creation before
	// job-a2's.
	keyB2 := newOperation(t, teamB, "job-b2")
	keyA2 := newOperation(t, teamA, "job-a2")
	testkit.Eventually(t, 30*time.Second, "team-a's operation created after team-b's second one to succeed", succeeded(keyA2))
	for _, key := range []client.ObjectKey{keyB, keyB2} {
		var opB opsv1.CloudOperation
		if err := k8s.Get(ctx, key, &opB); err != nil {
			t.Fatal(err)
		}
		if opB.Status.Phase != "" || len(opB.Status.Conditions) > 0 || opB.Status.ObservedGeneration != 0 {
			t.Errorf("team-b's operation %s was reconciled: %+v", key.Name, opB.Status)
		}
		if n := cloudSide.count(key.Name); n > 0 {
			t.Errorf("team-b's job %s asked of the cloud %d times", key.Name, n)
		}
	}
	var eventsB corev1.EventList
	if err := k8s.List(ctx, &eventsB, client.InNamespace(teamB)); err != nil || len(eventsB.Items) > 0 {
		t.Errorf("events in team-b: %d, %v", len(eventsB.Items), err)
	}
	if n := cloudSide.count("job-a"); n == 0 {
		t.Error("team-a's job never asked of the cloud")
	}
	log, logEnd := managerLog.Since(logStart)
	if lines := forbiddenLines(log); len(lines) > 0 {
		t.Errorf("requests refused:\n%s", strings.Join(lines, "\n"))
	}
	if !strings.Contains(log, `"watchNamespaces":["`+teamA+`"]`) {
		t.Errorf("the scope log does not name %s:\n%s", teamA, log)
	}

	// Control: the same identity over the whole cluster is refused.
	opts.WatchNamespaces = nil
	wide, err := newTestManager(tokenConfig(token), opts)
	if err != nil {
		t.Fatal(err)
	}
	ctxWide, stop := context.WithCancel(ctx)
	defer stop()
	go func() { _ = wide.Start(ctxWide) }()
	testkit.Eventually(t, 30*time.Second, "a refused list", func() (bool, string) {
		log, _ := managerLog.Since(logEnd)
		return len(forbiddenLines(log)) > 0, "a cluster-wide manager with team-a's Role was not refused a list"
	})
}

// phaseTotal sums the phase gauge PhaseCollector reports through reader.
func phaseTotal(t *testing.T, reader client.Reader) float64 {
	t.Helper()
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(controller.PhaseCollector{Reader: reader})
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var total float64
	for _, f := range families {
		for _, m := range f.GetMetric() {
			total += m.GetGauge().GetValue()
		}
	}
	return total
}
