package plugin

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/spf13/cobra"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	"sigs.k8s.io/controller-runtime/pkg/client"

	opsv1 "github.com/cloudop/cloudop/api/v1alpha1"
)

type sourcesOptions struct {
	*options
}

func newSourcesCommand(o *options) *cobra.Command {
	s := &sourcesOptions{options: o}
	cmd := &cobra.Command{
		Use:     "sources [NAME...]",
		Aliases: []string{"source", "src"},
		Short:   "Show CloudOperationSources with the operations they discovered",
		Long: `Show each CloudOperationSource: its resource, its last list and what it
found, then the CloudOperations it created as a tree (phase, operation
ID, progress, current step), the most recently started first. Without names, every source of
the namespace (-A: of every namespace).`,
		Example: `  kubectl cloudop sources
  kubectl cloudop sources bcs-blockchain`,
		RunE: func(cmd *cobra.Command, args []string) error {
			return s.run(cmd.Context(), args)
		},
	}
	cmd.Flags().BoolVarP(&o.allNamespaces, "all-namespaces", "A", false, "List CloudOperationSources in every namespace")
	return cmd
}

func (s *sourcesOptions) run(ctx context.Context, names []string) error {
	if len(names) > 0 && s.allNamespaces {
		return fmt.Errorf("names are looked up in one namespace: drop -A")
	}
	c, ns, err := s.target()
	if err != nil {
		return err
	}
	var sources []opsv1.CloudOperationSource
	if len(names) > 0 {
		for _, name := range names {
			var src opsv1.CloudOperationSource
			if err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, &src); err != nil {
				return err
			}
			sources = append(sources, src)
		}
	} else {
		var list opsv1.CloudOperationSourceList
		var opts []client.ListOption
		if !s.allNamespaces {
			opts = append(opts, client.InNamespace(ns))
		}
		if err := c.List(ctx, &list, opts...); err != nil {
			return err
		}
		if len(list.Items) == 0 {
			_, err := fmt.Fprintf(s.rt.ErrOut, "No CloudOperationSources found.\n")
			return err
		}
		sources = list.Items
	}
	r := s.renderer()
	for i := range sources {
		var ops opsv1.CloudOperationList
		if err := c.List(ctx, &ops, client.InNamespace(sources[i].Namespace), client.MatchingLabels{opsv1.LabelSource: sources[i].Name}); err != nil {
			return err
		}
		if i > 0 {
			fmt.Fprintln(s.rt.Out)
		}
		if _, err := io.WriteString(s.rt.Out, strings.Join(r.Source(&sources[i], ops.Items), "\n")+"\n"); err != nil {
			return err
		}
	}
	return nil
}

// compareNil orders present (false) before missing (true).
func compareNil(aMissing, bMissing bool) int {
	if aMissing {
		return 1
	}
	if bMissing {
		return -1
	}
	return 0
}

// Source draws a source and the CloudOperations it created, the most
// recently started first.
func (r *Renderer) Source(src *opsv1.CloudOperationSource, ops []opsv1.CloudOperation) []string {
	var lines []string
	add := func(s string) { lines = append(lines, r.fit(s)) }
	name := src.Name
	if r.ShowNamespace {
		name = src.Namespace + "/" + name
	}
	add(r.paint(ansiBold, name) + "  " + string(src.Spec.Service) + " " + src.Spec.Resource())

	ready := apimeta.FindStatusCondition(src.Status.Conditions, opsv1.ConditionReady)
	switch {
	case ready == nil:
		add(r.paint(ansiDim, "○ not listed yet"))
	case ready.Status == "True":
		add(r.paint(ansiGreen, "✓ "+ready.Reason) + "  " + src.Status.Message)
	default:
		add(r.paint(ansiRed, "✗ "+ready.Reason) + "  " + ready.Message)
	}
	if src.Status.LastListTime != nil {
		add("  " + r.paint(ansiDim, "last list "+r.timestamp(src.Status.LastListTime)))
	}
	// Newest start (the cloud's) first; never started last; then by name.
	slices.SortFunc(ops, func(a, b opsv1.CloudOperation) int {
		as, bs := a.Status.StartTime, b.Status.StartTime
		switch {
		case as != nil && bs != nil && !as.Equal(bs):
			return bs.Compare(as.Time)
		case (as == nil) != (bs == nil):
			return compareNil(as == nil, bs == nil)
		}
		return strings.Compare(a.Name, b.Name)
	})
	nameCells := 0
	for _, o := range ops {
		nameCells = max(nameCells, cells(o.Name))
	}
	for i, o := range ops {
		prefix := "├─ "
		if i == len(ops)-1 {
			prefix = "└─ "
		}
		opID := o.Spec.OperationID
		if src.Spec.Service == opsv1.SourceCTS {
			// A trace source mirrors jobs of several services.
			opID = string(o.Spec.Service) + " " + opID
		}
		look := lookOf(o.Status.Phase)
		phase := string(o.Status.Phase)
		if phase == "" {
			phase = "New"
		}
		line := "  " + prefix + r.paint(look.color, look.symbol) + " " + padRight(o.Name, nameCells) + "  " +
			r.paint(look.color, padRight(phase, 9)) + "  " + opID

		if o.Status.Progress != nil {
			line += fmt.Sprintf("  %d%%", *o.Status.Progress)
		}
		if o.Status.CurrentStep != "" && !o.Status.Phase.IsTerminal() {
			line += "  step " + o.Status.CurrentStep
		}
		add(line)
	}
	if len(ops) == 0 {
		add("  (no operations mirrored)")
	}
	return lines
}
