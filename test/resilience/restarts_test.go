package resilience

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	eventsv1 "k8s.io/api/events/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	opsv1 "github.com/cloudop/cloudop/api/v1alpha1"
	"github.com/cloudop/cloudop/internal/cloudsim"
	"github.com/cloudop/cloudop/internal/testenv"
)

// restartDelay is how long the supervisor waits before starting a killed
// manager again (a kubelet's first restart is about as quick).
const restartDelay = 500 * time.Millisecond

// Kill modes of killPlan.
const (
	// killOnEvent kills the manager the instant the test sees a
	// PhaseChanged event whose phase change its watch has not seen in the
	// status yet: the event is written and the status patch comes next,
	// the worst moment for a kill. The restarted manager must derive the
	// same transition again and find its event already there.
	killOnEvent = "event"
	// killOnTransition kills it the instant the test's watch sees a phase
	// change in the status (written after its event).
	killOnTransition = "transition"
	// killTimed kills it at a random instant 2–4 s after the previous
	// restart: mid-poll, mid-backoff, anywhere.
	killTimed = "timed"
)

// killPlan is the kill modes of one round, in order.
func killPlan() []string {
	modes := []string{killOnEvent, killTimed, killOnTransition}
	if longRun {
		plan := make([]string, 0, 12)
		for i := range 12 {
			plan = append(plan, modes[i%len(modes)])
		}
		return plan
	}
	return append(modes, killOnEvent)
}

// TestManagerKills kills the manager with SIGKILL several times while
// operations of every service run, restarting it each time: every
// operation must end as an undisturbed run does (terminal phase, steps,
// phases new → Running → terminal) with exactly one PhaseChanged event per
// phase change, in order. No loss is tolerated, whenever the kill lands:
// the controller writes each event before the status it announces, under
// a name derived from the transition, so announcing it again after a
// restart adds nothing.
//
// After each kill the test also checks, with the process gone, that no
// status is ahead of its events, and counts the transitions the kill
// caught between their event and their status write; the manager's
// cloudop_events_total{result="exists"} counts the announcements the
// restarted runs found already made.
func TestManagerKills(t *testing.T) {
	t.Parallel()
	rounds := 1
	if longRun {
		rounds = 4
	}
	var (
		total tally
		kills killStats
	)
	for round := range rounds {
		t.Run(fmt.Sprintf("round-%d", round+1), func(t *testing.T) {
			sum, k := killRound(t, round)
			total.add(sum)
			kills.add(k)
		})
	}
	t.Logf("%d round(s): %s; %s", rounds, kills, total)
}

// killStats is what the kills of a round found.
type killStats struct {
	// Kills is how many kills landed; Caught how many transitions they
	// caught between their event and their status write.
	Kills, Caught int
	// Events sums cloudop_events_total by result over the manager runs (a
	// lower bound: the last 200 ms before each kill go unscraped).
	Events map[string]int
}

func (a *killStats) add(b killStats) {
	a.Kills += b.Kills
	a.Caught += b.Caught
	if a.Events == nil {
		a.Events = map[string]int{}
	}
	for k, v := range b.Events {
		a.Events[k] += v
	}
}

// String is the summary line the tests log.
func (a killStats) String() string {
	return fmt.Sprintf("%d kills, %d transitions caught between their event and their status write; cloudop_events_total created=%d exists=%d refused=%d",
		a.Kills, a.Caught, a.Events["created"], a.Events["exists"], a.Events["refused"])
}

// killRound runs one namespace of operations through killPlan and
// returns what verify and the kills found.
func killRound(t *testing.T, round int) (tally, killStats) {
	ops := mixedOperations("op", 8, 1)
	if longRun {
		// Sixteen operations ending 18 s to ~2.5 min in: phase changes
		// all along, for twelve kills.
		ops = staggeredOperations("op", 16, func(i int) float64 { return 1 + 0.25*float64(i) })
	}
	s := newScenario(t, fmt.Sprintf("kills%d", round+1), ops)
	// The objects exist before the manager: its first reconciles announce
	// and write eight "new → Running" transitions at once, the first
	// kill's target.
	s.start(t)

	var (
		// armed is the watch-driven mode of the next kill, "" when none.
		armed  atomic.Value
		sup    atomic.Pointer[supervisor]
		checks sync.WaitGroup
		mu     sync.Mutex
		stats  = killStats{}
	)
	armed.Store("")
	t.Cleanup(checks.Wait) // no check may log after the test ends
	// afterKill inspects the namespace once the killed process is gone,
	// before its successor starts (restartDelay later).
	afterKill := func(n int, mode string) {
		time.Sleep(100 * time.Millisecond) // let the API server finish what was in flight
		caught, err := s.inFlight()
		mu.Lock()
		defer mu.Unlock()
		if err != nil {
			t.Errorf("kill %d (%s): %v", n, mode, err)
			return
		}
		stats.Caught += len(caught)
		t.Logf("kill %d (%s): %d transition(s) caught between their event and their status write %v", n, mode, len(caught), caught)
	}
	kill := func(mode string) {
		p := sup.Load()
		if p == nil || !armed.CompareAndSwap(mode, "") {
			return
		}
		p.Kill()
		n := len(p.Exits())
		checks.Add(1)
		go func() {
			defer checks.Done()
			afterKill(n, mode)
		}()
	}
	s.h.onSnapshot(func(sn snapshot) {
		if armed.Load() != killOnTransition || sn.Phase == "" {
			return
		}
		snaps := s.h.snapshots(sn.Name)
		if len(snaps) >= 2 && snaps[len(snaps)-2].Phase == sn.Phase {
			return
		}
		kill(killOnTransition)
	})
	watchEvents(t, s.ns, func(e *eventsv1.Event) {
		if armed.Load() != killOnEvent {
			return
		}
		if tr, ok, _ := phaseChange(e); ok && string(s.h.latest()[e.Regarding.Name].Phase) != tr.To {
			kill(killOnEvent)
		}
	})

	plan := killPlan()
	if plan[0] != killTimed {
		armed.Store(plan[0])
	}
	metricsAddr, err := testenv.FreeLoopbackAddr()
	if err != nil {
		t.Fatal(err)
	}
	sv := supervise(t, "kills", restartDelay, nil, append(append(endpointFlags(s.url), watchOnly(s.ns)...), "--metrics-bind-address", metricsAddr)...)
	sup.Store(sv)
	scraper := scrapeEventCounts(sv, metricsAddr)

	for i, mode := range plan {
		if i > 0 || mode == killTimed {
			switch mode {
			case killTimed:
				time.Sleep(2*time.Second + rand.N(2*time.Second))
				sv.Kill()
				afterKill(i+1, mode)
			default:
				armed.Store(mode)
			}
		}
		// Wait for this kill and the restart that follows it.
		deadline := time.Now().Add(60 * time.Second)
		for sv.Runs() < i+2 && time.Now().Before(deadline) {
			time.Sleep(50 * time.Millisecond)
		}
		if sv.Runs() < i+2 {
			armed.Store("")
			t.Logf("kill %d (%s) did not happen within 60s: nothing to kill on; %d kills done", i+1, mode, i)
			break
		}
		// Let the new run start its workers before the next kill.
		time.Sleep(2 * time.Second)
	}
	armed.Store("")
	timeout := 2 * time.Minute
	if longRun {
		timeout = 5 * time.Minute
	}
	s.waitTerminal(t, timeout)
	checks.Wait()
	stats.Events = scraper.stop()

	for _, e := range sv.Exits() {
		if !e.Killed {
			t.Errorf("manager %s ended on its own: %v", e.Run, e.Err)
		}
		stats.Kills++
	}
	if err := sv.Err(); err != nil {
		t.Fatal(err)
	}
	if stats.Kills < 2 {
		t.Errorf("only %d kills happened", stats.Kills)
	}
	if n := stats.Events["refused"]; n > 0 {
		t.Errorf("the API server refused %d events", n)
	}
	sum := s.verify(t)
	t.Logf("plan %v, %d manager runs: %s; %s", plan, sv.Runs(), stats, sum)
	return sum, stats
}

// inFlight compares, for every operation of s, the status phase with its
// PhaseChanged events while no manager runs. It returns the transitions
// announced but not written yet ("name: from → to"), and an error if a
// status is ahead of its events: the status was written before its event,
// which a kill at that moment would have lost.
func (s *scenario) inFlight() ([]string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	// Objects first: an event listed after them can only be ahead.
	var objs opsv1.CloudOperationList
	if err := k8s.List(ctx, &objs, client.InNamespace(s.ns)); err != nil {
		return nil, err
	}
	evs, err := listEvents(ctx, s.ns)
	if err != nil {
		return nil, err
	}
	var caught, ahead []string
	for _, o := range objs.Items {
		phase := string(o.Status.Phase)
		if phase == "" {
			phase = "new"
		}
		announced := evs[o.Name]
		last := transition{To: "new"}
		if len(announced) > 0 {
			last = announced[len(announced)-1]
		}
		switch phase {
		case last.To:
		case last.From:
			caught = append(caught, o.Name+": "+last.String())
		default:
			ahead = append(ahead, fmt.Sprintf("%s: status phase %s, PhaseChanged events %s", o.Name, phase, formatTransitions(announced)))
		}
	}
	if len(ahead) > 0 {
		return caught, fmt.Errorf("status ahead of its events: %s", strings.Join(ahead, "; "))
	}
	return caught, nil
}

// eventScraper reads cloudop_events_total from a supervised manager's
// metrics endpoint every 200 ms and keeps each run's last values.
type eventScraper struct {
	sv   *supervisor
	addr string
	quit chan struct{}
	done chan struct{}
	runs map[string]map[string]int // run → result → count
}

// eventsTotal matches one series of cloudop_events_total.
var eventsTotal = regexp.MustCompile(`(?m)^cloudop_events_total\{result="(\w+)"\} (\S+)$`)

func scrapeEventCounts(sv *supervisor, addr string) *eventScraper {
	sc := &eventScraper{sv: sv, addr: addr, quit: make(chan struct{}), done: make(chan struct{}), runs: map[string]map[string]int{}}
	go func() {
		defer close(sc.done)
		for {
			sc.scrape()
			select {
			case <-sc.quit:
				return
			case <-time.After(200 * time.Millisecond):
			}
		}
	}()
	return sc
}

// scrape records the current run's counts, unless the run changed
// meanwhile or its endpoint does not answer (not started yet, or killed).
func (sc *eventScraper) scrape() {
	run := sc.sv.Current().Name
	c := http.Client{Timeout: time.Second}
	resp, err := c.Get("http://" + sc.addr + "/metrics")
	if err != nil {
		return
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK || sc.sv.Current().Name != run {
		return
	}
	counts := map[string]int{}
	for _, m := range eventsTotal.FindAllStringSubmatch(string(body), -1) {
		if v, err := strconv.ParseFloat(m[2], 64); err == nil {
			counts[m[1]] = int(v)
		}
	}
	sc.runs[run] = counts
}

// stop scrapes a last time and returns the counts summed over the runs.
func (sc *eventScraper) stop() map[string]int {
	close(sc.quit)
	<-sc.done
	sc.scrape()
	sum := map[string]int{}
	for _, counts := range sc.runs {
		for k, v := range counts {
			sum[k] += v
		}
	}
	return sum
}

// apiDowntime is how long the kube-apiserver stays down.
const apiDowntime = 5 * time.Second

// TestAPIServerRestart stops the kube-apiserver (etcd keeps running) while
// operations run, and starts it again. The manager runs with leader
// election, supervised like a pod, and every operation must end as an
// undisturbed run does, in two setups:
//   - lease-outlasts-outage: a renew deadline longer than the outage, so
//     the manager keeps its lease and must recover by itself (no exit is
//     allowed): its informers, work queue and backoff have to cope;
//   - as-deployed: the default 8 s renew deadline, about the outage's
//     length, so the manager either rides it out or exits on a lost lease
//     and recovers through its restart.
//
// It is the one test of the package that does not call t.Parallel: the
// others would lose their API server too. Go runs it before releasing
// the parallel ones.
func TestAPIServerRestart(t *testing.T) {
	cases := []struct {
		name      string
		prefix    string // of the namespace and the manager's runs
		leaseArgs []string
		mayExit   bool
	}{
		{"lease-outlasts-outage", "apikeep", []string{"--leader-election-lease-duration", "50s", "--leader-election-renew-deadline", "30s"}, false},
		{"as-deployed", "apiserver", nil, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			restartAPIServerMidRun(t, tc.prefix, tc.leaseArgs, tc.mayExit)
		})
	}
}

func restartAPIServerMidRun(t *testing.T, prefix string, leaseArgs []string, mayExit bool) {
	deleteLease(t, leaseName)
	s := newScenario(t, prefix, mixedOperations("op", 4, 1))
	args := append(append(endpointFlags(s.url), watchOnly(s.ns)...), "--leader-elect", "--leader-election-namespace", leaseNamespace)
	sv := supervise(t, prefix, restartDelay, nil, append(args, leaseArgs...)...)
	s.start(t)
	waitAllRunning(t, s)

	apiServer := env.ControlPlane.APIServer
	down := time.Now()
	if err := apiServer.Stop(); err != nil {
		if !strings.Contains(err.Error(), "timeout waiting for process") {
			t.Fatalf("stopping kube-apiserver: %v", err)
		}
		// It stopped listening at once but lingered: envtest killed it.
		t.Logf("kube-apiserver did not exit within %v of SIGTERM and was killed: %v", apiServerStopTimeout, err)
	}
	stopped := time.Since(down)
	polls := s.sim.Counts().Total.Total
	time.Sleep(apiDowntime) // the fault lasts this long
	// The cloud fails the first poll after the outage too (by now the
	// manager's cached Secret reads have expired, so no poll reaches the
	// cloud before the API server is back): that failure must be retried
	// one interval later, however often the work queue retried the object
	// during the outage.
	for _, o := range s.ops {
		if err := s.sim.AddFault(o.Spec.Service, o.Spec.Key(), cloudsim.Fault{Kind: cloudsim.FaultError500, Count: 1}); err != nil {
			t.Fatal(err)
		}
	}
	if err := apiServer.Start(); err != nil {
		t.Fatalf("starting kube-apiserver again: %v", err)
	}
	up := time.Since(down)
	t.Logf("kube-apiserver stopped in %v, serving again %v after the stop began; cloudsim saw %d polls during the outage",
		stopped.Round(time.Millisecond), up.Round(time.Millisecond), s.sim.Counts().Total.Total-polls)

	s.waitTerminal(t, 2*time.Minute)
	t.Logf("every operation terminal %v after the stop began", time.Since(down).Round(time.Millisecond))
	for _, o := range s.ops {
		if left, err := s.sim.Faults(o.Spec.Service, o.Spec.Key()); err != nil || len(left) > 0 {
			t.Errorf("%s: the 500 after the outage was never served (faults left %v, %v)", o.Name, left, err)
		}
	}
	if s.h.watchBreaks() == 0 {
		t.Errorf("the test's own watch never broke: was the API server down at all?")
	}
	for _, e := range sv.Exits() {
		t.Logf("manager %s ended at +%v (%v) and was restarted", e.Run, e.At.Sub(down).Round(time.Millisecond), e.Err)
	}
	if exits := len(sv.Exits()); exits > 0 && !mayExit {
		t.Errorf("the manager exited %d times although its lease outlasts the outage: it should recover by itself", exits)
	}
	if err := sv.Err(); err != nil {
		t.Fatal(err)
	}
	sum := s.verify(t)
	t.Logf("%d manager runs: %s", sv.Runs(), sum)
}

// waitAllRunning waits until every operation of s was seen Running.
func waitAllRunning(t *testing.T, s *scenario) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	err := s.h.waitFor(ctx, "every operation Running", func(h *history) bool {
		latest := h.latest()
		for _, o := range s.ops {
			if latest[o.Name].Phase != opsv1.PhaseRunning {
				return false
			}
		}
		return true
	})
	if err != nil {
		t.Fatalf("%v:%s", err, s.h.describe())
	}
}
