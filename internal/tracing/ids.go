package tracing

import (
	"context"
	crand "crypto/rand"

	"go.opentelemetry.io/otel/trace"
)

// idsKey is the context key of the IDs the next span is started with.
type idsKey struct{}

// spanIDs are the trace and span ID one span gets.
type spanIDs struct {
	trace trace.TraceID
	span  trace.SpanID
}

// withIDs returns ctx carrying the IDs of the span started with it.
func withIDs(ctx context.Context, traceID trace.TraceID, span trace.SpanID) context.Context {
	return context.WithValue(ctx, idsKey{}, spanIDs{traceID, span})
}

// contextIDs is the SDK's IDGenerator: it hands out the IDs the context
// carries (withIDs), and random ones for a span started without them.
type contextIDs struct{}

// NewIDs returns the IDs of a root span.
func (contextIDs) NewIDs(ctx context.Context) (trace.TraceID, trace.SpanID) {
	if ids, ok := ctx.Value(idsKey{}).(spanIDs); ok {
		return ids.trace, ids.span
	}
	var t trace.TraceID
	_, _ = crand.Read(t[:])
	return t, randomSpanID()
}

// NewSpanID returns the ID of a child span.
func (contextIDs) NewSpanID(ctx context.Context, _ trace.TraceID) trace.SpanID {
	if ids, ok := ctx.Value(idsKey{}).(spanIDs); ok {
		return ids.span
	}
	return randomSpanID()
}

func randomSpanID() trace.SpanID {
	var s trace.SpanID
	_, _ = crand.Read(s[:])
	return s
}
