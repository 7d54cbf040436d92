package e2e

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cloudop/cloudop/internal/cloudsim"
)

// TestKubectlWait: the built kubectl's wait returns when the simulated
// operations reach the states pipelines wait for.
func TestKubectlWait(t *testing.T) {
	t.Parallel()
	ns := newNamespace(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	success := simOperation(t, ns, "upgrade", cloudsim.OperationSpec{Service: cloudsim.CCE, ID: "wait-success", ClusterID: "wait-cluster"})
	failure := simOperation(t, ns, "restore", cloudsim.OperationSpec{Service: cloudsim.DWS, ID: "RESTORING", ClusterID: "wait-cluster", Scenario: cloudsim.ScenarioFail})

	waits := []struct {
		name string
		args []string
	}{
		{"condition=Ready", []string{"wait", "-n", ns, "--for=condition=Ready", "cloudoperation/upgrade", "--timeout=100s"}},
		{"jsonpath phase", []string{"wait", "-n", ns, "--for=jsonpath={.status.phase}=Succeeded", "cloudoperation/upgrade", "--timeout=100s"}},
		{"condition=Stalled", []string{"wait", "-n", ns, "--for=condition=Stalled", "cloudoperation/restore", "--timeout=100s"}},
	}
	// kubectl wait needs the objects to exist: create them, then wait at
	// once, while the operations are still running.
	if err := env.Client.Create(ctx, success); err != nil {
		t.Fatal(err)
	}
	if err := env.Client.Create(ctx, failure); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	results := make([]string, len(waits))
	errs := make([]error, len(waits))
	for i, w := range waits {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i], errs[i] = kubectl(ctx, w.args...)
		}()
	}
	wg.Wait()
	for i, w := range waits {
		if errs[i] != nil {
			t.Errorf("kubectl %s: %v\n%s", w.name, errs[i], results[i])
			continue
		}
		if !strings.Contains(results[i], "condition met") {
			t.Errorf("kubectl %s: %s", w.name, results[i])
		}
	}
	if p := get(t, ns, "upgrade").Status.Phase; p != "Succeeded" {
		t.Errorf("upgrade is %s after kubectl wait returned", p)
	}
	if p := get(t, ns, "restore").Status.Phase; p != "Failed" {
		t.Errorf("restore is %s after kubectl wait returned", p)
	}
}
