package cloudsim

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// This file turns a snapshot into each service's documented JSON shape.
// The structs mirror the API reference examples field by field (and in the
// same order), including nulls where the examples have them.

// Time formats of the APIs.
const (
	cceTimeLayout = "2006-01-02 15:04:05.999999 -0700 MST"
	dwsTimeLayout = "2006-01-02 15:04:05"
	// jobTimeLayout is the classic jobs' ISO 8601, e.g.
	// 2019-04-25T20:04:47.591Z.
	jobTimeLayout = "2006-01-02T15:04:05.000Z"
	// dbTimeLayout is the database jobs' "yyyy-mm-ddThh:mm:ssZ", whose
	// offset has no colon: 2018-08-06T10:41:14+0800.
	dbTimeLayout = "2006-01-02T15:04:05-0700"
)

// dbZone is the zone of the database jobs' times: UTC+8, as the API
// references describe them ("Beijing time shows +0800").
var dbZone = time.FixedZone("UTC+8", 8*60*60)

// cceJobs stands for the CCE job API's vocabulary in serviceWords (its
// phases differ from the upgrade workflow's).
const cceJobs Service = "CCE/Job"

// dialect is the vocabulary the operation's API speaks: its service's,
// the classic jobs', the database jobs' (GaussDB's own, which adds
// Pending) or the CCE jobs'.
func (o OperationSpec) dialect() Service {
	switch {
	case o.Service.classicJob():
		return classicJobs
	case o.Service == GaussDB:
		return GaussDB
	case o.Service.dbJob():
		return dbJobs
	case o.isJob():
		return cceJobs
	}
	return o.Service
}

// wordFor maps a neutral state to a service's status word (overall or
// step; the services use the same vocabulary for both, except where
// noted in the renderers).
func wordFor(svc Service, st State, unknown string) string {
	if st == StateUnknown {
		return unknown
	}
	if w, ok := serviceWords[svc][st]; ok {
		return w
	}
	return string(st)
}

var serviceWords = map[Service]map[State]string{
	BCS: {StateWaiting: "waiting", StateRunning: "processing", StateRollingBack: "processing",
		StateSucceeded: "finished", StateFailed: "failed", StateRollbackFailed: "failed", StateCancelled: "stop"},
	// CCE workflow phases: a failed task leaves the workflow Pending.
	CCE: {StateWaiting: "Init", StateRunning: "Running", StateRollingBack: "Running",
		StateSucceeded: "Success", StateFailed: "Pending", StateRollbackFailed: "Pending", StateCancelled: "Cancel"},
	AOS: {StateWaiting: "Pending", StateRunning: "Running", StateRollingBack: "Running",
		StateSucceeded: "Succeeded", StateFailed: "Failed", StateRollbackFailed: "Failed", StateCancelled: "Cancelled"},
	DWS: {StateWaiting: "WAITING", StateRunning: "RUNNING", StateRollingBack: "ROLLBACK_RUNNING",
		StateSucceeded: "SUCCESS", StateFailed: "FAILED", StateRollbackFailed: "ROLLBACK_FAIL", StateCancelled: "ROLLBACK_SUCCESS"},
	// The job APIs have no cancelled or rollback words; jobs are never
	// cancelled (the configuration rejects it), the mapping is total
	// anyway.
	classicJobs: {StateWaiting: "INIT", StateRunning: "RUNNING", StateRollingBack: "RUNNING",
		StateSucceeded: "SUCCESS", StateFailed: "FAIL", StateRollbackFailed: "FAIL", StateCancelled: "FAIL"},
	cceJobs: {StateWaiting: "Initializing", StateRunning: "Running", StateRollingBack: "Running",
		StateSucceeded: "Success", StateFailed: "Failed", StateRollbackFailed: "Failed", StateCancelled: "Failed"},
	// The database jobs know only Running, Completed and Failed: a queued
	// job is already Running (at 0%), except GaussDB's, Pending.
	dbJobs: {StateWaiting: "Running", StateRunning: "Running", StateRollingBack: "Running",
		StateSucceeded: "Completed", StateFailed: "Failed", StateRollbackFailed: "Failed", StateCancelled: "Failed"},
	// The RFS stack's status: a queued deployment is already in
	// progress; a failure that rolls back is ROLLBACK_COMPLETE at the end
	// (see rfsStatus).
	RFS: {StateWaiting: "DEPLOYMENT_IN_PROGRESS", StateRunning: "DEPLOYMENT_IN_PROGRESS", StateRollingBack: "ROLLBACK_IN_PROGRESS",
		StateSucceeded: "DEPLOYMENT_COMPLETE", StateFailed: "DEPLOYMENT_FAILED", StateRollbackFailed: "ROLLBACK_FAILED", StateCancelled: "DEPLOYMENT_FAILED"},
	GaussDB: {StateWaiting: "Pending", StateRunning: "Running", StateRollingBack: "Running",
		StateSucceeded: "Completed", StateFailed: "Failed", StateRollbackFailed: "Failed", StateCancelled: "Failed"},
}

// cceTaskWord maps a step state to a CCE task status, whose enum has no
// cancelled value: an interrupted task reports Failed.
func cceTaskWord(st State, unknown string) string {
	switch st {
	case StateUnknown:
		return unknown
	case StateWaiting:
		return "Init"
	case StateRunning, StateRollingBack:
		return "Running"
	case StateSucceeded:
		return "Success"
	}
	return "Failed"
}

func serviceWord(op *operation, sn *snapshot) string {
	if op.spec.Service == RFS {
		return rfsStatus(op, sn)
	}
	return wordFor(op.spec.dialect(), sn.state, op.plan.word)
}

// renderCtx carries what every renderer needs for one request.
type renderCtx struct {
	s    *Simulator
	op   *operation
	sn   snapshot
	acct *account
	zh   bool
}

// at converts an offset from the operation's start to a real timestamp.
func (rc *renderCtx) at(off time.Duration) time.Time {
	return rc.s.clock.realAt(rc.op.simStart.Add(off)).UTC()
}

// estimate converts simulated time left into real seconds, rounded up;
// -1 when unknown.
func (rc *renderCtx) estimate(remaining time.Duration) int {
	speed := rc.s.clock.speed()
	if remaining < 0 || speed <= 0 {
		return -1
	}
	return int(math.Ceil(remaining.Seconds() / speed))
}

func (s *Simulator) newRenderCtx(op *operation, now time.Time, acct *account, zh bool) *renderCtx {
	e := s.clock.simAt(now).Sub(op.simStart)
	return &renderCtx{s: s, op: op, sn: op.plan.eval(e), acct: acct, zh: zh}
}

// ---- BCS ListOpRecord ----

type bcsListResponse struct {
	Count            int         `json:"count"`
	OperationRecords []bcsRecord `json:"operation_records"`
}

type bcsRecord struct {
	OperationID      string                `json:"operation_id"`
	ResourceType     string                `json:"resource_type"`
	OperationType    string                `json:"operation_type"`
	DomainID         string                `json:"domain_id"`
	ProjectID        string                `json:"project_id"`
	BlockchainID     string                `json:"blockchain_id"`
	BlockchainName   string                `json:"blockchain_name"`
	ClusterInfo      bcsCluster            `json:"cluster_info"`
	OperationProcess map[string]bcsProcess `json:"operation_process"`
	RecordTime       int64                 `json:"record_time"`
	OperationStatus  string                `json:"operation_status"`
	Message          []string              `json:"message"`
	Desc             *string               `json:"desc"`
}

type bcsCluster struct {
	ClusterType string    `json:"cluster_type"`
	Name        string    `json:"name"`
	ClusterID   string    `json:"cluster_id"`
	NodeInfos   []bcsNode `json:"node_infos"`
}

type bcsNode struct {
	Name string `json:"name"`
	ID   string `json:"id"`
}

type bcsProcess struct {
	StepName  string            `json:"step_name"`
	Status    string            `json:"status"`
	Detail    string            `json:"detail"`
	SubSteps  map[string]bcsSub `json:"sub_steps"`
	SerialNum int64             `json:"serial_num"`
}

type bcsSub struct {
	SubstepName string   `json:"substep_name"`
	Detail      *string  `json:"detail"`
	Status      string   `json:"status"`
	Message     []string `json:"message"`
	StartTime   int64    `json:"start_time"`
	EndTime     int64    `json:"end_time"`
	SerialNum   int64    `json:"serial_num"`
}

func strp(s string) *string { return &s }

func (rc *renderCtx) bcsStepWord(st State) string {
	if st == StateWaiting {
		// The reference example leaves steps that have not started with
		// an empty status and "waiting" in detail.
		return ""
	}
	return wordFor(BCS, st, rc.op.plan.word)
}

func (rc *renderCtx) bcs() bcsRecord {
	op, sn, sp := rc.op, &rc.sn, rc.op.spec
	p := sp.Params
	rec := bcsRecord{
		OperationID:      sp.ID,
		ResourceType:     or(p.ResourceType, "BCSSVC01"),
		OperationType:    or(p.OperationType, "99"),
		DomainID:         rc.acct.DomainID,
		ProjectID:        sp.ProjectID,
		BlockchainID:     sp.BlockchainID,
		BlockchainName:   or(p.BlockchainName, "bcs-"+hashHex("bcs/"+op.key, 6)),
		OperationProcess: make(map[string]bcsProcess, len(op.plan.steps)),
		RecordTime:       rc.at(0).UnixNano(),
		OperationStatus:  wordFor(BCS, sn.state, op.plan.word),
		ClusterInfo: bcsCluster{
			ClusterType: "cce",
			Name:        or(p.ClusterName, "cce-"+hashHex("cce/"+op.key, 6)),
			ClusterID:   or(sp.ClusterID, uuidFrom("bcs-cluster/"+op.key)),
		},
	}
	if sn.message != "" && sn.state != StateRunning {
		rec.Message = []string{sn.message}
	}
	var serial int64
	for i, ps := range op.plan.steps {
		st := sn.steps[i]
		proc := bcsProcess{
			StepName:  ps.name,
			Status:    rc.bcsStepWord(st.state),
			SubSteps:  make(map[string]bcsSub, len(ps.subs)),
			SerialNum: int64(i + 1),
		}
		if st.state == StateWaiting {
			proc.Detail = "waiting"
		}
		for j, sub := range ps.subs {
			ss := st.subs[j]
			serial++
			b := bcsSub{SubstepName: sub.name, Status: rc.bcsStepWord(ss.state), SerialNum: serial}
			if ss.state == StateWaiting {
				b.Detail = strp("waiting")
			}
			if ss.start >= 0 {
				b.StartTime = rc.at(ss.start).UnixNano()
			}
			if ss.end >= 0 {
				b.EndTime = rc.at(ss.end).UnixNano()
			}
			if ss.message != "" {
				b.Detail = strp(ss.message)
				b.Message = []string{ss.message}
			}
			proc.SubSteps[sub.name] = b
		}
		rec.OperationProcess[ps.name] = proc
	}
	return rec
}

// ---- CCE ShowUpgradeWorkFlow ----

type cceWorkflow struct {
	Kind       string      `json:"kind"`
	APIVersion string      `json:"apiVersion"`
	Metadata   cceMetadata `json:"metadata"`
	Spec       cceSpec     `json:"spec"`
	Status     cceStatus   `json:"status"`
}

type cceMetadata struct {
	UID               string `json:"uid"`
	CreationTimestamp string `json:"creationTimestamp"`
	UpdateTimestamp   string `json:"updateTimestamp"`
}

type cceSpec struct {
	ClusterID      string `json:"clusterID"`
	ClusterVersion string `json:"clusterVersion"`
	TargetVersion  string `json:"targetVersion"`
}

type cceStatus struct {
	Phase         string     `json:"phase"`
	PointStatuses []ccePoint `json:"pointStatuses"`
	LineStatuses  []cceLine  `json:"lineStatuses"`
}

type ccePoint struct {
	TaskType        string `json:"taskType"`
	TaskID          string `json:"taskID,omitempty"`
	Status          string `json:"status,omitempty"`
	StartTimeStamp  string `json:"startTimeStamp,omitempty"`
	EndTimeStamp    string `json:"endTimeStamp,omitempty"`
	ExpireTimeStamp string `json:"expireTimeStamp,omitempty"`
}

type cceLine struct {
	StartPoint cceTaskRef `json:"startPoint"`
	EndPoint   cceTaskRef `json:"endPoint"`
}

type cceTaskRef struct {
	TaskType string `json:"taskType"`
}

// cceTime formats like Go's time.Time.String() in UTC at microsecond
// precision, which is what the CCE examples show.
func cceTime(t time.Time) string {
	return t.UTC().Truncate(time.Microsecond).Format(cceTimeLayout)
}

func (rc *renderCtx) cce() cceWorkflow {
	op, sn, sp := rc.op, &rc.sn, rc.op.spec
	wf := cceWorkflow{
		Kind:       "WorkFlowTask",
		APIVersion: "v3",
		Metadata: cceMetadata{
			UID:               sp.ID,
			CreationTimestamp: cceTime(rc.at(0)),
			UpdateTimestamp:   cceTime(rc.at(max(sn.changed, 0))),
		},
		Spec: cceSpec{
			ClusterID:      sp.ClusterID,
			ClusterVersion: or(sp.Params.ClusterVersion, "v1.28.15-r20"),
			TargetVersion:  or(sp.Params.TargetVersion, "v1.29.13-r0"),
		},
		Status: cceStatus{
			Phase:         wordFor(CCE, sn.state, op.plan.word),
			PointStatuses: make([]ccePoint, 0, len(op.plan.steps)),
			LineStatuses:  make([]cceLine, 0, len(op.plan.steps)),
		},
	}
	for i, ps := range op.plan.steps {
		st := sn.steps[i]
		pt := ccePoint{TaskType: ps.name}
		if st.state != StateWaiting {
			pt.TaskID = uuidFrom(fmt.Sprintf("cce-task/%s/%d/%d", op.key, i, st.attempt))
			pt.Status = cceTaskWord(st.state, op.plan.word)
			start := st.start
			if st.attempt > 1 {
				// A resumed task reports its new run.
				start = st.subs[0].start
				for _, ss := range st.subs {
					if ss.attempt > 1 {
						start = ss.start
						break
					}
				}
			}
			pt.StartTimeStamp = cceTime(rc.at(start))
			if st.end >= 0 {
				end := rc.at(st.end)
				pt.EndTimeStamp = cceTime(end)
				if ps.name == "PreCheck" {
					// Pre-check results expire an hour after they finish.
					pt.ExpireTimeStamp = cceTime(end.Add(time.Hour))
				}
			}
		}
		wf.Status.PointStatuses = append(wf.Status.PointStatuses, pt)
		if i > 0 {
			wf.Status.LineStatuses = append(wf.Status.LineStatuses, cceLine{
				StartPoint: cceTaskRef{op.plan.steps[i-1].name},
				EndPoint:   cceTaskRef{ps.name},
			})
		}
	}
	return wf
}

// cceWorkflowList is ListUpgradeWorkFlows' answer: the SDK's
// ListUpgradeWorkFlowsResponse, each item what ShowUpgradeWorkFlow
// answers for it.
type cceWorkflowList struct {
	Kind       string        `json:"kind"`
	APIVersion string        `json:"apiVersion"`
	Items      []cceWorkflow `json:"items"`
}

// ---- CCE ShowJob ----

type cceJob struct {
	Kind       string       `json:"kind"`
	APIVersion string       `json:"apiVersion"`
	Metadata   cceMetadata  `json:"metadata"`
	Spec       cceJobSpec   `json:"spec"`
	Status     cceJobStatus `json:"status"`
}

type cceJobSpec struct {
	Type         string   `json:"type"`
	ClusterUID   string   `json:"clusterUID"`
	ResourceID   string   `json:"resourceID,omitempty"`
	ResourceName string   `json:"resourceName,omitempty"`
	SubJobs      []cceJob `json:"subJobs,omitempty"`
}

type cceJobStatus struct {
	Phase  string `json:"phase"`
	Reason string `json:"reason,omitempty"`
}

// cceSubJob is one sub-job: a full Job of its own, created with its
// parent, whose updateTimestamp is its last change.
func (rc *renderCtx) cceSubJob(uid, typ string, spec cceJobSpec, state State, start, end time.Duration, reason string) cceJob {
	changed := max(start, end, 0)
	spec.Type = typ
	return cceJob{
		Kind:       "Job",
		APIVersion: "v3",
		Metadata: cceMetadata{
			UID:               uid,
			CreationTimestamp: cceTime(rc.at(0)),
			UpdateTimestamp:   cceTime(rc.at(changed)),
		},
		Spec:   spec,
		Status: cceJobStatus{Phase: wordFor(cceJobs, state, rc.op.plan.word), Reason: reason},
	}
}

// cceJob renders a CCE job: each step is a sub-job, and a step's explicit
// sub-steps are that sub-job's own subJobs.
func (rc *renderCtx) cceJob() cceJob {
	op, sn, sp := rc.op, &rc.sn, rc.op.spec
	typ := sp.jobType()
	cluster := or(sp.ClusterID, uuidFrom("cce-cluster/"+op.key))
	name := strings.ToLower(strings.TrimPrefix(typ, "Create")) + "-" + hashHex("cce-resource/"+op.key, 6)
	resource := uuidFrom("cce-resource/" + op.key)
	if typ == jobKinds[CCE].jobType {
		name, resource = or(sp.Params.ClusterName, "cluster-"+hashHex("cce/"+op.key, 6)), cluster
	}
	sub := cceJobSpec{ClusterUID: cluster, ResourceName: name}
	job := rc.cceSubJob(sp.ID, typ, cceJobSpec{ClusterUID: cluster, ResourceID: resource, ResourceName: name,
		SubJobs: make([]cceJob, 0, len(op.plan.steps))}, sn.state, 0, max(sn.changed, 0), "")
	if sn.state != StateRunning {
		job.Status.Reason = sn.message
	}
	for i, ps := range op.plan.steps {
		st := sn.steps[i]
		uid := uuidFrom(fmt.Sprintf("cce-job/%s/%d", op.key, i))
		reason := ""
		var nested []cceJob
		for j, ss := range st.subs {
			reason = or(ss.message, reason)
			if ps.explicit {
				nested = append(nested, rc.cceSubJob(uuidFrom(fmt.Sprintf("cce-job/%s/%d/%d", op.key, i, j)),
					ps.subs[j].name, sub, ss.state, ss.start, ss.end, ss.message))
			}
		}
		spec := sub
		spec.SubJobs = nested
		job.Spec.SubJobs = append(job.Spec.SubJobs, rc.cceSubJob(uid, ps.name, spec, st.state, st.start, st.end, reason))
	}
	return job
}

// ---- Classic jobs: ECS, EVS, IMS, BMS and VPC ShowJob ----

// classicJob is the shape the five services share, which each sub-job
// repeats. Error fields are null unless the job failed, as in the
// references' examples.
type classicJob struct {
	Status     string          `json:"status"`
	Entities   classicEntities `json:"entities"`
	JobID      string          `json:"job_id"`
	JobType    string          `json:"job_type"`
	BeginTime  *string         `json:"begin_time"`
	EndTime    *string         `json:"end_time"`
	ErrorCode  *string         `json:"error_code"`
	FailReason *string         `json:"fail_reason"`
}

// classicEntities is what the services put in entities: a sub-job's
// resource under the service's own field name, and the job's sub-jobs
// (IMS: sub_jobs_result and sub_jobs_list, with process_percent and
// current_task; ECS and BMS add sub_jobs_total).
type classicEntities struct {
	ServerID         string       `json:"server_id,omitempty"`
	VolumeID         string       `json:"volume_id,omitempty"`
	ImageID          string       `json:"image_id,omitempty"`
	PublicipID       string       `json:"publicip_id,omitempty"`
	ErrorcodeMessage string       `json:"errorcode_message,omitempty"`
	CurrentTask      string       `json:"current_task,omitempty"`
	ProcessPercent   *float64     `json:"process_percent,omitempty"`
	SubJobsTotal     *int         `json:"sub_jobs_total,omitempty"`
	SubJobs          []classicJob `json:"sub_jobs,omitempty"`
	SubJobsResult    []classicJob `json:"sub_jobs_result,omitempty"`
	SubJobsList      []string     `json:"sub_jobs_list,omitempty"`
}

// jobFailureCodes are a failed job's default error_code per service.
var jobFailureCodes = map[Service]string{
	ECS: "Ecs.0002", EVS: "EVS.9999", IMS: "IMG.9999", BMS: "BMS.9999", VPC: "VPC.9999",
}

// jobTime formats an offset from the operation's start, or says "not
// yet": EVS with "" (its running jobs have end_time ""), the others with
// null.
func (rc *renderCtx) jobTime(off time.Duration) *string {
	if off < 0 {
		if rc.op.spec.Service == EVS {
			return strp("")
		}
		return nil
	}
	return strp(rc.at(off).Format(jobTimeLayout))
}

// jobError fills error_code and fail_reason of a failed job.
func (rc *renderCtx) jobError(j *classicJob, st State, message string) {
	if st == StateFailed || st == StateRollbackFailed {
		sp := rc.op.spec
		j.ErrorCode = strp(or(sp.Params.ErrorCode, jobFailureCodes[sp.Service]))
		j.FailReason = strp(message)
	}
}

// classicResourceID is the resource a classic job's i-th sub-job makes
// (its entities' server_id, volume_id, …); the job's CTS trace names the
// same resources.
func classicResourceID(op *operation, i int) string {
	return uuidFrom(fmt.Sprintf("%s-resource/%s/%d", op.spec.Service, op.key, i))
}

func (e *classicEntities) setResource(svc Service, id string) {
	switch svc {
	case ECS, BMS:
		e.ServerID = id
	case EVS:
		e.VolumeID = id
	case IMS:
		e.ImageID = id
	case VPC:
		e.PublicipID = id
	}
}

func (rc *renderCtx) classicJob() classicJob {
	op, sn, sp := rc.op, &rc.sn, rc.op.spec
	word := func(st State) string { return wordFor(classicJobs, st, op.plan.word) }
	job := classicJob{
		Status:    word(sn.state),
		JobID:     sp.ID,
		JobType:   sp.jobType(),
		BeginTime: rc.jobTime(0),
		EndTime:   rc.jobTime(sn.ended),
	}
	rc.jobError(&job, sn.state, sn.message)
	subs := make([]classicJob, 0, len(op.plan.steps))
	ids := make([]string, 0, len(op.plan.steps))
	for i, ps := range op.plan.steps {
		st := sn.steps[i]
		id := hashHex(fmt.Sprintf("job/%s/%d", op.key, i), 32)
		sj := classicJob{Status: word(st.state), JobID: id, JobType: ps.name, BeginTime: rc.jobTime(st.start), EndTime: rc.jobTime(st.end)}
		message := ""
		for _, ss := range st.subs {
			message = or(ss.message, message)
		}
		rc.jobError(&sj, st.state, message)
		if st.start >= 0 {
			sj.Entities.setResource(sp.Service, classicResourceID(op, i))
		}
		if sp.Service == ECS && sj.FailReason != nil {
			sj.Entities.ErrorcodeMessage = message
		}
		if st.state == StateRunning && sp.Service == IMS {
			job.Entities.CurrentTask = ps.name
		}
		subs = append(subs, sj)
		ids = append(ids, id)
	}
	switch sp.Service {
	case IMS:
		// A fraction of 1, as IMS's documented examples show it (0.20,
		// 0.24, and 1 for a finished job), in whole hundredths.
		pct := math.Floor(sn.progress*100) / 100
		job.Entities.ProcessPercent = &pct
		job.Entities.SubJobsResult, job.Entities.SubJobsList = subs, ids
	case ECS, BMS:
		n := len(subs)
		job.Entities.SubJobsTotal = &n
		job.Entities.SubJobs = subs
	default:
		job.Entities.SubJobs = subs
	}
	return job
}

// ---- Database jobs: RDS, GaussDB, DDS, GaussDBforOpenGauss and
// GaussDBforNoSQL ----

// dbJob is a database service's job. The five name their fields
// differently (see dbLayouts); the omitempty fields are the ones a
// service leaves out, or that are absent until they apply: ended while
// running, fail_reason unless failed.
type dbJob struct {
	ID         string      `json:"id"`
	Name       string      `json:"name"`
	Status     string      `json:"status"`
	Created    string      `json:"created,omitempty"`
	StartTime  string      `json:"start_time,omitempty"`
	Ended      string      `json:"ended,omitempty"`
	EndTime    string      `json:"end_time,omitempty"`
	Process    *string     `json:"process,omitempty"`
	Progress   *string     `json:"progress,omitempty"`
	Instance   dbInstance  `json:"instance"`
	Entities   *dbEntities `json:"entities,omitempty"`
	FailReason string      `json:"fail_reason,omitempty"`
}

type dbInstance struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

// dbEntities is what RDS reports about the instance a job works on (the
// fields its SDK model has).
type dbEntities struct {
	Instance    dbEntityInstance `json:"instance"`
	ResourceIDs []string         `json:"resource_ids"`
}

type dbEntityInstance struct {
	Endpoint  string      `json:"endpoint"`
	Type      string      `json:"type"`
	Datastore dbDatastore `json:"datastore"`
}

type dbDatastore struct {
	Type    string `json:"type"`
	Version string `json:"version"`
}

// dbJobAnswer wraps the job: {"job": …}, or for GaussDBforNoSQL, whose
// query is a list filtered by id, {"jobs": […], "total_count": 1}.
type dbJobAnswer struct {
	Job        *dbJob  `json:"job,omitempty"`
	Jobs       []dbJob `json:"jobs,omitempty"`
	TotalCount *int    `json:"total_count,omitempty"`
}

// dbLayout is how one database service lays out its job.
type dbLayout struct {
	// idSuffix ends the service's instance IDs (its engine code).
	idSuffix string
	// process names the progress "process" (RDS, GaussDB), not
	// "progress".
	process bool
	// list answers {"jobs":[…],"total_count":N} with start_time and
	// end_time (GaussDBforNoSQL), not {"job":…} with created and ended.
	list bool
	// entities adds RDS's entities.
	entities bool
	// trailingSpace writes odd percentages as "61% ", as RDS has been
	// seen to.
	trailingSpace bool
}

var dbLayouts = map[Service]dbLayout{
	RDS:                 {idSuffix: "in01", process: true, entities: true, trailingSpace: true},
	GaussDB:             {idSuffix: "in07", process: true},
	DDS:                 {idSuffix: "in02"},
	GaussDBforOpenGauss: {idSuffix: "in14"},
	GaussDBforNoSQL:     {idSuffix: "in06", list: true},
}

// dbInstanceOf is the instance a database job works on: the spec's, or
// a stable hash shaped like the service's instance IDs. Its CTS trace
// names the same instance.
func dbInstanceOf(op *operation) dbInstance {
	sp := op.spec
	return dbInstance{
		ID:   or(sp.Params.InstanceID, hashHex("db-instance/"+op.key, 32)+dbLayouts[sp.Service].idSuffix),
		Name: or(sp.Params.InstanceName, strings.ToLower(string(sp.Service))+"-"+hashHex("db-name/"+op.key, 6)),
	}
}

func dbTime(t time.Time) string { return t.In(dbZone).Format(dbTimeLayout) }

// dbJobAnswer renders a database job: one implicit step, progress the
// share of its duration done, "" unless the job runs.
func (rc *renderCtx) dbJobAnswer() dbJobAnswer {
	op, sn, sp := rc.op, &rc.sn, rc.op.spec
	lay := dbLayouts[sp.Service]
	instance := dbInstanceOf(op)
	job := dbJob{ID: sp.ID, Name: sp.jobType(), Status: serviceWord(op, sn), Instance: instance}
	// A progress while the job reports Running (a queued job too, at 0%,
	// except GaussDB's, which is Pending); "" otherwise.
	progress := ""
	if job.Status == "Running" && sn.state != StateUnknown {
		pct := int(math.Floor(sn.progress * 100))
		progress = strconv.Itoa(pct) + "%"
		if lay.trailingSpace && pct%2 == 1 {
			progress += " "
		}
	}
	if sn.state == StateFailed || sn.state == StateRollbackFailed {
		job.FailReason = sn.message
	}
	created, ended := dbTime(rc.at(0)), ""
	if sn.ended >= 0 {
		ended = dbTime(rc.at(sn.ended))
	}
	if lay.list {
		job.StartTime, job.EndTime, job.Progress = created, ended, &progress
		n := 1
		return dbJobAnswer{Jobs: []dbJob{job}, TotalCount: &n}
	}
	job.Created, job.Ended = created, ended
	if lay.process {
		job.Process = &progress
	} else {
		job.Progress = &progress
	}
	if lay.entities {
		job.Entities = &dbEntities{
			Instance:    dbEntityInstance{Endpoint: "192.168.0.10:3306", Type: "Single", Datastore: dbDatastore{Type: "MySQL", Version: "8.0"}},
			ResourceIDs: []string{instance.ID + ".vm", instance.ID + ".volume"},
		}
	}
	return dbJobAnswer{Job: &job}
}

// ---- AOS stack execution ----

type aosExecution struct {
	Kind       string      `json:"kind"`
	APIVersion string      `json:"apiVersion"`
	Metadata   aosMetadata `json:"metadata"`
	Spec       aosSpec     `json:"spec"`
	Status     aosStatus   `json:"status"`
}

type aosMetadata struct {
	Name              string            `json:"name"`
	Namespace         string            `json:"namespace"`
	SelfLink          string            `json:"selfLink"`
	UID               string            `json:"uid"`
	ResourceVersion   string            `json:"resourceVersion"`
	CreationTimestamp string            `json:"creationTimestamp"`
	Labels            map[string]string `json:"labels"`
	Annotations       map[string]string `json:"annotations"`
	Enable            bool              `json:"enable"`
}

type aosSpec struct {
	Metadata          aosSpecMetadata `json:"metadata"`
	ObjectReference   aosObjectRef    `json:"objectReference"`
	ActionName        string          `json:"actionName"`
	TimeoutInMinutes  int             `json:"timeoutInMinutes"`
	OnFailureStrategy string          `json:"onFailureStrategy"`
	DisableStrategy   string          `json:"disableStrategy"`
	Source            string          `json:"source"`
	ObjectData        string          `json:"objectData"`
	Location          string          `json:"location"`
}

type aosSpecMetadata struct {
	Namespace         string            `json:"namespace"`
	CreationTimestamp *string           `json:"creationTimestamp"`
	Labels            map[string]string `json:"labels"`
	Enable            bool              `json:"enable"`
}

type aosObjectRef struct {
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
	UID       string `json:"uid"`
}

type aosStatus struct {
	ActionName        string                  `json:"actionName"`
	Progress          int                     `json:"progress"`
	ObjectStatus      aosActionStatus         `json:"objectStatus"`
	SubObjectStatuses map[string]aosSubStatus `json:"subObjectStatuses"`
}

type aosActionStatus struct {
	Phase    string `json:"phase"`
	Message  string `json:"message,omitempty"`
	Reason   string `json:"reason,omitempty"`
	UpdateAt string `json:"updateAt,omitempty"`
}

type aosSubStatus struct {
	Phase         string `json:"phase"`
	Message       string `json:"message,omitempty"`
	Reason        string `json:"reason,omitempty"`
	UpdateAt      string `json:"updateAt,omitempty"`
	SubActionName string `json:"subActionName,omitempty"`
	CreateAt      string `json:"createAt,omitempty"`
}

func aosTime(t time.Time) string { return t.UTC().Format(time.RFC3339) }

func aosReason(st State) string {
	switch st {
	case StateFailed, StateRollbackFailed:
		return "ExecutionFailed"
	case StateCancelled:
		return "ExecutionCancelled"
	}
	return ""
}

func (rc *renderCtx) aos() aosExecution {
	op, sn, sp := rc.op, &rc.sn, rc.op.spec
	stackName := or(sp.Params.StackName, "stack-"+hashHex("stack/"+sp.StackID, 6))
	action := or(sp.Params.ActionName, "create")
	hash := strconv.FormatUint(uint64(hashUint32(op.key)), 10)
	labels := map[string]string{"execution-hash": hash, "stackname": stackName}
	created := rc.at(0)
	// resourceVersion moves whenever something visible changes.
	events := 0
	for _, st := range sn.steps {
		for _, ss := range st.subs {
			if ss.start >= 0 {
				events++
			}
			if ss.end >= 0 {
				events++
			}
		}
	}
	ex := aosExecution{
		Kind:       "Execution",
		APIVersion: "paas/v1alpha1",
		Metadata: aosMetadata{
			Name:              sp.ID,
			Namespace:         sp.ProjectID,
			SelfLink:          "/apis/paas/v1alpha1/namespaces/" + sp.ProjectID + "/executions/" + sp.ID,
			UID:               op.uid,
			ResourceVersion:   strconv.FormatUint(uint64(hashUint32(op.key)%100000)+uint64(events), 10),
			CreationTimestamp: aosTime(created),
			Labels:            labels,
			Annotations: map[string]string{
				"paas-iam.alpha.kubernetes.io/domain-id": rc.acct.DomainID,
				"stack.kubernetes.io/revision":           "1",
			},
			Enable: true,
		},
		Spec: aosSpec{
			Metadata:          aosSpecMetadata{Namespace: sp.ProjectID, Labels: labels, Enable: true},
			ObjectReference:   aosObjectRef{Namespace: sp.ProjectID, Name: stackName, UID: sp.StackID},
			ActionName:        action,
			TimeoutInMinutes:  60,
			OnFailureStrategy: "DoNothing",
			DisableStrategy:   "Cancel",
			Source:            "User",
			ObjectData:        "*****",
			Location:          "172.16.0.0",
		},
		Status: aosStatus{
			ActionName: action,
			Progress:   int(math.Floor(sn.progress * 100)),
			ObjectStatus: aosActionStatus{
				Phase:    wordFor(AOS, sn.state, op.plan.word),
				Reason:   aosReason(sn.state),
				UpdateAt: aosTime(rc.at(max(sn.changed, 0))),
			},
			SubObjectStatuses: make(map[string]aosSubStatus, len(op.plan.steps)),
		},
	}
	if sn.state != StateRunning {
		ex.Status.ObjectStatus.Message = sn.message
	}
	for i, ps := range op.plan.steps {
		st := sn.steps[i]
		sub := aosSubStatus{
			Phase:         wordFor(AOS, st.state, op.plan.word),
			Reason:        aosReason(st.state),
			SubActionName: action,
		}
		// An element's status is created when it starts; elements still
		// pending have no times (clients order elements by createAt).
		if st.start >= 0 {
			sub.CreateAt = aosTime(rc.at(st.start))
			sub.UpdateAt = sub.CreateAt
		}
		if st.end >= 0 {
			sub.UpdateAt = aosTime(rc.at(st.end))
		}
		for _, ss := range st.subs {
			if ss.message != "" {
				sub.Message = ss.message
			}
		}
		ex.Status.SubObjectStatuses[ps.name] = sub
	}
	return ex
}

func hashUint32(s string) uint32 {
	var h uint32 = 2166136261
	for i := 0; i < len(s); i++ {
		h ^= uint32(s[i])
		h *= 16777619
	}
	return h
}

// ---- DWS ListClusterActions ----

type dwsAction struct {
	ID          string    `json:"id"`
	Status      string    `json:"status"`
	Items       []dwsItem `json:"items"`
	ActionName  string    `json:"action_name"`
	ClusterName string    `json:"cluster_name"`
	SubmitTime  string    `json:"submit_time"`
}

type dwsItem struct {
	ItemName string       `json:"item_name"`
	SubItems []dwsSubItem `json:"sub_items"`
}

type dwsSubItem struct {
	Status        string  `json:"status"`
	Detail        *string `json:"detail"`
	SubItemName   string  `json:"sub_item_name"`
	BeginTime     *string `json:"begin_time"`
	EndTime       *string `json:"end_time"`
	EstimatedTime int     `json:"estimated_time"`
}

// dwsProgressInfo is the object serialised, as a string, inside the
// sub-item detail's progressInfo string (JSON in a string in a string).
type dwsProgressInfo struct {
	ActionEndTime   string `json:"actionEndTime,omitempty"`
	FailedStep      string `json:"failedStep,omitempty"`
	ErrorCode       string `json:"errorCode"`
	UpdateTime      string `json:"updateTime"`
	ErrorMsg        string `json:"errorMsg"`
	CurrentStep     string `json:"currentStep"`
	ActionType      string `json:"actionType"`
	Progress        string `json:"progress"`
	ActionStartTime string `json:"actionStartTime"`
}

// dwsTime formats like java.sql.Timestamp.toString(): milliseconds with
// trailing zeros dropped but at least one digit ("09:06:18.0").
func dwsTime(t time.Time) string {
	t = t.UTC().Truncate(time.Millisecond)
	frac := strings.TrimRight(fmt.Sprintf("%03d", t.Nanosecond()/int(time.Millisecond)), "0")
	if frac == "" {
		frac = "0"
	}
	return t.Format(dwsTimeLayout) + "." + frac
}

func dwsActionType(action string) string {
	switch {
	case strings.HasPrefix(action, "SNAPSHOTTING"):
		return "Backup"
	case strings.Contains(action, "RESTORING"):
		return "Restore"
	case strings.HasPrefix(action, "GROWING"), strings.HasPrefix(action, "RESIZE"):
		return "Resize"
	}
	return "Action"
}

func (rc *renderCtx) dws() dwsAction {
	op, sn, sp := rc.op, &rc.sn, rc.op.spec
	now := rc.s.now().UTC()
	out := dwsAction{
		ID:          op.uid,
		Status:      wordFor(DWS, sn.state, op.plan.word),
		Items:       make([]dwsItem, 0, len(op.plan.steps)),
		ActionName:  sp.ID,
		ClusterName: or(sp.Params.ClusterName, "cluster_"+strconv.Itoa(int(hashUint32(sp.ClusterID)%1000))),
		SubmitTime:  dwsTime(rc.at(0)),
	}
	name := func(en, zh string) string {
		if rc.zh && zh != "" {
			return zh
		}
		return en
	}
	for i, ps := range op.plan.steps {
		st := sn.steps[i]
		item := dwsItem{ItemName: name(ps.name, ps.nameZH), SubItems: make([]dwsSubItem, 0, len(ps.subs))}
		for j, sub := range ps.subs {
			ss := st.subs[j]
			si := dwsSubItem{
				Status:        wordFor(DWS, ss.state, op.plan.word),
				SubItemName:   name(sub.name, sub.nameZH),
				EstimatedTime: -1,
			}
			if ss.start >= 0 {
				begin := rc.at(ss.start)
				si.BeginTime = strp(dwsTime(begin))
				info := dwsProgressInfo{
					UpdateTime:      now.Format(dwsTimeLayout),
					CurrentStep:     "RUNNING",
					ActionType:      dwsActionType(sp.ID),
					Progress:        fmt.Sprintf("%.2f%%", math.Floor(ss.progress*10000)/100),
					ActionStartTime: begin.Format(dwsTimeLayout),
				}
				if ss.end >= 0 {
					end := rc.at(ss.end)
					si.EndTime = strp(dwsTime(end))
					info.ActionEndTime = end.Format(dwsTimeLayout)
					info.CurrentStep = "FINISH"
				}
				switch ss.state {
				case StateFailed, StateRollbackFailed:
					info.FailedStep = strings.ToUpper(strings.ReplaceAll(sub.name, " ", "_"))
					info.ErrorCode = "DWS.9999"
					info.ErrorMsg = ss.message
					info.CurrentStep = "FAILED"
				case StateRunning:
					if !sp.Params.UnknownEstimate {
						si.EstimatedTime = rc.estimate(ss.remaining)
					}
				case StateUnknown:
					info.CurrentStep = op.plan.word
				}
				inner, _ := json.Marshal(info)
				outer, _ := json.Marshal(map[string]string{"progressInfo": string(inner)})
				si.Detail = strp(string(outer))
			}
			item.SubItems = append(item.SubItems, si)
		}
		out.Items = append(out.Items, item)
	}
	return out
}

func or(v, def string) string {
	if v == "" {
		return def
	}
	return v
}
