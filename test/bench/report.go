package main

import (
	"bufio"
	"fmt"
	"io"
	"net/http"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"

	opsv1 "github.com/cloudop/cloudop/api/v1alpha1"
	"github.com/cloudop/cloudop/internal/cloudsim"
)

// result is what one run measured.
type result struct {
	n                  int
	shards             int
	memLimit           string
	interval, duration time.Duration
	createTime         time.Duration
	firstStatusAll     time.Duration // seen by the benchmark's watch
	firstWrittenAll    time.Duration // sent by the manager (proxy)
	// firstWrittenLatency and firstSeenLatency are, per object, from its
	// creation to its first status patch and to a watch seeing it.
	firstWrittenLatency, firstSeenLatency latencySummary
	// steadyMeasured is false when less than one interval passed between
	// every first status and the first operation's end: the steady-state
	// figures are then not reported.
	steadyMeasured                bool
	allTerminal                   time.Duration
	steadyCores                   float64
	steadyCallsPerOpPerInterval   float64
	bcsListsPerChainPerInterval   float64
	callsRunning                  int
	callsAfterTerminal            int
	statusWrites                  float64
	apiServerCores, etcdCores     float64
	eventsCreated, eventsExisting float64
	workers, kubeQPS              int
	watchedWrites                 int
	visibleChanges                int
	latencyP50, latencyP99        time.Duration
	cpuSeconds                    float64
	peakRSS                       int64 // bytes, the largest instance's
	instanceCores                 []float64
	instanceRSS                   []int64 // bytes
	// instanceCloudCalls and instanceWrites are each instance's cloud
	// requests and status writes over the whole run (its metrics).
	instanceCloudCalls, instanceWrites []float64
	api                                apiCounts
	benchWatchRestarts                 int // times the benchmark's own watch started over
}

// label names the run's column: its N, and its shards when there are
// several instances.
func (r result) label() string {
	if r.shards > 1 {
		return fmt.Sprintf("N = %d, %d instances", r.n, r.shards)
	}
	return fmt.Sprintf("N = %d", r.n)
}

// perInstance lists each manager instance's CPU while running and peak
// RSS.
func (r result) perInstance() string {
	var parts []string
	for i := range r.instanceRSS {
		cores := "CPU not measured"
		if i < len(r.instanceCores) {
			cores = fmt.Sprintf("%.3f cores", r.instanceCores[i])
		}
		part := fmt.Sprintf("%s, %d MiB", cores, r.instanceRSS[i]>>20)
		if i < len(r.instanceCloudCalls) && i < len(r.instanceWrites) {
			part += fmt.Sprintf(", %.0f cloud calls, %.0f status writes", r.instanceCloudCalls[i], r.instanceWrites[i])
		}
		parts = append(parts, part)
	}
	return strings.Join(parts, "; ")
}

// steady wraps a steady-state figure: "not measured" for a run whose
// steady window was shorter than an interval.
func steady(f func(r result) string) func(r result) string {
	return func(r result) string {
		if !r.steadyMeasured {
			return "not measured (no steady window)"
		}
		return f(r)
	}
}

// perChange is n per visible change.
func (r result) perChange(n int) float64 {
	if r.visibleChanges == 0 {
		return 0
	}
	return float64(n) / float64(r.visibleChanges)
}

func (r result) print(w io.Writer) {
	fmt.Fprintf(w, "%s: first status for all written after %s, seen after %s, all terminal after %s\n", r.label(), r.firstWrittenAll.Round(time.Millisecond), r.firstStatusAll.Round(time.Millisecond), r.allTerminal.Round(time.Second))
	fmt.Fprintf(w, "  per object, creation to first status p50 / p99 / max: written %s, seen %s; steady window measured: %v\n", r.firstWrittenLatency, r.firstSeenLatency, r.steadyMeasured)
	fmt.Fprintf(w, "  cloud calls: %.2f per op per interval while running (BCS lists %.2f per chain per interval), %d after terminal\n", r.steadyCallsPerOpPerInterval, r.bcsListsPerChainPerInterval, r.callsAfterTerminal)
	fmt.Fprintf(w, "  status writes: %.0f (manager metric), %d seen by watch, %d visible changes; %.2f per op\n", r.statusWrites, r.watchedWrites, r.visibleChanges, r.statusWrites/float64(r.n))
	fmt.Fprintf(w, "  detection latency p50 %s p99 %s (interval %s); the benchmark's watch started over %d times\n", r.latencyP50.Round(time.Millisecond), r.latencyP99.Round(time.Millisecond), r.interval, r.benchWatchRestarts)
	mean, p99 := r.api.statusPatchBytes()
	fmt.Fprintf(w, "  Kubernetes API: %d requests, %.2f per visible change; status patch %.0f B mean, %d B p99\n  %s\n", r.api.total(), r.perChange(r.api.total()), mean, p99, r.api.list())
	fmt.Fprintf(w, "  manager: %.1f CPU s total, %.3f cores while running, peak RSS %d MiB (per instance: %s)\n", r.cpuSeconds, r.steadyCores, r.peakRSS>>20, r.perInstance())
}

// writeReport writes docs/benchmarks.md. Without a discovery run the
// file's Discovery section is kept as it was.
func writeReport(path string, results []result, pace []paceResult, disc *discoveryResult) error {
	var b strings.Builder
	fmt.Fprintf(&b, `# Benchmarks

Generated by `+"`make bench`"+` (test/bench) on %s. Do not edit by hand; rerun
it.

## Set-up

- Machine: %s
- One local control plane (kube-apiserver and etcd built from source, the
  ones the tests use), cloudsim in the benchmark process, and the manager as
  a separate process (so its CPU and memory are its own), all on this
  machine and competing for its cores.
- N CloudOperations, services in rotation (BCS, CCE, AOS, DWS; BCS
  operations %d per blockchain), each with %d steps, running between
  %s and %s (spread over one interval) and succeeding;
  `+"`spec.pollInterval`"+` %s. The manager runs with `+"`GOMEMLIMIT=%s`"+`
  (config/manager sets it from the container's memory limit),
  `+"`--kube-api-qps %d`"+` (status patches and event creates share it),
  `+"`--workers %d`"+`, and per-account cloud buckets raised to %d QPS (one
  account holds every operation here); defaults otherwise.
- Cloud calls are counted by cloudsim; status writes by the manager's
  `+"`cloudop_status_writes_total`"+` and by a watch in the benchmark;
  "visible changes" are writes that changed phase, progress, current step,
  a step's phase, or a condition's status or reason; detection latency is
  the time from cloudsim's operation turning terminal to the watch seeing
  the terminal phase.

## Results

| | `, time.Now().UTC().Format("2006-01-02 15:04 UTC"), machine(), bcsPerChain, stepsPerOp, results[0].duration, results[0].duration+results[0].interval, results[0].interval, orNone(results[0].memLimit), results[0].kubeQPS, results[0].workers, cloudQPS)
	for _, r := range results {
		fmt.Fprintf(&b, "%s | ", r.label())
	}
	b.WriteString("target |\n|---|")
	for range results {
		b.WriteString("---|")
	}
	b.WriteString("---|\n")
	row := func(name, target string, f func(r result) string) {
		fmt.Fprintf(&b, "| %s | ", name)
		for _, r := range results {
			fmt.Fprintf(&b, "%s | ", f(r))
		}
		fmt.Fprintf(&b, "%s |\n", target)
	}
	row("creating the objects", "", func(r result) string { return r.createTime.Round(time.Millisecond).String() })
	row("until every object's first status is written (proxy)", "", func(r result) string { return r.firstWrittenAll.Round(time.Millisecond).String() })
	row("until a watch has seen every object's first status", "", func(r result) string { return r.firstStatusAll.Round(time.Millisecond).String() })
	row("per object, creation → first status written, p50 / p99 / max", "", func(r result) string { return r.firstWrittenLatency.String() })
	row("per object, creation → first status seen by a watch, p50 / p99 / max", "", func(r result) string { return r.firstSeenLatency.String() })
	row("until every object is terminal", "", func(r result) string { return r.allTerminal.Round(time.Second).String() })
	row("cloud calls per operation per interval, running", "≤ 1", steady(func(r result) string { return fmt.Sprintf("%.2f", r.steadyCallsPerOpPerInterval) }))
	row("BCS list calls per blockchain per interval", "≤ 1", func(r result) string { return fmt.Sprintf("%.2f", r.bcsListsPerChainPerInterval) })
	row(fmt.Sprintf("cloud calls after terminal (%d intervals)", afterTerminalIntervals), "0", func(r result) string { return strconv.Itoa(r.callsAfterTerminal) })
	row("status writes per operation (manager metric)", "= visible changes", func(r result) string { return fmt.Sprintf("%.2f", r.statusWrites/float64(r.n)) })
	row("visible changes per operation (watch)", "", func(r result) string { return fmt.Sprintf("%.2f", float64(r.visibleChanges)/float64(r.n)) })
	row("transition events per operation: created / already there", "one per transition", func(r result) string {
		return fmt.Sprintf("%.2f / %.0f", r.eventsCreated/float64(r.n), r.eventsExisting)
	})
	row("writes that changed nothing visible", "0", func(r result) string { return strconv.Itoa(r.watchedWrites - r.visibleChanges) })
	row("detection latency p50 / p99", "≈ interval/2 / ≤ interval", func(r result) string {
		return r.latencyP50.Round(100*time.Millisecond).String() + " / " + r.latencyP99.Round(100*time.Millisecond).String()
	})
	row("manager CPU while running (all instances)", "≤ 0.5 core at 10,000", steady(func(r result) string { return fmt.Sprintf("%.3f cores", r.steadyCores) }))
	row("kube-apiserver / etcd CPU while running", "", steady(func(r result) string {
		return fmt.Sprintf("%.2f / %.2f cores", r.apiServerCores, r.etcdCores)
	}))
	row("manager CPU seconds, whole run (all instances)", "", func(r result) string { return fmt.Sprintf("%.1f s", r.cpuSeconds) })
	row("manager peak RSS (largest instance)", "≤ 256 MiB at 10,000", func(r result) string { return fmt.Sprintf("%d MiB", r.peakRSS>>20) })
	row("per instance: CPU while running, peak RSS, cloud calls, status writes", "", func(r result) string { return r.perInstance() })
	b.WriteString("\nSee the analysis below for where a target is missed and why.\n")
	writeAPISection(&b, results)
	if len(pace) == 2 {
		writePaceSection(&b, pace[0], pace[1])
	}
	old, _ := os.ReadFile(path)
	if disc != nil {
		writeDiscoverySection(&b, *disc)
	} else if section := findSection(string(old), discoveryHeading); section != "" {
		b.WriteString("\n" + section)
	}
	if i := strings.Index(string(old), analysisMarker); i >= 0 {
		b.WriteString("\n" + string(old[i:]))
	}
	if !strings.Contains(b.String(), analysisMarker) {
		b.WriteString("\n" + analysisMarker + "\n\n(written by hand after a run)\n")
	}
	return os.WriteFile(path, []byte(b.String()), 0o644)
}

// writeAPISection reports the Kubernetes API requests the manager sent,
// as the counting proxy saw them.
func writeAPISection(b *strings.Builder, results []result) {
	b.WriteString(`
## Kubernetes API requests

Every request the manager sends goes through a counting proxy (test/bench
proxy.go) on its way to the kube-apiserver; a watch counts once, when it
starts. Counted over the whole run, from the manager's start to the end of
the measurement, and divided by the visible changes the benchmark's watch
saw. Sizes are the request bodies of the CloudOperation status merge
patches.

| | `)
	for _, r := range results {
		fmt.Fprintf(b, "%s | ", r.label())
	}
	b.WriteString("\n|---|")
	for range results {
		b.WriteString("---|")
	}
	b.WriteString("\n")
	row := func(name string, f func(r result) string) {
		fmt.Fprintf(b, "| %s | ", name)
		for _, r := range results {
			fmt.Fprintf(b, "%s | ", f(r))
		}
		b.WriteString("\n")
	}
	row("**API requests per visible change**", func(r result) string { return fmt.Sprintf("**%.2f**", r.perChange(r.api.total())) })
	for i, c := range apiCategories {
		row("– "+c.name, func(r result) string { return fmt.Sprintf("%.3f", r.perChange(r.api.byCategory()[i])) })
	}
	row("API requests per operation", func(r result) string { return fmt.Sprintf("%.2f", float64(r.api.total())/float64(r.n)) })
	row("status patch body, mean / p99", func(r result) string {
		mean, p99 := r.api.statusPatchBytes()
		return fmt.Sprintf("%.0f / %d B", mean, p99)
	})
	b.WriteString("\nBy verb and resource:\n\n")
	for _, r := range results {
		fmt.Fprintf(b, "- %s: %s\n", r.label(), r.api.list())
	}
}

// writePaceSection reports the realistic-pace scenario, run without the
// step history (before) and with it (after).
func writePaceSection(b *strings.Builder, before, p paceResult) {
	fmt.Fprintf(b, `
## Realistic pace

%d operations of %s to %s (%d CCE upgrades, %d DWS restores) whose steps
each last %s to %s, at the default poll interval (%s), with the default
poll policy (docs/polling.md). An hour of this would take an hour, so it
runs in virtual time: the manager's reconciler, a real API server and
cloudsim over signed HTTP, with a fake clock they share and a queue of due
reconciles in place of controller-runtime's work queue; every wait is the
reconciler's own RequeueAfter. Seed %d; %s of virtual time took %s.
"Visible changes" are the status writes that changed what a user sees
(as above); a DWS restore reports each sub-item's progress, so most of its
polls see one. A step end counts each task, or sub-item, that finished.

The scenario runs twice on the same operations: **before**, without a
step history, and **after**, with the reconciler's StepHistory warmed by
%d earlier runs of each service drawn from the same distributions
(another seed), as a manager rebuilds it from a cluster's finished
objects. The history estimates completion (status.estimatedCompletionTime)
and places polls toward where the current step usually ends. Step
durations are drawn independently at random, the worst case for
learning: a real service's step of one kind takes about as long each run.

| | all | CCE upgrades | DWS restores | target |
|---|---|---|---|---|
| **cloud calls per visible change, after** | **%.2f** | %.2f | %.2f | ≤ 3 |
| cloud calls per visible change, before | %.2f | %.2f | %.2f | |
| cloud calls per step end, after (before) | %.2f (%.2f) | %.2f (%.2f) | %.2f (%.2f) | |
| cloud calls, after (before) | %d (%d) | %d (%d) | %d (%d) | |
| visible changes / step ends, after | %d / %d | %d / %d | %d / %d | |

After: seen after a step ended p50 %s, p90 %s, max %s (before: p50 %s, p90
%s, max %s). Seen after the operation ended: p50 %s, max %s (before: p50
%s, max %s).

Estimate error, after: |status.estimatedCompletionTime − actual end| at
the first poll past a share of each operation's duration.

| at | p50 | p90 | estimates | polls without one |
|---|---|---|---|---|
`, p.n, paceMinDuration, paceMaxDuration, p.cce, p.dws, paceMinStep, paceMaxStep, p.interval, p.seed,
		p.virtual.Round(time.Minute), p.real.Round(time.Second), paceWarmupRuns,
		p.callsPerChange(), ratio(p.cloudCallsBySvc[cloudsim.CCE], p.visibleBySvc[opsv1.ServiceCCE]), ratio(p.cloudCallsBySvc[cloudsim.DWS], p.visibleBySvc[opsv1.ServiceDWS]),
		before.callsPerChange(), ratio(before.cloudCallsBySvc[cloudsim.CCE], before.visibleBySvc[opsv1.ServiceCCE]), ratio(before.cloudCallsBySvc[cloudsim.DWS], before.visibleBySvc[opsv1.ServiceDWS]),
		ratio(p.cloudCalls, p.stepEnds), ratio(before.cloudCalls, before.stepEnds),
		ratio(p.cloudCallsBySvc[cloudsim.CCE], p.stepEndsBySvc[opsv1.ServiceCCE]), ratio(before.cloudCallsBySvc[cloudsim.CCE], before.stepEndsBySvc[opsv1.ServiceCCE]),
		ratio(p.cloudCallsBySvc[cloudsim.DWS], p.stepEndsBySvc[opsv1.ServiceDWS]), ratio(before.cloudCallsBySvc[cloudsim.DWS], before.stepEndsBySvc[opsv1.ServiceDWS]),
		p.cloudCalls, before.cloudCalls, p.cloudCallsBySvc[cloudsim.CCE], before.cloudCallsBySvc[cloudsim.CCE], p.cloudCallsBySvc[cloudsim.DWS], before.cloudCallsBySvc[cloudsim.DWS],
		p.visibleChanges, p.stepEnds, p.visibleBySvc[opsv1.ServiceCCE], p.stepEndsBySvc[opsv1.ServiceCCE], p.visibleBySvc[opsv1.ServiceDWS], p.stepEndsBySvc[opsv1.ServiceDWS],
		p.stepDelayP50.Round(time.Second), p.stepDelayP90.Round(time.Second), p.stepDelayMax.Round(time.Second),
		before.stepDelayP50.Round(time.Second), before.stepDelayP90.Round(time.Second), before.stepDelayMax.Round(time.Second),
		p.terminalDelayP50.Round(time.Second), p.terminalDelayMax.Round(time.Second),
		before.terminalDelayP50.Round(time.Second), before.terminalDelayMax.Round(time.Second))
	for _, cp := range paceCheckpoints {
		e := p.estimateErrors[cp]
		fmt.Fprintf(b, "| %d %% | %s | %s | %d | %d |\n", cp, quantile(e, 0.5).Round(time.Second), quantile(e, 0.9).Round(time.Second), len(e), p.estimateMissing[cp])
	}
}

// discoveryHeading starts the discovery scenario's section.
const discoveryHeading = "## Discovery"

// findSection is the section of doc that starts with heading, up to the
// next second-level heading (without the blank line before it); "" when
// doc has none.
func findSection(doc, heading string) string {
	start := strings.Index(doc, "\n"+heading+"\n")
	if start < 0 {
		return ""
	}
	section := doc[start+1:]
	if end := strings.Index(section[len(heading):], "\n## "); end >= 0 {
		section = section[:len(heading)+end+1]
	}
	return strings.TrimRight(section, "\n") + "\n"
}

// updateDiscoverySection writes a discovery run into the report without
// regenerating the rest: in place of its Discovery section, else before
// the analysis.
func updateDiscoverySection(path string, d discoveryResult) error {
	var b strings.Builder
	writeDiscoverySection(&b, d)
	return updateSection(path, discoveryHeading, b.String())
}

// paceHeading starts the realistic-pace scenario's section.
const paceHeading = "## Realistic pace"

// updatePaceSection rewrites only the realistic-pace section of the
// report at path (a run without the stress scenarios).
func updatePaceSection(path string, before, after paceResult) error {
	var b strings.Builder
	writePaceSection(&b, before, after)
	return updateSection(path, paceHeading, b.String())
}

// updateSection replaces the section of the report at path that starts
// with heading by text, or adds it before the analysis.
func updateSection(path, heading, text string) error {
	old, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	section := strings.TrimPrefix(text, "\n")
	doc := string(old)
	switch {
	case findSection(doc, heading) != "":
		doc = strings.Replace(doc, findSection(doc, heading), section, 1)
	case strings.Contains(doc, "\n"+analysisMarker+"\n"):
		doc = strings.Replace(doc, "\n"+analysisMarker+"\n", "\n"+section+"\n"+analysisMarker+"\n", 1)
	default:
		doc = strings.TrimRight(doc, "\n") + "\n\n" + section
	}
	return os.WriteFile(path, []byte(doc), 0o644)
}

// writeDiscoverySection reports the discovery scenario.
func writeDiscoverySection(b *strings.Builder, d discoveryResult) {
	cfg := d.cfg
	fmt.Fprintf(b, `
%s

Measured on %s, %s (load average %s at the start, %s at
the end: other work shared the machine).

%d CloudOperationSources in one namespace: %d list a BCS blockchain each
and %d (every %s) a CCE cluster, every one with
`+"`spec.interval`"+` %s and `+"`template.pollInterval`"+` %s. The sources are
created one after the other over %s, so that their lists fall at every
phase of the trackers' aligned ticks, as sources that users create would.
Then each resource gets %d operations that start on their own (cloudsim
`+"`StartsIn`"+`: absent from the lists and 404 until then) at random times
over the next %s, and run %s to %s (three equal steps); one operation of
each blockchain fails in its second step (%d in all), the rest succeed.
Retention: sources of even index put `+"`ttlSecondsAfterFinished: %d`"+` in
their template (default history limits, 10), odd ones keep no TTL and set
`+"`successfulHistoryLimit: %d`"+`, `+"`failedHistoryLimit: %d`"+`. The manager is the
binary with its default flags but for the raised cloud buckets and the
`+"`GOMEMLIMIT`"+` of the runs above; the benchmark follows the CloudOperations
with an informer and takes the time an object first reaches it.

List rates are counted in windows of whole intervals from half an interval
after the operations were added: **while operations ran** (until the last
one ended in cloudsim) and **quiet** (%s after every operation was seen
terminal: the trackers have stopped, the sources go on listing). A source
listing once per interval lists once in each interval of a window, or
none when its period (the interval plus the time a list takes) steps over
a boundary. "List requests" are the sources' own
(`+"`cloudop_source_lists_total`"+`; a BCS one may be answered by a list the
adapter already has); "cloud list calls" are what cloudsim counted per
listed resource (`+"`ListCount`"+`): for a blockchain they serve its source
*and* the trackers of its CloudOperations, which poll BCS through the same
shared list (`+"`--bcs-list-window`"+` 5 s, polls aligned to wall-clock ticks).
A source lists on its own phase (its creation time plus whole intervals),
the trackers on the wall-clock tick: it is *near the tick* when it was
created from 5 s before to 7 s after a multiple of the interval, where one
call can serve it and the trackers' polls (spread over 2 s after the tick)
within the 5 s list window. A CCE tracker polls its workflow
(ShowUpgradeWorkFlow), not the list, so a cluster's list calls are its
source's alone.

| | discovery | target |
|---|---|---|
| operations mirrored exactly once / missing / more than once | %d / %d / %d | all once |
| CloudOperations without the source's label and owner | %d | 0 |
| **operation start → its CloudOperation seen, p50 / p90 / max** | **%s** | ≤ interval |
| – BCS; CCE | %s; %s | |
| every operation mirrored / seen terminal, after they were added | %s / %s | |
`, discoveryHeading, d.when.UTC().Format("2006-01-02 15:04 UTC"), machine(), d.loadStart, d.loadEnd,
		cfg.sources, d.bcsSources, d.cceSources, ordinal(cfg.cceEvery), cfg.interval, cfg.interval, d.stagger.Round(time.Second),
		cfg.opsPerSource, cfg.spread, cfg.minRun, cfg.maxRun, d.failing, cfg.ttl, cfg.okLimit, cfg.failLimit,
		time.Duration(cfg.quietIntervals)*cfg.interval,
		d.mirroredOnce, d.missing, d.dup, d.mislabelled,
		durations(d.latency), durations(d.latencyBySvc[opsv1.ServiceBCS]), durations(d.latencyBySvc[opsv1.ServiceCCE]),
		d.allMirrored.Round(time.Second), d.allTerminal.Round(time.Second))
	pair := func(f func(w windowRates) string) string { return f(d.running) + " / " + f(d.quiet) }
	fmt.Fprintf(b, "| **source list requests per source per interval**, running / quiet: BCS | **%s** | ≤ 1 |\n",
		pair(func(w windowRates) string { return fmt.Sprintf("%.2f", w.srcLists[opsv1.SourceBCS]) }))
	fmt.Fprintf(b, "| – CCE | %s | ≤ 1 |\n", pair(func(w windowRates) string { return fmt.Sprintf("%.2f", w.srcLists[opsv1.SourceCCE]) }))
	fmt.Fprintf(b, "| cloud list calls per CCE cluster per interval, running / quiet (busiest cluster) | %s | ≤ 1 |\n",
		pair(func(w windowRates) string {
			return fmt.Sprintf("%.2f (%.2f)", w.calls[opsv1.SourceCCE], w.maxCalls[opsv1.SourceCCE])
		}))
	fmt.Fprintf(b, "| **cloud list calls per BCS blockchain per interval** (source and trackers), running / quiet (busiest blockchain) | **%s** | ≤ 1 |\n",
		pair(func(w windowRates) string {
			return fmt.Sprintf("%.2f (%.2f)", w.calls[opsv1.SourceBCS], w.maxCalls[opsv1.SourceBCS])
		}))
	fmt.Fprintf(b, "| – sources listing near the trackers' tick (%d) / off it (%d), running | %.2f / %.2f | |\n",
		d.running.nearTickN, d.running.offTickN, d.running.nearTick, d.running.offTick)
	fmt.Fprintf(b, "| BCS list calls while running, and the source lists and tracker polls they served | %d calls: %.0f source lists + %.0f polls (%.1f per call) | |\n",
		d.running.bcsCalls, d.running.bcsSrcReq, d.running.bcsPolls, (d.running.bcsSrcReq+d.running.bcsPolls)/float64(max(d.running.bcsCalls, 1)))
	fmt.Fprintf(b, "| whole run: source list requests, against one per interval plus the first (BCS: and the first tick), BCS / CCE | %.0f of %d / %.0f of %d | within |\n",
		d.srcListsTotal[opsv1.SourceBCS], d.srcListsBudget[opsv1.SourceBCS], d.srcListsTotal[opsv1.SourceCCE], d.srcListsBudget[opsv1.SourceCCE])
	fmt.Fprintf(b, "| whole run: CCE clusters listed more often than that | %d | 0 |\n", d.cceOverBudget)
	fmt.Fprintf(b, "| whole run: BCS list calls / other BCS calls (one operation asked for) / tracker polls | %d / %d / %.0f | |\n", d.bcsCallsTotal, d.bcsFiltered, d.bcsPollsTotal)
	fmt.Fprintf(b, "| **CloudOperations: operations started / peak / at the end** | **%d / %d / %d** | end = what the limits keep (%d) |\n", d.ops, d.peakObjects, d.endObjects, d.expectedEnd)
	fmt.Fprintf(b, "| created by sources / pruned by history limits / expired by TTL (manager metrics) | %.0f / %.0f / %.0f | |\n", d.created, d.pruned, d.expired)
	fmt.Fprintf(b, "| manager CPU seconds, whole run / peak RSS / peak heap in use (sampled every 2 s) | %.1f s / %d MiB / %.0f MiB | |\n", d.cpuSeconds, d.peakRSS>>20, d.peakHeap/(1<<20))
	if len(d.missingOps) > 0 {
		b.WriteString("\nNever mirrored:\n\n")
		for _, m := range d.missingOps {
			fmt.Fprintf(b, "- %s\n", m)
		}
	}
	fmt.Fprintf(b, "\nThe scenario took %s from the first source's creation to the end of the quiet\nwindow, %s in all with the control plane's start.\n\nKubernetes API requests of the manager: %s.\n",
		d.scenario.Round(time.Second), d.wall.Round(time.Second), d.api.list())
}

// ordinal is "5th" for 5.
func ordinal(n int) string {
	switch {
	case n%100 >= 11 && n%100 <= 13:
		return fmt.Sprintf("%dth", n)
	case n%10 == 1:
		return fmt.Sprintf("%dst", n)
	case n%10 == 2:
		return fmt.Sprintf("%dnd", n)
	case n%10 == 3:
		return fmt.Sprintf("%drd", n)
	}
	return fmt.Sprintf("%dth", n)
}

func orNone(s string) string {
	if s == "" {
		return "unset"
	}
	return s
}

// analysisMarker starts the hand-written part of the report, which a rerun
// keeps.
const analysisMarker = "## Analysis"

func machine() string {
	model, cores := "unknown CPU", runtime.NumCPU()
	if f, err := os.Open("/proc/cpuinfo"); err == nil {
		s := bufio.NewScanner(f)
		for s.Scan() {
			if k, v, ok := strings.Cut(s.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
				model = strings.TrimSpace(v)
				break
			}
		}
		f.Close()
	}
	mem := ""
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(line, "MemTotal:") {
				kb, _ := strconv.Atoi(strings.Fields(line)[1])
				mem = fmt.Sprintf(", %d GiB RAM", kb>>20)
			}
		}
	}
	return fmt.Sprintf("%d × %s%s, %s, %s/%s", cores, model, mem, runtime.Version(), runtime.GOOS, runtime.GOARCH)
}

// procStat reads /proc/<pid>/stat: the command name, and the fields after
// it (the name may hold spaces, so they start after the last ")").
func procStat(pid int) (command string, fields []string, ok bool) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return "", nil, false
	}
	stat := string(b)
	open, closing := strings.IndexByte(stat, '('), strings.LastIndexByte(stat, ')')
	if open < 0 || closing < open {
		return "", nil, false
	}
	return stat[open+1 : closing], strings.Fields(stat[closing+1:]), true
}

// cpuSeconds is a process's user+system CPU time from /proc.
func cpuSeconds(pid int) float64 {
	_, fields, ok := procStat(pid)
	if !ok || len(fields) < 13 {
		return 0
	}
	utime, _ := strconv.ParseFloat(fields[11], 64)
	stime, _ := strconv.ParseFloat(fields[12], 64)
	return (utime + stime) / 100 // USER_HZ is 100 on Linux
}

// childProcess finds the PID of this process's child running the named
// command (the control plane that envtest started), or 0.
func childProcess(command string) int {
	entries, _ := os.ReadDir("/proc")
	parent := strconv.Itoa(os.Getpid())
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if name, fields, ok := procStat(pid); ok && name == command && len(fields) > 1 && fields[1] == parent {
			return pid
		}
	}
	return 0
}

// peakRSS is a process's high-water resident set size (VmHWM).
func peakRSS(pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "VmHWM:") {
			kb, _ := strconv.ParseInt(strings.Fields(line)[1], 10, 64)
			return kb << 10
		}
	}
	return 0
}

// scrapeSeries reads a Prometheus endpoint and calls each with every
// sample's series (name and labels as exposed) and value; false when the
// endpoint does not answer.
func scrapeSeries(url string, each func(series string, value float64)) bool {
	resp, err := http.Get(url)
	if err != nil {
		return false
	}
	defer resp.Body.Close()
	s := bufio.NewScanner(resp.Body)
	for s.Scan() {
		if f := strings.Fields(s.Text()); len(f) == 2 {
			v, _ := strconv.ParseFloat(f[1], 64)
			each(f[0], v)
		}
	}
	return true
}

// scrapeMetricSum adds every series of one metric (whatever its labels)
// from a Prometheus endpoint; -1 when the endpoint does not answer.
func scrapeMetricSum(url, name string) float64 {
	total := 0.0
	ok := scrapeSeries(url, func(series string, v float64) {
		if metric, _, _ := strings.Cut(series, "{"); metric == name {
			total += v
		}
	})
	if !ok {
		return -1
	}
	return total
}

// scrapeCounter reads one counter series from a Prometheus endpoint; name
// is the series as exposed, labels included (`x_total{result="ok"}`); -1
// when the endpoint does not answer or has no such series.
func scrapeCounter(url, name string) float64 {
	value, found := -1.0, false
	scrapeSeries(url, func(series string, v float64) {
		if !found && series == name {
			value, found = v, true
		}
	})
	return value
}
