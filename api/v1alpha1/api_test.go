package v1alpha1

import (
	"go/parser"
	"go/token"
	"path/filepath"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// TestImportsOnlyApimachinery keeps the API importable by other
// controllers without pulling in cloudop's internals or controller-runtime.
func TestImportsOnlyApimachinery(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	for _, file := range files {
		if strings.HasSuffix(file, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(token.NewFileSet(), file, nil, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		for _, imp := range f.Imports {
			path := strings.Trim(imp.Path.Value, `"`)
			if strings.Contains(strings.Split(path, "/")[0], ".") && !strings.HasPrefix(path, "k8s.io/apimachinery/") {
				t.Errorf("%s imports %s; the API may import only the standard library and k8s.io/apimachinery", file, path)
			}
		}
	}
}

func TestHelpers(t *testing.T) {
	cond := func(typ string, status metav1.ConditionStatus, gen int64) metav1.Condition {
		return metav1.Condition{Type: typ, Status: status, ObservedGeneration: gen, Reason: "R"}
	}
	cases := []struct {
		name                     string
		obj                      CloudOperation
		terminal, ready, stalled bool
		failed                   bool
		suspended                bool
		interval                 string
	}{
		{name: "new", obj: CloudOperation{}, interval: "30s"},
		{name: "running", obj: CloudOperation{Status: CloudOperationStatus{Phase: PhaseRunning}}, interval: "30s"},
		{name: "succeeded and ready", terminal: true, ready: true, interval: "1m0s",
			obj: CloudOperation{ObjectMeta: metav1.ObjectMeta{Generation: 2},
				Spec:   CloudOperationSpec{PollInterval: &metav1.Duration{Duration: 60e9}},
				Status: CloudOperationStatus{Phase: PhaseSucceeded, Conditions: []metav1.Condition{cond(ConditionReady, metav1.ConditionTrue, 2)}}}},
		{name: "ready for an older generation", terminal: true, interval: "30s",
			obj: CloudOperation{ObjectMeta: metav1.ObjectMeta{Generation: 3},
				Status: CloudOperationStatus{Phase: PhaseSucceeded, Conditions: []metav1.Condition{cond(ConditionReady, metav1.ConditionTrue, 2)}}}},
		{name: "failed and stalled", terminal: true, failed: true, stalled: true, interval: "30s",
			obj: CloudOperation{Status: CloudOperationStatus{Phase: PhaseFailed, Conditions: []metav1.Condition{cond(ConditionStalled, metav1.ConditionTrue, 0)}}}},
		{name: "cancelled", terminal: true, failed: true, interval: "30s", obj: CloudOperation{Status: CloudOperationStatus{Phase: PhaseCancelled}}},
		{name: "failed, not yet stalled", terminal: true, failed: true, interval: "30s", obj: CloudOperation{Status: CloudOperationStatus{Phase: PhaseFailed}}},
		{name: "pending", interval: "30s", obj: CloudOperation{Status: CloudOperationStatus{Phase: PhasePending}}},
		{name: "invalid configuration: stalled while pending", stalled: true, interval: "30s",
			obj: CloudOperation{Status: CloudOperationStatus{Phase: PhasePending, Conditions: []metav1.Condition{cond(ConditionStalled, metav1.ConditionTrue, 0)}}}},
		{name: "unknown is not terminal", interval: "30s", obj: CloudOperation{Status: CloudOperationStatus{Phase: PhaseUnknown}}},
		{name: "suspended", suspended: true, interval: "30s",
			obj: CloudOperation{ObjectMeta: metav1.ObjectMeta{Annotations: map[string]string{AnnotationSuspend: "true"}}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			o := tc.obj
			if o.IsTerminal() != tc.terminal || o.IsReady() != tc.ready || o.IsStalled() != tc.stalled || o.IsSuspended() != tc.suspended || o.IsFailed() != tc.failed {
				t.Errorf("terminal %v ready %v stalled %v suspended %v failed %v", o.IsTerminal(), o.IsReady(), o.IsStalled(), o.IsSuspended(), o.IsFailed())
			}
			if got := o.GetPollInterval().String(); got != tc.interval {
				t.Errorf("interval %s, want %s", got, tc.interval)
			}
		})
	}
}

func TestPhaseHelpers(t *testing.T) {
	cases := []struct {
		phase            Phase
		terminal, failed bool
	}{
		{"", false, false},
		{PhasePending, false, false},
		{PhaseRunning, false, false},
		{PhaseUnknown, false, false},
		{PhaseSucceeded, true, false},
		{PhaseFailed, true, true},
		{PhaseCancelled, true, true},
	}
	for _, tc := range cases {
		if got := tc.phase.IsTerminal(); got != tc.terminal {
			t.Errorf("%q.IsTerminal() = %v, want %v", tc.phase, got, tc.terminal)
		}
		if got := tc.phase.IsFailed(); got != tc.failed {
			t.Errorf("%q.IsFailed() = %v, want %v", tc.phase, got, tc.failed)
		}
	}
}
