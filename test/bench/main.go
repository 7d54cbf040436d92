// Command bench measures cloudop at scale: a local control plane, cloudsim
// and the manager (a separate process, so its CPU and memory are its own)
// track N CloudOperations that run for a few minutes and finish; then a
// realistic-pace scenario (virtual time) and a discovery scenario
// (CloudOperationSources mirroring operations that start on their own).
// It writes the figures to docs/benchmarks.md. `make bench` runs it.
package main

import (
	"context"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"go.uber.org/zap/zapcore"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	"github.com/cloudop/cloudop/internal/cloud"
	"github.com/cloudop/cloudop/internal/cloudsim"
	"github.com/cloudop/cloudop/internal/manager"
	"github.com/cloudop/cloudop/internal/testenv"
)

func main() {
	sizes := flag.String("n", "1000,10000", "Comma-separated numbers of CloudOperations, one run each; empty for none.")
	shardCounts := flag.String("shards", "1,2", "Comma-separated numbers of manager instances to spread the operations over (a default instance plus shard instances, sharding.cloudop.dev/key), one run per N and count.")
	interval := flag.Duration("interval", 30*time.Second, "spec.pollInterval of every CloudOperation.")
	duration := flag.Duration("duration", 4*time.Minute, "Shortest operation run time; operations end spread over one more interval.")
	out := flag.String("out", "docs/benchmarks.md", "Report file.")
	managerBin := flag.String("manager", "bin/manager", "Manager binary (make build).")
	workers := flag.Int("workers", 16, "Manager --workers (its default is 16).")
	kubeQPS := flag.Int("kube-api-qps", 300, "Manager --kube-api-qps (burst twice that): status patches and event creates share it.")
	memLimit := flag.String("gomemlimit", "200MiB", "GOMEMLIMIT of the manager process, as config/manager sets it from the memory limit; empty for none.")
	pace := flag.Int("pace", 40, "Operations in the realistic-pace scenario (virtual time, 20-60 min operations); 0 skips it.")
	paceSeed := flag.Uint64("pace-seed", 1, "Seed of the realistic-pace scenario's durations and jitter.")
	paceFactor := flag.Float64("pace-step-factor", -1, "The realistic-pace scenario's --step-pace-factor; negative keeps the manager default (0 turns the rule off, for comparison).")
	discovery := flag.Int("discovery", 100, "CloudOperationSources in the discovery scenario (every fifth a CCE cluster's, the others BCS blockchains'; about 5 minutes); 0 skips it.")
	discoveryOps := flag.Int("discovery-ops", 10, "Operations per source in the discovery scenario.")
	flag.Parse()
	ctrl.SetLogger(zap.New(zap.Level(zapcore.ErrorLevel)))

	// Ctrl-C ends the run through its deferred clean-up: no control plane
	// or manager is left behind.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var results []result
	for _, n := range positiveInts("-n", *sizes) {
		for _, shards := range positiveInts("-shards", *shardCounts) {
			fmt.Printf("== N=%d, %d manager instance(s), interval %s\n", n, shards, *interval)
			r, err := runOnce(ctx, config{n: n, shards: shards, interval: *interval, duration: *duration, managerBin: *managerBin, memLimit: *memLimit, workers: *workers, kubeQPS: *kubeQPS})
			if err != nil {
				fail(err)
			}
			r.print(os.Stdout)
			results = append(results, r)
		}
	}
	var paceRes []paceResult
	if *pace > 0 {
		// Without the step history, then with it: the same operations.
		for _, history := range []bool{false, true} {
			fmt.Printf("== realistic pace, %d operations, step history %v\n", *pace, history)
			p, err := runPace(ctx, *pace, *paceSeed, *paceFactor, history)
			if err != nil {
				fail(fmt.Errorf("realistic pace: %w", err))
			}
			p.print()
			paceRes = append(paceRes, p)
		}
	}
	var discRes *discoveryResult
	if *discovery > 0 {
		fmt.Printf("== discovery, %d sources, %d operations each\n", *discovery, *discoveryOps)
		d, err := runDiscovery(ctx, defaultDiscovery(*discovery, *discoveryOps, binaryManager(*managerBin, *memLimit)))
		if err != nil {
			fail(fmt.Errorf("discovery: %w", err))
		}
		d.print()
		discRes = &d
	}
	switch {
	case len(results) > 0:
		if err := writeReport(*out, results, paceRes, discRes); err != nil {
			fail(err)
		}
	case discRes != nil || len(paceRes) == 2:
		// Without a stress run the rest of the report stays as it is.
		if discRes != nil {
			if err := updateDiscoverySection(*out, *discRes); err != nil {
				fail(err)
			}
		}
		if len(paceRes) == 2 {
			if err := updatePaceSection(*out, paceRes[0], paceRes[1]); err != nil {
				fail(err)
			}
		}
	default:
		fmt.Println("no stress, pace or discovery run (-n is empty, -pace 0, -discovery 0): report not written")
		return
	}
	fmt.Println("report written to", *out)
}

// positiveInts parses a comma-separated flag value of positive numbers.
func positiveInts(flagName, list string) []int {
	var out []int
	if strings.TrimSpace(list) == "" {
		return nil
	}
	for _, s := range strings.Split(list, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n <= 0 {
			fail(fmt.Errorf("bad %s %q", flagName, s))
		}
		out = append(out, n)
	}
	return out
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "bench:", err)
	os.Exit(1)
}

type config struct {
	n          int
	shards     int
	interval   time.Duration
	duration   time.Duration
	managerBin string
	memLimit   string
	workers    int
	kubeQPS    int
}

// runOnce runs one benchmark of cfg.n operations on a fresh control plane.
func runOnce(ctx context.Context, cfg config) (result, error) {
	env, restCfg, err := testenv.Start()
	if err != nil {
		return result{}, err
	}
	defer func() { _ = env.Stop() }()
	work, err := os.MkdirTemp("", "cloudop-bench-")
	if err != nil {
		return result{}, err
	}
	defer os.RemoveAll(work)
	// The manager talks to the API server through a proxy that counts its
	// requests.
	counter, err := startAPICounter(restCfg)
	if err != nil {
		return result{}, err
	}
	defer counter.close()
	kubeconfig := filepath.Join(work, "kubeconfig")
	if err := testenv.WriteKubeconfig(counter.config(), kubeconfig); err != nil {
		return result{}, err
	}

	sim, err := cloudsim.New(cloudsim.Config{Accounts: []cloudsim.Account{{AccessKey: benchAK, SecretKey: benchSK, ProjectIDs: []string{benchProject}}}})
	if err != nil {
		return result{}, err
	}
	listener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return result{}, err
	}
	simServer := &http.Server{Handler: sim.Handler(), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = simServer.Serve(listener) }()
	defer simServer.Close()
	simURL := "http://" + listener.Addr().String()

	base := []string{"--kubeconfig", kubeconfig, "--metrics-secure=false", "--health-probe-bind-address", "0",
		"--kube-api-qps", strconv.Itoa(cfg.kubeQPS), "--kube-api-burst", strconv.Itoa(2 * cfg.kubeQPS), "--zap-log-level", "error",
		"--workers", strconv.Itoa(cfg.workers),
		// One account holds every operation: raise the per-account buckets
		// so the client-side limit is not what is measured.
		"--cloud-qps", strconv.Itoa(cloudQPS), "--cloud-burst", strconv.Itoa(2 * cloudQPS), "--cloud-global-qps", "2000", "--cloud-global-burst", "4000"}
	for _, svc := range cloud.Services {
		base = append(base, "--service-endpoint", string(svc)+"="+simURL)
	}
	var (
		pids        []int
		metricsURLs []string
	)
	for k := range max(cfg.shards, 1) {
		metricsAddr, err := testenv.FreeLoopbackAddr()
		if err != nil {
			return result{}, err
		}
		args := append(slices.Clone(base), "--metrics-bind-address", metricsAddr)
		if cfg.shards > 1 {
			// The budget is raised above, so splitting it is only for
			// realism: each instance gets its share.
			args = append(args, "--cloud-budget-shards", strconv.Itoa(cfg.shards))
			if k == 0 {
				args = append(args, "--watch-label-selector", "!"+manager.ShardLabel)
			} else {
				args = append(args, "--watch-label-selector", manager.ShardLabel+"="+shardKey(k))
			}
		}
		mgr := exec.Command(cfg.managerBin, args...)
		mgr.Stdout, mgr.Stderr = os.Stderr, os.Stderr
		mgr.Env = os.Environ()
		if cfg.memLimit != "" {
			mgr.Env = append(mgr.Env, "GOMEMLIMIT="+cfg.memLimit)
		}
		if err := mgr.Start(); err != nil {
			return result{}, fmt.Errorf("starting manager %s (run make build): %w", cfg.managerBin, err)
		}
		defer func() { _ = mgr.Process.Kill(); _ = mgr.Wait() }()
		pids = append(pids, mgr.Process.Pid)
		metricsURLs = append(metricsURLs, "http://"+metricsAddr+"/metrics")
	}

	run, err := newRun(ctx, restCfg, sim, counter, cfg, pids, metricsURLs)
	if err != nil {
		return result{}, err
	}
	return run.execute(ctx)
}
