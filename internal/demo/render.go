package demo

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	opsv1 "github.com/cloudop/cloudop/api/v1alpha1"
)

// Printer shows CloudOperations as they change, like `kubectl get -w`:
// a header once, then a row for each object whose visible columns changed.
type Printer struct {
	out     io.Writer
	start   time.Time
	printed map[string]string
}

// NewPrinter returns a printer writing to out.
func NewPrinter(out io.Writer) *Printer {
	return &Printer{out: out, start: time.Now(), printed: map[string]string{}}
}

// rowFormat fixes column widths, since rows are printed a few at a time
// and a tabwriter would align each batch differently.
const rowFormat = "%-6s %-24s %-7s %-9s %-8s %-32s %-5s %s\n"

// Update prints the rows that changed since the last call.
func (p *Printer) Update(items []opsv1.CloudOperation) {
	if len(p.printed) == 0 {
		fmt.Fprintf(p.out, rowFormat, "TIME", "NAME", "SERVICE", "PHASE", "PROGRESS", "STEP", "READY", "REASON")
	}
	for i := range items {
		row := rowOf(&items[i])
		key := strings.Join(row, "|")
		if p.printed[items[i].Name] == key {
			continue
		}
		p.printed[items[i].Name] = key
		fmt.Fprintf(p.out, rowFormat, append([]any{elapsed(time.Since(p.start))}, toAny(row)...)...)
	}
}

func rowOf(o *opsv1.CloudOperation) []string {
	progress := "-"
	if o.Status.Progress != nil {
		progress = fmt.Sprintf("%d%%", *o.Status.Progress)
	}
	ready, reason := "-", "-"
	if c := o.GetCondition(opsv1.ConditionReady); c != nil {
		ready, reason = string(c.Status), c.Reason
	}
	return []string{o.Name, string(o.Spec.Service), orDash(string(o.Status.Phase)), progress, orDash(o.Status.CurrentStep), ready, reason}
}

func toAny(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}

// Summary prints one line per operation: outcome, steps done, and the
// service's message for failures, or the source that discovered it.
func Summary(out io.Writer, items []opsv1.CloudOperation) {
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tSERVICE\tPHASE\tSTEPS\tTOOK\tDETAIL")
	for i := range items {
		o := &items[i]
		done := 0
		for _, s := range o.Status.Steps {
			if s.Phase == opsv1.PhaseSucceeded {
				done++
			}
		}
		took := "-"
		if o.Status.CompletionTime != nil {
			took = elapsed(o.Status.CompletionTime.Sub(o.CreationTimestamp.Time))
		}
		detail := ""
		if c := o.GetCondition(opsv1.ConditionReady); c != nil && c.Status != "True" {
			detail = c.Message
		} else if src := o.Labels[opsv1.LabelSource]; src != "" {
			detail = "discovered by CloudOperationSource " + src
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d/%d\t%s\t%s\n", o.Name, o.Spec.Service, o.Status.Phase, done, len(o.Status.Steps), took, detail)
	}
	_ = tw.Flush()
}

func elapsed(d time.Duration) string {
	if d < 0 {
		d = 0
	}
	return d.Truncate(time.Second).String()
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
