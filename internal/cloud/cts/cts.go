// Package cts finds the jobs of the job services (ECS, EVS, IMS, BMS,
// VPC and the database services), and RFS stack deployments, through the
// Cloud Trace Service: every management call is recorded as a trace, with
// the call's answer, and an asynchronous call answers with the job_id of
// the job it started (RFS: the deployment_id, on the stack the trace
// names). It
// reads ListTraces v3 (GET /v3/{project_id}/traces, field names from the
// SDK's services/cts/v3/model, v0.1.207) page by page and returns one
// cloud.Listed per job, of the service that answered the call.
//
// Which calls carry a job ID, and which service_type CTS writes for the
// database services, is not documented in one place; docs/discovery.md
// lists what is confirmed and what is not.
package cts

import (
	"context"
	"encoding/json"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/cloudop/cloudop/internal/cloud"
	"github.com/cloudop/cloudop/internal/cloud/internal/flex"
	"github.com/cloudop/cloudop/internal/cloud/transport"
)

// PageSize is the limit asked per ListTraces page (the API's maximum).
const PageSize = 200

// MaxPages bounds the pages read per service per list. Traces come
// newest first, so a busier window loses its oldest traces, which the
// next lists do not return again once a newer job has been mirrored.
const MaxPages = 10

// ServiceTypes is the service_type CTS records for each job service's
// traces. The classic services and RDS, DDS are their names; the GaussDB
// family's are unconfirmed (docs/discovery.md).
var ServiceTypes = map[cloud.Service]string{
	cloud.ServiceECS:                 "ECS",
	cloud.ServiceEVS:                 "EVS",
	cloud.ServiceIMS:                 "IMS",
	cloud.ServiceBMS:                 "BMS",
	cloud.ServiceVPC:                 "VPC",
	cloud.ServiceRDS:                 "RDS",
	cloud.ServiceGaussDB:             "GaussDB",
	cloud.ServiceDDS:                 "DDS",
	cloud.ServiceGaussDBforOpenGauss: "GaussDBforopenGauss",
	cloud.ServiceGaussDBforNoSQL:     "NoSQL",
	cloud.ServiceRFS:                 "RFS",
}

// trace is the part of a Traces item (model_traces.go) read here.
type trace struct {
	TraceID      flex.String `json:"trace_id"`
	TraceName    flex.String `json:"trace_name"`
	ServiceType  flex.String `json:"service_type"`
	ResourceType flex.String `json:"resource_type"`
	ResourceID   flex.String `json:"resource_id"`
	ResourceName flex.String `json:"resource_name"`
	Code         flex.String `json:"code"`
	Response     flex.String `json:"response"`
	Time         flex.Int    `json:"time"`
}

// page is a ListTracesResponse.
type page struct {
	Traces   flex.List[trace] `json:"traces"`
	MetaData struct {
		Count  flex.Int    `json:"count"`
		Marker flex.String `json:"marker"`
	} `json:"meta_data"`
}

// Lister reads traces through the shared transport (its rate-limit
// buckets, coalescing and metrics, under service CTS).
type Lister struct {
	HTTP *transport.HTTPClient
}

var _ cloud.Discoverer = (*Lister)(nil)

// New returns a Lister sending its requests through c.
func New(c *transport.HTTPClient) *Lister { return &Lister{HTTP: c} }

// Discover lists the management traces of each of q.Services since
// q.Since and returns the jobs their answers started, oldest first, each
// once. q.Target.BaseURL is CTS's, already resolved.
func (l *Lister) Discover(ctx context.Context, q cloud.ListQuery) ([]cloud.Listed, error) {
	project, err := q.Target.RequireProjectID()
	if err != nil {
		return nil, err
	}
	var out []cloud.Listed
	seen := map[string]bool{}
	for _, svc := range q.Services {
		st, ok := ServiceTypes[svc]
		if !ok {
			return nil, cloud.Permanentf("service %q has no traces cloudop reads", cloud.Excerpt(string(svc), cloud.MaxQuotedRunes))
		}
		marker := ""
		for range MaxPages {
			v := url.Values{"trace_type": {"system"}, "service_type": {st}, "limit": {strconv.Itoa(PageSize)}}
			if !q.Since.IsZero() {
				v.Set("from", strconv.FormatInt(q.Since.UnixMilli(), 10))
			}
			if marker != "" {
				v.Set("next", marker)
			}
			body, err := l.HTTP.Get(ctx, q.Target, "/v3/"+project+"/traces", v, nil)
			if err != nil {
				return nil, err
			}
			jobs, next, err := ParsePage(body, svc, q.TraceNames)
			if err != nil {
				return nil, err
			}
			for _, j := range jobs {
				if key := string(j.Service) + "/" + j.ID; !seen[key] {
					seen[key] = true
					out = append(out, j)
				}
			}
			if next == "" || next == marker {
				break
			}
			marker = next
		}
	}
	slices.SortStableFunc(out, func(a, b cloud.Listed) int {
		return a.Operation.StartTime.Compare(*b.Operation.StartTime)
	})
	return out, nil
}

// ParsePage reads one ListTraces answer: the jobs started by the traced
// calls of svc (only traceNames' calls when set) and the marker of the
// next page ("" when none remains). A trace counts when its call
// succeeded (a 2xx code, or none recorded) and its response is a JSON
// object with a job_id; the job starts at the trace's time.
func ParsePage(body []byte, svc cloud.Service, traceNames []string) (jobs []cloud.Listed, next string, err error) {
	var p page
	if err := cloud.DecodeJSONObject(body, &p); err != nil {
		return nil, "", err
	}
	for _, t := range p.Traces {
		if len(traceNames) > 0 && !slices.Contains(traceNames, string(t.TraceName)) {
			continue
		}
		if code := strings.TrimSpace(string(t.Code)); code != "" && !strings.HasPrefix(code, "2") {
			continue
		}
		id := JobID(string(t.Response))
		var stack string
		if svc == cloud.ServiceRFS {
			// A deployment, on the stack the trace names.
			id, stack = DeploymentID(string(t.Response)), strings.TrimSpace(string(t.ResourceName))
			if !stackName.MatchString(stack) {
				continue
			}
		}
		if id == "" || !t.Time.Valid || t.Time.Value <= 0 {
			continue
		}
		start := time.UnixMilli(t.Time.Value).UTC()
		op := &cloud.Operation{
			Phase:     cloud.PhaseUnknown,
			StartTime: &start,
			Message:   cloud.SanitizeText("started by " + string(t.TraceName)),
		}
		op.AddResource(string(t.ResourceType), string(t.ResourceID))
		jobs = append(jobs, cloud.Listed{Service: svc, ID: id, StackName: stack, Operation: op, StartOnly: true})
	}
	if len(p.Traces) > 0 {
		next = strings.TrimSpace(string(p.MetaData.Marker))
	}
	return jobs, next, nil
}

// JobID is the job_id of a traced call's response (a JSON object as a
// string), or "" when it has none that could name a job.
func JobID(response string) string { return responseID(response, "job_id") }

// DeploymentID is the deployment_id of a traced RFS call's response
// (DeployStack, CreateStack, ApplyExecutionPlan, ContinueDeployStack), or
// "".
func DeploymentID(response string) string { return responseID(response, "deployment_id") }

// responseID is the string (or number) under key in a response object,
// when it could be a path segment.
func responseID(response, key string) string {
	var r map[string]json.RawMessage
	if json.Unmarshal([]byte(strings.TrimSpace(response)), &r) != nil {
		return ""
	}
	var v flex.String
	_ = json.Unmarshal(r[key], &v) // a missing key leaves it empty
	id := strings.TrimSpace(string(v))
	if !cloud.ValidPathSegment(id) {
		return ""
	}
	return id
}

// stackName is an RFS stack name as the API allows it: a letter, then
// letters, digits, "_" and "-", at most 128.
var stackName = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_-]{0,127}$`)
