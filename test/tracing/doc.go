// Package tracing proves that finished operations reach a real OTLP
// receiver as traces: the OpenTelemetry Collector's own OTLP receiver
// (go.opentelemetry.io/collector/receiver/otlpreceiver) listens, the
// manager exports to it through the standard OTEL_EXPORTER_OTLP_*
// variables, and the test reads what the receiver decoded.
//
// It is its own Go module so that the Collector's libraries never enter
// the operator's module graph.
package tracing
