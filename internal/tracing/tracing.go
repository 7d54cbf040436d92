// Package tracing turns a finished CloudOperation into one OpenTelemetry
// trace: a root span for the operation and one span per step and
// sub-step, each with the start and completion times the cloud reported,
// exported over OTLP with the OpenTelemetry Go SDK.
//
// Trace and span IDs are derived from the object's UID (and the step's
// position), not drawn at random: an operation exported again (a manager
// killed between the export and the status write that ends polling, see
// the controller) gives the same IDs, which trace backends merge, and a
// trace can be found from the object alone (TraceID). The SDK draws IDs
// through an IDGenerator; this package's reads them from the context it
// starts each span with.
package tracing

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"os"
	"strings"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.40.0"
	"go.opentelemetry.io/otel/trace"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	opsv1 "github.com/cloudop/cloudop/api/v1alpha1"
	"github.com/cloudop/cloudop/internal/version"
)

// ScopeName is the instrumentation scope of cloudop's spans.
const ScopeName = "github.com/cloudop/cloudop/internal/tracing"

// cloudProvider is cloud.provider's value: Huawei Cloud has no value in
// the semantic conventions' list yet; this one follows their pattern
// (alibaba_cloud, tencent_cloud).
const cloudProvider = "huawei_cloud"

// Attribute keys cloudop adds where no semantic convention exists.
const (
	keyService       = attribute.Key("cloudop.service")
	keyOperationID   = attribute.Key("cloudop.operation.id")
	keyOperationType = attribute.Key("cloudop.operation.type")
	keyPhase         = attribute.Key("cloudop.phase")
	keyServiceStatus = attribute.Key("cloudop.service_status")
	keyObject        = attribute.Key("cloudop.object")
	keyResources     = attribute.Key("cloudop.resources")
	keyStep          = attribute.Key("cloudop.step.name")
)

// Exporter exports finished CloudOperations as traces.
type Exporter struct {
	provider *sdktrace.TracerProvider
	tracer   trace.Tracer
}

// Configured reports whether the standard OpenTelemetry variables name
// an OTLP endpoint for traces (OTEL_EXPORTER_OTLP_TRACES_ENDPOINT or
// OTEL_EXPORTER_OTLP_ENDPOINT), and OTEL_TRACES_EXPORTER does not say
// "none".
func Configured() bool {
	if strings.TrimSpace(os.Getenv("OTEL_TRACES_EXPORTER")) == "none" {
		return false
	}
	return os.Getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") != "" || os.Getenv("OTEL_EXPORTER_OTLP_ENDPOINT") != ""
}

// NewFromEnv builds an Exporter whose OTLP exporter reads the standard
// OTEL_EXPORTER_OTLP_* variables (endpoint, headers, TLS, timeout); the
// protocol is OTEL_EXPORTER_OTLP_TRACES_PROTOCOL, else
// OTEL_EXPORTER_OTLP_PROTOCOL: "grpc", or "http/protobuf" (the default,
// as the specification says).
func NewFromEnv(ctx context.Context) (*Exporter, error) {
	protocol := os.Getenv("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL")
	if protocol == "" {
		protocol = os.Getenv("OTEL_EXPORTER_OTLP_PROTOCOL")
	}
	var (
		exp sdktrace.SpanExporter
		err error
	)
	switch protocol {
	case "", "http/protobuf":
		exp, err = otlptracehttp.New(ctx)
	case "grpc":
		exp, err = otlptracegrpc.New(ctx)
	default:
		return nil, fmt.Errorf("OTLP protocol %q is not supported (want grpc or http/protobuf)", protocol)
	}
	if err != nil {
		return nil, fmt.Errorf("OTLP trace exporter: %w", err)
	}
	return New(exp), nil
}

// NewOTLPHTTP returns an Exporter sending OTLP over HTTP to endpointURL
// (e.g. http://127.0.0.1:4318/v1/traces), whatever the environment says:
// for the demo's own receiver.
func NewOTLPHTTP(ctx context.Context, endpointURL string) (*Exporter, error) {
	exp, err := otlptracehttp.New(ctx, otlptracehttp.WithEndpointURL(endpointURL))
	if err != nil {
		return nil, fmt.Errorf("OTLP trace exporter: %w", err)
	}
	return New(exp), nil
}

// New returns an Exporter sending spans to exp in batches.
func New(exp sdktrace.SpanExporter) *Exporter {
	res := resource.NewSchemaless(
		semconv.ServiceName("cloudop-manager"),
		semconv.ServiceVersion(version.Version),
	)
	provider := sdktrace.NewTracerProvider(
		sdktrace.WithBatcher(exp),
		sdktrace.WithResource(res),
		sdktrace.WithIDGenerator(contextIDs{}),
		// Every finished operation is exported: sampling would drop
		// whole operations at random.
		sdktrace.WithSampler(sdktrace.AlwaysSample()),
	)
	return &Exporter{provider: provider, tracer: provider.Tracer(ScopeName)}
}

// Export records obj, whose status is final, as a trace, and waits until
// the batch holding it has been sent or ctx ends.
func (e *Exporter) Export(ctx context.Context, obj *opsv1.CloudOperation) error {
	st := &obj.Status
	start, end := spanTimes(st.StartTime, st.CompletionTime, obj.CreationTimestamp.Time, lastChange(st))
	root := withIDs(ctx, TraceID(obj.UID), spanID(obj.UID, ""))
	attrs := []attribute.KeyValue{
		attribute.String(string(semconv.CloudProviderKey), cloudProvider),
		semconv.CloudRegion(obj.Spec.Region),
		semconv.K8SNamespaceName(obj.Namespace),
		keyObject.String(obj.Name),
		keyService.String(string(obj.Spec.Service)),
		keyOperationID.String(obj.Spec.OperationID),
		keyPhase.String(string(st.Phase)),
	}
	if obj.Spec.OperationType != "" {
		attrs = append(attrs, keyOperationType.String(string(obj.Spec.OperationType)))
	}
	if st.ServiceStatus != "" {
		attrs = append(attrs, keyServiceStatus.String(st.ServiceStatus))
	}
	if len(st.Resources) > 0 {
		ids := make([]string, len(st.Resources))
		for i, r := range st.Resources {
			ids[i] = r.Type + "/" + r.ID
		}
		attrs = append(attrs, keyResources.StringSlice(ids))
	}
	if resource := cmp.Or(obj.Spec.ClusterID, obj.Spec.StackID, obj.Spec.StackName, obj.Spec.BlockchainID); resource != "" {
		attrs = append(attrs, semconv.CloudResourceID(resource))
	}
	ctx, span := e.tracer.Start(root, string(obj.Spec.Service)+" "+operationName(obj),
		trace.WithTimestamp(start), trace.WithAttributes(attrs...), trace.WithSpanKind(trace.SpanKindInternal))
	setStatus(span, st.Phase, st.Message)
	for i, s := range st.Steps {
		if neverRan(s.StepStatus) {
			continue
		}
		path := fmt.Sprint(i)
		stepStart, stepEnd := spanTimes(s.StartTime, s.CompletionTime, start, end)
		stepCtx, stepSpan := e.startStep(ctx, obj.UID, path, s.StepStatus, stepStart)
		for j, sub := range s.SubSteps {
			if neverRan(sub) {
				continue
			}
			subStart, subEnd := spanTimes(sub.StartTime, sub.CompletionTime, stepStart, stepEnd)
			_, subSpan := e.startStep(stepCtx, obj.UID, path+"/"+fmt.Sprint(j), sub, subStart)
			subSpan.End(trace.WithTimestamp(subEnd))
		}
		stepSpan.End(trace.WithTimestamp(stepEnd))
	}
	span.End(trace.WithTimestamp(end))
	return e.provider.ForceFlush(ctx)
}

// neverRan reports whether a step never started: still pending, with no
// start time (the steps after a failure). It gets no span, which would
// otherwise stretch over its parent's whole time.
func neverRan(s opsv1.StepStatus) bool {
	return s.StartTime == nil && (s.Phase == opsv1.PhasePending || s.Phase == "")
}

// startStep starts the span of one step or sub-step (path is its
// position: "2", "2/0") at start.
func (e *Exporter) startStep(parent context.Context, uid types.UID, path string, s opsv1.StepStatus, start time.Time) (context.Context, trace.Span) {
	ctx := withIDs(parent, TraceID(uid), spanID(uid, path))
	attrs := []attribute.KeyValue{keyStep.String(s.Name), keyPhase.String(string(s.Phase))}
	if s.ServiceStatus != "" {
		attrs = append(attrs, keyServiceStatus.String(s.ServiceStatus))
	}
	ctx, span := e.tracer.Start(ctx, s.Name, trace.WithTimestamp(start), trace.WithAttributes(attrs...))
	setStatus(span, s.Phase, s.Message)
	return ctx, span
}

// Shutdown sends what is queued and stops the exporter.
func (e *Exporter) Shutdown(ctx context.Context) error { return e.provider.Shutdown(ctx) }

// TraceID is the trace ID of the CloudOperation with this UID: the first
// 16 bytes of SHA-256 of the UID.
func TraceID(uid types.UID) trace.TraceID {
	sum := sha256.Sum256([]byte("trace/" + string(uid)))
	var id trace.TraceID
	copy(id[:], sum[:16])
	return id
}

// spanID is the span ID of the operation (path "") or of one of its steps.
func spanID(uid types.UID, path string) trace.SpanID {
	sum := sha256.Sum256([]byte("span/" + string(uid) + "/" + path))
	var id trace.SpanID
	copy(id[:], sum[:8])
	if binary.BigEndian.Uint64(id[:]) == 0 {
		id[7] = 1 // all zeros is invalid
	}
	return id
}

// spanTimes are a span's start and end: the reported times, else the
// given defaults; an end before the start (clock trouble at the service)
// becomes the start.
func spanTimes(start, end *metav1.Time, defStart, defEnd time.Time) (time.Time, time.Time) {
	s, e := defStart, defEnd
	if start != nil {
		s = start.Time
	}
	if end != nil {
		e = end.Time
	}
	if e.Before(s) {
		e = s
	}
	return s, e
}

func lastChange(st *opsv1.CloudOperationStatus) time.Time {
	if st.LastChangeTime != nil {
		return st.LastChangeTime.Time
	}
	return time.Now()
}

// setStatus marks failed and cancelled spans as errors.
func setStatus(span trace.Span, phase opsv1.Phase, message string) {
	switch phase {
	case opsv1.PhaseFailed, opsv1.PhaseCancelled:
		span.SetStatus(codes.Error, message)
	case opsv1.PhaseSucceeded:
		span.SetStatus(codes.Ok, "")
	}
}

// operationName names the root span: the operation's kind and ID.
func operationName(obj *opsv1.CloudOperation) string {
	if obj.Spec.OperationType != "" {
		return string(obj.Spec.OperationType) + " " + obj.Spec.OperationID
	}
	return obj.Spec.OperationID
}
