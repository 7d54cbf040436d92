// Package plugin is the kubectl cloudop plugin: commands that show
// CloudOperations as trees, watch and wait on them, request polls, suspend
// and resume them, and create them from flags. It reads CloudOperations only
// through the API types (github.com/cloudop/cloudop/api/v1alpha1), never
// through the manager's packages.
package plugin

import (
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"sigs.k8s.io/controller-runtime/pkg/client"

	opsv1 "github.com/cloudop/cloudop/api/v1alpha1"
)

// Exit codes, documented in docs/plugin.md.
const (
	// ExitError is a usage, connection or API error.
	ExitError = 1
	// ExitOperationFailed says the operation failed, was cancelled or
	// stalled.
	ExitOperationFailed = 2
	// ExitTimeout says --timeout passed first.
	ExitTimeout = 3
)

// exitError carries the process exit code of an error.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

// ExitCode is the process exit code for an error a command returned: 0 for
// nil.
func ExitCode(err error) int {
	if err == nil {
		return 0
	}
	var e *exitError
	if errors.As(err, &e) {
		return e.code
	}
	return ExitError
}

func operationFailed(format string, args ...any) error {
	return &exitError{code: ExitOperationFailed, err: fmt.Errorf(format, args...)}
}

func timedOut(format string, args ...any) error {
	return &exitError{code: ExitTimeout, err: fmt.Errorf(format, args...)}
}

// Runtime is what the commands take from their surroundings; tests replace
// parts of it.
type Runtime struct {
	genericiooptions.IOStreams
	// Now is the clock.
	Now func() time.Time
	// Getenv reads the environment (NO_COLOR).
	Getenv func(string) string
	// Terminal reports whether Out is a terminal, and its size when it is.
	Terminal func() (ok bool, width, height int)
	// Location is the time zone times are shown in.
	Location *time.Location
}

// DefaultRuntime is the process's standard streams, clock and terminal.
func DefaultRuntime() Runtime {
	return Runtime{
		IOStreams: genericiooptions.IOStreams{In: os.Stdin, Out: os.Stdout, ErrOut: os.Stderr},
		Now:       time.Now,
		Getenv:    os.Getenv,
		Terminal: func() (bool, int, int) {
			fd := int(os.Stdout.Fd())
			if !term.IsTerminal(fd) {
				return false, 0, 0
			}
			w, h, err := term.GetSize(fd)
			if err != nil {
				return true, 0, 0
			}
			return true, w, h
		},
		Location: time.Local,
	}
}

// options are the flags every command shares.
type options struct {
	rt            Runtime
	config        *genericclioptions.ConfigFlags
	width         int
	allNamespaces bool
}

// fancy reports whether output may use colour and redraw in place: only on
// a terminal, and never with NO_COLOR set (https://no-color.org).
func (o *options) fancy() bool {
	if o.rt.Getenv("NO_COLOR") != "" {
		return false
	}
	ok, _, _ := o.rt.Terminal()
	return ok
}

// renderer is the tree renderer for the current output.
func (o *options) renderer() *Renderer {
	width := o.width
	if width == 0 {
		if _, w, _ := o.rt.Terminal(); w > 0 {
			width = w
		}
	}
	return &Renderer{Color: o.fancy(), Width: width, Now: o.rt.Now, Location: o.rt.Location, ShowNamespace: o.allNamespaces}
}

// client builds a typed client with watch support for the configured
// cluster.
func (o *options) client() (client.WithWatch, error) {
	cfg, err := o.config.ToRESTConfig()
	if err != nil {
		return nil, err
	}
	scheme := runtime.NewScheme()
	if err := opsv1.AddToScheme(scheme); err != nil {
		return nil, err
	}
	return client.NewWithWatch(cfg, client.Options{Scheme: scheme})
}

// namespace is the namespace from --namespace or the kubeconfig context.
func (o *options) namespace() (string, error) {
	ns, _, err := o.config.ToRawKubeConfigLoader().Namespace()
	return ns, err
}

// target is what every command starts from: a client and the namespace
// names are looked up in.
func (o *options) target() (client.WithWatch, string, error) {
	c, err := o.client()
	if err != nil {
		return nil, "", err
	}
	ns, err := o.namespace()
	return c, ns, err
}

// NewCommand returns the kubectl-cloudop root command.
func NewCommand(rt Runtime) *cobra.Command {
	config := genericclioptions.NewConfigFlags(true)
	// --cluster is track's cloud cluster ID (a CCE or DWS cluster); a
	// kubeconfig cluster is chosen with --context.
	config.ClusterName = nil
	o := &options{rt: rt, config: config}
	cmd := &cobra.Command{
		Use:   "kubectl-cloudop",
		Short: "Show, watch and wait on cloudop CloudOperations",
		Long: `kubectl cloudop shows CloudOperations (ops.cloudop.dev) as trees of steps,
watches them live, waits on them and creates them from flags.

Colour and in-place redraw are used only when stdout is a terminal and
NO_COLOR is unset.

Exit codes: 0 success, 1 error, 2 the operation failed, was cancelled or
stalled, 3 timeout.`,
		SilenceUsage:  true,
		SilenceErrors: true,
		Annotations:   map[string]string{cobra.CommandDisplayNameAnnotation: "kubectl cloudop"},
	}
	cmd.SetIn(rt.In)
	cmd.SetOut(rt.Out)
	cmd.SetErr(rt.ErrOut)
	flags := cmd.PersistentFlags()
	o.config.AddFlags(flags)
	flags.IntVar(&o.width, "width", 0, "Line width in cells (default: the terminal's width; unlimited in a pipe)")
	cmd.AddCommand(
		newGetCommand(o),
		newSourcesCommand(o),
		newWatchCommand(o),
		newWaitCommand(o),
		newPollCommand(o),
		newSuspendCommand(o, true),
		newSuspendCommand(o, false),
		newTrackCommand(o),
	)
	return cmd
}
