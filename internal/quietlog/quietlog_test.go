package quietlog

import (
	"context"
	"testing"

	"github.com/go-logr/logr"
	"github.com/go-logr/logr/funcr"
)

// TestContextCapsVerbosity: a quieted call's logger still writes V(6) and
// below, never V(7) and above (client-go's headers and bodies), whatever
// names, values or V offsets the caller added.
func TestContextCapsVerbosity(t *testing.T) {
	var lines []string
	base := funcr.New(func(prefix, args string) { lines = append(lines, args) }, funcr.Options{Verbosity: 10})
	for _, tc := range []struct {
		name   string
		logger logr.Logger
		level  int
		want   bool
	}{
		{"V6 passes", base, 6, true},
		{"V7 is dropped", base, 7, false},
		{"V10 is dropped", base, 10, false},
		{"V(2) offset then V4 passes", base.V(2), 4, true},
		{"V(2) offset then V5 is dropped", base.V(2), 5, false},
		{"named logger keeps the cap", base.WithName("reconcile").WithValues("k", "v"), 8, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			lines = nil
			ctx := Context(logr.NewContext(context.Background(), tc.logger))
			l := logr.FromContextOrDiscard(ctx)
			l.WithValues("a", 1).WithName("client-go").V(tc.level).Info("Response Body", "body", "secret")
			if got := len(lines) == 1; got != tc.want {
				t.Errorf("logged %v, want %v (lines %q)", got, tc.want, lines)
			}
		})
	}
}

// TestContextWithoutLogger: with no logger in the context nothing is
// logged at all (client-go would otherwise use klog's global logger).
func TestContextWithoutLogger(t *testing.T) {
	l := logr.FromContextOrDiscard(Context(context.Background()))
	if l.V(0).Enabled() {
		t.Error("a context without a logger got an enabled one")
	}
}
