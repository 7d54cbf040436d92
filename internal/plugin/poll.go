package plugin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	opsv1 "github.com/cloudop/cloudop/api/v1alpha1"
)

type pollOptions struct {
	*options
	timeout time.Duration
}

func newPollCommand(o *options) *cobra.Command {
	p := &pollOptions{options: o}
	cmd := &cobra.Command{
		Use:   "poll NAME",
		Short: "Ask the manager to poll a CloudOperation now and show the result",
		Long: `Set the ` + opsv1.AnnotationRequestedPoll + ` annotation to a new value
and wait until the manager has handled it (it echoes the value in
status.lastHandledPollRequest), then show the tree. A suspended operation is
polled too, once.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return p.run(cmd.Context(), args[0])
		},
	}
	cmd.Flags().DurationVar(&p.timeout, "timeout", time.Minute, "Give up waiting for the manager after this long (exit code 3)")
	return cmd
}

func (p *pollOptions) run(ctx context.Context, name string) error {
	c, ns, err := p.target()
	if err != nil {
		return err
	}
	// The time says when; the random part keeps two requests in the same
	// instant (two users, a coarse clock) apart, since only a change of
	// value requests a poll.
	request := fmt.Sprintf("%s-%06x", p.rt.Now().UTC().Format(time.RFC3339Nano), rand.Uint32()&0xffffff)
	if err := patchAnnotation(ctx, c, ns, name, opsv1.AnnotationRequestedPoll, &request); err != nil {
		return err
	}
	if p.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, p.timeout)
		defer cancel()
	}
	var handled *opsv1.CloudOperation
	obs := &observer{
		client:    c,
		namespace: ns,
		fields:    nameSelector(name),
		changed: func(obj *opsv1.CloudOperation) (bool, error) {
			if obj.Status.LastHandledPollRequest != request {
				return false, nil
			}
			handled = obj.DeepCopy()
			return true, nil
		},
	}
	if err := obs.run(ctx); err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			return timedOut("the manager did not handle the poll request within %s (is it running?)", p.timeout)
		}
		return err
	}
	_, err = io.WriteString(p.rt.Out, strings.Join(p.renderer().Render(handled), "\n")+"\n")
	return err
}

func newSuspendCommand(o *options, suspend bool) *cobra.Command {
	use, short := "suspend NAME...", "Stop polling CloudOperations; their status is kept"
	if !suspend {
		use, short = "resume NAME...", "Resume polling suspended CloudOperations"
	}
	return &cobra.Command{
		Use:   use,
		Short: short,
		Long: short + `.

suspend sets the ` + opsv1.AnnotationSuspend + ` annotation to "true"; resume removes it.`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, ns, err := o.target()
			if err != nil {
				return err
			}
			var value *string
			verb := "resumed"
			if suspend {
				t := "true"
				value, verb = &t, "suspended"
			}
			for _, name := range args {
				if err := patchAnnotation(cmd.Context(), c, ns, name, opsv1.AnnotationSuspend, value); err != nil {
					return err
				}
				fmt.Fprintf(o.rt.Out, "cloudoperation.%s/%s %s\n", opsv1.GroupVersion.Group, name, verb)
			}
			return nil
		},
	}
}

// patchAnnotation sets (or, with nil, removes) one annotation with a JSON
// merge patch, so it neither conflicts with nor overwrites the manager's
// writes.
func patchAnnotation(ctx context.Context, c client.Client, ns, name, key string, value *string) error {
	patch, err := json.Marshal(map[string]any{"metadata": map[string]any{"annotations": map[string]*string{key: value}}})
	if err != nil {
		return err
	}
	obj := &opsv1.CloudOperation{}
	obj.Namespace, obj.Name = ns, name
	return c.Patch(ctx, obj, client.RawPatch(types.MergePatchType, patch))
}
