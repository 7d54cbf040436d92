// Package quietlog keeps secrets out of the logs of Kubernetes API calls.
//
// client-go logs through the logger in a call's context: request and
// response bodies from V(8) (truncated at V8 and V9, whole at V10), headers
// from V(7). A Secret read answers with the Secret's data and a
// TokenRequest with a token, so at --zap-log-level=8 or more those calls
// would print them. Context caps the verbosity of such calls below that,
// keeping their V(6) lines (method, URL, status, latency).
package quietlog

import (
	"context"

	"github.com/go-logr/logr"
)

// MaxVerbosity is the highest V-level that still reaches the log from a
// quieted call: client-go's method, URL, status and latency, no headers
// or bodies.
const MaxVerbosity = 6

// Context returns ctx with its logger capped at MaxVerbosity. Use it for
// every API call whose request or response carries a secret.
func Context(ctx context.Context) context.Context {
	l, err := logr.FromContext(ctx)
	if err != nil || l.GetSink() == nil {
		// No logger of ours: client-go would fall back to klog's global
		// one, whose verbosity the manager never raises; discard anyway
		// so a raised klog -v cannot print a body either.
		return logr.NewContext(ctx, logr.Discard())
	}
	if _, ok := l.GetSink().(cappedSink); ok {
		return ctx
	}
	return logr.NewContext(ctx, l.WithSink(cappedSink{LogSink: l.GetSink()}))
}

// cappedSink drops every Info message above MaxVerbosity.
type cappedSink struct{ logr.LogSink }

// Enabled implements logr.LogSink.
func (s cappedSink) Enabled(level int) bool { return level <= MaxVerbosity && s.LogSink.Enabled(level) }

// Info implements logr.LogSink; the logger checks Enabled first, but a
// caller holding the sink may not.
func (s cappedSink) Info(level int, msg string, kv ...any) {
	if level <= MaxVerbosity {
		s.LogSink.Info(level, msg, kv...)
	}
}

// WithValues implements logr.LogSink, keeping the cap.
func (s cappedSink) WithValues(kv ...any) logr.LogSink {
	return cappedSink{LogSink: s.LogSink.WithValues(kv...)}
}

// WithName implements logr.LogSink, keeping the cap.
func (s cappedSink) WithName(name string) logr.LogSink {
	return cappedSink{LogSink: s.LogSink.WithName(name)}
}
