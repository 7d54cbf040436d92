package plugin

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"sigs.k8s.io/controller-runtime/pkg/client"

	opsv1 "github.com/cloudop/cloudop/api/v1alpha1"
)

type watchOptions struct {
	*options
	timeout time.Duration
}

func newWatchCommand(o *options) *cobra.Command {
	w := &watchOptions{options: o}
	cmd := &cobra.Command{
		Use:   "watch NAME",
		Short: "Show a CloudOperation's tree live until it ends",
		Long: `Show a CloudOperation's tree and redraw it in place whenever its status
changes (a Kubernetes watch, not polling), until the operation succeeds,
fails, is cancelled or stalls.

On a terminal the tree is redrawn in place, in colour. In a pipe or with
NO_COLOR set there is no colour and no redraw: each change prints one summary
line, and the final tree is printed once at the end.

Exit codes: 0 Succeeded, 2 Failed, Cancelled or stalled, 3 --timeout passed,
1 other errors.`,
		Example: `  kubectl cloudop watch cce-cluster-upgrade
  kubectl cloudop watch cce-cluster-upgrade --timeout 2h   # as a CI step`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return w.run(cmd.Context(), args[0])
		},
	}
	cmd.Flags().DurationVar(&w.timeout, "timeout", 0, "Give up after this long (exit code 3); 0 waits forever")
	return cmd
}

func (w *watchOptions) run(ctx context.Context, name string) error {
	c, ns, err := w.target()
	if err != nil {
		return err
	}
	return w.follow(ctx, c, ns, name)
}

// follow shows one operation until it ends; track --wait uses it too.
func (w *watchOptions) follow(ctx context.Context, c client.WithWatch, ns, name string) error {
	if w.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, w.timeout)
		defer cancel()
	}
	var view screen
	if w.fancy() {
		_, _, height := w.rt.Terminal()
		view = &redrawScreen{out: w.rt.Out, height: height}
	} else {
		view = &logScreen{out: w.rt.Out, now: w.rt.Now}
	}
	r := w.renderer()
	var last *opsv1.CloudOperation
	found := false
	obs := &observer{
		client:    c,
		namespace: ns,
		fields:    nameSelector(name),
		listed: func(items []opsv1.CloudOperation) error {
			if len(items) == 0 && !found {
				return fmt.Errorf("cloudoperation %q not found in namespace %q", name, ns)
			}
			found = true
			return nil
		},
		changed: func(obj *opsv1.CloudOperation) (bool, error) {
			last = obj.DeepCopy()
			if err := view.show(obj, r.Render(obj)); err != nil {
				return false, err
			}
			err := outcome(obj, false)
			if errors.Is(err, errNotYet) {
				return false, nil
			}
			return true, err
		},
	}
	err := obs.run(ctx)
	if last != nil {
		if ferr := view.finish(r.Render(last)); ferr != nil && err == nil {
			err = ferr
		}
	}
	if errors.Is(err, context.DeadlineExceeded) && w.timeout > 0 {
		phase := "not polled yet"
		if last != nil && last.Status.Phase != "" {
			phase = string(last.Status.Phase)
		}
		return timedOut("timed out after %s waiting for cloudoperation/%s to finish (still %s)", w.timeout, name, phase)
	}
	return err
}

// screen shows successive trees of one operation.
type screen interface {
	// show is called on every change.
	show(obj *opsv1.CloudOperation, lines []string) error
	// finish is called once with the last tree.
	finish(lines []string) error
}

// redrawScreen redraws the tree in place: it moves the cursor up over the
// lines it drew before and clears from there to the end of the screen.
type redrawScreen struct {
	out    io.Writer
	height int
	drawn  int
	last   string
}

func (s *redrawScreen) show(_ *opsv1.CloudOperation, lines []string) error {
	// A tree taller than the screen would scroll, and cursor-up cannot
	// reach above the screen: keep it one line shorter.
	if s.height > 1 && len(lines) > s.height-1 {
		more := len(lines) - (s.height - 2)
		lines = append(lines[:s.height-2:s.height-2], fmt.Sprintf("  … %d more lines", more))
	}
	text := strings.Join(lines, "\n") + "\n"
	if text == s.last {
		return nil
	}
	var b strings.Builder
	if s.drawn > 0 {
		fmt.Fprintf(&b, "\x1b[%dA\r", s.drawn)
	}
	b.WriteString("\x1b[J")
	b.WriteString(text)
	s.drawn, s.last = len(lines), text
	_, err := io.WriteString(s.out, b.String())
	return err
}

func (s *redrawScreen) finish([]string) error { return nil }

// logScreen is for pipes: a summary line per change, the tree at the end.
type logScreen struct {
	out  io.Writer
	now  func() time.Time
	last string
}

func (s *logScreen) show(obj *opsv1.CloudOperation, _ []string) error {
	line := summary(obj)
	if line == s.last {
		return nil
	}
	s.last = line
	_, err := fmt.Fprintf(s.out, "%s %s\n", s.now().UTC().Format(time.TimeOnly), line)
	return err
}

func (s *logScreen) finish(lines []string) error {
	_, err := io.WriteString(s.out, strings.Join(lines, "\n")+"\n")
	return err
}

// summary is one line about an operation: name, phase, progress, step.
func summary(obj *opsv1.CloudOperation) string {
	st := &obj.Status
	phase := string(st.Phase)
	if phase == "" {
		phase = "Waiting"
	}
	parts := []string{obj.Name, phase}
	if st.Progress != nil {
		parts = append(parts, fmt.Sprintf("%d%%", *st.Progress))
	}
	if st.CurrentStep != "" {
		parts = append(parts, "step "+st.CurrentStep)
	}
	if obj.IsSuspended() {
		parts = append(parts, "(suspended)")
	}
	return strings.Join(parts, " ")
}
