package plugin

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	opsv1 "github.com/cloudop/cloudop/api/v1alpha1"
)

type waitOptions struct {
	*options
	timeout time.Duration
}

func newWaitCommand(o *options) *cobra.Command {
	w := &waitOptions{options: o}
	cmd := &cobra.Command{
		Use:   "wait NAME...",
		Short: "Wait until CloudOperations are Ready; fail fast when one fails",
		Long: `Wait until every named CloudOperation has condition Ready=True for its
current generation, like kubectl wait --for=condition=Ready, but return at
once, with exit code 2 and the condition's reason and message, when one of
them fails, is cancelled or stalls, instead of waiting for --timeout.`,
		Example: `  kubectl cloudop wait cce-cluster-upgrade rds-create --timeout 2h`,
		Args:    cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return w.run(cmd.Context(), args)
		},
	}
	cmd.Flags().DurationVar(&w.timeout, "timeout", 30*time.Second, "Give up after this long (exit code 3); 0 waits forever")
	return cmd
}

func (w *waitOptions) run(ctx context.Context, names []string) error {
	c, ns, err := w.target()
	if err != nil {
		return err
	}
	if w.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, w.timeout)
		defer cancel()
	}
	pending := map[string]bool{}
	for _, n := range names {
		pending[n] = true
	}
	checked := false
	obs := &observer{
		client:    c,
		namespace: ns,
		listed: func(items []opsv1.CloudOperation) error {
			if checked {
				return nil
			}
			checked = true
			for n := range pending {
				if !slices.ContainsFunc(items, func(o opsv1.CloudOperation) bool { return o.Name == n }) {
					return fmt.Errorf("cloudoperation %q not found in namespace %q", n, ns)
				}
			}
			return nil
		},
		changed: func(obj *opsv1.CloudOperation) (bool, error) {
			if !pending[obj.Name] {
				return false, nil
			}
			err := outcome(obj, true)
			switch {
			case errors.Is(err, errNotYet):
				return false, nil
			case err != nil:
				return true, err
			}
			delete(pending, obj.Name)
			fmt.Fprintf(w.rt.Out, "cloudoperation.%s/%s condition met\n", opsv1.GroupVersion.Group, obj.Name)
			return len(pending) == 0, nil
		},
	}
	if len(names) == 1 {
		obs.fields = nameSelector(names[0])
	}
	err = obs.run(ctx)
	if errors.Is(err, context.DeadlineExceeded) && w.timeout > 0 {
		left := make([]string, 0, len(pending))
		for n := range pending {
			left = append(left, n)
		}
		slices.Sort(left)
		return timedOut("timed out after %s waiting for condition Ready on cloudoperation %s", w.timeout, strings.Join(left, ", "))
	}
	return err
}
