// Package classicjob observes the asynchronous jobs of the classic Huawei
// Cloud services through GET /v1/{project_id}/jobs/{job_id} on each
// service's own host: ECS and EVS ShowJob, IMS ShowJob, BMS ShowJobInfos
// and EIP ShowResourcesJobDetail (EIP jobs live on the VPC host). The
// answers share one shape (status, job_type, begin_time, end_time,
// error_code, fail_reason, entities with sub-jobs), so one Adapter serves
// them all; where they differ (IMS's sub_jobs_result and process_percent,
// EVS's error object, each service's entity IDs) Parse reads the union.
package classicjob

import (
	"bytes"
	"context"
	"math"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/cloudop/cloudop/internal/cloud"
	"github.com/cloudop/cloudop/internal/cloud/internal/flex"
	"github.com/cloudop/cloudop/internal/cloud/transport"
)

// Services are the services whose jobs the Adapter reads.
var Services = []cloud.Service{cloud.ServiceECS, cloud.ServiceEVS, cloud.ServiceIMS, cloud.ServiceBMS, cloud.ServiceVPC}

// Statuses maps the job's and each sub-job's status. The SDK models list
// SUCCESS, RUNNING, FAIL and INIT; the ECS reference adds PENDING_PAYMENT
// (a yearly/monthly order not paid yet). IMS writes its sub-job results in
// lower case, which the table's case-insensitive lookup covers.
var Statuses = cloud.StatusTable{
	"SUCCESS":         cloud.PhaseSucceeded,
	"RUNNING":         cloud.PhaseRunning,
	"FAIL":            cloud.PhaseFailed,
	"INIT":            cloud.PhasePending,
	"PENDING_PAYMENT": cloud.PhasePending,
}

// maxSubJobsTotal bounds the sub_jobs_total believed; a larger value is
// treated as noise.
const maxSubJobsTotal = 100000

// job is a job or a sub-job: the SDK models give sub-jobs the job's shape
// (EIP: "the type is the same as that of the main job").
type job struct {
	Status     flex.String `json:"status"`
	JobID      flex.String `json:"job_id"`
	JobType    flex.String `json:"job_type"`
	BeginTime  flex.String `json:"begin_time"`
	EndTime    flex.String `json:"end_time"`
	ErrorCode  flex.String `json:"error_code"`
	FailReason flex.String `json:"fail_reason"`
	// Code and Message (ECS, BMS) describe an error of the query itself.
	Code    flex.String `json:"code"`
	Message flex.String `json:"message"`
	// Error is the same for EVS, whose reference nests it: "error":
	// {"message", "code"} (not in the SDK's EVS model).
	Error    apiError `json:"error"`
	Entities entities `json:"entities"`
}

// apiError is EVS's error object. A bare string there is kept as the
// message, anything else that is not an object is ignored.
type apiError struct {
	Code    flex.String `json:"code"`
	Message flex.String `json:"message"`
}

// UnmarshalJSON reads an error object leniently; it never fails.
func (e *apiError) UnmarshalJSON(data []byte) error {
	type plain apiError
	if d := bytes.TrimSpace(data); len(d) > 0 && d[0] == '"' {
		*e = apiError{}
		return e.Message.UnmarshalJSON(d)
	}
	return flex.Object(data, (*plain)(e))
}

// entities is the union of the services' entities objects.
type entities struct {
	// Resource IDs: ECS and BMS server_id and nic_id, EVS volume_id, IMS
	// image_id; publicip_id and bandwidth_id for EIP are not in its SDK
	// model (which lists only sub_jobs) and are read in case they appear.
	ServerID    flex.String `json:"server_id"`
	NicID       flex.String `json:"nic_id"`
	VolumeID    flex.String `json:"volume_id"`
	ImageID     flex.String `json:"image_id"`
	PublicipID  flex.String `json:"publicip_id"`
	BandwidthID flex.String `json:"bandwidth_id"`

	// ErrorcodeMessage is an ECS sub-job's failure detail.
	ErrorcodeMessage flex.String `json:"errorcode_message"`
	// IMS: failure details, the task in progress, the progress (a
	// float64 in the SDK; see imsPercent), kept as text to read it as a
	// number whether it comes as one or as a string.
	ErrorCode         flex.String `json:"error_code"`
	Error             flex.String `json:"error"`
	AdditionErrorCode flex.String `json:"addition_error_code"`
	AdditionErrorMsg  flex.String `json:"addition_error_msg"`
	CurrentTask       flex.String `json:"current_task"`
	ProcessPercent    flex.String `json:"process_percent"`

	SubJobsTotal flex.Int       `json:"sub_jobs_total"`
	SubJobs      flex.List[job] `json:"sub_jobs"`
	// SubJobsResult is IMS's list of sub-jobs; Results its batch results.
	SubJobsResult flex.List[job] `json:"sub_jobs_result"`
	Results       flex.List[struct {
		ImageID flex.String `json:"image_id"`
	}] `json:"results"`
}

// UnmarshalJSON reads an entities object; any other value (entities
// differ by job type and are documented loosely) counts as empty instead
// of failing the whole answer.
func (e *entities) UnmarshalJSON(data []byte) error {
	type plain entities
	return flex.Object(data, (*plain)(e))
}

// resources lists the entity IDs with their types (the field name without
// "_id"), in a fixed order.
func (e *entities) resources() []cloud.Resource {
	return []cloud.Resource{
		{Type: "server", ID: string(e.ServerID)},
		{Type: "nic", ID: string(e.NicID)},
		{Type: "volume", ID: string(e.VolumeID)},
		{Type: "image", ID: string(e.ImageID)},
		{Type: "publicip", ID: string(e.PublicipID)},
		{Type: "bandwidth", ID: string(e.BandwidthID)},
	}
}

// subJobs are the sub-jobs in the order listed: sub_jobs, then IMS's
// sub_jobs_result.
func (e *entities) subJobs() []job {
	return append(append([]job(nil), e.SubJobs...), e.SubJobsResult...)
}

// Adapter fetches classic jobs. It implements cloud.Fetcher.
type Adapter struct {
	HTTP *transport.HTTPClient
}

var _ cloud.Fetcher = (*Adapter)(nil)

// New returns an Adapter sending its requests through c.
func New(c *transport.HTTPClient) *Adapter { return &Adapter{HTTP: c} }

// Fetch reads job t.OperationID from the host of t.Service (t.BaseURL).
// A job is these services' only kind of operation, so t.OperationType
// must be empty or Job.
func (a *Adapter) Fetch(ctx context.Context, t cloud.Target) (*cloud.Operation, error) {
	project, err := t.RequireJob()
	if err != nil {
		return nil, err
	}
	body, err := a.HTTP.Get(ctx, t, "/v1/"+project+"/jobs/"+t.OperationID, nil, nil)
	if err != nil {
		return nil, err
	}
	return Parse(body)
}

// Parse reads a job answer of any of the Services.
func Parse(body []byte) (*cloud.Operation, error) {
	var j job
	if err := cloud.DecodeJSONObject(body, &j); err != nil {
		return nil, err
	}
	word := string(j.Status)
	op := Statuses.NewOperation(word)
	e := &j.Entities
	addResources(op, e)

	subs := e.subJobs()
	steps := make([]cloud.Step, 0, len(subs))
	done := 0
	for i, s := range subs {
		step := convertStep(op, s, i, true)
		if step.Phase == cloud.PhaseSucceeded {
			done++
		}
		steps = append(steps, step)
	}
	for _, r := range e.Results {
		op.AddResource("image", string(r.ImageID))
	}

	total := len(steps)
	if e.SubJobsTotal.Valid && e.SubJobsTotal.Value > int64(total) && e.SubJobsTotal.Value <= maxSubJobsTotal {
		// ECS and BMS count their sub-jobs: those not listed yet count
		// as not done.
		total = int(e.SubJobsTotal.Value)
	}
	// A finished job is 100 % whatever else it says: IMS's documented
	// SUCCESS example still carries the process_percent of its first task
	// (0.20), and a count of sub-jobs may lag behind the job's status.
	switch pct := imsPercent(string(e.ProcessPercent)); {
	case op.Phase == cloud.PhaseSucceeded:
		op.Progress = cloud.PercentOf(1, 1)
	case pct != nil:
		op.Progress = pct
	case total > 0:
		op.Progress = cloud.PercentOf(done, total)
	}

	op.CurrentStep = cloud.CurrentStepOf(steps)
	if len(steps) == 0 && op.Phase != cloud.PhaseSucceeded {
		op.CurrentStep = cloud.SanitizeText(string(e.CurrentTask))
	}
	op.StartTime = parseTime(string(j.BeginTime))
	if op.Phase.IsTerminal() {
		op.CompletionTime = parseTime(string(j.EndTime))
	}
	op.Message = cloud.SanitizeText(cloud.JoinDistinct("; ",
		codeText(j.ErrorCode, j.FailReason),
		codeText(e.ErrorCode, e.Error),
		codeText(e.AdditionErrorCode, e.AdditionErrorMsg),
		codeText(j.Code, j.Message),
		codeText(j.Error.Code, j.Error.Message)))
	if op.Message == "" && op.Phase == cloud.PhaseFailed {
		op.Message = cloud.FailureMessage(steps)
	}
	if len(steps) > 0 {
		op.Steps = steps
	}
	return op, nil
}

// convertStep turns sub-job i into a step; with nested, its own sub-jobs
// become sub-steps (deeper levels are not shown). Its resources are added
// to op.
func convertStep(op *cloud.Operation, j job, i int, nested bool) cloud.Step {
	e := &j.Entities
	addResources(op, e)
	s := cloud.Step{
		Name:          stepName(j, i),
		Phase:         Statuses.MapStepStatus(op, string(j.Status)),
		ServiceStatus: cloud.SanitizeText(string(j.Status)),
		Message: cloud.SanitizeText(cloud.JoinDistinct("; ",
			codeText(j.ErrorCode, j.FailReason),
			string(e.ErrorcodeMessage),
			codeText(e.ErrorCode, e.Error))),
		StartTime: parseTime(string(j.BeginTime)),
	}
	if s.Phase.IsTerminal() {
		s.CompletionTime = parseTime(string(j.EndTime))
	}
	if nested {
		for k, sub := range e.subJobs() {
			s.SubSteps = append(s.SubSteps, convertStep(op, sub, k, false))
		}
	}
	return s
}

// stepName is the sub-job's job_type (else its job_id, else
// "sub-job-N"), followed by the first resource it names, e.g.
// "createSingleServer (server 3c0a6e3a-…)".
func stepName(j job, i int) string {
	name := strings.TrimSpace(string(j.JobType))
	if name == "" {
		name = strings.TrimSpace(string(j.JobID))
	}
	if name == "" {
		name = "sub-job-" + strconv.Itoa(i+1)
	}
	for _, r := range j.Entities.resources() {
		if id := strings.TrimSpace(r.ID); id != "" {
			name += " (" + r.Type + " " + id + ")"
			break
		}
	}
	return cloud.SanitizeText(name)
}

func addResources(op *cloud.Operation, e *entities) {
	for _, r := range e.resources() {
		op.AddResource(r.Type, r.ID)
	}
}

// imsPercent reads IMS's process_percent. The SDK types it float64 and the
// references' examples are fractions of 1 (0.20 and 0.24 next to the task
// in progress, 1 for a finished job), so a value from 0 to 1 is scaled to
// 0..100. A
// value above 1 cannot be a fraction and is read as a percentage, bounded
// to 100 (no service documents one; the adapter read percentages before).
// The fraction is dropped after rounding away float noise (0.29 × 100 is
// 28.999…). Empty or unreadable text is nil: no progress known.
func imsPercent(s string) *int32 {
	v, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
		return nil
	}
	if v >= 0 && v <= 1 {
		v = math.Round(v*100*1e6) / 1e6
	}
	return cloud.ClampPercent(v)
}

// codeText is "code: text", or whichever of them is set.
func codeText(code, text flex.String) string {
	return cloud.JoinNonEmpty(": ", string(code), string(text))
}

// imsLegacyTime matches IMS's old form "04-Jun-2015 18:11:06:586", whose
// milliseconds follow a colon (Go layouts need a period).
var imsLegacyTime = regexp.MustCompile(`^(\d{1,2}-[A-Za-z]{3}-\d{4} \d{1,2}:\d{2}:\d{2}):(\d{1,9})$`)

// timeLayouts: ISO 8601 with a zone, "Z" or an offset with or without a
// colon ("2019-04-25T20:04:47.591Z", "2018-08-06T10:41:14.000+0800");
// zone-less forms, read as UTC; IMS's old form once its colon is a period.
var timeLayouts = []string{
	time.RFC3339Nano,
	"2006-01-02T15:04:05.999999999Z0700",
	"2006-01-02T15:04:05.999999999",
	"2006-01-02 15:04:05.999999999Z07:00",
	"2006-01-02 15:04:05.999999999",
	"2-Jan-2006 15:04:05.999999999",
}

// parseTime reads a job timestamp (nil when unreadable or empty, as EVS
// sends "end_time": "" while a job runs; see cloud.ParseTime). Times
// without a zone are UTC, which the IMS reference states for its own.
func parseTime(s string) *time.Time {
	s = imsLegacyTime.ReplaceAllString(strings.TrimSpace(s), "$1.$2")
	return cloud.ParseTime(s, timeLayouts...)
}
