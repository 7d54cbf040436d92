package cloudsim

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"sigs.k8s.io/yaml"
)

// Service names a simulated cloud service. The values match cloudop's
// CloudOperation spec.service. cloudsim imports nothing of cloudop, so
// that it stays an independent other side; TestServicesMatchTheServiceTable
// checks Services, the job families and their host labels against
// cloudop's service table (internal/cloud/services.go).
type Service string

// Simulated services.
const (
	BCS Service = "BCS"
	CCE Service = "CCE"
	AOS Service = "AOS"
	DWS Service = "DWS"
	// ECS, EVS, IMS, BMS and VPC are the classic job services: each
	// operation is a job, GET /v1/{project_id}/jobs/{job_id}.
	ECS Service = "ECS"
	EVS Service = "EVS"
	IMS Service = "IMS"
	BMS Service = "BMS"
	VPC Service = "VPC"
	// RDS, GaussDB, DDS, GaussDBforOpenGauss and GaussDBforNoSQL are the
	// database services (the RDS family): each operation is a job,
	// GET /v3/{project_id}/jobs?id={job_id}.
	RDS                 Service = "RDS"
	GaussDB             Service = "GaussDB"
	DDS                 Service = "DDS"
	GaussDBforOpenGauss Service = "GaussDBforOpenGauss"
	GaussDBforNoSQL     Service = "GaussDBforNoSQL"
	// RFS (Resource Formation Service, AOS's successor) deploys stacks:
	// an operation is one deployment, read from the stack's metadata
	// (GET /v1/{project_id}/stacks/{stack_name}/metadata) and its events
	// (…/events?deployment_id={id}).
	RFS Service = "RFS"
)

// Services lists the simulated services in a stable order.
var Services = []Service{BCS, CCE, AOS, DWS, ECS, EVS, IMS, BMS, VPC, RDS, GaussDB, DDS, GaussDBforOpenGauss, GaussDBforNoSQL, RFS}

// serviceNames is Services for messages: "BCS, CCE, ... or VPC".
var serviceNames = func() string {
	names := make([]string, len(Services))
	for i, s := range Services {
		names[i] = string(s)
	}
	return strings.Join(names[:len(names)-1], ", ") + " or " + names[len(names)-1]
}()

func (s Service) valid() bool { return slices.Contains(Services, s) }

// jobFamily is a set of services whose jobs one path serves: in the real
// cloud each on its own host, in cloudsim on one listener, so a request
// finds its job by ID among the family's services (see Simulator.findJob).
type jobFamily struct {
	// key stands for the family in lookup keys and, for the family's
	// shared vocabulary, in serviceWords.
	key Service
	// members are the family's services, in order.
	members []Service
	// hosts maps the first label of a service's real host
	// ("rds" in rds.cn-north-4.myhuaweicloud.com) to the service.
	hosts map[string]Service
	// names is the members for messages: "ECS, EVS, IMS, BMS and VPC".
	names string
}

// The two job families.
var (
	classicJobFamily = newJobFamily(classicJobs, map[Service]string{
		ECS: "ecs", EVS: "evs", IMS: "ims", BMS: "bms", VPC: "vpc",
	}, ECS, EVS, IMS, BMS, VPC)
	dbJobFamily = newJobFamily(dbJobs, map[Service]string{
		RDS: "rds", GaussDB: "gaussdb", DDS: "dds",
		GaussDBforOpenGauss: "gaussdb-opengauss", GaussDBforNoSQL: "gaussdb-nosql",
	}, RDS, GaussDB, DDS, GaussDBforOpenGauss, GaussDBforNoSQL)
)

func newJobFamily(key Service, hosts map[Service]string, members ...Service) *jobFamily {
	f := &jobFamily{key: key, members: members, hosts: map[string]Service{}}
	names := make([]string, len(members))
	for i, m := range members {
		names[i] = string(m)
		f.hosts[hosts[m]] = m
	}
	f.names = strings.Join(names[:len(names)-1], ", ") + " and " + names[len(names)-1]
	return f
}

// family is the job family the service belongs to, or nil.
func (s Service) family() *jobFamily {
	switch s {
	case ECS, EVS, IMS, BMS, VPC:
		return classicJobFamily
	case RDS, GaussDB, DDS, GaussDBforOpenGauss, GaussDBforNoSQL:
		return dbJobFamily
	}
	return nil
}

// classicJob reports whether the service's operations are classic jobs,
// which all five such services serve on the same path.
func (s Service) classicJob() bool { return s.family() == classicJobFamily }

// dbJob reports whether the service is a database service, whose
// operations are jobs without steps, served by all five on one path.
func (s Service) dbJob() bool { return s.family() == dbJobFamily }

// OperationType selects, for a service with several kinds of operation,
// which kind an operation is. The values match cloudop's
// spec.operationType.
type OperationType string

// Operation types.
const (
	// TypeUpgradeWorkflow is a CCE cluster upgrade workflow
	// (ShowUpgradeWorkFlow); CCE's default.
	TypeUpgradeWorkflow OperationType = "UpgradeWorkflow"
	// TypeJob is a job: a CCE job (ShowJob), and the only kind of ECS,
	// EVS, IMS, BMS, VPC and the database services (where it may be left
	// empty).
	TypeJob OperationType = "Job"
)

// ScenarioKind selects how an operation evolves over time.
type ScenarioKind string

// Built-in scenario kinds. See docs/cloudsim.md for what each service
// reports in each of them.
const (
	// ScenarioSuccess runs every step and succeeds.
	ScenarioSuccess ScenarioKind = "success"
	// ScenarioFail fails at params.step (and params.subStep).
	ScenarioFail ScenarioKind = "fail"
	// ScenarioResume fails like ScenarioFail, waits params.resumeAfter, then
	// re-runs the failed step and succeeds (CCE's Pending workflow that is
	// retried).
	ScenarioResume ScenarioKind = "resume"
	// ScenarioCancel stops the operation during params.step, optionally
	// after a rollback period (params.rollback).
	ScenarioCancel ScenarioKind = "cancel"
	// ScenarioNever starts params.step and never finishes it.
	ScenarioNever ScenarioKind = "never"
	// ScenarioUnknownStatus runs until params.step and then reports the
	// status word params.status, which is in none of the documented enums.
	ScenarioUnknownStatus ScenarioKind = "unknown-status"
)

func (k ScenarioKind) valid() bool {
	switch k {
	case ScenarioSuccess, ScenarioFail, ScenarioResume, ScenarioCancel, ScenarioNever, ScenarioUnknownStatus:
		return true
	}
	return false
}

// Duration is a time.Duration that reads and writes as a Go duration string
// ("90s", "1m30s") in scenario files. A bare number is read as seconds.
type Duration struct {
	time.Duration
}

// D is shorthand for Duration{d}, handy in Go literals.
func D(d time.Duration) Duration { return Duration{d} }

// MarshalJSON writes the duration as a string such as "1m30s".
func (d Duration) MarshalJSON() ([]byte, error) {
	return json.Marshal(d.Duration.String())
}

// UnmarshalJSON reads a duration string, or a number of seconds.
func (d *Duration) UnmarshalJSON(b []byte) error {
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		v, err := time.ParseDuration(s)
		if err != nil {
			return fmt.Errorf("invalid duration %q (want e.g. \"30s\", \"5m\")", s)
		}
		d.Duration = v
		return nil
	}
	f, err := strconv.ParseFloat(string(b), 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		return fmt.Errorf("invalid duration %s (want a string such as \"30s\" or a number of seconds)", b)
	}
	d.Duration = time.Duration(f * float64(time.Second))
	return nil
}

// Config is the content of a scenario file.
type Config struct {
	// Settings are the simulator-wide settings.
	Settings Settings `json:"settings,omitzero"`
	// Accounts are the credentials the simulator accepts.
	Accounts []Account `json:"accounts,omitempty"`
	// Operations are created when the simulator starts; their clock starts
	// then (minus startedAgo).
	Operations []OperationSpec `json:"operations,omitempty"`
	// Templates create many similar operations (benchmarks).
	Templates []Template `json:"templates,omitempty"`
	// IdentityProviders are IAM's OpenID Connect identity providers, for
	// workload identity (ServiceAccount tokens exchanged for temporary
	// credentials).
	IdentityProviders []IdentityProvider `json:"identityProviders,omitempty"`
}

// Settings are the simulator-wide settings of a scenario file.
type Settings struct {
	// Speed is simulated seconds per real second; 0 means 1.
	Speed float64 `json:"speed,omitempty"`
	// ClockSkew is how far X-Sdk-Date may be from the simulator clock;
	// 0 means 15m, like the real gateway.
	ClockSkew Duration `json:"clockSkew,omitzero"`
	// StepDuration is the default (simulated) duration of every step or
	// sub-step that does not set one; 0 means 10s.
	StepDuration Duration `json:"stepDuration,omitzero"`
	// Faults apply to every service request (after the operation's own).
	Faults []Fault `json:"faults,omitempty"`
	// RateLimit, when set, throttles each access key like the gateway does.
	RateLimit *RateLimit `json:"rateLimit,omitempty"`
	// TemporaryCredentialLifetime caps the lifetime of temporary
	// credentials IAM issues; 0 gives what the client asks for (15m when
	// it names no duration). IAM has no such setting: it is how tests get
	// credentials shorter than the 900 s a request must ask for at least.
	TemporaryCredentialLifetime Duration `json:"temporaryCredentialLifetime,omitzero"`
	// IAMFaults apply to the IAM endpoints (latency, throttle, error500,
	// reset, unauthorized).
	IAMFaults []Fault `json:"iamFaults,omitempty"`
	// BCSNotFound makes a BCS list whose operation_id filter matches no
	// operation answer 404 BCS.4040404 instead of {"count":0,...}.
	BCSNotFound bool `json:"bcsNotFound,omitempty"`
}

// RateLimit is a token bucket per access key. Requests over it get HTTP 429
// with APIGW.0308.
type RateLimit struct {
	// RPS is the sustained rate in requests per second.
	RPS float64 `json:"rps"`
	// Burst is the bucket size; 0 means max(1, RPS).
	Burst int `json:"burst,omitempty"`
}

// Account is a set of credentials and the projects they may address.
type Account struct {
	// AccessKey (AK) identifies the account in the Authorization header.
	AccessKey string `json:"accessKey"`
	// SecretKey (SK) is the HMAC key.
	SecretKey string `json:"secretKey"`
	// SecurityToken marks temporary credentials: requests must then carry
	// it in X-Security-Token.
	SecurityToken string `json:"securityToken,omitempty"`
	// DomainID is reported as BCS domain_id; derived from the AK if empty.
	DomainID string `json:"domainID,omitempty"`
	// ProjectIDs are the projects the account may address; any other
	// project gets 403.
	ProjectIDs []string `json:"projectIDs"`
}

// OperationSpec describes one simulated operation.
type OperationSpec struct {
	// Service runs the operation.
	Service Service `json:"service"`
	// Type is the kind of operation: for CCE, UpgradeWorkflow (default)
	// or Job; for ECS, EVS, IMS, BMS, VPC and the database services always
	// a job (empty or Job).
	Type OperationType `json:"type,omitempty"`
	// ID is the service's ID of the operation: BCS operation_id, CCE
	// upgrade_workflow_id (or job_id), AOS action_id, DWS action_name, the
	// job_id of a classic job, the id of a database service's job, RFS
	// deployment_id.
	ID string `json:"id"`
	// ProjectID owns the operation.
	ProjectID string `json:"projectID"`
	// ClusterID is required for a CCE upgrade workflow and DWS; a CCE job
	// reports it as spec.clusterUID.
	ClusterID string `json:"clusterID,omitempty"`
	// StackID is required for AOS; for RFS it is optional, the stack's
	// stack_id (default: a stable UUID derived from project and name).
	StackID string `json:"stackID,omitempty"`
	// StackName is required for RFS: the stack the deployment belongs to,
	// its path segment. One RFS operation a stack (per project).
	StackName string `json:"stackName,omitempty"`
	// BlockchainID is the BCS blockchain (optional, used by the
	// blockchain_id filter).
	BlockchainID string `json:"blockchainID,omitempty"`
	// Scenario is the kind of evolution; empty means success.
	Scenario ScenarioKind `json:"scenario,omitempty"`
	// Params tune the scenario.
	Params Params `json:"params,omitzero"`
	// Steps replace the service's default steps. A database service's
	// job has none (it runs for the step duration). An RFS deployment's
	// steps are the stack's resources, named by their address
	// "type.name" (e.g. huaweicloud_vpc.vpc, or huaweicloud_vpc.vpc[0]
	// with a resource key).
	Steps []StepSpec `json:"steps,omitempty"`
	// StartedAgo backdates the start (simulated time), so an operation can
	// begin half-way through.
	StartedAgo Duration `json:"startedAgo,omitzero"`
	// StartsIn postpones the start (simulated time): the operation is
	// added now but begins StartsIn later, as one started from the
	// console would. Until then the service APIs answer as for an
	// unknown operation, lists leave it out and no CTS trace records it;
	// its steps and scenario run from that moment. Not with StartedAgo.
	StartsIn Duration `json:"startsIn,omitzero"`
	// Faults apply to requests for this operation only.
	Faults []Fault `json:"faults,omitempty"`
}

// Key is the operation's identity within its service, used by the admin
// API, faults and request counts: the ID, except for DWS, whose action
// names repeat across clusters, where it is "clusterID/actionName".
func (o OperationSpec) Key() string {
	if o.Service == DWS {
		return o.ClusterID + "/" + o.ID
	}
	return o.ID
}

// isJob reports whether the operation is a job (classic, database or
// CCE).
func (o OperationSpec) isJob() bool {
	return o.Service.family() != nil || o.Service == CCE && o.Type == TypeJob
}

// uniqueIn names the namespace the operation's key must be unique in: its
// service, except for a job family, whose services share one path, so a
// job ID names one job among all of them.
func (o OperationSpec) uniqueIn() string {
	if f := o.Service.family(); f != nil {
		return f.names
	}
	return string(o.Service)
}

// Params tune a scenario. Every field is optional.
type Params struct {
	// Step is the 1-based step where the scenario's event (failure,
	// cancellation, hang, unknown status) happens. Default: CCE upgrade
	// workflows 3 (Cluster), otherwise 2, at most the number of steps.
	// Not for database jobs, which have no steps.
	Step int `json:"step,omitempty"`
	// SubStep is the 1-based sub-step of Step where it happens; default:
	// the last one for fail/resume, the first one otherwise.
	SubStep int `json:"subStep,omitempty"`
	// After is how long into that sub-step the event happens; default: its
	// whole duration for fail/resume, half of it for cancel, 0 otherwise.
	After *Duration `json:"after,omitempty"`
	// ResumeAfter is how long a resume scenario stays failed (CCE Pending)
	// before the failed step runs again; default 60s.
	ResumeAfter Duration `json:"resumeAfter,omitzero"`
	// Rollback is how long a cancel scenario reports rolling back (DWS
	// ROLLBACK_RUNNING) before it is cancelled; default 0. For a failing
	// RFS deployment it turns on the stack's automatic rollback: the stack
	// is ROLLBACK_IN_PROGRESS for this long, then ROLLBACK_COMPLETE.
	Rollback Duration `json:"rollback,omitzero"`
	// RollbackFails makes a cancel scenario end in a failed rollback (DWS
	// ROLLBACK_FAIL; a plain failure elsewhere), and an RFS rollback end
	// in ROLLBACK_FAILED.
	RollbackFails bool `json:"rollbackFails,omitempty"`
	// Wait is how long the operation is queued (BCS waiting, CCE Init, AOS
	// Pending, DWS WAITING, GaussDB Pending) before its first step starts.
	Wait Duration `json:"wait,omitzero"`
	// StepDuration overrides Settings.StepDuration for this operation; a
	// database job runs for one step duration.
	StepDuration Duration `json:"stepDuration,omitzero"`
	// Status is the word reported by unknown-status; default "paused"
	// (CCE/AOS and the database jobs "Paused", DWS, RFS and the classic
	// jobs "PAUSED").
	Status string `json:"status,omitempty"`
	// Message is the failure message (a classic or database job's
	// fail_reason, a CCE job's status.reason, an RFS stack's
	// status_message and its failed resource's event_message).
	Message string `json:"message,omitempty"`
	// ErrorCode is a failed classic job's error_code (default per
	// service, e.g. Ecs.0001).
	ErrorCode string `json:"errorCode,omitempty"`
	// JobType is a classic job's job_type, a CCE job's spec.type or a
	// database job's name (default per service, e.g. ECS createServer,
	// CCE CreateCluster, RDS CreateMysqlInstance).
	JobType string `json:"jobType,omitempty"`
	// TraceName is the trace_name of the CTS trace that records a job's
	// creation (default per service, e.g. ECS createServer, RDS
	// createInstance; see docs/cloudsim.md).
	TraceName string `json:"traceName,omitempty"`
	// InstanceID is a database job's instance.id (default: a stable hash
	// shaped like the service's instance IDs).
	InstanceID string `json:"instanceID,omitempty"`
	// InstanceName is a database job's instance.name (default: the
	// service's name in lower case and an ID prefix).
	InstanceName string `json:"instanceName,omitempty"`
	// UnknownEstimate makes DWS report estimated_time -1 on running
	// sub-items too.
	UnknownEstimate bool `json:"unknownEstimate,omitempty"`

	// BlockchainName is BCS blockchain_name (default "bcs-" + id prefix).
	BlockchainName string `json:"blockchainName,omitempty"`
	// ResourceType is BCS resource_type (default BCSSVC01).
	ResourceType string `json:"resourceType,omitempty"`
	// OperationType is BCS operation_type (default "99", create).
	OperationType string `json:"operationType,omitempty"`
	// ClusterName is BCS cluster_info.name and DWS cluster_name.
	ClusterName string `json:"clusterName,omitempty"`
	// ClusterVersion and TargetVersion are CCE spec fields.
	ClusterVersion string `json:"clusterVersion,omitempty"`
	// TargetVersion is the CCE upgrade's target version.
	TargetVersion string `json:"targetVersion,omitempty"`
	// StackName is the AOS stack's name (default "stack-" + id prefix).
	StackName string `json:"stackName,omitempty"`
	// ActionName is the AOS lifecycle action (default "create").
	ActionName string `json:"actionName,omitempty"`
}

// StepSpec is one step of an operation. A step with sub-steps lasts as
// long as they do; a step without runs as a single implicit sub-step of
// the same name.
type StepSpec struct {
	// Name is the step's name (a CCE taskType, a BCS step_name, an AOS
	// element name, a DWS item_name).
	Name string `json:"name"`
	// NameZH is the Chinese name DWS reports when x-language asks for it.
	NameZH string `json:"nameZH,omitempty"`
	// Duration is the simulated duration (default: the step duration
	// setting). Ignored when SubSteps are given.
	Duration Duration `json:"duration,omitzero"`
	// SubSteps run in order; they may not have sub-steps themselves.
	SubSteps []StepSpec `json:"subSteps,omitempty"`
}

// Template creates Count operations from one spec, replacing "{{i}}" in
// its string IDs with the index (Start, Start+1, ...). When none of id,
// projectID, clusterID and stackID contains "{{i}}", the ID gets "-{{i}}"
// appended so that the copies stay distinct; so does an RFS stackName
// without "{{i}}" (one deployment a stack).
type Template struct {
	// Count is the number of operations to create.
	Count int `json:"count"`
	// Start is the first index; default 0.
	Start int `json:"start,omitempty"`
	// Operation is the spec to copy.
	Operation OperationSpec `json:"operation"`
}

// Expand returns the template's operations.
func (t Template) Expand() ([]OperationSpec, error) {
	if t.Count < 0 || t.Count > 1_000_000 {
		return nil, fmt.Errorf("template count %d out of range [0, 1000000]", t.Count)
	}
	id := t.Operation.ID
	o := t.Operation
	if !strings.Contains(o.ID+o.ProjectID+o.ClusterID+o.StackID, "{{i}}") {
		// Nothing would tell the copies apart.
		id += "-{{i}}"
	}
	stack := o.StackName
	if stack != "" && !strings.Contains(o.StackName+o.ProjectID, "{{i}}") {
		stack += "-{{i}}"
	}
	out := make([]OperationSpec, 0, t.Count)
	for i := t.Start; i < t.Start+t.Count; i++ {
		n := strconv.Itoa(i)
		o := t.Operation
		o.ID = strings.ReplaceAll(id, "{{i}}", n)
		o.ProjectID = strings.ReplaceAll(o.ProjectID, "{{i}}", n)
		o.ClusterID = strings.ReplaceAll(o.ClusterID, "{{i}}", n)
		o.StackID = strings.ReplaceAll(o.StackID, "{{i}}", n)
		o.StackName = strings.ReplaceAll(stack, "{{i}}", n)
		o.BlockchainID = strings.ReplaceAll(o.BlockchainID, "{{i}}", n)
		out = append(out, o)
	}
	return out, nil
}

// FaultKind is what an injected fault does to a request.
type FaultKind string

// Fault kinds.
const (
	// FaultLatency delays the request by Latency and lets it continue (to
	// other faults or the normal answer).
	FaultLatency FaultKind = "latency"
	// FaultThrottle answers 429 with APIGW.0308.
	FaultThrottle FaultKind = "throttle"
	// FaultError500 answers 500 with the service's internal error body.
	FaultError500 FaultKind = "error500"
	// FaultReset closes the connection without any response (TCP RST when
	// possible).
	FaultReset FaultKind = "reset"
	// FaultMalformed answers 200 with a truncated, invalid JSON body.
	FaultMalformed FaultKind = "malformed"
	// FaultNotFound answers 404 with the service's not-found body.
	FaultNotFound FaultKind = "notfound"
	// FaultUnauthorized answers 401 with APIGW.0301.
	FaultUnauthorized FaultKind = "unauthorized"
)

func (k FaultKind) valid() bool {
	switch k {
	case FaultLatency, FaultThrottle, FaultError500, FaultReset, FaultMalformed, FaultNotFound, FaultUnauthorized:
		return true
	}
	return false
}

// Fault injects a failure into matching requests.
type Fault struct {
	// Kind is what the fault does.
	Kind FaultKind `json:"kind"`
	// Latency is the (real-time) delay of a latency fault.
	Latency Duration `json:"latency,omitzero"`
	// Probability in (0, 1] that a matching request is hit; 0 means 1.
	Probability float64 `json:"probability,omitempty"`
	// Count limits the fault to the next Count hits, after which it
	// expires; 0 means unlimited. When listed, it is the hits left.
	Count int `json:"count,omitempty"`
	// After lets the first After matching requests through untouched.
	// When listed, it is how many are still to be let through.
	After int `json:"after,omitempty"`
	// RetryAfter, for throttle, sets a Retry-After header (whole seconds).
	RetryAfter Duration `json:"retryAfter,omitzero"`
}

func (f Fault) validate() error {
	if !f.Kind.valid() {
		return fmt.Errorf("unknown fault kind %q (want one of latency, throttle, error500, reset, malformed, notfound, unauthorized)", f.Kind)
	}
	if f.Kind == FaultLatency && f.Latency.Duration <= 0 {
		return errors.New("latency fault needs a positive latency")
	}
	if f.Probability < 0 || f.Probability > 1 || math.IsNaN(f.Probability) {
		return fmt.Errorf("probability %v out of range [0, 1]", f.Probability)
	}
	if f.Count < 0 {
		return fmt.Errorf("count %d is negative", f.Count)
	}
	if f.After < 0 {
		return fmt.Errorf("after %d is negative", f.After)
	}
	if f.RetryAfter.Duration < 0 {
		return errors.New("retryAfter is negative")
	}
	return nil
}

func validateFaults(fs []Fault) error {
	for i, f := range fs {
		if err := f.validate(); err != nil {
			return fmt.Errorf("faults[%d]: %w", i, err)
		}
	}
	return nil
}

func validID(what, s string, required bool) error {
	if s == "" {
		if required {
			return fmt.Errorf("%s is required", what)
		}
		return nil
	}
	if len(s) > 128 {
		return fmt.Errorf("%s %q is longer than 128 characters", what, s)
	}
	// IDs are path segments (and DWS keys join two with "/"), so keep them
	// to characters that need no escaping.
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.' || c == ':' || c == '~') {
			return fmt.Errorf("%s %q has character %q (allowed: letters, digits, - _ . : ~)", what, s, c)
		}
	}
	return nil
}

func (o OperationSpec) validate() error {
	if !o.Service.valid() {
		return fmt.Errorf("service %q unknown (want %s)", o.Service, serviceNames)
	}
	if err := o.validateType(); err != nil {
		return err
	}
	if err := validID("id", o.ID, true); err != nil {
		return err
	}
	if err := validID("projectID", o.ProjectID, true); err != nil {
		return err
	}
	if err := validID("clusterID", o.ClusterID, o.Service == CCE && !o.isJob() || o.Service == DWS); err != nil {
		if o.Service == CCE {
			return fmt.Errorf("%w for a CCE upgrade workflow (a CCE job, type: Job, needs none)", err)
		}
		return fmt.Errorf("%w for service %s", err, o.Service)
	}
	if err := validID("stackID", o.StackID, o.Service == AOS); err != nil {
		return fmt.Errorf("%w for service %s", err, o.Service)
	}
	if err := validStackName(o.StackName, o.Service == RFS); err != nil {
		return fmt.Errorf("%w for service %s", err, o.Service)
	}
	if o.StackName != "" && o.Service != RFS {
		return fmt.Errorf("stackName is only used by RFS, not %s (AOS takes params.stackName)", o.Service)
	}
	if err := validID("blockchainID", o.BlockchainID, false); err != nil {
		return err
	}
	if o.StackID != "" && o.Service != AOS && o.Service != RFS {
		return fmt.Errorf("stackID is only used by AOS and RFS, not %s", o.Service)
	}
	if o.BlockchainID != "" && o.Service != BCS {
		return fmt.Errorf("blockchainID is only used by BCS, not %s", o.Service)
	}
	if o.ClusterID != "" && o.Service != CCE && o.Service != DWS && o.Service != BCS {
		return fmt.Errorf("clusterID is not used by %s", o.Service)
	}
	if o.Scenario != "" && !o.Scenario.valid() {
		return fmt.Errorf("scenario %q unknown (want success, fail, resume, cancel, never or unknown-status)", o.Scenario)
	}
	if err := o.validateJobScenario(); err != nil {
		return err
	}
	if err := o.validateDBJob(); err != nil {
		return err
	}
	if err := o.validateRFS(); err != nil {
		return err
	}
	if err := o.validateTraceName(); err != nil {
		return err
	}
	p := o.Params
	if p.Step < 0 || p.SubStep < 0 {
		return errors.New("params.step and params.subStep are 1-based and cannot be negative")
	}
	for name, d := range map[string]Duration{"resumeAfter": p.ResumeAfter, "rollback": p.Rollback, "wait": p.Wait, "stepDuration": p.StepDuration} {
		if d.Duration < 0 {
			return fmt.Errorf("params.%s is negative", name)
		}
	}
	if p.After != nil && p.After.Duration < 0 {
		return errors.New("params.after is negative")
	}
	if o.StartedAgo.Duration < 0 {
		return errors.New("startedAgo is negative")
	}
	if o.StartsIn.Duration < 0 {
		return errors.New("startsIn is negative")
	}
	if o.StartsIn.Duration > 0 && o.StartedAgo.Duration > 0 {
		return errors.New("startsIn and startedAgo exclude each other (one starts the operation later, the other earlier)")
	}
	if len(o.Steps) > 128 {
		return fmt.Errorf("%d steps, at most 128 allowed", len(o.Steps))
	}
	for i, s := range o.Steps {
		if s.Name == "" {
			return fmt.Errorf("steps[%d]: name is required", i)
		}
		if s.Duration.Duration < 0 {
			return fmt.Errorf("steps[%d]: duration is negative", i)
		}
		if len(s.SubSteps) > 128 {
			return fmt.Errorf("steps[%d]: %d sub-steps, at most 128 allowed", i, len(s.SubSteps))
		}
		for j, ss := range s.SubSteps {
			if ss.Name == "" {
				return fmt.Errorf("steps[%d].subSteps[%d]: name is required", i, j)
			}
			if ss.Duration.Duration < 0 {
				return fmt.Errorf("steps[%d].subSteps[%d]: duration is negative", i, j)
			}
			if len(ss.SubSteps) > 0 {
				return fmt.Errorf("steps[%d].subSteps[%d]: sub-steps cannot have sub-steps", i, j)
			}
		}
		if len(s.SubSteps) > 0 && o.Service.classicJob() {
			return fmt.Errorf("steps[%d]: the sub-jobs of a %s job have no sub-jobs of their own (subSteps)", i, o.Service)
		}
	}
	return validateFaults(o.Faults)
}

// validateType checks type against the service.
func (o OperationSpec) validateType() error {
	switch o.Type {
	case "":
	case TypeJob:
		if o.Service != CCE && o.Service.family() == nil {
			return fmt.Errorf("type Job is only used by CCE, the classic job services (%s) and the database services (%s), not %s",
				classicJobFamily.names, dbJobFamily.names, o.Service)
		}
	case TypeUpgradeWorkflow:
		if o.Service != CCE {
			return fmt.Errorf("type UpgradeWorkflow is only used by CCE, not %s", o.Service)
		}
	default:
		return fmt.Errorf("type %q unknown (want UpgradeWorkflow or Job)", o.Type)
	}
	return nil
}

// validateTraceName checks params.traceName as CTS names traces: 1 to 64
// letters, digits, '-', '.' and '_', starting with a letter; only the job
// families have traces.
func (o OperationSpec) validateTraceName() error {
	n := o.Params.TraceName
	if n == "" {
		return nil
	}
	if o.Service.family() == nil {
		return fmt.Errorf("params.traceName applies to the jobs of %s and %s (CTS traces), not %s",
			classicJobFamily.names, dbJobFamily.names, o.Service)
	}
	if len(n) > 64 {
		return fmt.Errorf("params.traceName %q is longer than 64 characters", n)
	}
	for i, c := range n {
		letter := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
		if i == 0 && !letter {
			return fmt.Errorf("params.traceName %q must start with a letter", n)
		}
		if !letter && !(c >= '0' && c <= '9' || c == '-' || c == '.' || c == '_') {
			return fmt.Errorf("params.traceName %q has character %q (allowed: letters, digits, - . _)", n, c)
		}
	}
	return nil
}

// validateJobScenario rejects the scenarios a job cannot play: the job
// APIs have no cancelled status, and only CCE upgrade workflows resume
// after a failure.
func (o OperationSpec) validateJobScenario() error {
	if !o.isJob() {
		return nil
	}
	what := string(o.Service) + " jobs"
	if o.Service == CCE {
		what = "CCE jobs (type: Job)"
	}
	switch o.Scenario {
	case ScenarioCancel:
		return fmt.Errorf("scenario cancel is not available for %s: the job API has no cancelled status (use fail, never or unknown-status)", what)
	case ScenarioResume:
		return fmt.Errorf("scenario resume is not available for %s: only CCE upgrade workflows resume after a failure", what)
	}
	return nil
}

// validateRFS checks what only an RFS deployment has: its scenarios
// (RFS cannot cancel a deployment, and continuing a failed one,
// ContinueDeployStack, starts a new deployment with a new deployment_id),
// the rollback of a failed one, and resources named by address.
func (o OperationSpec) validateRFS() error {
	if o.Service != RFS {
		return nil
	}
	switch o.Scenario {
	case ScenarioCancel:
		return errors.New("scenario cancel is not available for RFS: a deployment cannot be cancelled and the stack has no cancelled status (use fail, never or unknown-status)")
	case ScenarioResume:
		return errors.New("scenario resume is not available for RFS: continuing a failed deployment (ContinueDeployStack) starts a new deployment with its own deployment_id; model it as a second operation")
	}
	if o.Params.Rollback.Duration > 0 && o.Scenario != ScenarioFail {
		return errors.New("params.rollback applies to an RFS deployment only with scenario fail (the stack's automatic rollback after a failure)")
	}
	if o.Params.RollbackFails && o.Params.Rollback.Duration <= 0 {
		return errors.New("params.rollbackFails needs params.rollback for RFS (the rollback that fails)")
	}
	for i, s := range o.Steps {
		if len(s.SubSteps) > 0 {
			return fmt.Errorf("steps[%d]: an RFS step is one resource of the stack and has no subSteps", i)
		}
		if _, err := parseResourceAddress(s.Name); err != nil {
			return fmt.Errorf("steps[%d]: %w", i, err)
		}
	}
	return nil
}

// validStackName checks an RFS stack name as the API does: 1 to 128
// characters, letters (Latin or Chinese), digits, _ and -, starting with
// a letter.
func validStackName(s string, required bool) error {
	if s == "" {
		if required {
			return errors.New("stackName is required")
		}
		return nil
	}
	if n := len([]rune(s)); n > 128 {
		return fmt.Errorf("stackName %q is longer than 128 characters", s)
	}
	for i, c := range s {
		letter := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= 0x4e00 && c <= 0x9fa5
		if i == 0 && !letter {
			return fmt.Errorf("stackName %q must start with a letter", s)
		}
		if !letter && !(c >= '0' && c <= '9' || c == '_' || c == '-') {
			return fmt.Errorf("stackName %q has character %q (allowed: letters, digits, _ -)", s, c)
		}
	}
	return nil
}

// stackKey is where an RFS operation's stack must be unique: one
// deployment a stack and project, since the stack's metadata reports one
// status. "" for the other services.
func (o OperationSpec) stackKey() string {
	if o.Service != RFS {
		return ""
	}
	return "RFS stack/" + o.ProjectID + "/" + o.StackName
}

// validateDBJob rejects what a database job cannot have: steps, which its
// API does not report, and the parameters that choose one.
func (o OperationSpec) validateDBJob() error {
	if !o.Service.dbJob() {
		return nil
	}
	if len(o.Steps) > 0 {
		return fmt.Errorf("steps: %s jobs have no steps (the job API reports none); a job runs for params.stepDuration (default settings.stepDuration)", o.Service)
	}
	if o.Params.Step != 0 || o.Params.SubStep != 0 {
		return fmt.Errorf("params.step and params.subStep do not apply to %s jobs, which have no steps (params.after sets when the event happens)", o.Service)
	}
	return nil
}

func (a Account) validate() error {
	if a.AccessKey == "" {
		return errors.New("accessKey is required")
	}
	if a.SecretKey == "" {
		return errors.New("secretKey is required")
	}
	if len(a.ProjectIDs) == 0 {
		return errors.New("projectIDs needs at least one project")
	}
	for i, p := range a.ProjectIDs {
		if err := validID(fmt.Sprintf("projectIDs[%d]", i), p, true); err != nil {
			return err
		}
	}
	return nil
}

func (s Settings) validate() error {
	if s.Speed < 0 || math.IsNaN(s.Speed) || math.IsInf(s.Speed, 0) {
		return fmt.Errorf("speed %v must be a finite number >= 0", s.Speed)
	}
	if s.ClockSkew.Duration < 0 {
		return errors.New("clockSkew is negative")
	}
	if s.StepDuration.Duration < 0 {
		return errors.New("stepDuration is negative")
	}
	if s.RateLimit != nil && (s.RateLimit.RPS <= 0 || s.RateLimit.Burst < 0) {
		return errors.New("rateLimit needs rps > 0 and burst >= 0")
	}
	if s.TemporaryCredentialLifetime.Duration < 0 {
		return errors.New("temporaryCredentialLifetime is negative")
	}
	if err := validateFaults(s.IAMFaults); err != nil {
		return fmt.Errorf("iamFaults: %w", err)
	}
	return validateFaults(s.Faults)
}

// Validate checks the whole configuration and reports the first problem
// with its location, e.g. "operations[2]: service "XYZ" unknown".
func (c Config) Validate() error {
	if err := c.Settings.validate(); err != nil {
		return fmt.Errorf("settings: %w", err)
	}
	aks := map[string]bool{}
	for i, a := range c.Accounts {
		if err := a.validate(); err != nil {
			return fmt.Errorf("accounts[%d]: %w", i, err)
		}
		if aks[a.AccessKey] {
			return fmt.Errorf("accounts[%d]: duplicate accessKey %q", i, a.AccessKey)
		}
		aks[a.AccessKey] = true
	}
	idps := map[string]bool{}
	for i, p := range c.IdentityProviders {
		if err := p.validate(aks); err != nil {
			return fmt.Errorf("identityProviders[%d]: %w", i, err)
		}
		if idps[p.ID] {
			return fmt.Errorf("identityProviders[%d]: duplicate id %q", i, p.ID)
		}
		idps[p.ID] = true
	}
	keys := map[string]string{}
	check := func(where string, o OperationSpec) error {
		if err := o.validate(); err != nil {
			return fmt.Errorf("%s: %w", where, err)
		}
		k := o.uniqueIn() + "/" + o.Key()
		if prev, dup := keys[k]; dup {
			if o.Service.family() != nil {
				return fmt.Errorf("%s: duplicate job ID %q (also %s): %s jobs share one path, so their IDs must differ", where, o.Key(), prev, o.uniqueIn())
			}
			return fmt.Errorf("%s: duplicate %s operation %q (also %s)", where, o.Service, o.Key(), prev)
		}
		keys[k] = where
		if sk := o.stackKey(); sk != "" {
			if prev, dup := keys[sk]; dup {
				return fmt.Errorf("%s: stack %q of project %s already has a deployment (%s): cloudsim simulates one deployment a stack", where, o.StackName, o.ProjectID, prev)
			}
			keys[sk] = where
		}
		return nil
	}
	for i, o := range c.Operations {
		if err := check(fmt.Sprintf("operations[%d]", i), o); err != nil {
			return err
		}
	}
	for i, t := range c.Templates {
		ops, err := t.Expand()
		if err != nil {
			return fmt.Errorf("templates[%d]: %w", i, err)
		}
		for j, o := range ops {
			if err := check(fmt.Sprintf("templates[%d] (index %d)", i, t.Start+j), o); err != nil {
				return err
			}
		}
	}
	return nil
}

// ParseConfig reads a scenario file (YAML or JSON). Unknown fields are
// errors, so typos do not silently change a scenario.
func ParseConfig(data []byte) (Config, error) {
	var c Config
	if err := yaml.UnmarshalStrict(data, &c); err != nil {
		return Config{}, fmt.Errorf("parse scenario: %w", err)
	}
	if err := c.Validate(); err != nil {
		return Config{}, fmt.Errorf("invalid scenario: %w", err)
	}
	return c, nil
}

// LoadConfig reads and parses the scenario file at path.
func LoadConfig(path string) (Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Config{}, err
	}
	c, err := ParseConfig(data)
	if err != nil {
		return Config{}, fmt.Errorf("%s: %w", path, err)
	}
	return c, nil
}
