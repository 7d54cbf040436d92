// Command demo runs cloudop end to end on this machine: a local control
// plane, cloudsim and the manager, with one CloudOperation per service plus
// a failing and a throttled one. `make demo` runs it.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	"github.com/cloudop/cloudop/internal/demo"
)

func main() {
	workDir := flag.String("work-dir", ".demo", "Directory for the kubeconfig and the manager log.")
	exit := flag.Bool("exit", false, "Exit after the summary instead of waiting for Ctrl-C.")
	timeout := flag.Duration("timeout", 5*time.Minute, "Give up if operations are not terminal by then.")
	flag.Parse()
	if err := run(*workDir, *exit, *timeout); err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		os.Exit(1)
	}
}

func run(workDir string, exit bool, timeout time.Duration) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	files, err := demo.LoadFiles()
	if err != nil {
		return err
	}
	if err := os.MkdirAll(workDir, 0o755); err != nil {
		return err
	}
	logPath := filepath.Join(workDir, "manager.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		return err
	}
	defer logFile.Close()
	ctrl.SetLogger(zap.New(zap.WriteTo(logFile)))

	fmt.Println("Starting a local control plane (kube-apiserver, etcd), cloudsim and the cloudop manager…")
	env, err := demo.Start(ctx, files.Backdrop(), demo.Options{WorkDir: workDir})
	if err != nil {
		return err
	}
	defer func() {
		fmt.Println("Stopping the manager, cloudsim and the control plane…")
		env.Stop()
	}()
	fmt.Printf("cloudsim: %s   manager log: %s\n\n", env.SimURL, logPath)

	if err := env.ApplyScenario(ctx, files); err != nil {
		return err
	}
	// One more operation, signed through workload identity: no Secret.
	if len(files.Sim.Accounts) == 0 || len(files.Sim.Accounts[0].ProjectIDs) == 0 {
		return fmt.Errorf("the demo scenario has no account for workload identity")
	}
	acct := files.Sim.Accounts[0]
	if err := env.ApplyIdentity(ctx, demo.Namespace, acct.AccessKey, acct.ProjectIDs[0], true); err != nil {
		return err
	}
	fmt.Printf("%s is signed by ServiceAccount %s through cloudsim's IAM (workload identity, no Secret).\n\n", demo.IdentityOperation, demo.IdentityServiceAccount)
	printer := demo.NewPrinter(os.Stdout)
	waitCtx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	items, err := env.WaitTerminal(waitCtx, printer.Update)
	if ctx.Err() != nil {
		return nil // Ctrl-C: clean up quietly.
	}
	fmt.Println()
	demo.Summary(os.Stdout, items)
	if err != nil {
		return fmt.Errorf("not every operation finished: %w", err)
	}
	fmt.Printf("\nTraces the manager exported over OTLP to the demo's receiver (%s), one per finished operation:\n", env.Traces.URL)
	for _, line := range env.Traces.Summary() {
		fmt.Println("  " + line)
	}
	printExplore(os.Stdout, env)
	if exit {
		return nil
	}
	fmt.Println("\nEverything keeps running for you to explore. Press Ctrl-C to stop.")
	<-ctx.Done()
	return nil
}

func printExplore(out io.Writer, env *demo.Environment) {
	k := fmt.Sprintf("%s --kubeconfig %s -n %s", env.Kubectl, env.Kubeconfig, demo.Namespace)
	fmt.Fprintf(out, `
Explore with the built kubectl:
  %[1]s get cloudoperations -o wide
  %[1]s get cloudoperationsources   (what the sources found: a blockchain, a cluster, the project's traces)
  %[1]s describe cloudoperation cce-cluster-upgrade
  %[1]s describe cloudoperation %[3]s   (workload identity)
  %[1]s get events --sort-by=.metadata.creationTimestamp
  %[1]s wait --for=condition=Ready cloudoperation/aos-stack-create
cloudsim's admin API: curl %[2]s/admin/operations   curl %[2]s/admin/counts
`, k, env.SimURL, demo.IdentityOperation)
}
