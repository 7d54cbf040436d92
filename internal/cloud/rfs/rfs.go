// Package rfs observes a Resource Formation Service (RFS, AOS's
// successor) stack deployment: the deployment_id DeployStack (or
// CreateStack, ApplyExecutionPlan, ContinueDeployStack) returned, on the
// stack spec.stackName. The Go SDK's package "aos" (v0.1.207) talks to
// the rfs hosts; two of its GETs are read: GetStackMetadata, GET
// /v1/{project_id}/stacks/{stack_name}/metadata, for the stack's status,
// and ListStackEvents, GET /v1/{project_id}/stacks/{stack_name}/events
// ?deployment_id=, for the deployment's own events.
//
// The stack's status describes the stack's latest deployment, which need
// not be the one observed (RFS queues deployments and runs them one at a
// time; another may have started since), and events name no deployment
// but are filtered by it. So the phase is decided from the deployment's
// events first and the stack's status second; see Parse.
package rfs

import (
	"context"
	"crypto/rand"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/cloudop/cloudop/internal/cloud"
	"github.com/cloudop/cloudop/internal/cloud/internal/flex"
	"github.com/cloudop/cloudop/internal/cloud/transport"
)

// MaxEventPages bounds the pages of events read per poll (the first and
// at most four next_marker pages). Events come newest first, so what a
// longer deployment loses is its oldest events.
const MaxEventPages = 5

// maxFailureMessages bounds the failed events quoted in the message.
const maxFailureMessages = 8

// StackStatuses maps the stack's status (GetStackMetadataResponse's
// enum, SDK v0.1.207) to the phase of the stack's latest deployment,
// which Parse weighs against the deployment's own events.
// CREATION_COMPLETE is an empty stack that has had no deployment yet;
// ROLLBACK_COMPLETE is a failed deployment rolled back, so a failure too.
var StackStatuses = cloud.StatusTable{
	"CREATION_COMPLETE":      cloud.PhasePending,
	"DEPLOYMENT_IN_PROGRESS": cloud.PhaseRunning,
	"DEPLOYMENT_COMPLETE":    cloud.PhaseSucceeded,
	"DEPLOYMENT_FAILED":      cloud.PhaseFailed,
	"ROLLBACK_IN_PROGRESS":   cloud.PhaseRunning,
	"ROLLBACK_COMPLETE":      cloud.PhaseFailed,
	"ROLLBACK_FAILED":        cloud.PhaseFailed,
	"DELETION_IN_PROGRESS":   cloud.PhaseRunning,
	"DELETION_FAILED":        cloud.PhaseFailed,
}

// stackRollingBack is the stack status during which a failed deployment
// is not yet over.
const stackRollingBack = "ROLLBACK_IN_PROGRESS"

// EventTypes maps the event_type of an event about one resource (the
// StackEvent enum) to the phase of that resource's step. ERROR records a
// failure. LOG (state information), SUMMARY (the summary of the
// resource changes' results) and DRIFT (drift information) say nothing
// of a resource's progress: they are known but change no step.
var EventTypes = cloud.StatusTable{
	"CREATION_IN_PROGRESS": cloud.PhaseRunning,
	"UPDATE_IN_PROGRESS":   cloud.PhaseRunning,
	"DELETION_IN_PROGRESS": cloud.PhaseRunning,
	"CREATION_COMPLETE":    cloud.PhaseSucceeded,
	"UPDATE_COMPLETE":      cloud.PhaseSucceeded,
	"DELETION_COMPLETE":    cloud.PhaseSucceeded,
	"CREATION_FAILED":      cloud.PhaseFailed,
	"UPDATE_FAILED":        cloud.PhaseFailed,
	"DELETION_FAILED":      cloud.PhaseFailed,
	"ERROR":                cloud.PhaseFailed,
}

// Event types that change no step.
const (
	eventLog     = "LOG"
	eventSummary = "SUMMARY"
	eventDrift   = "DRIFT"
)

// apiError is RFS's error object ({error_code, error_msg}): a 200
// carrying it answers for the query, not for the stack or its events, and
// must reach the message rather than read as an answer.
type apiError struct {
	ErrorCode flex.String `json:"error_code"`
	ErrorMsg  flex.String `json:"error_msg"`
}

// text is "code: message", or "" when there is no error.
func (e apiError) text() string {
	return cloud.JoinNonEmpty(": ", string(e.ErrorCode), string(e.ErrorMsg))
}

// metadata is GetStackMetadata's answer, the fields read.
type metadata struct {
	apiError
	StackID       flex.String `json:"stack_id"`
	StackName     flex.String `json:"stack_name"`
	Status        flex.String `json:"status"`
	StatusMessage flex.String `json:"status_message"`
}

// eventPage is one ListStackEvents answer.
type eventPage struct {
	apiError
	StackEvents flex.List[event] `json:"stack_events"`
	PageInfo    pageInfo         `json:"page_info"`
}

// pageInfo holds the marker of the next (older) page, absent on the last.
type pageInfo struct {
	NextMarker flex.String `json:"next_marker"`
}

// UnmarshalJSON reads a page_info object; any other value counts as
// empty (no next page).
func (p *pageInfo) UnmarshalJSON(data []byte) error {
	type plain pageInfo
	return flex.Object(data, (*plain)(p))
}

// event is a StackEvent. LOG and SUMMARY events have no resource fields.
type event struct {
	ResourceType    flex.String `json:"resource_type"`
	ResourceName    flex.String `json:"resource_name"`
	ResourceIDKey   flex.String `json:"resource_id_key"`
	ResourceIDValue flex.String `json:"resource_id_value"`
	// ResourceKey is the count index or for_each key of one of several
	// instances of a resource.
	ResourceKey  flex.String `json:"resource_key"`
	Time         flex.String `json:"time"`
	EventType    flex.String `json:"event_type"`
	EventMessage flex.String `json:"event_message"`
	// ElapsedSeconds, the time the event took, is not read: the times
	// of the first and last events are what the steps show.
	ElapsedSeconds flex.Int `json:"elapsed_seconds"`
}

// UnmarshalJSON reads an event object; any other value counts as an
// empty event, which Parse skips.
func (e *event) UnmarshalJSON(data []byte) error {
	type plain event
	return flex.Object(data, (*plain)(e))
}

// Adapter fetches RFS stack deployments. It implements cloud.Fetcher.
type Adapter struct {
	HTTP *transport.HTTPClient
}

var _ cloud.Fetcher = (*Adapter)(nil)

// New returns an Adapter sending its requests through c.
func New(c *transport.HTTPClient) *Adapter { return &Adapter{HTTP: c} }

// Fetch reads deployment t.OperationID of stack t.StackName: the stack's
// metadata, then the deployment's events (deployment_id, plus stack_id
// when t.StackID pins the stack; RFS answers 400 when it is no longer
// the stack of that name), following next_marker for at most
// MaxEventPages pages. A stack that does not exist answers 404, a
// KindNotFound error.
//
// Every request carries a Client-Request-Id, which RFS requires: a new
// random UUID each time, as the API asks (a unique ID per request, to
// find it by). Identical requests in flight at once are coalesced by the
// transport only when their headers are equal too, so two objects polling
// the same deployment at the same instant make two exchanges each instead
// of sharing them; that is rare and costs little, while an ID derived
// from the target would give every poll of a deployment the same "unique"
// ID.
func (a *Adapter) Fetch(ctx context.Context, t cloud.Target) (*cloud.Operation, error) {
	project, err := t.RequireDeployment()
	if err != nil {
		return nil, err
	}
	stack := "/v1/" + project + "/stacks/" + t.StackName
	var pin url.Values
	if t.StackID != "" {
		pin = url.Values{"stack_id": {t.StackID}}
	}
	meta, err := a.HTTP.Get(ctx, t, stack+"/metadata", pin, requestHeaders())
	if err != nil {
		return nil, err
	}
	// An unreadable metadata answer fails the fetch: no events request
	// is spent on it.
	if err := cloud.DecodeJSONObject(meta, &metadata{}); err != nil {
		return nil, err
	}
	var pages [][]byte
	seen := map[string]bool{}
	marker := ""
	for len(pages) < MaxEventPages {
		q := url.Values{"deployment_id": {t.OperationID}}
		if t.StackID != "" {
			q.Set("stack_id", t.StackID)
		}
		if marker != "" {
			q.Set("marker", marker)
		}
		body, err := a.HTTP.Get(ctx, t, stack+"/events", q, requestHeaders())
		if err != nil {
			return nil, err
		}
		pages = append(pages, body)
		marker = nextMarker(body)
		if marker == "" || seen[marker] {
			break
		}
		seen[marker] = true
	}
	return Parse(meta, pages...)
}

// requestHeaders are the headers of each request: the Content-Type the
// SDK declares on these GETs and a new Client-Request-Id.
func requestHeaders() http.Header {
	return http.Header{"Content-Type": {"application/json"}, "Client-Request-Id": {newRequestID()}}
}

// newRequestID returns a random (version 4) UUID.
func newRequestID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// nextMarker is the next_marker of an events page, "" when there is none
// or the page does not read (Parse reports that).
func nextMarker(body []byte) string {
	var p eventPage
	if cloud.DecodeJSONObject(body, &p) != nil {
		return ""
	}
	return strings.TrimSpace(string(p.PageInfo.NextMarker))
}

// step is a resource's step while the events are read.
type step struct {
	cloud.Step
	failures []string
}

// Parse reads the stack's metadata answer and the deployment's events
// pages (each newest first, the first page first) into the deployment's
// Operation. The phase, in this order:
//
//  1. a stack status StackStatuses does not know (or none), or an answer
//     that is RFS's error object: Unknown, the word kept, the error as
//     the message;
//  2. no events for the deployment: Pending. RFS queues deployments, so
//     the stack's status is an earlier deployment's (a deployment_id that
//     never runs stays Pending: the controller's NotFound grace period is
//     far shorter than the hours a deployment may wait);
//  3. a failure among the deployment's events (an ERROR or a …_FAILED
//     event) while the stack is ROLLBACK_IN_PROGRESS: Running, until the
//     rollback ends;
//  4. a SUMMARY event among them: the deployment has ended, Failed when
//     it had a failure, else Succeeded, whatever the stack says since (a
//     newer deployment's state);
//  5. a resource still …_IN_PROGRESS, or the stack busy
//     (DEPLOYMENT_IN_PROGRESS, DELETION_IN_PROGRESS) or without a
//     deployment (CREATION_COMPLETE): Running;
//  6. the stack's latest deployment has ended and the deployment shows
//     no sign of having ended before it, so it is taken to be that one:
//     Failed when it had a failure or the stack's status is a failure
//     (DEPLOYMENT_FAILED, ROLLBACK_COMPLETE, ROLLBACK_FAILED,
//     DELETION_FAILED), else Succeeded (DEPLOYMENT_COMPLETE).
//
// Steps are the resources in the order they first appear, each with the
// phase of its latest event (see EventTypes).
func Parse(metadataBody []byte, eventPages ...[]byte) (*cloud.Operation, error) {
	var m metadata
	if err := cloud.DecodeJSONObject(metadataBody, &m); err != nil {
		return nil, err
	}
	queryErrors := []string{m.text()}
	var events []event
	for _, body := range eventPages {
		var p eventPage
		if err := cloud.DecodeJSONObject(body, &p); err != nil {
			return nil, err
		}
		events = append(events, p.StackEvents...)
		queryErrors = append(queryErrors, p.text())
	}
	queryFailed := cloud.JoinNonEmpty("", queryErrors...) != ""
	// Oldest first.
	for i, j := 0, len(events)-1; i < j; i, j = i+1, j-1 {
		events[i], events[j] = events[j], events[i]
	}

	word := string(m.Status)
	op := &cloud.Operation{ServiceStatus: cloud.SanitizeText(word)}
	stackPhase := StackStatuses.MapOperationStatus(op, word)

	var (
		steps    []*step
		byKey    = map[string]*step{}
		failures []string
		summary  *event
		seen     bool
	)
	for i := range events {
		e := &events[i]
		typ := strings.TrimSpace(string(e.EventType))
		at := parseTime(string(e.Time))
		name := resourceName(e)
		if typ == "" && name == "" && strings.TrimSpace(string(e.EventMessage)) == "" {
			continue // not an event
		}
		seen = true
		if at != nil {
			if op.StartTime == nil || at.Before(*op.StartTime) {
				op.StartTime = at
			}
			if op.CompletionTime == nil || at.After(*op.CompletionTime) {
				op.CompletionTime = at
			}
		}
		upper := strings.ToUpper(typ)
		if upper == eventSummary {
			summary = e
		}
		if upper == eventLog || upper == eventSummary || upper == eventDrift {
			continue
		}
		phase, known := EventTypes.Lookup(typ)
		if !known {
			if typ == "" {
				typ = "(missing)"
			}
			op.AddUnknownStatus(typ)
		}
		msg := cloud.SanitizeText(string(e.EventMessage))
		if phase == cloud.PhaseFailed {
			failures = append(failures, cloud.JoinNonEmpty(": ", name, msg))
		}
		if name == "" {
			continue // a failure of the deployment itself
		}
		s := byKey[name]
		if s == nil {
			s = &step{Step: cloud.Step{Name: name, StartTime: at}}
			byKey[name] = s
			steps = append(steps, s)
		}
		s.Phase, s.ServiceStatus = phase, cloud.SanitizeText(typ)
		if s.StartTime == nil {
			s.StartTime = at
		}
		s.CompletionTime = nil
		if phase.IsTerminal() {
			s.CompletionTime = at
		}
		if phase == cloud.PhaseFailed && msg != "" {
			s.failures = append(s.failures, msg)
		}
		op.AddResource(either(string(e.ResourceType), "resource"), string(e.ResourceIDValue))
	}

	running, done := false, 0
	for _, s := range steps {
		s.Message = cloud.SanitizeText(cloud.JoinDistinct("; ", s.failures...))
		op.Steps = append(op.Steps, s.Step)
		running = running || s.Phase == cloud.PhaseRunning
		if s.Phase == cloud.PhaseSucceeded {
			done++
		}
	}
	op.Progress = cloud.PercentOf(done, len(steps))
	failed := len(failures) > 0

	switch {
	case stackPhase == cloud.PhaseUnknown || queryFailed:
		op.Phase = cloud.PhaseUnknown
	case !seen:
		op.Phase = cloud.PhasePending
	case failed && strings.EqualFold(strings.TrimSpace(word), stackRollingBack):
		op.Phase = cloud.PhaseRunning
	case summary != nil && failed:
		op.Phase = cloud.PhaseFailed
	case summary != nil:
		op.Phase = cloud.PhaseSucceeded
	case running || stackPhase == cloud.PhaseRunning || stackPhase == cloud.PhasePending:
		op.Phase = cloud.PhaseRunning
	case failed || stackPhase == cloud.PhaseFailed:
		op.Phase = cloud.PhaseFailed
	default:
		op.Phase = cloud.PhaseSucceeded
	}
	if !op.Phase.IsTerminal() {
		op.CompletionTime = nil
	}
	op.CurrentStep = cloud.CurrentStepOf(op.Steps)

	parts := queryErrors
	if !seen && stackPhase != cloud.PhaseUnknown && !queryFailed {
		parts = append(parts, "no events for this deployment yet: it is queued or has not started (the stack's status is its latest deployment's)")
	}
	if op.Phase == cloud.PhaseFailed && stackPhase == cloud.PhaseFailed {
		parts = append(parts, string(m.StatusMessage))
	}
	if len(failures) > maxFailureMessages {
		failures = append(failures[:maxFailureMessages], fmt.Sprintf("… %d more failures", len(failures)-maxFailureMessages))
	}
	parts = append(parts, failures...)
	if summary != nil {
		parts = append(parts, string(summary.EventMessage))
	}
	op.Message = cloud.SanitizeText(cloud.JoinDistinct("; ", parts...))
	if op.Message == "" && op.Phase == cloud.PhaseFailed {
		op.Message = cloud.FailureMessage(op.Steps)
	}
	return op, nil
}

// resourceName names an event's resource as Terraform addresses it:
// resource_type.resource_name, with the count index ([0]) or for_each
// key (["vpc1"]) when resource_key is set; "" for an event about no
// resource (LOG, SUMMARY, an error of the whole deployment).
func resourceName(e *event) string {
	typ := strings.TrimSpace(string(e.ResourceType))
	name := strings.TrimSpace(string(e.ResourceName))
	if typ == "" && name == "" {
		return ""
	}
	s := cloud.JoinNonEmpty(".", typ, name)
	if key := strings.TrimSpace(string(e.ResourceKey)); key != "" {
		if _, err := strconv.ParseUint(key, 10, 32); err == nil {
			s += "[" + key + "]"
		} else {
			s += "[" + strconv.Quote(key) + "]"
		}
	}
	return cloud.SanitizeText(s)
}

// either is s trimmed, else def.
func either(s, def string) string {
	if s = strings.TrimSpace(s); s != "" {
		return s
	}
	return def
}

// parseTime reads an event time: RFC 3339 ("1970-01-01T00:00:00Z" in the
// SDK's words), with or without a fraction of a second (nil when empty or
// unreadable, see cloud.ParseTime).
func parseTime(s string) *time.Time {
	return cloud.ParseTime(strings.TrimSpace(s), time.RFC3339Nano)
}
