package plugin

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	opsv1 "github.com/cloudop/cloudop/api/v1alpha1"
	"github.com/cloudop/cloudop/internal/testenv"
	"github.com/cloudop/cloudop/internal/testkit"
)

// running is a fresh operation in phase Running, as the manager writes it.
func running(name string) *opsv1.CloudOperation {
	obj := &opsv1.CloudOperation{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: opsv1.CloudOperationSpec{
			Service: opsv1.ServiceECS, Region: "cn-north-4", OperationID: "job-" + name,
			CredentialsSecretRef: opsv1.SecretReference{Name: "huaweicloud-credentials"},
		},
	}
	progress := int32(10)
	obj.Status = opsv1.CloudOperationStatus{
		ObservedGeneration: 1, Phase: opsv1.PhaseRunning, ServiceStatus: "RUNNING", Progress: &progress,
		CurrentStep: "createSingleServer",
		Steps: []opsv1.OperationStep{{StepStatus: opsv1.StepStatus{
			Name: "createSingleServer", Phase: opsv1.PhaseRunning, ServiceStatus: "RUNNING",
			StartTime: &metav1.Time{Time: fixedNow.Add(-time.Minute)},
		}}},
	}
	setConditions(&obj.Status, opsv1.PhaseRunning)
	return obj
}

// setConditions sets the conditions the manager sets for a phase (see
// docs/conditions/).
func setConditions(st *opsv1.CloudOperationStatus, phase opsv1.Phase) {
	set := func(typ string, status metav1.ConditionStatus, reason string) {
		meta.SetStatusCondition(&st.Conditions, metav1.Condition{Type: typ, Status: status, Reason: reason, Message: "operation " + strings.ToLower(string(phase)), ObservedGeneration: 1})
	}
	switch phase {
	case opsv1.PhaseSucceeded:
		set(opsv1.ConditionReady, metav1.ConditionTrue, opsv1.ReasonSucceeded)
		set(opsv1.ConditionSucceeded, metav1.ConditionTrue, opsv1.ReasonSucceeded)
		meta.RemoveStatusCondition(&st.Conditions, opsv1.ConditionReconciling)
	case opsv1.PhaseFailed, opsv1.PhaseCancelled:
		reason := opsv1.ReasonFailed
		if phase == opsv1.PhaseCancelled {
			reason = opsv1.ReasonCancelled
		}
		set(opsv1.ConditionReady, metav1.ConditionFalse, reason)
		set(opsv1.ConditionStalled, metav1.ConditionTrue, reason)
		set(opsv1.ConditionSucceeded, metav1.ConditionFalse, reason)
		meta.RemoveStatusCondition(&st.Conditions, opsv1.ConditionReconciling)
	default:
		set(opsv1.ConditionReady, metav1.ConditionFalse, opsv1.ReasonInProgress)
		set(opsv1.ConditionReconciling, metav1.ConditionTrue, opsv1.ReasonInProgress)
		set(opsv1.ConditionSucceeded, metav1.ConditionUnknown, opsv1.ReasonInProgress)
	}
}

// finish moves an operation to a terminal phase as the manager would.
func finish(t *testing.T, obj *opsv1.CloudOperation, phase opsv1.Phase, message string) {
	t.Helper()
	setStatus(t, obj, func(st *opsv1.CloudOperationStatus) {
		st.Phase = phase
		st.Message = message
		st.CompletionTime = &metav1.Time{Time: fixedNow}
		if phase == opsv1.PhaseSucceeded {
			p := int32(100)
			st.Progress = &p
		}
		st.Steps[0].Phase = phase
		setConditions(st, phase)
		for i := range st.Conditions {
			st.Conditions[i].Message += ": " + message
		}
	})
}

// timedResult is a result and when the command returned.
type timedResult struct {
	result
	at time.Time
}

// background is a run of the plugin in a goroutine.
type background struct {
	// out is what it has printed so far.
	out *testenv.LogBuffer
	// done gets its result.
	done <-chan timedResult
}

// runInBackground runs the plugin in a goroutine.
func runInBackground(args ...string) *background {
	out := &testenv.LogBuffer{}
	done := make(chan timedResult, 1)
	go func() {
		var errOut bytes.Buffer
		err := execPlugin(context.Background(), out, &errOut, args...)
		done <- timedResult{result{stdout: out.String(), stderr: errOut.String(), err: err, code: ExitCode(err)}, time.Now()}
	}()
	return &background{out: out, done: done}
}

// waitForOutput waits until the plugin has printed want: the known event
// a test changes things after (e.g. a line printed once the plugin has
// listed, after which its watch sees every change). It fails the test if
// the plugin returns first.
func (b *background) waitForOutput(t *testing.T, want string) {
	t.Helper()
	testkit.Eventually(t, 20*time.Second, fmt.Sprintf("the plugin to print %q", want), func() (bool, string) {
		out := b.out.String()
		if strings.Contains(out, want) {
			return true, ""
		}
		select {
		case res := <-b.done:
			t.Fatalf("the plugin returned while the test waited for it to print %q: %+v", want, res)
		default:
		}
		return false, fmt.Sprintf("it printed %q", out)
	})
}

// TestWaitFailsFast checks that wait, with a --timeout of two minutes,
// returns exit code 2 and the condition's reason and message within a few
// seconds of the operation turning Failed, Cancelled, or stalling; and exit
// code 0 once every named operation is Ready.
func TestWaitFailsFast(t *testing.T) {
	tests := []struct {
		name     string
		end      func(t *testing.T, obj *opsv1.CloudOperation)
		wantCode int
		wantErr  string
	}{
		{"failed", func(t *testing.T, obj *opsv1.CloudOperation) {
			finish(t, obj, opsv1.PhaseFailed, "Ecs.0013: Insufficient EIP quota.")
		}, ExitOperationFailed, "is Failed (Failed): operation failed: Ecs.0013: Insufficient EIP quota."},
		{"cancelled", func(t *testing.T, obj *opsv1.CloudOperation) {
			finish(t, obj, opsv1.PhaseCancelled, "stopped by the user")
		}, ExitOperationFailed, "is Cancelled (Cancelled)"},
		{"stalled while running", func(t *testing.T, obj *opsv1.CloudOperation) {
			setStatus(t, obj, func(st *opsv1.CloudOperationStatus) {
				meta.SetStatusCondition(&st.Conditions, metav1.Condition{Type: opsv1.ConditionStalled, Status: metav1.ConditionTrue,
					Reason: opsv1.ReasonInvalidConfiguration, Message: "endpoint is not allowed", ObservedGeneration: 1})
			})
		}, ExitOperationFailed, "is stalled (InvalidConfiguration): endpoint is not allowed"},
		{"succeeded", func(t *testing.T, obj *opsv1.CloudOperation) {
			finish(t, obj, opsv1.PhaseSucceeded, "")
		}, 0, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ns := newNamespace(t)
			obj := createWithStatus(t, ns, running("op"))
			other := createWithStatus(t, ns, running("other"))
			finish(t, other, opsv1.PhaseSucceeded, "")

			run := runInBackground("-n", ns, "wait", "op", "other", "--timeout", "2m")
			// Printed once wait has listed both, op still running; its
			// watch sees every change after that.
			run.waitForOutput(t, "cloudoperation.ops.cloudop.dev/other condition met")
			changed := time.Now()
			tt.end(t, obj)
			select {
			case res := <-run.done:
				if res.at.Before(changed) {
					t.Fatalf("wait returned while op was still running: %+v", res)
				}
				if took := res.at.Sub(changed); took > 5*time.Second {
					t.Errorf("wait returned %s after the status changed, want within 5s", took)
				}
				if res.code != tt.wantCode {
					t.Errorf("exit code %d, want %d (%v)", res.code, tt.wantCode, res.err)
				}
				if tt.wantErr != "" && (res.err == nil || !strings.Contains(res.err.Error(), tt.wantErr)) {
					t.Errorf("error %v, want it to contain %q", res.err, tt.wantErr)
				}
				if tt.wantCode == 0 && !strings.Contains(res.stdout, "cloudoperation.ops.cloudop.dev/op condition met") {
					t.Errorf("stdout %q does not say the condition was met", res.stdout)
				}
			case <-time.After(20 * time.Second):
				t.Fatal("wait did not return within 20s of the status change")
			}
		})
	}
}

// TestWaitTimeoutAndMissing checks exit code 3 at --timeout while an
// operation runs, and an error for a name that does not exist.
func TestWaitTimeoutAndMissing(t *testing.T) {
	ns := newNamespace(t)
	createWithStatus(t, ns, running("slow"))
	start := time.Now()
	res := runPlugin(context.Background(), "-n", ns, "wait", "slow", "--timeout", "1s")
	if res.code != ExitTimeout || time.Since(start) > 10*time.Second || !strings.Contains(res.err.Error(), "slow") {
		t.Errorf("wait --timeout 1s: code %d after %s, %v", res.code, time.Since(start), res.err)
	}
	res = runPlugin(context.Background(), "-n", ns, "wait", "slow", "nothere", "--timeout", "10s")
	if res.code != ExitError || !strings.Contains(res.err.Error(), `"nothere" not found`) {
		t.Errorf("wait nothere: code %d, %v", res.code, res.err)
	}
}

// TestWatchInAPipe checks watch without a terminal: a summary line per
// change, no escape sequences, the final tree once, and the exit code.
func TestWatchInAPipe(t *testing.T) {
	for _, tt := range []struct {
		phase    opsv1.Phase
		wantCode int
	}{{opsv1.PhaseSucceeded, 0}, {opsv1.PhaseFailed, ExitOperationFailed}} {
		t.Run(string(tt.phase), func(t *testing.T) {
			ns := newNamespace(t)
			obj := createWithStatus(t, ns, running("op"))
			run := runInBackground("-n", ns, "watch", "op", "--timeout", "1m")
			// Each line is printed once watch has seen the change: the
			// first once it has listed, after which its watch sees
			// every change.
			run.waitForOutput(t, "op Running 10% step createSingleServer\n")
			setStatus(t, obj, func(st *opsv1.CloudOperationStatus) {
				p := int32(60)
				st.Progress = &p
			})
			run.waitForOutput(t, "op Running 60% step createSingleServer\n")
			finish(t, obj, tt.phase, "the end")
			var res timedResult
			select {
			case res = <-run.done:
			case <-time.After(20 * time.Second):
				t.Fatal("watch did not return")
			}
			if res.code != tt.wantCode {
				t.Errorf("exit code %d, want %d (%v)", res.code, tt.wantCode, res.err)
			}
			for _, want := range []string{"op Running 10% step createSingleServer\n", "op Running 60% step createSingleServer\n", "op " + string(tt.phase)} {
				if !strings.Contains(res.stdout, want) {
					t.Errorf("output lacks %q:\n%s", want, res.stdout)
				}
			}
			if n := strings.Count(res.stdout, "op  ECS job-op"); n != 1 {
				t.Errorf("the tree's header appears %d times, want once (the final tree):\n%s", n, res.stdout)
			}
			if strings.Contains(res.stdout, "\x1b") {
				t.Errorf("escape sequences in a pipe:\n%q", res.stdout)
			}
		})
	}
	res := runPlugin(context.Background(), "-n", "default", "watch", "nothere")
	if res.code != ExitError || !strings.Contains(res.err.Error(), "not found") {
		t.Errorf("watch nothere: code %d, %v", res.code, res.err)
	}
}
