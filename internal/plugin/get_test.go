package plugin

import (
	"context"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"

	opsv1 "github.com/cloudop/cloudop/api/v1alpha1"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/golden")

// fixtures are the operations in testdata/operations: one per seed, and a
// failed job whose failed sub-job has a message (see testdata/README.md).
var fixtures = []string{"bcs-000", "bcs-001", "cce-002", "aos-003", "dws-004", "ecs-create-servers-failed"}

// TestGetGolden stores each fixture in the control plane (status through
// the status subresource) and compares `get NAME` (NO_COLOR, --width 100,
// the fixed clock, UTC) with testdata/golden/NAME.txt.
func TestGetGolden(t *testing.T) {
	ns := newNamespace(t)
	for _, name := range fixtures {
		createWithStatus(t, ns, readFixture(t, name))
	}
	for _, view := range []struct{ suffix, flag string }{{"", ""}, {"-timeline", "--timeline"}} {
		for _, name := range fixtures {
			t.Run(name+view.suffix, func(t *testing.T) {
				args := []string{"-n", ns, "get", name, "--width", "100"}
				if view.flag != "" {
					args = append(args, view.flag)
				}
				checkGolden(t, name+view.suffix, runPlugin(context.Background(), args...))
			})
		}
	}
}

// TestSourcesGolden: a source and the operations it discovered, as a
// tree (testdata/golden/source-chain.txt).
func TestSourcesGolden(t *testing.T) {
	ns := newNamespace(t)
	ctx := context.Background()
	src := &opsv1.CloudOperationSource{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "chain"},
		Spec: opsv1.CloudOperationSourceSpec{Service: opsv1.SourceBCS, Region: "cn-north-4", BlockchainID: "23604f57-eac9-3777-e9f5-ae87457f2338",
			CredentialsSecretRef: opsv1.SecretReference{Name: "creds"}},
	}
	if err := k8s.Create(ctx, src); err != nil {
		t.Fatal(err)
	}
	listed := metav1.NewTime(fixedNow.Add(-20 * time.Second))
	src.Status = opsv1.CloudOperationSourceStatus{
		ObservedGeneration: src.Generation, LastListTime: &listed, Listed: 2, Mirrored: 2,
		Message:    "listed 2 operations of blockchain 23604f57-eac9-3777-e9f5-ae87457f2338; 2 CloudOperations (0 created, 0 removed by the history limits)",
		Conditions: []metav1.Condition{{Type: opsv1.ConditionReady, Status: metav1.ConditionTrue, Reason: opsv1.ReasonListed, Message: "listed", LastTransitionTime: listed}},
	}
	if err := k8s.Status().Update(ctx, src); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"bcs-000", "bcs-001"} {
		obj := readFixture(t, name)
		obj.Name = "chain-" + name
		obj.Labels = map[string]string{opsv1.LabelSource: "chain"}
		if name == "bcs-001" {
			// The two seed pages show one operation: make them two.
			obj.Spec.OperationID = "BCSSVC01-03-1700000000000000001"
		}
		createWithStatus(t, ns, obj)
	}
	checkGolden(t, "source-chain", runPlugin(ctx, "-n", ns, "sources", "chain", "--width", "100"))

	// A CTS source mirrors jobs of several services: each line says whose.
	jobs := &opsv1.CloudOperationSource{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "jobs"},
		Spec: opsv1.CloudOperationSourceSpec{Service: opsv1.SourceCTS, Region: "cn-north-4", Services: []opsv1.Service{opsv1.ServiceECS, opsv1.ServiceEVS},
			CredentialsSecretRef: opsv1.SecretReference{Name: "creds"}},
	}
	if err := k8s.Create(ctx, jobs); err != nil {
		t.Fatal(err)
	}
	jobs.Status = opsv1.CloudOperationSourceStatus{
		ObservedGeneration: jobs.Generation, LastListTime: &listed, Listed: 1, Mirrored: 1, Resource: "traces/ECS,EVS",
		Message:    "listed 1 operations of traces/ECS,EVS; 1 CloudOperations (1 created, 0 removed by the history limits)",
		Conditions: []metav1.Condition{{Type: opsv1.ConditionReady, Status: metav1.ConditionTrue, Reason: opsv1.ReasonListed, Message: "listed", LastTransitionTime: listed}},
	}
	if err := k8s.Status().Update(ctx, jobs); err != nil {
		t.Fatal(err)
	}
	obj := readFixture(t, "ecs-create-servers-failed")
	obj.Name = "jobs-ecs"
	obj.Labels = map[string]string{opsv1.LabelSource: "jobs"}
	createWithStatus(t, ns, obj)
	checkGolden(t, "source-jobs", runPlugin(ctx, "-n", ns, "sources", "jobs", "--width", "100"))
}

// checkGolden compares what a get printed with testdata/golden/NAME.txt
// (rewritten with -update) and checks it fits --width 100 without colour.
func checkGolden(t *testing.T, name string, res result) {
	t.Helper()
	if res.err != nil {
		t.Fatalf("get: %v\n%s", res.err, res.stderr)
	}
	golden := filepath.Join("testdata", "golden", name+".txt")
	if *update {
		if err := os.MkdirAll(filepath.Dir(golden), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(golden, []byte(res.stdout), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if res.stdout != string(want) {
		t.Errorf("get %s differs from %s:\n--- got\n%s--- want\n%s", name, golden, res.stdout, want)
	}
	for i, line := range strings.Split(strings.TrimSuffix(res.stdout, "\n"), "\n") {
		if c := cells(line); c > 100 {
			t.Errorf("line %d takes %d cells, more than --width 100: %q", i+1, c, line)
		}
		if strings.Contains(line, "\x1b") {
			t.Errorf("line %d has an escape sequence with NO_COLOR set: %q", i+1, line)
		}
	}
}

// TestGetOutputFormats checks -o name, json and yaml for one name and for a
// selector, and the selector and -A.
func TestGetOutputFormats(t *testing.T) {
	ns := newNamespace(t)
	ctx := context.Background()
	for _, name := range []string{"cce-002", "aos-003"} {
		obj := readFixture(t, name)
		obj.Labels = map[string]string{"team": name[:3]}
		createWithStatus(t, ns, obj)
	}

	res := runPlugin(ctx, "-n", ns, "get", "-l", "team=cce", "-o", "name")
	if res.err != nil || res.stdout != "cloudoperation.ops.cloudop.dev/cce-002\n" {
		t.Errorf("get -l team=cce -o name = %q, %v; want only cce-002", res.stdout, res.err)
	}

	res = runPlugin(ctx, "-n", ns, "get", "cce-002", "-o", "json")
	var one opsv1.CloudOperation
	if err := json.Unmarshal([]byte(res.stdout), &one); err != nil || res.err != nil {
		t.Fatalf("get -o json: %v %v\n%s", err, res.err, res.stdout)
	}
	if one.Kind != "CloudOperation" || one.APIVersion != "ops.cloudop.dev/v1alpha1" || one.Status.CurrentStep != "Cluster" {
		t.Errorf("get -o json gave kind %q, apiVersion %q, currentStep %q", one.Kind, one.APIVersion, one.Status.CurrentStep)
	}

	res = runPlugin(ctx, "-n", ns, "get", "-o", "yaml")
	var list struct {
		Kind  string                 `json:"kind"`
		Items []opsv1.CloudOperation `json:"items"`
	}
	if err := yaml.Unmarshal([]byte(res.stdout), &list); err != nil || res.err != nil {
		t.Fatalf("get -o yaml: %v %v\n%s", err, res.err, res.stdout)
	}
	if list.Kind != "List" || len(list.Items) != 2 || list.Items[0].Kind != "CloudOperation" {
		t.Errorf("get -o yaml of two gave kind %q with %d items", list.Kind, len(list.Items))
	}

	res = runPlugin(ctx, "get", "-A", "-l", "team=aos")
	if res.err != nil || !strings.HasPrefix(res.stdout, ns+"/aos-003  AOS") || strings.Contains(res.stdout, "cce-002") {
		t.Errorf("get -A -l team=aos:\n%s%v", res.stdout, res.err)
	}

	res = runPlugin(ctx, "-n", ns, "get", "missing")
	if res.code != ExitError || !strings.Contains(res.err.Error(), `"missing" not found`) {
		t.Errorf("get missing: code %d, %v", res.code, res.err)
	}
}
