package cloudsim

import (
	"strings"
	"time"
)

// State is the service-neutral state of an operation or step. Each service
// renders it with its own words (see docs/cloudsim.md).
type State string

// States an operation or step can be in.
const (
	StateWaiting   State = "Waiting"
	StateRunning   State = "Running"
	StateSucceeded State = "Succeeded"
	StateFailed    State = "Failed"
	// StateRollingBack is a cancel scenario's rollback period.
	StateRollingBack State = "RollingBack"
	StateCancelled   State = "Cancelled"
	// StateRollbackFailed ends a cancel scenario with rollbackFails.
	StateRollbackFailed State = "RollbackFailed"
	// StateUnknown is reported with a status word outside the API's enum.
	StateUnknown State = "Unknown"
	// StateNotStarted is an operation whose start (OperationSpec.StartsIn)
	// is still ahead: the admin views show it, the service APIs do not.
	StateNotStarted State = "NotStarted"
)

// plan is an operation's scenario compiled to concrete durations, so that
// evaluating it per request is a short loop with no allocation besides the
// snapshot.
type plan struct {
	kind          ScenarioKind
	steps         []planStep
	focusStep     int // 0-based
	focusSub      int // 0-based
	after         time.Duration
	resumeAfter   time.Duration
	rollback      time.Duration
	rollbackFails bool
	// failRollback is how long a failed RFS deployment rolls back (the
	// stack's automatic rollback); 0 means none.
	failRollback time.Duration
	wait         time.Duration
	word         string
	message      string
	total        time.Duration
	nsubs        int
}

type planStep struct {
	name, nameZH string
	subs         []planSub
	// explicit is set when the spec gave sub-steps (otherwise the step
	// is its own single sub-step).
	explicit bool
}

type planSub struct {
	name, nameZH string
	d            time.Duration
}

// snapshot is the state of an operation at one instant. Times are offsets
// from the operation's (simulated) start; -1 means "not yet".
type snapshot struct {
	state     State
	resumable bool
	steps     []stepSnap
	// progress is in [0, 1].
	progress float64
	// remaining is the nominal simulated time left, -1 when unknown.
	remaining time.Duration
	// started is when the first step started, -1 while queued.
	started time.Duration
	// ended is when a terminal state was reached, -1 before.
	ended time.Duration
	// changed is the last instant anything changed.
	changed time.Duration
	// current is the step running, or the one that failed, was cancelled
	// or stalled; -1 when none.
	current int
	message string
	// at is the offset the snapshot was taken at.
	at time.Duration
}

type stepSnap struct {
	state      State
	start, end time.Duration
	attempt    int
	subs       []subSnap
}

type subSnap struct {
	state      State
	start, end time.Duration
	progress   float64
	remaining  time.Duration
	attempt    int
	message    string
}

// jobKinds are each job service's default job type and its sub-jobs'
// types (one sub-job a step), from the API references' examples and the
// SDK's comments where they name them; VPC's sub-job type and GaussDB's
// job name are stand-ins. A database job has no sub-jobs: its one
// implicit step is the job itself.
var jobKinds = map[Service]struct {
	jobType string
	subJobs []string
}{
	ECS: {"createServer", []string{"createSingleServer", "createSingleServer"}},
	EVS: {"batchCreateVolume", []string{"createVolume", "createVolume"}},
	IMS: {"imsImportOvaImageJob", []string{"imsImportImageJob", "imsImportDataImageJob"}},
	BMS: {"baremetalBatchCreate", []string{"baremetalSingleCreate", "baremetalSingleCreate"}},
	VPC: {"createBatchPublicip", []string{"createPublicip", "createPublicip"}},
	CCE: {"CreateCluster", []string{"PlatformBootstrap", "CreatePSMCert"}},

	RDS:                 {"CreateMysqlInstance", nil},
	GaussDB:             {"CreateGaussDBInstance", nil},
	DDS:                 {"CreateMongoDB", nil},
	GaussDBforOpenGauss: {"CreateGaussDBV5Instance", nil},
	GaussDBforNoSQL:     {"CreateInstance", nil},
}

// jobType is a job's job_type (classic), spec.type (CCE) or name (database).
func (o OperationSpec) jobType() string {
	return or(o.Params.JobType, jobKinds[o.Service].jobType)
}

// defaultJobSteps are a job's default sub-jobs. A CCE job's depend on its
// type: a node pool creates nodes; a type without known sub-jobs runs as
// one sub-job of its own type. A database job is one implicit step, the
// job itself.
func defaultJobSteps(spec OperationSpec) []StepSpec {
	names := jobKinds[spec.Service].subJobs
	if spec.Service.dbJob() {
		names = []string{spec.jobType()}
	}
	if spec.Service == CCE && spec.jobType() != jobKinds[CCE].jobType {
		names = []string{spec.jobType()}
		if spec.jobType() == "CreateNodePool" {
			names = []string{"CreateNode", "CreateNode"}
		}
	}
	steps := make([]StepSpec, len(names))
	for i, n := range names {
		steps[i] = StepSpec{Name: n}
	}
	return steps
}

func defaultSteps(spec OperationSpec) []StepSpec {
	if spec.isJob() {
		return defaultJobSteps(spec)
	}
	sub := func(name, zh string) StepSpec { return StepSpec{Name: name, NameZH: zh} }
	id := spec.ID
	switch spec.Service {
	case BCS:
		return []StepSpec{
			{Name: "Preparation", SubSteps: []StepSpec{sub("Generate basic configurations", "")}},
			{Name: "Create Other Dependent Resource", SubSteps: []StepSpec{sub("Create EIP", ""), sub("Create network storage", "")}},
			{Name: "Deploy Blockchain", SubSteps: []StepSpec{sub("Deploy orderer nodes", ""), sub("Deploy peer nodes", "")}},
		}
	case CCE:
		return []StepSpec{{Name: "PreCheck"}, {Name: "Snapshot"}, {Name: "Cluster"}, {Name: "PostCheck"}}
	case AOS:
		// Alphabetical in execution order, so that clients ordering
		// pending elements by name still see the right order.
		return []StepSpec{{Name: "hello-app"}, {Name: "hello-component"}, {Name: "hello-package"}}
	case RFS:
		// A stack's resources, by address, in dependency order.
		return []StepSpec{{Name: "huaweicloud_vpc.vpc"}, {Name: "huaweicloud_vpc_subnet.subnet"}, {Name: "huaweicloud_compute_instance.ecs"}}
	case DWS:
		switch {
		case strings.HasPrefix(id, "SNAPSHOTTING"):
			return []StepSpec{{Name: "Create snapshot", NameZH: "创建快照", SubSteps: []StepSpec{sub("Execute backup", "执行备份")}}}
		case strings.Contains(id, "RESTORING"):
			return []StepSpec{
				{Name: "Prepare", NameZH: "准备", SubSteps: []StepSpec{sub("Check cluster", "检查集群")}},
				{Name: "Restore", NameZH: "恢复", SubSteps: []StepSpec{sub("Restore metadata", "恢复元数据"), sub("Restore data", "恢复数据")}},
			}
		case strings.HasPrefix(id, "GROWING"), strings.HasPrefix(id, "RESIZE"):
			return []StepSpec{
				{Name: "Prepare", NameZH: "准备", SubSteps: []StepSpec{sub("Check cluster", "检查集群")}},
				{Name: "Scale out", NameZH: "扩容", SubSteps: []StepSpec{sub("Add nodes", "添加节点"), sub("Redistribute data", "数据重分布")}},
			}
		}
		return []StepSpec{{Name: "Execute", NameZH: "执行", SubSteps: []StepSpec{sub("Run action", "执行任务")}}}
	}
	return []StepSpec{{Name: "Run"}}
}

// rfsRollback is how long a failed RFS deployment rolls back: params.rollback
// for scenario fail (validation allows it nowhere else), 0 otherwise.
func rfsRollback(spec OperationSpec) time.Duration {
	if spec.Service != RFS || spec.Scenario != ScenarioFail {
		return 0
	}
	return spec.Params.Rollback.Duration
}

// compilePlan resolves defaults. spec must have been validated.
func compilePlan(spec OperationSpec, defaultStep time.Duration) plan {
	p := spec.Params
	if p.StepDuration.Duration > 0 {
		defaultStep = p.StepDuration.Duration
	}
	kind := spec.Scenario
	if kind == "" {
		kind = ScenarioSuccess
	}
	specs := spec.Steps
	if len(specs) == 0 {
		specs = defaultSteps(spec)
	}
	pl := plan{
		kind:          kind,
		resumeAfter:   p.ResumeAfter.Duration,
		rollback:      p.Rollback.Duration,
		rollbackFails: p.RollbackFails,
		wait:          p.Wait.Duration,
		failRollback:  rfsRollback(spec),
		word:          p.Status,
		message:       p.Message,
	}
	for _, s := range specs {
		ps := planStep{name: s.Name, nameZH: s.NameZH, explicit: len(s.SubSteps) > 0}
		subs := s.SubSteps
		if len(subs) == 0 {
			subs = []StepSpec{{Name: s.Name, NameZH: s.NameZH, Duration: s.Duration}}
		}
		for _, ss := range subs {
			d := ss.Duration.Duration
			if d == 0 {
				d = defaultStep
			}
			ps.subs = append(ps.subs, planSub{name: ss.Name, nameZH: ss.NameZH, d: d})
			pl.total += d
			pl.nsubs++
		}
		pl.steps = append(pl.steps, ps)
	}

	focus := p.Step
	if focus == 0 {
		focus = 2
		if spec.Service == CCE && !spec.isJob() {
			focus = 3
		}
	}
	pl.focusStep = min(focus, len(pl.steps)) - 1
	subs := pl.steps[pl.focusStep].subs
	sub := p.SubStep
	if sub == 0 {
		sub = 1
		if kind == ScenarioFail || kind == ScenarioResume {
			sub = len(subs)
		}
	}
	pl.focusSub = min(sub, len(subs)) - 1
	d := subs[pl.focusSub].d
	switch {
	case p.After != nil:
		pl.after = min(p.After.Duration, d)
	case kind == ScenarioFail || kind == ScenarioResume:
		pl.after = d
	case kind == ScenarioCancel:
		pl.after = d / 2
	}
	if pl.resumeAfter == 0 {
		pl.resumeAfter = time.Minute
	}
	if pl.word == "" {
		switch {
		case spec.Service == CCE, spec.Service == AOS, spec.Service.dbJob():
			pl.word = "Paused"
		case spec.Service == DWS, spec.Service == RFS, spec.Service.classicJob():
			pl.word = "PAUSED"
		default:
			pl.word = "paused"
		}
	}
	if pl.message == "" {
		switch kind {
		case ScenarioFail, ScenarioResume:
			pl.message = "simulated failure in " + subs[pl.focusSub].name
		case ScenarioCancel:
			pl.message = "operation cancelled by user"
		}
	}
	return pl
}

// eval returns the state at simulated offset e from the operation's start.
func (pl *plan) eval(e time.Duration) snapshot {
	sn := snapshot{
		state:   StateWaiting,
		steps:   make([]stepSnap, len(pl.steps)),
		started: -1,
		ended:   -1,
		current: -1,
		at:      e,
	}
	for i := range pl.steps {
		subs := make([]subSnap, len(pl.steps[i].subs))
		for j := range subs {
			subs[j] = subSnap{state: StateWaiting, start: -1, end: -1, remaining: -1, attempt: 1}
		}
		sn.steps[i] = stepSnap{subs: subs}
	}
	defer sn.rollUp()
	if e < pl.wait {
		sn.remaining = pl.wait - e + pl.total
		return sn
	}
	sn.started = pl.wait
	t := pl.wait
	var done time.Duration // nominal duration of finished sub-steps
	resumed := false
	for i := range pl.steps {
		for j, sub := range pl.steps[i].subs {
			ss := &sn.steps[i].subs[j]
			ss.start = t
			sn.current = i
			sn.changed = t
			d := sub.d
			if !resumed && pl.kind != ScenarioSuccess && i == pl.focusStep && j == pl.focusSub {
				ev := t + pl.after
				running := func(upTo time.Duration) {
					ss.state = StateRunning
					ss.progress = frac(upTo-t, d)
					sn.progress = frac(done+upTo-t, pl.total)
				}
				switch pl.kind {
				case ScenarioNever:
					// Progress creeps to 99% and stays there; no estimate
					// since it will never end.
					running(min(e, t+d))
					ss.progress = min(ss.progress, 0.99)
					sn.progress = frac(done+scale(d, ss.progress), pl.total)
					sn.state = StateRunning
					sn.remaining = -1
					return sn
				case ScenarioUnknownStatus:
					if e < ev {
						break
					}
					running(ev)
					ss.state = StateUnknown
					sn.state = StateUnknown
					sn.changed = ev
					sn.remaining = -1
					return sn
				case ScenarioFail, ScenarioResume:
					if e < ev {
						break
					}
					running(ev)
					ss.state = StateFailed
					ss.end = ev
					ss.message = pl.message
					sn.state = StateFailed
					sn.message = pl.message
					sn.changed = ev
					sn.remaining = -1
					if pl.kind == ScenarioFail {
						if pl.failRollback > 0 {
							// The failed resource stays failed; the
							// operation rolls back, then ends.
							if e < ev+pl.failRollback {
								sn.state = StateRollingBack
								return sn
							}
							sn.changed = ev + pl.failRollback
							if pl.rollbackFails {
								sn.state = StateRollbackFailed
							}
						}
						sn.ended = sn.changed
						return sn
					}
					if e < ev+pl.resumeAfter {
						sn.resumable = true
						return sn
					}
					// Resumed: the failed sub-step runs again in full.
					*ss = subSnap{attempt: 2, remaining: -1}
					sn.steps[i].attempt = 2
					sn.message = ""
					t = ev + pl.resumeAfter
					ss.start = t
					sn.changed = t
					resumed = true
				case ScenarioCancel:
					if e < ev {
						break
					}
					running(ev)
					sn.changed = ev
					sn.remaining = -1
					sn.message = pl.message
					if e < ev+pl.rollback {
						ss.state = StateRollingBack
						sn.state = StateRollingBack
						return sn
					}
					ss.end = ev + pl.rollback
					ss.state = StateCancelled
					sn.state = StateCancelled
					if pl.rollbackFails {
						ss.state = StateRollbackFailed
						sn.state = StateRollbackFailed
						ss.message = "rollback failed"
						sn.message = "rollback failed"
					}
					sn.changed = ss.end
					sn.ended = ss.end
					return sn
				}
			}
			if e < t+d {
				ss.state = StateRunning
				ss.progress = frac(e-t, d)
				ss.remaining = t + d - e
				sn.state = StateRunning
				sn.progress = frac(done+e-t, pl.total)
				sn.remaining = t + d - e + pl.total - done - d
				return sn
			}
			ss.state = StateSucceeded
			ss.end = t + d
			ss.progress = 1
			t += d
			done += d
		}
	}
	sn.state = StateSucceeded
	sn.progress = 1
	sn.remaining = 0
	sn.ended = t
	sn.changed = t
	sn.current = -1
	return sn
}

// rollUp derives each step's state and times from its sub-steps.
func (sn *snapshot) rollUp() {
	for i := range sn.steps {
		st := &sn.steps[i]
		if st.attempt == 0 {
			st.attempt = 1
		}
		st.state, st.start, st.end = StateWaiting, -1, -1
		all := true
		for _, ss := range st.subs {
			if st.start < 0 && ss.start >= 0 {
				st.start = ss.start
			}
			if ss.state != StateSucceeded {
				all = false
			}
			switch ss.state {
			case StateWaiting, StateSucceeded:
			default:
				st.state = ss.state
				if ss.end >= 0 {
					st.end = ss.end
				}
			}
		}
		switch {
		case all:
			st.state = StateSucceeded
			st.end = st.subs[len(st.subs)-1].end
		case st.state == StateWaiting && st.start >= 0:
			// Between two sub-steps at the very same instant.
			st.state = StateRunning
		}
	}
}

func frac(a, b time.Duration) float64 {
	if b <= 0 {
		return 1
	}
	f := float64(a) / float64(b)
	return max(0, min(1, f))
}
