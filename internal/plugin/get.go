package plugin

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"sigs.k8s.io/controller-runtime/pkg/client"

	opsv1 "github.com/cloudop/cloudop/api/v1alpha1"
)

// gvk is the CloudOperation's group, version and kind, which the typed
// client leaves out of the objects it returns and printers need.
var gvk = opsv1.GroupVersion.WithKind("CloudOperation")

type getOptions struct {
	*options
	selector string
	timeline bool
	print    *genericclioptions.PrintFlags
}

func newGetCommand(o *options) *cobra.Command {
	g := &getOptions{options: o, print: genericclioptions.NewPrintFlags("")}
	cmd := &cobra.Command{
		Use:   "get [NAME...] [-l SELECTOR]",
		Short: "Show CloudOperations as trees of steps",
		Long: `Show CloudOperations as trees: the phase with a symbol, a progress bar,
the current step, and each step and sub-step with its phase, the service's
own status word, its start time and duration; a failed step's message below
it. --timeline draws the steps instead as bars on one time axis. -o
json|yaml|name prints like kubectl get.`,
		Example: `  kubectl cloudop get cce-cluster-upgrade
  kubectl cloudop get cce-cluster-upgrade --timeline
  kubectl cloudop get -l team=data -A
  kubectl cloudop get cce-cluster-upgrade -o yaml`,
		RunE: func(cmd *cobra.Command, args []string) error {
			return g.run(cmd.Context(), args)
		},
	}
	cmd.Flags().StringVarP(&g.selector, "selector", "l", "", "Label selector, e.g. -l team=data")
	cmd.Flags().BoolVarP(&o.allNamespaces, "all-namespaces", "A", false, "List CloudOperations in every namespace")
	cmd.Flags().BoolVar(&g.timeline, "timeline", false, "Draw the steps as bars on one time axis (a Gantt chart), with the cloud's start and end times")
	g.print.AddFlags(cmd)
	return cmd
}

func (g *getOptions) run(ctx context.Context, names []string) error {
	if len(names) > 0 && g.selector != "" {
		return fmt.Errorf("give names or a selector (-l), not both")
	}
	if len(names) > 0 && g.allNamespaces {
		return fmt.Errorf("names are looked up in one namespace: drop -A")
	}
	c, ns, err := g.target()
	if err != nil {
		return err
	}
	var objs []opsv1.CloudOperation
	if len(names) > 0 {
		for _, name := range names {
			var obj opsv1.CloudOperation
			if err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, &obj); err != nil {
				return err
			}
			objs = append(objs, obj)
		}
	} else {
		objs, err = g.list(ctx, c, ns)
		if err != nil {
			return err
		}
		if len(objs) == 0 {
			where := "in " + ns + " namespace"
			if g.allNamespaces {
				where = "in any namespace"
			}
			_, err := fmt.Fprintf(g.rt.ErrOut, "No CloudOperations found %s.\n", where)
			return err
		}
	}
	if g.print.OutputFormat != nil && *g.print.OutputFormat != "" {
		if g.timeline {
			return fmt.Errorf("--timeline draws a chart: drop -o")
		}
		return printObjects(g.print, g.rt.Out, objs, len(names) == 1)
	}
	r := g.renderer()
	draw := r.Render
	if g.timeline {
		draw = r.Timeline
	}
	for i := range objs {
		if i > 0 {
			fmt.Fprintln(g.rt.Out)
		}
		if _, err := io.WriteString(g.rt.Out, strings.Join(draw(&objs[i]), "\n")+"\n"); err != nil {
			return err
		}
	}
	return nil
}

func (g *getOptions) list(ctx context.Context, c client.Client, ns string) ([]opsv1.CloudOperation, error) {
	var opts []client.ListOption
	if !g.allNamespaces {
		opts = append(opts, client.InNamespace(ns))
	}
	if g.selector != "" {
		sel, err := labels.Parse(g.selector)
		if err != nil {
			return nil, fmt.Errorf("selector %q: %w", g.selector, err)
		}
		opts = append(opts, client.MatchingLabelsSelector{Selector: sel})
	}
	var list opsv1.CloudOperationList
	if err := c.List(ctx, &list, opts...); err != nil {
		return nil, err
	}
	return list.Items, nil
}

// printObjects prints with a kubectl printer (-o json, yaml, name,
// jsonpath=…): one object as itself, several as a v1 List as kubectl does;
// -o name prints each.
func printObjects(pf *genericclioptions.PrintFlags, out io.Writer, objs []opsv1.CloudOperation, single bool) error {
	printer, err := pf.ToPrinter()
	if err != nil {
		return err
	}
	for i := range objs {
		objs[i].SetGroupVersionKind(gvk)
	}
	if single || *pf.OutputFormat == "name" {
		for i := range objs {
			if err := printer.PrintObj(&objs[i], out); err != nil {
				return err
			}
		}
		return nil
	}
	list := &metav1.List{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "List"}}
	for i := range objs {
		raw, err := json.Marshal(&objs[i])
		if err != nil {
			return err
		}
		list.Items = append(list.Items, runtime.RawExtension{Raw: raw})
	}
	return printer.PrintObj(list, out)
}
