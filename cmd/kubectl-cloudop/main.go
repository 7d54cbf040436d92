// Command kubectl-cloudop is the kubectl cloudop plugin: it shows cloudop
// CloudOperations as trees, watches and waits on them, and creates them from
// flags. Installed on PATH (or with Krew), kubectl runs it as
// `kubectl cloudop`. See docs/plugin.md.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/cloudop/cloudop/internal/plugin"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	rt := plugin.DefaultRuntime()
	err := plugin.NewCommand(rt).ExecuteContext(ctx)
	stop()
	if err != nil {
		fmt.Fprintln(rt.ErrOut, "error:", err)
	}
	os.Exit(plugin.ExitCode(err))
}
