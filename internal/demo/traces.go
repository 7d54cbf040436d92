package demo

import (
	"cmp"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	collectortrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"
)

// TraceSink is the demo's OTLP/HTTP receiver: it takes the traces the
// manager exports (protobuf ExportTraceServiceRequests, decoded with the
// OpenTelemetry project's generated types) and keeps them to print. The
// tests check export against the OpenTelemetry Collector's own receiver
// (test/tracing); this one only shows what arrived.
type TraceSink struct {
	// URL is where the manager sends traces.
	URL string

	server *http.Server
	mu     sync.Mutex
	spans  map[string][]*tracepb.Span // by trace ID
}

// maxTraceBody bounds one export request.
const maxTraceBody = 8 << 20

// startTraceSink listens on a free loopback port.
func startTraceSink() (*TraceSink, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s := &TraceSink{URL: "http://" + l.Addr().String() + "/v1/traces", spans: map[string][]*tracepb.Span{}}
	s.server = &http.Server{Handler: http.HandlerFunc(s.serve), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = s.server.Serve(l) }()
	return s, nil
}

func (s *TraceSink) serve(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || r.URL.Path != "/v1/traces" {
		http.NotFound(w, r)
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxTraceBody))
	var req collectortrace.ExportTraceServiceRequest
	if err == nil {
		err = proto.Unmarshal(body, &req)
	}
	if err != nil {
		http.Error(w, "not an OTLP protobuf export: "+err.Error(), http.StatusBadRequest)
		return
	}
	s.mu.Lock()
	for _, rs := range req.GetResourceSpans() {
		for _, ss := range rs.GetScopeSpans() {
			for _, span := range ss.GetSpans() {
				id := hex.EncodeToString(span.GetTraceId())
				s.spans[id] = append(s.spans[id], span)
			}
		}
	}
	s.mu.Unlock()
	out, _ := proto.Marshal(&collectortrace.ExportTraceServiceResponse{})
	w.Header().Set("Content-Type", "application/x-protobuf")
	_, _ = w.Write(out)
}

// Summary describes each trace received, one line per span, the
// operation's root span first and its steps indented under it.
func (s *TraceSink) Summary() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var roots []*tracepb.Span
	children := map[string][]*tracepb.Span{}
	for _, spans := range s.spans {
		for _, span := range spans {
			if len(span.GetParentSpanId()) == 0 {
				roots = append(roots, span)
				continue
			}
			parent := hex.EncodeToString(span.GetParentSpanId())
			children[parent] = append(children[parent], span)
		}
	}
	byStart := func(a, b *tracepb.Span) int {
		if c := cmp.Compare(a.GetStartTimeUnixNano(), b.GetStartTimeUnixNano()); c != 0 {
			return c
		}
		return strings.Compare(a.GetName(), b.GetName())
	}
	slices.SortFunc(roots, byStart)
	var lines []string
	var walk func(span *tracepb.Span, depth int)
	walk = func(span *tracepb.Span, depth int) {
		d := time.Duration(span.GetEndTimeUnixNano() - span.GetStartTimeUnixNano())
		line := fmt.Sprintf("%s%s  %s", strings.Repeat("  ", depth), span.GetName(), d.Round(time.Second))
		if span.GetStatus().GetCode() == tracepb.Status_STATUS_CODE_ERROR {
			line += "  error"
		}
		if depth == 0 {
			line = fmt.Sprintf("trace %s  %s", hex.EncodeToString(span.GetTraceId())[:12], line)
		}
		lines = append(lines, line)
		kids := children[hex.EncodeToString(span.GetSpanId())]
		slices.SortFunc(kids, byStart)
		for _, k := range kids {
			walk(k, depth+1)
		}
	}
	for _, r := range roots {
		walk(r, 0)
	}
	return lines
}

// close stops the receiver.
func (s *TraceSink) close() { _ = s.server.Close() }
