package resilience

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	opsv1 "github.com/cloudop/cloudop/api/v1alpha1"
	"github.com/cloudop/cloudop/internal/cloudsim"
)

// faultKind is one kind of fault and how cloudop must explain it.
type faultKind struct {
	name string
	// faults are the case simulator's global faults: the simulator serves
	// only that case, so they hit only its operation, whatever call the
	// adapter makes for it.
	faults []cloudsim.Fault
	// reason and message are what the Ready condition must say at least
	// once while the fault lasts.
	reason  string
	message *regexp.Regexp
	// status is the HTTP status cloudsim must have counted for the fault
	// (0: no answer, a reset or a client that gave up); -1 for none.
	status int
	// tls serves the case over HTTPS with a certificate the manager does
	// not trust, until the condition explains it.
	tls bool
}

// errorReasons are the Ready reasons of a failed observation.
var errorReasons = map[string]bool{
	opsv1.ReasonTransientError: true, opsv1.ReasonThrottled: true, opsv1.ReasonAuthFailed: true,
	opsv1.ReasonNotFound: true, opsv1.ReasonCredentialsInvalid: true, opsv1.ReasonInvalidConfiguration: true,
}

// requestTimeout is the fault manager's --request-timeout; the latency
// fault is longer.
const requestTimeout = 2 * time.Second

// faultKinds are the faults tried on every service. All but notfound
// let the first poll through, so the operation is seen Running before the
// fault and the fault cannot change the phase it already has.
var faultKinds = []faultKind{
	{name: "latency", faults: []cloudsim.Fault{{Kind: cloudsim.FaultLatency, Latency: cloudsim.D(requestTimeout + time.Second), After: 1, Count: 2}},
		reason: opsv1.ReasonTransientError, message: regexp.MustCompile(`request timed out`), status: 0},
	{name: "throttle", faults: []cloudsim.Fault{{Kind: cloudsim.FaultThrottle, After: 1, Count: 2}},
		reason: opsv1.ReasonThrottled, message: regexp.MustCompile(`APIGW\.0308.*HTTP 429`), status: 429},
	{name: "error500", faults: []cloudsim.Fault{{Kind: cloudsim.FaultError500, After: 1, Count: 2}},
		reason: opsv1.ReasonTransientError, message: regexp.MustCompile(`HTTP 500`), status: 500},
	// Go's transport retries a GET once, silently, on a reused connection
	// that closes before any answer: three resets make at least one
	// failed poll.
	{name: "reset", faults: []cloudsim.Fault{{Kind: cloudsim.FaultReset, After: 1, Count: 3}},
		reason: opsv1.ReasonTransientError, message: regexp.MustCompile(`connection (reset|closed)`), status: 0},
	{name: "malformed", faults: []cloudsim.Fault{{Kind: cloudsim.FaultMalformed, After: 1, Count: 2}},
		reason: opsv1.ReasonTransientError, message: regexp.MustCompile(`not valid JSON`), status: -1},
	{name: "unauthorized", faults: []cloudsim.Fault{{Kind: cloudsim.FaultUnauthorized, After: 1, Count: 2}},
		reason: opsv1.ReasonAuthFailed, message: regexp.MustCompile(`APIGW\.0301.*HTTP 401`), status: 401},
	// A just-started operation the service does not list yet: within the
	// two-minute grace period it is NotFound, not Stalled.
	{name: "notfound", faults: []cloudsim.Fault{{Kind: cloudsim.FaultNotFound, Count: 2}},
		reason: opsv1.ReasonNotFound, message: regexp.MustCompile(`HTTP 404`), status: 404},
	{name: "tls", tls: true,
		reason: opsv1.ReasonTransientError, message: regexp.MustCompile(`TLS certificate verification failed`), status: -1},
}

// stepDurations make every operation last about 30 s: long enough to be
// seen Running before and after a fault (two failed polls with backoff
// end within ~25 s), short enough for the package's time budget. The
// fail scenario fails 18–30 s in.
var stepDurations = map[cloudsim.Service]time.Duration{
	cloudsim.BCS: 6 * time.Second,  // 5 sub-steps; fails at the end of the 3rd
	cloudsim.CCE: 8 * time.Second,  // 4 steps; fails at the end of the 3rd
	cloudsim.AOS: 10 * time.Second, // 3 steps; fails at the end of the 2nd
	cloudsim.DWS: 10 * time.Second, // 3 sub-steps (RESTORING); fails at the end
	cloudsim.RFS: 10 * time.Second, // 3 resources; fails at the end of the 2nd
	// Classic jobs: 2 sub-jobs; fail at the end of the 2nd.
	cloudsim.ECS: 15 * time.Second,
	cloudsim.EVS: 15 * time.Second,
	cloudsim.IMS: 15 * time.Second,
	cloudsim.BMS: 15 * time.Second,
	cloudsim.VPC: 15 * time.Second,
	// Database jobs: no steps, they run (and fail) for one step duration.
	cloudsim.RDS:                 30 * time.Second,
	cloudsim.GaussDB:             30 * time.Second,
	cloudsim.DDS:                 30 * time.Second,
	cloudsim.GaussDBforOpenGauss: 30 * time.Second,
	cloudsim.GaussDBforNoSQL:     30 * time.Second,
}

// cceJobStep is the step duration of a CCE job: 2 sub-jobs; it fails at
// the end of the 2nd.
const cceJobStep = 15 * time.Second

// matrixKind is one kind of operation TestFaults tries: a service, and
// the operation type for a service's second kind.
type matrixKind struct {
	svc cloudsim.Service
	typ cloudsim.OperationType
}

// matrixKinds are every service cloudsim simulates, and CCE's jobs
// besides its upgrade workflows.
func matrixKinds() []matrixKind {
	var kinds []matrixKind
	for _, svc := range cloudsim.Services {
		kinds = append(kinds, matrixKind{svc: svc})
	}
	return append(kinds, matrixKind{cloudsim.CCE, cloudsim.TypeJob})
}

// name is the kind in case names: "ecs", "cce-job".
func (k matrixKind) name() string {
	if k.typ != "" {
		return strings.ToLower(string(k.svc) + "-" + string(k.typ))
	}
	return strings.ToLower(string(k.svc))
}

// newOperation is the kind's operation, with its step duration.
func (k matrixKind) newOperation(name string, scenario cloudsim.ScenarioKind) operation {
	if k.typ == "" {
		return newOperation(name, k.svc, scenario, stepDurations[k.svc])
	}
	o := newOperation(name, k.svc, scenario, cceJobStep)
	o.Spec.Type, o.Spec.ClusterID = k.typ, ""
	return o
}

// requestsPerPoll is how many requests one poll of svc makes: RFS reads
// the stack's metadata, then the deployment's events (one page here).
func requestsPerPoll(svc cloudsim.Service) int {
	if svc == cloudsim.RFS {
		return 2
	}
	return 1
}

// faultsFor are kind's faults for svc: the requests a fault lets through
// first are whole polls, so that every service is seen Running before it.
func faultsFor(kind faultKind, svc cloudsim.Service) []cloudsim.Fault {
	faults := slices.Clone(kind.faults)
	for i := range faults {
		faults[i].After *= requestsPerPoll(svc)
	}
	return faults
}

// faultCase is one (service × fault) case and what it found.
type faultCase struct {
	name string
	kind faultKind
	op   operation
	ns   string
	sim  *cloudsim.Simulator
	tls  *tlsServer

	mu       sync.Mutex
	problems []string
	notes    []string
}

func (c *faultCase) errorf(format string, args ...any) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.problems = append(c.problems, fmt.Sprintf(format, args...))
}

func (c *faultCase) logf(format string, args ...any) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.notes = append(c.notes, fmt.Sprintf(format, args...))
}

// TestFaults injects every fault kind into every service cloudsim
// simulates (and CCE's jobs), one simulator and one namespace per case,
// all cases at once under one manager process: each operation must reach
// its scenario's terminal phase, with exactly one PhaseChanged event per
// phase it went through, and its Ready condition must explain the fault
// while it lasts.
func TestFaults(t *testing.T) {
	t.Parallel()
	start := time.Now()
	pki := newTestPKI(t)
	caFile := filepath.Join(t.TempDir(), "trusted-ca.pem")
	if err := os.WriteFile(caFile, pki.CAPEM, 0o600); err != nil {
		t.Fatal(err)
	}

	var cases []*faultCase
	args := []string{
		"--request-timeout", requestTimeout.String(),
		// Production retries auth failures every 2 minutes; the test
		// cannot wait that long.
		"--auth-retry-interval", "5s",
		"--max-backoff", "20s",
		// 120 namespaces: one label selects them all.
		"--watch-label-selector", suiteLabel + "=faults",
	}
	kinds := matrixKinds()
	for i, mk := range kinds {
		if stepDurations[mk.svc] == 0 {
			t.Fatalf("no step duration for %s: add it to stepDurations", mk.svc)
		}
		for j, kind := range faultKinds {
			scenario := cloudsim.ScenarioSuccess
			if (i+j)%2 == 1 {
				scenario = cloudsim.ScenarioFail
			}
			name := mk.name() + "-" + kind.name + "-" + string(scenario)
			ak := fmt.Sprintf("AKFAULT%02d%02d", i, j)
			sk := "sk-" + name
			sim, err := cloudsim.New(cloudsim.Config{
				Settings: cloudsim.Settings{Faults: faultsFor(kind, mk.svc)},
				Accounts: []cloudsim.Account{{AccessKey: ak, SecretKey: sk, ProjectIDs: []string{project}}},
			})
			if err != nil {
				t.Fatal(err)
			}
			c := &faultCase{name: name, kind: kind, sim: sim, op: mk.newOperation(name, scenario)}
			c.op.Labels = map[string]string{suiteLabel: "faults"}
			if kind.tls {
				c.tls = newTLSServer(t, sim, pki)
				c.op.Endpoint = c.tls.URL
			} else {
				c.op.Endpoint = simServer(t, sim)
			}
			args = append(args, "--allowed-endpoint", c.op.Endpoint)
			c.ns = newNamespace(t, "fault", ak, sk)
			cases = append(cases, c)
		}
	}
	mgr := startManager(t, "faults", []string{"SSL_CERT_FILE=" + caFile}, args...)

	var wg sync.WaitGroup
	for _, c := range cases {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.run(t)
		}()
	}
	wg.Wait()

	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			for _, n := range c.notes {
				t.Log(n)
			}
			for _, p := range c.problems {
				t.Error(p)
			}
		})
	}
	if exited, err := mgr.Exited(); exited {
		t.Errorf("the manager exited during the test: %v", err)
	}
	t.Logf("%d cases (%d kinds of operation × %d faults) in %v", len(cases), len(kinds), len(faultKinds), time.Since(start).Round(time.Second))
}

// run drives one case and records its problems.
func (c *faultCase) run(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 150*time.Second)
	defer cancel()
	h := watchNamespace(t, c.ns)
	if c.tls != nil {
		// The certificate is fixed once the condition has explained it.
		h.onSnapshot(func(s snapshot) {
			if c.kind.message.MatchString(s.Ready.Message) {
				c.tls.Trust()
			}
		})
	}
	begin := time.Now()
	if err := c.op.start(ctx, c.sim, c.ns); err != nil {
		c.errorf("starting: %v", err)
		return
	}
	names := []string{c.op.Name}
	if err := h.waitFor(ctx, "a terminal phase", func(h *history) bool { return h.allTerminal(names) }); err != nil {
		c.errorf("%v; last status: %s", err, h.describe())
		return
	}
	took := time.Since(begin)
	snaps := h.snapshots(c.op.Name)
	final := snaps[len(snaps)-1]
	for _, p := range c.op.checkTerminal(final.Object) {
		c.errorf("final status: %s (%s)", p, final)
	}

	// The fault was explained while it lasted: before the terminal
	// phase, in Ready and its message.
	explained := 0
	for _, s := range snaps {
		if s.Object.IsTerminal() {
			break
		}
		if s.Ready.Reason == c.kind.reason && c.kind.message.MatchString(s.Ready.Message) {
			explained++
		}
	}
	if explained == 0 {
		c.errorf("Ready never said %s matching %q while the fault lasted; statuses:%s", c.kind.reason, c.kind.message, formatSnapshots(snaps))
	}
	// A transient fault never stalls the object (Stalled only comes with
	// a terminal phase) and never changes or clears the phase observed
	// before it.
	for i, s := range snaps {
		if s.Stalled != nil && s.Stalled.Status == "True" && !s.Object.IsTerminal() {
			c.errorf("Stalled=True/%s before the terminal phase: %s", s.Stalled.Reason, s)
		}
		if i > 0 && errorReasons[s.Ready.Reason] && s.Phase != snaps[i-1].Phase {
			c.errorf("an error changed the phase from %q to %q: %s", snaps[i-1].Phase, s.Phase, s)
		}
	}

	// The fault really happened on the wire.
	counts := c.sim.Counts().Total
	switch {
	case c.tls != nil:
		if c.tls.FailedHandshakes() == 0 {
			c.errorf("no TLS handshake failed")
		}
	case c.kind.status >= 0 && counts.ByStatus[c.kind.status] == 0:
		c.errorf("cloudsim counted no answer with status %d: %+v", c.kind.status, counts)
	}

	// Exactly one PhaseChanged event into each phase, in order. Events
	// are written before the status they announce: all are there by now.
	want := h.phaseTransitions(c.op.Name)
	evs, err := listEvents(ctx, c.ns)
	if err != nil {
		c.errorf("listing events: %v", err)
		return
	}
	got := evs[c.op.Name]
	if ev := checkEvents(want, got); !ev.OK() {
		c.errorf("%s", ev.problem(want, got))
	}
	if len(want) == 0 || want[0].From != "new" || want[len(want)-1].To != string(c.op.wantPhase()) {
		c.errorf("phases went %s", formatTransitions(want))
	}
	c.logf("%s in %v; phases %s; fault explained in %d status version(s); cloudsim answers %v",
		final.Phase, took.Round(100*time.Millisecond), formatTransitions(want), explained, counts.ByStatus)
}

func formatSnapshots(snaps []snapshot) string {
	var b strings.Builder
	for _, s := range snaps {
		fmt.Fprintf(&b, "\n  %s %s", s.At.Format("15:04:05.000"), s)
	}
	return b.String()
}
