package cloudsim

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"math/rand/v2"
	"net/http"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"
)

// ErrNotFound is returned for an operation the simulator does not have.
var ErrNotFound = errors.New("operation not found")

// ErrExists is returned when an operation added has the key of one the
// simulator already has (see OperationSpec.Key).
var ErrExists = errors.New("already exists")

// Option configures a Simulator.
type Option func(*Simulator)

// WithClock replaces the real clock. Tests pass a function returning a
// time they control, making every response reproducible.
func WithClock(now func() time.Time) Option {
	return func(s *Simulator) { s.now = now }
}

// WithLogger sets the logger; requests are logged at debug level.
func WithLogger(l *slog.Logger) Option {
	return func(s *Simulator) { s.log = l }
}

// WithSeed seeds the random source of probabilistic faults, so a run with
// "probability: 0.3" hits the same requests every time.
func WithSeed(seed uint64) Option {
	return func(s *Simulator) { s.rng = seededRand(seed) }
}

// seededRand is the random source WithSeed installs.
func seededRand(seed uint64) *rand.Rand {
	return rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
}

// Simulator serves the simulated APIs. All methods are safe for concurrent
// use.
type Simulator struct {
	now          func() time.Time
	log          *slog.Logger
	clock        *simClock
	skew         time.Duration
	stepDuration time.Duration
	rateLimit    *RateLimit
	bcsNotFound  bool

	mu       sync.RWMutex
	accounts map[string]*account
	ops      map[lookupKey]*operation
	byKey    map[refKey]*operation
	bcs      map[string][]*operation // project -> BCS operations, oldest first
	// cce indexes the CCE upgrade workflows by "project/cluster", oldest
	// first, for ListUpgradeWorkFlows.
	cce map[string][]*operation
	// traces are the CTS traces of each project, oldest first (see
	// traceEntry); traceByID finds one by trace_id, for markers.
	traces    map[string][]*traceEntry
	traceByID map[string]*traceEntry
	seq       uint64

	global   faultSet
	counts   counters
	requests requestLog
	iam      iam
	limiters sync.Map // access key -> *rate.Limiter

	rngMu sync.Mutex
	rng   *rand.Rand

	reqSeq    atomic.Uint64
	reqPrefix string
	handler   http.Handler
}

type account struct {
	Account
	projects map[string]bool
	// expires is when temporary credentials stop working (zero for the
	// scenario's permanent ones).
	expires time.Time
	// principal names who signs with the account in Counts.Principals and
	// the request log: the access key of a permanent account, the token's
	// subject (system:serviceaccount:NS:NAME) for temporary credentials.
	principal string
}

// lookupKey is how the service APIs address an operation.
type lookupKey struct {
	svc                 Service
	project, target, id string
}

// refKey is how the admin API, faults and counters address an operation.
type refKey struct {
	svc Service
	key string
}

type operation struct {
	spec OperationSpec
	key  string
	plan plan
	// simStart is when the operation starts, in simulated time; after
	// the simulated now while StartsIn has not elapsed.
	simStart time.Time
	created  time.Time // real time of AddOperation
	seq      uint64
	uid      string
	faults   faultSet
}

// New returns a simulator loaded with cfg (accounts, operations,
// templates and settings).
func New(cfg Config, opts ...Option) (*Simulator, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	s := &Simulator{
		now:       time.Now,
		log:       slog.New(slog.DiscardHandler),
		accounts:  map[string]*account{},
		ops:       map[lookupKey]*operation{},
		byKey:     map[refKey]*operation{},
		bcs:       map[string][]*operation{},
		cce:       map[string][]*operation{},
		traces:    map[string][]*traceEntry{},
		traceByID: map[string]*traceEntry{},
		rng:       rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64())),
	}
	for _, o := range opts {
		o(s)
	}
	st := cfg.Settings
	speed := st.Speed
	if speed == 0 {
		speed = 1
	}
	s.clock = newSimClock(s.now(), speed)
	s.skew = st.ClockSkew.Duration
	if s.skew == 0 {
		s.skew = 15 * time.Minute
	}
	s.stepDuration = st.StepDuration.Duration
	if s.stepDuration == 0 {
		s.stepDuration = 10 * time.Second
	}
	s.rateLimit = st.RateLimit
	s.bcsNotFound = st.BCSNotFound
	s.global.set(st.Faults)
	s.counts.init()
	if err := s.iam.init(cfg.IdentityProviders, st.TemporaryCredentialLifetime.Duration, st.IAMFaults); err != nil {
		return nil, err
	}
	s.reqPrefix = fmt.Sprintf("%016x", uint64(s.now().UnixNano()))
	for _, a := range cfg.Accounts {
		if err := s.AddAccount(a); err != nil {
			return nil, err
		}
	}
	specs := append([]OperationSpec(nil), cfg.Operations...)
	for _, t := range cfg.Templates {
		ops, err := t.Expand()
		if err != nil {
			return nil, err
		}
		specs = append(specs, ops...)
	}
	if err := s.AddOperations(specs); err != nil {
		return nil, err
	}
	s.handler = s.newHandler()
	return s, nil
}

// Handler returns the HTTP handler serving the simulated APIs and, under
// /admin/, the unsigned admin API.
func (s *Simulator) Handler() http.Handler { return s.handler }

// ServeHTTP makes the Simulator itself an http.Handler.
func (s *Simulator) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.handler.ServeHTTP(w, r) }

// AddAccount adds (or replaces) the credentials with a.AccessKey.
func (s *Simulator) AddAccount(a Account) error {
	if err := a.validate(); err != nil {
		return fmt.Errorf("account %q: %w", a.AccessKey, err)
	}
	acct := &account{Account: a, projects: map[string]bool{}, principal: a.AccessKey}
	acct.ProjectIDs = append([]string(nil), a.ProjectIDs...)
	for _, p := range a.ProjectIDs {
		acct.projects[p] = true
	}
	if acct.DomainID == "" {
		acct.DomainID = hashHex("domain/"+a.AccessKey, 32)
	}
	s.mu.Lock()
	s.accounts[a.AccessKey] = acct
	s.mu.Unlock()
	return nil
}

// RemoveAccount deletes the credentials with the access key ak; requests
// signed with it then fail with 401.
func (s *Simulator) RemoveAccount(ak string) {
	s.mu.Lock()
	delete(s.accounts, ak)
	s.mu.Unlock()
	s.limiters.Delete(ak)
}

func (s *Simulator) account(ak string) *account {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.accounts[ak]
}

// AddOperation adds one operation; its clock starts now (minus
// spec.StartedAgo, plus spec.StartsIn).
func (s *Simulator) AddOperation(spec OperationSpec) error {
	return s.AddOperations([]OperationSpec{spec})
}

// AddOperations adds operations atomically: if any is invalid or already
// exists, none is added. The error for an existing key wraps ErrExists.
func (s *Simulator) AddOperations(specs []OperationSpec) error {
	now := s.now()
	simNow := s.clock.simAt(now)
	ops := make([]*operation, 0, len(specs))
	seen := make(map[string]bool, len(specs))
	for i, spec := range specs {
		if err := spec.validate(); err != nil {
			return fmt.Errorf("operation %d (%s %q): %w", i, spec.Service, spec.ID, err)
		}
		rk := refKey{spec.Service, spec.Key()}
		u := spec.uniqueIn() + "/" + rk.key
		if seen[u] {
			return fmt.Errorf("operation %d: duplicate %s operation %q", i, spec.uniqueIn(), rk.key)
		}
		seen[u] = true
		if sk := spec.stackKey(); sk != "" {
			if seen[sk] {
				return fmt.Errorf("operation %d: RFS stack %q of project %s has two deployments (one a stack)", i, spec.StackName, spec.ProjectID)
			}
			seen[sk] = true
		}
		spec.Steps = cloneSteps(spec.Steps)
		spec.Faults = append([]Fault(nil), spec.Faults...)
		op := &operation{
			spec:     spec,
			key:      rk.key,
			plan:     compilePlan(spec, s.stepDuration),
			simStart: simNow.Add(spec.StartsIn.Duration - spec.StartedAgo.Duration),
			created:  now,
			uid:      uuidFrom(string(spec.Service) + "/" + rk.key),
		}
		op.faults.set(spec.Faults)
		ops = append(ops, op)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, op := range ops {
		if svc, dup := s.existsLocked(op.spec); dup {
			if svc == RFS {
				return fmt.Errorf("RFS operation %q or a deployment of its stack %q %w", op.key, op.spec.StackName, ErrExists)
			}
			return fmt.Errorf("%s operation %q %w", svc, op.key, ErrExists)
		}
	}
	for _, op := range ops {
		s.seq++
		op.seq = s.seq
		s.byKey[refKey{op.spec.Service, op.key}] = op
		s.ops[op.lookupKey()] = op
		switch sp := op.spec; {
		case sp.Service == BCS:
			s.bcs[sp.ProjectID] = append(s.bcs[sp.ProjectID], op)
		case sp.Service == CCE && !sp.isJob():
			k := sp.ProjectID + "/" + sp.ClusterID
			s.cce[k] = append(s.cce[k], op)
		}
	}
	s.addTracesLocked(ops)
	return nil
}

// existsLocked reports the service of an operation that already has
// spec's key where it must be unique (see OperationSpec.uniqueIn), or,
// for RFS, spec's stack. The caller holds s.mu.
func (s *Simulator) existsLocked(spec OperationSpec) (Service, bool) {
	f := spec.Service.family()
	if f == nil {
		_, ok := s.byKey[refKey{spec.Service, spec.Key()}]
		if spec.Service == RFS && !ok {
			// One deployment a stack: the stack must be free too.
			_, ok = s.ops[(&operation{spec: spec}).lookupKey()]
		}
		return spec.Service, ok
	}
	for _, svc := range f.members {
		if _, ok := s.byKey[refKey{svc, spec.Key()}]; ok {
			return svc, true
		}
	}
	return "", false
}

func cloneSteps(in []StepSpec) []StepSpec {
	if in == nil {
		return nil
	}
	out := make([]StepSpec, len(in))
	for i, s := range in {
		out[i] = s
		out[i].SubSteps = append([]StepSpec(nil), s.SubSteps...)
	}
	return out
}

// classicJobs and dbJobs stand for a job family (the five classic job
// services, the five database services) in lookup keys: one path serves
// a whole family, so a request finds a job by its ID alone.
const (
	classicJobs Service = "jobs"
	dbJobs      Service = "dbjobs"
)

func (op *operation) lookupKey() lookupKey {
	sp := op.spec
	switch f := sp.Service.family(); {
	case f != nil:
		return lookupKey{f.key, sp.ProjectID, "", sp.ID}
	case sp.isJob():
		// A CCE job's path names no cluster.
		return lookupKey{sp.Service, sp.ProjectID, "", sp.ID}
	}
	switch sp.Service {
	case CCE, DWS:
		return lookupKey{sp.Service, sp.ProjectID, sp.ClusterID, sp.ID}
	case AOS:
		return lookupKey{sp.Service, sp.ProjectID, sp.StackID, sp.ID}
	case RFS:
		// RFS paths name the stack; the deployment is a query filter.
		return lookupKey{sp.Service, sp.ProjectID, sp.StackName, ""}
	}
	// BCS records are addressed by project and operation_id only; the
	// blockchain is a filter.
	return lookupKey{sp.Service, sp.ProjectID, "", sp.ID}
}

// DeleteOperation removes the operation with the given key (see
// OperationSpec.Key). Its request counts are kept until ResetCounts.
func (s *Simulator) DeleteOperation(svc Service, key string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	op, ok := s.byKey[refKey{svc, key}]
	if !ok {
		return fmt.Errorf("%s %q: %w", svc, key, ErrNotFound)
	}
	delete(s.byKey, refKey{svc, key})
	delete(s.ops, op.lookupKey())
	switch sp := op.spec; {
	case svc == BCS:
		removeOp(s.bcs, sp.ProjectID, op)
	case svc == CCE && !sp.isJob():
		removeOp(s.cce, sp.ProjectID+"/"+sp.ClusterID, op)
	}
	s.removeTracesLocked(op)
	return nil
}

// removeOp removes op from index[k], copying the list so that readers
// holding the old one are not disturbed.
func removeOp(index map[string][]*operation, k string, op *operation) {
	list := index[k]
	for i, o := range list {
		if o == op {
			list = append(list[:i:i], list[i+1:]...)
			break
		}
	}
	if len(list) == 0 {
		delete(index, k)
	} else {
		index[k] = list
	}
}

// DeleteAllOperations removes every operation.
func (s *Simulator) DeleteAllOperations() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ops = map[lookupKey]*operation{}
	s.byKey = map[refKey]*operation{}
	s.bcs = map[string][]*operation{}
	s.cce = map[string][]*operation{}
	s.traces = map[string][]*traceEntry{}
	s.traceByID = map[string]*traceEntry{}
}

// lookup finds the operation k addresses if it has started by the
// simulated time sim: until then it does not exist for the service APIs.
func (s *Simulator) lookup(k lookupKey, sim time.Time) *operation {
	s.mu.RLock()
	op := s.ops[k]
	s.mu.RUnlock()
	if op == nil || !op.startedBy(sim) {
		return nil
	}
	return op
}

// startedBy reports whether the operation has started by the simulated
// time sim (see OperationSpec.StartsIn).
func (op *operation) startedBy(sim time.Time) bool { return !sim.Before(op.simStart) }

func (s *Simulator) byRef(svc Service, key string) *operation {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.byKey[refKey{svc, key}]
}

// OperationStatus is an operation's current state as the admin API and
// Operations report it.
type OperationStatus struct {
	// Service runs the operation.
	Service Service `json:"service"`
	// Type is the spec's type (CCE Job or UpgradeWorkflow), if given.
	Type OperationType `json:"type,omitempty"`
	// ID is the service's ID of the operation.
	ID string `json:"id"`
	// Key identifies the operation in the admin API (OperationSpec.Key).
	Key string `json:"key"`
	// ProjectID owns the operation.
	ProjectID string `json:"projectID"`
	// ClusterID is the CCE/DWS (or BCS) cluster.
	ClusterID string `json:"clusterID,omitempty"`
	// StackID is the AOS stack (the RFS stack's ID when the spec gave
	// one).
	StackID string `json:"stackID,omitempty"`
	// StackName is the RFS stack.
	StackName string `json:"stackName,omitempty"`
	// BlockchainID is the BCS blockchain.
	BlockchainID string `json:"blockchainID,omitempty"`
	// Scenario is the scenario kind (success when the spec left it empty).
	Scenario ScenarioKind `json:"scenario"`
	// State is the service-neutral state; NotStarted while StartsIn has
	// not elapsed.
	State State `json:"state"`
	// Resumable is set while a resume scenario is failed and will resume.
	Resumable bool `json:"resumable,omitempty"`
	// ServiceStatus is the status word the service API reports now.
	ServiceStatus string `json:"serviceStatus"`
	// Progress is the completion percentage.
	Progress int `json:"progress"`
	// CurrentStep is the step running, failed, cancelled or stalled.
	CurrentStep string `json:"currentStep,omitempty"`
	// Elapsed is the simulated time since the operation started (0
	// before it starts).
	Elapsed Duration `json:"elapsed"`
	// StartsIn is the simulated time left until a NotStarted operation
	// starts.
	StartsIn Duration `json:"startsIn,omitzero"`
	// Requests is the number of requests that addressed the operation.
	Requests int `json:"requests"`
	// Faults are the operation's pending faults.
	Faults []Fault `json:"faults,omitempty"`
}

func (s *Simulator) status(op *operation, now time.Time) OperationStatus {
	e := s.clock.simAt(now).Sub(op.simStart)
	st := OperationStatus{
		Service:      op.spec.Service,
		Type:         op.spec.Type,
		ID:           op.spec.ID,
		Key:          op.key,
		ProjectID:    op.spec.ProjectID,
		ClusterID:    op.spec.ClusterID,
		StackID:      op.spec.StackID,
		StackName:    op.spec.StackName,
		BlockchainID: op.spec.BlockchainID,
		Scenario:     op.plan.kind,
		Requests:     s.counts.opTotal(op.spec.Service, op.key),
		Faults:       op.faults.list(),
	}
	if e < 0 {
		// Listed, so that tests and the admin can see what is coming, but
		// with no service status: the APIs do not know it yet.
		st.State, st.StartsIn = StateNotStarted, Duration{-e}
		return st
	}
	sn := op.plan.eval(e)
	st.State, st.Resumable = sn.state, sn.resumable
	st.ServiceStatus = serviceWord(op, &sn)
	st.Progress = int(math.Floor(sn.progress * 100))
	st.Elapsed = Duration{e}
	if sn.current >= 0 {
		st.CurrentStep = op.plan.steps[sn.current].name
	}
	return st
}

// Operation returns the current status of one operation.
func (s *Simulator) Operation(svc Service, key string) (OperationStatus, error) {
	op := s.byRef(svc, key)
	if op == nil {
		return OperationStatus{}, fmt.Errorf("%s %q: %w", svc, key, ErrNotFound)
	}
	return s.status(op, s.now()), nil
}

// Operations returns every operation's status (svc "" means all
// services), in creation order.
func (s *Simulator) Operations(svc Service) []OperationStatus {
	s.mu.RLock()
	ops := make([]*operation, 0, len(s.byKey))
	for _, op := range s.byKey {
		if svc == "" || op.spec.Service == svc {
			ops = append(ops, op)
		}
	}
	s.mu.RUnlock()
	sort.Slice(ops, func(i, j int) bool { return ops[i].seq < ops[j].seq })
	now := s.now()
	out := make([]OperationStatus, len(ops))
	for i, op := range ops {
		out[i] = s.status(op, now)
	}
	return out
}

// SetFaults replaces the faults of one operation (by key), or the global
// faults when svc is "". With no faults it clears them.
func (s *Simulator) SetFaults(svc Service, key string, faults ...Fault) error {
	fs, err := s.faultSet(svc, key)
	if err != nil {
		return err
	}
	if err := validateFaults(faults); err != nil {
		return err
	}
	fs.set(faults)
	return nil
}

// AddFault appends a fault to one operation's faults, or to the global
// faults when svc is "".
func (s *Simulator) AddFault(svc Service, key string, f Fault) error {
	fs, err := s.faultSet(svc, key)
	if err != nil {
		return err
	}
	if err := f.validate(); err != nil {
		return err
	}
	fs.add(f)
	return nil
}

// Faults returns the pending faults of one operation, or the global ones
// when svc is "".
func (s *Simulator) Faults(svc Service, key string) ([]Fault, error) {
	fs, err := s.faultSet(svc, key)
	if err != nil {
		return nil, err
	}
	return fs.list(), nil
}

func (s *Simulator) faultSet(svc Service, key string) (*faultSet, error) {
	if svc == "" {
		return &s.global, nil
	}
	op := s.byRef(svc, key)
	if op == nil {
		return nil, fmt.Errorf("%s %q: %w", svc, key, ErrNotFound)
	}
	return &op.faults, nil
}

// SetSpeed sets simulated seconds per real second (0 pauses every
// operation). Operations keep the progress they have made.
func (s *Simulator) SetSpeed(speed float64) error {
	if speed < 0 || math.IsNaN(speed) || math.IsInf(speed, 0) {
		return fmt.Errorf("speed %v must be a finite number >= 0", speed)
	}
	s.clock.set(s.now(), speed, 0)
	return nil
}

// Speed returns the current speed.
func (s *Simulator) Speed() float64 { return s.clock.speed() }

// Advance jumps simulated time forward by d for every operation.
func (s *Simulator) Advance(d time.Duration) error {
	if d < 0 {
		return fmt.Errorf("cannot advance by a negative duration %s", d)
	}
	s.clock.set(s.now(), s.clock.speed(), d)
	return nil
}

// Counts returns a snapshot of the request counters.
func (s *Simulator) Counts() Counts { return s.counts.snapshot() }

// RequestCount returns how many requests addressed the operation with the
// given key, whatever their outcome.
func (s *Simulator) RequestCount(svc Service, key string) int {
	return s.counts.opTotal(svc, key)
}

// ListCount returns how many list calls were made of one listed resource,
// whatever their outcome: svc BCS with "projectID" or
// "projectID/blockchainID" (ListOpRecord without operation_id), CCE with
// "projectID/clusterID" (ListUpgradeWorkFlows), RFS with
// "projectID/stackName" (ListStackEvents without deployment_id), CTS with
// "projectID" or "projectID/serviceType" (ListTraces, by its
// service_type filter). Counts.Lists has the same counters.
func (s *Simulator) ListCount(svc Service, resource string) int {
	return s.counts.listTotal(svc, resource)
}

// ResetCounts zeroes every request counter and clears the request log.
func (s *Simulator) ResetCounts() {
	s.counts.reset()
	s.requests.reset()
}

func (s *Simulator) chance(p float64) bool {
	s.rngMu.Lock()
	defer s.rngMu.Unlock()
	return s.rng.Float64() < p
}

func (s *Simulator) limiter(ak string) *rate.Limiter {
	if v, ok := s.limiters.Load(ak); ok {
		return v.(*rate.Limiter)
	}
	burst := s.rateLimit.Burst
	if burst == 0 {
		burst = max(1, int(s.rateLimit.RPS))
	}
	v, _ := s.limiters.LoadOrStore(ak, rate.NewLimiter(rate.Limit(s.rateLimit.RPS), burst))
	return v.(*rate.Limiter)
}

func (s *Simulator) requestID() string {
	return fmt.Sprintf("%s%016x", s.reqPrefix, s.reqSeq.Add(1))
}

func hashHex(s string, n int) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])[:n]
}

// uuidFrom derives a stable UUID-shaped ID, so the same scenario always
// yields the same IDs.
func uuidFrom(s string) string {
	h := hashHex(s, 32)
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

// drain discards what is left of a request body so the connection can be
// reused.
func drain(r *http.Request) {
	if r.Body != nil {
		_, _ = io.Copy(io.Discard, io.LimitReader(r.Body, maxSignedBody))
	}
}
