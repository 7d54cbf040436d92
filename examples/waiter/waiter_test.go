package waiter

import (
	"context"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1alpha1 "github.com/cloudop/cloudop/api/v1alpha1"
)

// managerStatus is the status the cloudop manager writes for an observation
// with the given phase (empty before one is known) and reason, following the
// mapping in docs/conditions/README.md.
func managerStatus(op *v1alpha1.CloudOperation, phase v1alpha1.Phase, reason, message string) v1alpha1.CloudOperationStatus {
	cond := func(conditionType string, status metav1.ConditionStatus) metav1.Condition {
		return metav1.Condition{
			Type: conditionType, Status: status, Reason: reason, Message: message,
			ObservedGeneration: op.Generation, LastTransitionTime: metav1.Now(),
		}
	}
	st := v1alpha1.CloudOperationStatus{ObservedGeneration: op.Generation, Phase: phase, Message: message}
	switch reason {
	case v1alpha1.ReasonSucceeded:
		st.Conditions = []metav1.Condition{cond(v1alpha1.ConditionReady, metav1.ConditionTrue), cond(v1alpha1.ConditionSucceeded, metav1.ConditionTrue)}
	case v1alpha1.ReasonFailed, v1alpha1.ReasonResumable, v1alpha1.ReasonCancelled:
		st.Conditions = []metav1.Condition{cond(v1alpha1.ConditionReady, metav1.ConditionFalse), cond(v1alpha1.ConditionStalled, metav1.ConditionTrue), cond(v1alpha1.ConditionSucceeded, metav1.ConditionFalse)}
	case v1alpha1.ReasonInvalidConfiguration, v1alpha1.ReasonNotFound:
		// NotFound stalls only once the operation has been unknown for 2
		// minutes; earlier it reads like the running reasons below.
		st.Conditions = []metav1.Condition{cond(v1alpha1.ConditionReady, metav1.ConditionFalse), cond(v1alpha1.ConditionStalled, metav1.ConditionTrue), cond(v1alpha1.ConditionSucceeded, metav1.ConditionUnknown)}
	default: // Progressing, Pending, InProgress, UnknownStatus and the retried errors
		st.Conditions = []metav1.Condition{cond(v1alpha1.ConditionReady, metav1.ConditionFalse), cond(v1alpha1.ConditionReconciling, metav1.ConditionTrue), cond(v1alpha1.ConditionSucceeded, metav1.ConditionUnknown)}
	}
	return st
}

// TestProceedsWhenReady follows an operation from creation to success: the
// gate waits, then proceeds with the resources the operation reported, and
// keeps the data keys it does not own.
func TestProceedsWhenReady(t *testing.T) {
	ns := newNamespace(t)
	op := newOperation(t, ns, "ecs-create")
	gate := newGate(t, ns, op.Name, map[string]string{"owner": "team-a"})
	// Not polled by the manager yet: no conditions, nothing to report.
	waitForData(t, gate, map[string]string{KeyState: StateWaiting, KeyReason: "", "owner": "team-a"})

	steps := []struct {
		phase   v1alpha1.Phase
		reason  string
		message string
	}{
		{"", v1alpha1.ReasonProgressing, "not polled yet"},
		{v1alpha1.PhaseRunning, v1alpha1.ReasonInProgress, "operation running (step createSingleServer)"},
	}
	for _, step := range steps {
		writeStatus(t, op, managerStatus(op, step.phase, step.reason, step.message))
		waitForData(t, gate, map[string]string{KeyState: StateWaiting, KeyReason: step.reason, KeyMessage: step.message})
	}

	done := managerStatus(op, v1alpha1.PhaseSucceeded, v1alpha1.ReasonSucceeded, "operation succeeded")
	done.Resources = []v1alpha1.ResourceReference{{Type: "server", ID: "7c4d5b8e"}, {Type: "volume", ID: "a91f03c2"}}
	writeStatus(t, op, done)
	waitForData(t, gate, map[string]string{
		KeyState: StateProceed, KeyReason: v1alpha1.ReasonSucceeded, KeyMessage: "operation succeeded",
		KeyResources: "server/7c4d5b8e,volume/a91f03c2", "owner": "team-a",
	})
}

// TestBlocksOnFailure drives one operation per case to its outcome and
// checks the gate blocks, with the Stalled condition's reason and message,
// exactly when the operation failed, was cancelled or stalled; errors that
// cloudop retries keep it waiting.
func TestBlocksOnFailure(t *testing.T) {
	cases := []struct {
		name      string
		phase     v1alpha1.Phase
		reason    string
		wantState string
	}{
		{"failed", v1alpha1.PhaseFailed, v1alpha1.ReasonFailed, StateBlocked},
		{"resumable", v1alpha1.PhaseFailed, v1alpha1.ReasonResumable, StateBlocked},
		{"cancelled", v1alpha1.PhaseCancelled, v1alpha1.ReasonCancelled, StateBlocked},
		// Stalled before any phase was observed.
		{"invalid-configuration", "", v1alpha1.ReasonInvalidConfiguration, StateBlocked},
		{"not-found", "", v1alpha1.ReasonNotFound, StateBlocked},
		// Not Stalled: cloudop keeps retrying, the operation may still finish.
		{"auth-failed", v1alpha1.PhaseRunning, v1alpha1.ReasonAuthFailed, StateWaiting},
		{"throttled", v1alpha1.PhaseRunning, v1alpha1.ReasonThrottled, StateWaiting},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ns := newNamespace(t)
			op := newOperation(t, ns, tc.name)
			gate := newGate(t, ns, op.Name, nil)
			writeStatus(t, op, managerStatus(op, v1alpha1.PhaseRunning, v1alpha1.ReasonInProgress, "operation running"))
			waitForData(t, gate, map[string]string{KeyState: StateWaiting, KeyReason: v1alpha1.ReasonInProgress})

			message := tc.name + ": " + time.Now().Format(time.RFC3339Nano)
			writeStatus(t, op, managerStatus(op, tc.phase, tc.reason, message))
			waitForData(t, gate, map[string]string{KeyState: tc.wantState, KeyReason: tc.reason, KeyMessage: message, KeyResources: ""})
		})
	}
}

// TestGateBeforeOperation creates the gate first: it waits for an operation
// that does not exist, proceeds once the operation is created and succeeds,
// and waits again when the spec changes and Ready describes an older
// generation.
func TestGateBeforeOperation(t *testing.T) {
	ns := newNamespace(t)
	gate := newGate(t, ns, "rds-restore", nil)
	waitForData(t, gate, map[string]string{KeyState: StateWaiting, KeyMessage: "CloudOperation rds-restore does not exist yet"})

	op := newOperation(t, ns, "rds-restore")
	writeStatus(t, op, managerStatus(op, v1alpha1.PhaseSucceeded, v1alpha1.ReasonSucceeded, "restored"))
	waitForData(t, gate, map[string]string{KeyState: StateProceed, KeyReason: v1alpha1.ReasonSucceeded})

	patch := client.MergeFrom(op.DeepCopy())
	op.Spec.PollInterval = &metav1.Duration{Duration: time.Minute}
	if err := k8s.Patch(context.Background(), op, patch); err != nil {
		t.Fatal(err)
	}
	if op.Generation < 2 {
		t.Fatalf("generation %d after a spec change, want at least 2", op.Generation)
	}
	waitForData(t, gate, map[string]string{KeyState: StateWaiting})
}
