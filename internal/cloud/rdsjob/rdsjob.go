// Package rdsjob observes the asynchronous jobs of the Huawei Cloud
// database services (the RDS family) through GET
// /v3/{project_id}/jobs?id={job_id} on each service's own host: RDS
// ListJobInfo, GaussDB (for MySQL) ShowGaussMySqlJobInfo, DDS
// ShowJobDetail, GaussDB for openGauss ShowJobDetail and GaussDB for
// NoSQL ListJobs. The SDK gives all five the same method, path and query
// parameter (id), and one job shape (id, name, status, instance,
// fail_reason, a progress string and two times), so one Adapter serves
// them all. Where they differ Parse reads the union: the wrapper (NoSQL
// lists the jobs it found under "jobs", the others give one under "job"),
// the progress field (RDS and GaussDB "process", the others "progress")
// and the time fields (NoSQL "start_time"/"end_time", the others
// "created"/"ended"). Only the status words are per service.
package rdsjob

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/cloudop/cloudop/internal/cloud"
	"github.com/cloudop/cloudop/internal/cloud/internal/flex"
	"github.com/cloudop/cloudop/internal/cloud/transport"
)

// Services are the services whose jobs the Adapter reads.
var Services = []cloud.Service{
	cloud.ServiceRDS, cloud.ServiceGaussDB, cloud.ServiceDDS,
	cloud.ServiceGaussDBforOpenGauss, cloud.ServiceGaussDBforNoSQL,
}

// Status tables, from the SDK v0.1.207 models. RDS
// (GetJobInfoResponseBodyJob) and NoSQL (JobDetail) list Running,
// Completed and Failed for the job; DDS and openGauss leave their
// JobDetail's status undocumented, and the same words are the ones their
// task lists give (DDS JobInfo, openGauss ListTasks' status filter).
// GaussDB's GetJobInfoDetail adds Pending: a delayed job not started yet.
var (
	jobStatuses = cloud.StatusTable{
		"Running":   cloud.PhaseRunning,
		"Completed": cloud.PhaseSucceeded,
		"Failed":    cloud.PhaseFailed,
	}
	gaussDBStatuses = cloud.StatusTable{
		"Pending":   cloud.PhasePending,
		"Running":   cloud.PhaseRunning,
		"Completed": cloud.PhaseSucceeded,
		"Failed":    cloud.PhaseFailed,
	}
)

// service is what differs between the services' job queries.
type service struct {
	// statuses maps the job's status word.
	statuses cloud.StatusTable
	// language: the SDK's request declares the optional X-Language
	// header (RDS, GaussDB); it is sent as en-us, as for DWS, so that
	// fail_reason is in English.
	language bool
}

// services holds each of the Services.
var services = map[cloud.Service]service{
	cloud.ServiceRDS:                 {statuses: jobStatuses, language: true},
	cloud.ServiceGaussDB:             {statuses: gaussDBStatuses, language: true},
	cloud.ServiceDDS:                 {statuses: jobStatuses},
	cloud.ServiceGaussDBforOpenGauss: {statuses: jobStatuses},
	cloud.ServiceGaussDBforNoSQL:     {statuses: jobStatuses},
}

// answer is a job query's answer: one job under "job", or (NoSQL) the
// jobs matching the query under "jobs".
type answer struct {
	Job  *job            `json:"job"`
	Jobs *flex.List[job] `json:"jobs"`
	// ErrorCode and ErrorMsg describe an error of the query itself,
	// should one come with a 200.
	ErrorCode flex.String `json:"error_code"`
	ErrorMsg  flex.String `json:"error_msg"`
}

// job is the union of the services' job objects.
type job struct {
	ID     flex.String `json:"id"`
	Name   flex.String `json:"name"`
	Status flex.String `json:"status"`
	// Created and Ended (NoSQL: StartTime and EndTime) carry an offset,
	// "2018-08-06T10:41:14+0800"; a running job has no end.
	Created   flex.String `json:"created"`
	Ended     flex.String `json:"ended"`
	StartTime flex.String `json:"start_time"`
	EndTime   flex.String `json:"end_time"`
	// Process (RDS, GaussDB) or Progress (DDS, openGauss, NoSQL) is a
	// percentage such as "60%", given while the job runs, else "".
	Process    flex.String `json:"process"`
	Progress   flex.String `json:"progress"`
	Instance   instance    `json:"instance"`
	Entities   entities    `json:"entities"`
	FailReason flex.String `json:"fail_reason"`
}

// UnmarshalJSON reads a job object; any other value counts as an empty
// job.
func (j *job) UnmarshalJSON(data []byte) error {
	type plain job
	return flex.Object(data, (*plain)(j))
}

// instance is the DB instance the job works on.
type instance struct {
	ID   flex.String `json:"id"`
	Name flex.String `json:"name"`
}

// UnmarshalJSON reads an instance object; any other value counts as
// empty.
func (i *instance) UnmarshalJSON(data []byte) error {
	type plain instance
	return flex.Object(data, (*plain)(i))
}

// entities are RDS's details, which differ by job (GaussDB's model has
// an entities object without fields). Only resource_ids names resources;
// the rest (the new instance's endpoint and datastore, replica_of, the
// volume's sizes, public_ip, switch_strategy) is not read.
type entities struct {
	// ResourceIDs are returned for creating an instance or a read
	// replica, converting to primary/standby and resizing storage; the
	// SDK does not say what they name.
	ResourceIDs flex.Strings `json:"resource_ids"`
}

// UnmarshalJSON reads an entities object; any other value counts as
// empty.
func (e *entities) UnmarshalJSON(data []byte) error {
	type plain entities
	return flex.Object(data, (*plain)(e))
}

// Adapter fetches database jobs. It implements cloud.Fetcher.
type Adapter struct {
	HTTP *transport.HTTPClient
}

var _ cloud.Fetcher = (*Adapter)(nil)

// New returns an Adapter sending its requests through c.
func New(c *transport.HTTPClient) *Adapter { return &Adapter{HTTP: c} }

// Fetch reads job t.OperationID from the host of t.Service (t.BaseURL).
// A job is these services' only kind of operation, so t.OperationType
// must be empty or Job. The ID goes into the query, but is held to the
// path-segment rule all job IDs are.
func (a *Adapter) Fetch(ctx context.Context, t cloud.Target) (*cloud.Operation, error) {
	svc, ok := services[t.Service]
	if !ok {
		return nil, unsupported(t.Service)
	}
	project, err := t.RequireJob()
	if err != nil {
		return nil, err
	}
	// The SDK declares Content-Type: application/json on these GETs, as
	// the CCE reference does.
	headers := http.Header{"Content-Type": {"application/json"}}
	if svc.language {
		headers.Set("X-Language", "en-us")
	}
	body, err := a.HTTP.Get(ctx, t, "/v3/"+project+"/jobs", url.Values{"id": {t.OperationID}}, headers)
	if err != nil {
		return nil, err
	}
	return Parse(t.Service, t.OperationID, body)
}

func unsupported(s cloud.Service) error {
	return cloud.Permanentf("service %q has no database jobs", cloud.Excerpt(string(s), cloud.MaxQuotedRunes))
}

// Parse reads the answer of service's job query for job jobID. A NoSQL
// answer lists the jobs found: the one whose id is jobID is read, and
// when none is, the job is not found (a KindNotFound error, as a 404).
func Parse(s cloud.Service, jobID string, body []byte) (*cloud.Operation, error) {
	svc, ok := services[s]
	if !ok {
		return nil, unsupported(s)
	}
	var a answer
	if err := cloud.DecodeJSONObject(body, &a); err != nil {
		return nil, err
	}
	j := a.Job
	if j == nil && a.Jobs != nil {
		if j = find(*a.Jobs, jobID); j == nil {
			return nil, &cloud.Error{Kind: cloud.KindNotFound,
				Message: fmt.Sprintf("job %q is not among the %d jobs listed", cloud.Excerpt(jobID, cloud.MaxQuotedRunes), len(*a.Jobs))}
		}
	}
	if j == nil {
		j = &job{}
	}

	word := string(j.Status)
	op := svc.statuses.NewOperation(word)
	op.AddResource("instance", string(j.Instance.ID))
	for _, id := range j.Entities.ResourceIDs {
		op.AddResource("resource", id)
	}

	if p := cloud.ParsePercent(either(j.Process, j.Progress)); p != nil {
		op.Progress = p
	} else if op.Phase == cloud.PhaseSucceeded {
		op.Progress = cloud.PercentOf(1, 1)
	}
	// A job has no steps: while it has not succeeded, its name (e.g.
	// CreateMySQLInstance) is the step to look at.
	if op.Phase != cloud.PhaseSucceeded {
		op.CurrentStep = cloud.SanitizeText(string(j.Name))
	}
	op.StartTime = parseTime(either(j.Created, j.StartTime))
	if op.Phase.IsTerminal() {
		op.CompletionTime = parseTime(either(j.Ended, j.EndTime))
	}
	op.Message = cloud.SanitizeText(cloud.JoinNonEmpty("; ",
		strings.TrimSpace(string(j.FailReason)),
		cloud.JoinNonEmpty(": ", strings.TrimSpace(string(a.ErrorCode)), strings.TrimSpace(string(a.ErrorMsg)))))
	if op.Message == "" && op.Phase == cloud.PhaseFailed && op.CurrentStep != "" {
		op.Message = op.CurrentStep + " failed"
	}
	return op, nil
}

// find returns the listed job whose id is id, nil when there is none.
func find(jobs []job, id string) *job {
	for i := range jobs {
		if strings.TrimSpace(string(jobs[i].ID)) == id {
			return &jobs[i]
		}
	}
	return nil
}

// either is a, else b: the same field under the two names the services
// give it.
func either(a, b flex.String) string {
	if s := strings.TrimSpace(string(a)); s != "" {
		return s
	}
	return strings.TrimSpace(string(b))
}

// timeLayouts: ISO 8601 with an offset without a colon, as the SDK
// documents ("2018-08-06T10:41:14+0800"), or with one, or "Z"; seconds
// may have a fraction.
var timeLayouts = []string{
	"2006-01-02T15:04:05.999999999Z0700",
	time.RFC3339Nano,
}

// parseTime reads a job time (nil when empty or unreadable, see
// cloud.ParseTime); s is trimmed.
func parseTime(s string) *time.Time {
	return cloud.ParseTime(s, timeLayouts...)
}
