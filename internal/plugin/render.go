package plugin

import (
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/duration"

	opsv1 "github.com/cloudop/cloudop/api/v1alpha1"
)

// ANSI SGR sequences; used only when colour is on.
const (
	ansiReset  = "\x1b[0m"
	ansiBold   = "\x1b[1m"
	ansiDim    = "\x1b[2m"
	ansiRed    = "\x1b[31m"
	ansiGreen  = "\x1b[32m"
	ansiYellow = "\x1b[33m"
	ansiBlue   = "\x1b[34m"
	ansiCyan   = "\x1b[36m"
)

// progressBarCells is how many cells the progress bar spans.
const progressBarCells = 20

// maxMessageLines bounds how many lines a wrapped message takes.
const maxMessageLines = 3

// Renderer draws CloudOperations as trees.
type Renderer struct {
	// Color turns on ANSI colours.
	Color bool
	// Width is the number of terminal cells a line may take; longer lines
	// are cut with "…". Zero means no limit.
	Width int
	// Now is the clock that running durations are measured against.
	Now func() time.Time
	// Location is the time zone start times are shown in.
	Location *time.Location
	// ShowNamespace puts the namespace before the name (for -A).
	ShowNamespace bool
}

// phaseLook is how a phase is drawn.
type phaseLook struct {
	symbol, color string
}

var phaseLooks = map[opsv1.Phase]phaseLook{
	opsv1.PhaseSucceeded: {"✓", ansiGreen},
	opsv1.PhaseFailed:    {"✗", ansiRed},
	opsv1.PhaseCancelled: {"⊘", ansiYellow},
	opsv1.PhaseRunning:   {"●", ansiCyan},
	opsv1.PhasePending:   {"○", ansiDim},
	opsv1.PhaseUnknown:   {"?", ansiYellow},
}

func lookOf(p opsv1.Phase) phaseLook {
	if l, ok := phaseLooks[p]; ok {
		return l
	}
	return phaseLook{"·", ansiDim} // not polled yet
}

func (r *Renderer) paint(color, s string) string {
	if !r.Color || color == "" || s == "" {
		return s
	}
	return color + s + ansiReset
}

// Render returns the tree of one operation, one string per line, without
// trailing newlines.
func (r *Renderer) Render(obj *opsv1.CloudOperation) []string {
	var lines []string
	add := func(s string) { lines = append(lines, r.fit(s)) }
	st := &obj.Status

	name := obj.Name
	if r.ShowNamespace {
		name = obj.Namespace + "/" + name
	}
	kind := string(obj.Spec.Service)
	if obj.Spec.OperationType != "" {
		kind += " " + string(obj.Spec.OperationType)
	}
	add(r.paint(ansiBold, name) + "  " + kind + " " + obj.Spec.OperationID)

	phase := st.Phase
	phaseWord := string(phase)
	if phaseWord == "" {
		phaseWord = "Waiting for first poll"
	}
	look := lookOf(phase)
	head := r.paint(look.color, look.symbol+" "+phaseWord)
	if st.Progress != nil {
		head += "  " + r.progressBar(*st.Progress, look.color)
	}
	if st.CurrentStep != "" && !(phase == opsv1.PhaseSucceeded || phase == opsv1.PhaseCancelled) {
		head += "  step " + st.CurrentStep
	}
	if st.ServiceStatus != "" {
		head += "  " + r.paint(ansiDim, "("+st.ServiceStatus+")")
	}
	add(head)

	if times := r.times(st.StartTime, st.CompletionTime, phase); times != "" {
		if st.EstimatedCompletionTime != nil && !phase.IsTerminal() {
			// From earlier runs of the same steps (status.estimatedCompletionTime).
			times += r.paint(ansiDim, " · expected end "+r.timestamp(st.EstimatedCompletionTime))
		}
		add("  " + times)
	}
	for _, l := range r.notes(obj) {
		add("  " + l)
	}
	if st.Message != "" && phase.IsFailed() && !failedStepSays(st.Steps, st.Message) {
		for _, l := range r.wrap(st.Message, 2) {
			add("  " + r.paint(look.color, l))
		}
	}
	lines = append(lines, r.steps(st.Steps)...)
	if len(st.Resources) > 0 {
		ids := make([]string, 0, len(st.Resources))
		for _, res := range st.Resources {
			ids = append(ids, res.Type+" "+res.ID)
		}
		add("  resources: " + strings.Join(ids, ", "))
	}
	return lines
}

// failedStepSays reports whether a failed step's or sub-step's message,
// which the tree shows under that step, is part of msg: the operation's
// message then only repeats it.
func failedStepSays(steps []opsv1.OperationStep, msg string) bool {
	says := func(s opsv1.StepStatus) bool {
		return s.Phase.IsFailed() && s.Message != "" && strings.Contains(msg, s.Message)
	}
	for _, s := range steps {
		if says(s.StepStatus) {
			return true
		}
		for _, sub := range s.SubSteps {
			if says(sub) {
				return true
			}
		}
	}
	return false
}

// notes are the conditions worth a line: why polling stalled or paused,
// and transient trouble, which phase and steps do not show.
func (r *Renderer) notes(obj *opsv1.CloudOperation) []string {
	var out []string
	if obj.IsSuspended() {
		out = append(out, r.paint(ansiYellow, "⏸ polling suspended (kubectl cloudop resume "+obj.Name+")"))
	}
	ready := obj.GetCondition(opsv1.ConditionReady)
	if ready == nil || ready.Status == metav1.ConditionTrue {
		return out
	}
	switch ready.Reason {
	case opsv1.ReasonProgressing, opsv1.ReasonPending, opsv1.ReasonInProgress, opsv1.ReasonSucceeded,
		opsv1.ReasonFailed, opsv1.ReasonCancelled, opsv1.ReasonResumable, opsv1.ReasonSuspended:
		// The phase line says it already.
		if ready.Reason == opsv1.ReasonResumable {
			out = append(out, r.paint(ansiYellow, "↻ the service can resume this operation"))
		}
		return out
	}
	out = append(out, r.paint(ansiYellow, "⚠ "+ready.Reason+": "+ready.Message))
	return out
}

// times is "started … · took …" for an operation.
func (r *Renderer) times(start, end *metav1.Time, phase opsv1.Phase) string {
	if start == nil {
		return ""
	}
	s := "started " + r.timestamp(start)
	if d := r.duration(start, end, phase); d != "" {
		if end != nil {
			s += " · took " + d
		} else {
			s += " · running for " + d
		}
	}
	return r.paint(ansiDim, s)
}

func (r *Renderer) timestamp(t *metav1.Time) string {
	loc := r.Location
	if loc == nil {
		loc = time.Local
	}
	return t.In(loc).Format("2006-01-02 15:04:05")
}

// duration is end−start, or now−start while still running; empty when
// neither applies.
func (r *Renderer) duration(start, end *metav1.Time, phase opsv1.Phase) string {
	if start == nil {
		return ""
	}
	var d time.Duration
	switch {
	case end != nil:
		d = end.Sub(start.Time)
	case phase == opsv1.PhaseRunning && r.Now != nil:
		d = r.Now().Sub(start.Time)
	default:
		return ""
	}
	if d < 0 {
		return ""
	}
	return duration.HumanDuration(d)
}

func (r *Renderer) progressBar(p int32, color string) string {
	p = max(0, min(100, p))
	full := int(p) * progressBarCells / 100
	bar := r.paint(color, strings.Repeat("█", full)) + r.paint(ansiDim, strings.Repeat("░", progressBarCells-full))
	return bar + fmt.Sprintf(" %3d%%", p)
}

// stepRow is one step or sub-step in the table under the header.
type stepRow struct {
	prefix, cont string // tree drawing before the step, and under it
	step         opsv1.StepStatus
}

func (r *Renderer) steps(steps []opsv1.OperationStep) []string {
	var rows []stepRow
	for i, s := range steps {
		last := i == len(steps)-1
		prefix, cont := "├─ ", "│  "
		if last {
			prefix, cont = "└─ ", "   "
		}
		rows = append(rows, stepRow{prefix, cont, s.StepStatus})
		for j, sub := range s.SubSteps {
			subPrefix, subCont := "├─ ", "│  "
			if j == len(s.SubSteps)-1 {
				subPrefix, subCont = "└─ ", "   "
			}
			rows = append(rows, stepRow{cont + subPrefix, cont + subCont, sub})
		}
	}
	// Columns: tree+symbol+name | phase | service word | start | duration.
	nameCells, wordCells := 0, 0
	for _, row := range rows {
		nameCells = max(nameCells, cells(row.prefix)+2+cells(row.step.Name))
		wordCells = max(wordCells, cells(row.step.ServiceStatus))
	}
	// The name column gives way first when the line is too wide.
	const phaseCells, timeCells, durCells = 9, 19, 8
	if r.Width > 0 {
		rest := 2 + 2 + phaseCells + 2 + wordCells + 2 + timeCells + 2 + durCells
		nameCells = max(16, min(nameCells, r.Width-rest))
	}
	var lines []string
	for _, row := range rows {
		s := row.step
		look := lookOf(s.Phase)
		nameRoom := nameCells - cells(row.prefix) - 2
		name := padRight(cut(s.Name, nameRoom), nameRoom)
		line := "  " + row.prefix + r.paint(look.color, look.symbol) + " " + name
		cols := []string{r.paint(look.color, string(s.Phase)) + strings.Repeat(" ", max(0, phaseCells-cells(string(s.Phase)))),
			padRight(s.ServiceStatus, wordCells)}
		if s.StartTime != nil {
			cols = append(cols, r.paint(ansiDim, r.timestamp(s.StartTime)), r.duration(s.StartTime, s.CompletionTime, s.Phase))
		}
		line += "  " + strings.Join(cols, "  ")
		lines = append(lines, r.fit(strings.TrimRight(line, " ")))
		if s.Message != "" && s.Phase.IsFailed() {
			indent := "  " + row.cont + "  "
			for _, l := range r.wrap(s.Message, cells(indent)) {
				lines = append(lines, r.fit(indent+r.paint(look.color, l)))
			}
		}
	}
	return lines
}

// wrap breaks a message into at most maxMessageLines lines that fit after
// an indent of the given cells.
func (r *Renderer) wrap(msg string, indent int) []string {
	msg = strings.Join(strings.Fields(msg), " ")
	room := r.Width - indent
	if r.Width <= 0 || room < 20 {
		return []string{msg}
	}
	var lines []string
	for msg != "" {
		if len(lines) == maxMessageLines-1 {
			lines = append(lines, cut(msg, room))
			break
		}
		if cells(msg) <= room {
			lines = append(lines, msg)
			break
		}
		head := cut(msg, room+1) // room cells and "…"
		head = strings.TrimSuffix(head, "…")
		if i := strings.LastIndexByte(head, ' '); i > room/2 {
			head = head[:i]
		}
		lines = append(lines, head)
		msg = strings.TrimLeft(msg[len(head):], " ")
	}
	return lines
}

// fit cuts a line to the width.
func (r *Renderer) fit(s string) string {
	if r.Width <= 0 || cells(stripANSI(s)) <= r.Width {
		return s
	}
	if !r.Color {
		return cut(s, r.Width)
	}
	return cutANSI(s, r.Width)
}

// padRight pads s with spaces to n cells.
func padRight(s string, n int) string {
	if c := cells(s); c < n {
		return s + strings.Repeat(" ", n-c)
	}
	return s
}

// cut shortens s to at most n cells, ending in "…" when shortened.
func cut(s string, n int) string {
	if cells(s) <= n {
		return s
	}
	if n <= 0 {
		return ""
	}
	var b strings.Builder
	used := 0
	for _, c := range s {
		w := runeCells(c)
		if used+w > n-1 {
			break
		}
		b.WriteRune(c)
		used += w
	}
	return b.String() + "…"
}

// cutANSI is cut for a string with colour sequences, which take no cells;
// it resets the colour after the cut.
func cutANSI(s string, n int) string {
	var b strings.Builder
	used := 0
	for i := 0; i < len(s); {
		if s[i] == '\x1b' {
			j := strings.IndexByte(s[i:], 'm')
			if j < 0 {
				break
			}
			b.WriteString(s[i : i+j+1])
			i += j + 1
			continue
		}
		c, size := utf8.DecodeRuneInString(s[i:])
		w := runeCells(c)
		if used+w > n-1 {
			b.WriteString("…" + ansiReset)
			return b.String()
		}
		b.WriteRune(c)
		used += w
		i += size
	}
	return b.String()
}

func stripANSI(s string) string {
	if !strings.Contains(s, "\x1b") {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\x1b' {
			if j := strings.IndexByte(s[i:], 'm'); j >= 0 {
				i += j
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}
