package plugin

import (
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	opsv1 "github.com/cloudop/cloudop/api/v1alpha1"
)

// Timeline bounds: the bar area never shrinks below minTimelineCells, nor
// grows past maxTimelineCells; a step's name column past maxTimelineName
// is cut.
const (
	minTimelineCells = 20
	maxTimelineCells = 60
	maxTimelineName  = 28
)

// timelineRow is one step or sub-step on the time axis.
type timelineRow struct {
	name  string
	phase opsv1.Phase
	start *metav1.Time
	end   *metav1.Time
}

// Timeline draws obj's steps as bars on one time axis (a Gantt chart):
// the same header as Render, then an axis from the first start to the
// last end (now, for a running operation), and one row per step and
// sub-step with its bar and duration. Steps that never started (or whose
// service reports no start time) have no bar.
func (r *Renderer) Timeline(obj *opsv1.CloudOperation) []string {
	header := r.Render(&opsv1.CloudOperation{ObjectMeta: obj.ObjectMeta, Spec: obj.Spec, Status: opsv1.CloudOperationStatus{
		Phase: obj.Status.Phase, Progress: obj.Status.Progress, CurrentStep: obj.Status.CurrentStep, ServiceStatus: obj.Status.ServiceStatus,
		StartTime: obj.Status.StartTime, CompletionTime: obj.Status.CompletionTime,
	}})
	rows := timelineRows(obj.Status.Steps)
	from, to, ok := r.span(obj, rows)
	if !ok {
		return append(header, r.fit("  (no step start times: nothing to draw)"))
	}
	nameWidth := 0
	for _, row := range rows {
		nameWidth = max(nameWidth, min(cells(row.name), maxTimelineName))
	}
	// "  " name " " symbol " ▕" bar "▏ " duration
	fixed := 2 + nameWidth + 3 + 2 + 2 + 8
	width := maxTimelineCells
	if r.Width > 0 {
		width = max(minTimelineCells, min(maxTimelineCells, r.Width-fixed))
	}
	col := func(t time.Time) int {
		c := int(float64(width) * float64(t.Sub(from)) / float64(to.Sub(from)))
		return max(0, min(width-1, c))
	}
	// The axis starts above the bar's first cell: after "  ", the name,
	// " ", the symbol, " ▕".
	lines := append(header, r.fit(strings.Repeat(" ", 2+nameWidth+4)+r.axis(from, to, width)))
	for _, row := range rows {
		bar := []rune(strings.Repeat(" ", width))
		took := ""
		if row.start != nil {
			end := to
			if row.end != nil {
				end = row.end.Time
			}
			for c := col(row.start.Time); c <= col(end); c++ {
				bar[c] = '█'
			}
			took = r.duration(row.start, row.end, row.phase)
		}
		look := lookOf(row.phase)
		line := "  " + padRight(cut(row.name, maxTimelineName), nameWidth) + " " + r.paint(look.color, look.symbol) +
			" ▕" + r.paint(look.color, string(bar)) + "▏ " + took
		lines = append(lines, r.fit(strings.TrimRight(line, " ")))
	}
	return lines
}

// timelineRows flattens steps and their sub-steps, sub-steps indented.
func timelineRows(steps []opsv1.OperationStep) []timelineRow {
	var rows []timelineRow
	for _, s := range steps {
		rows = append(rows, timelineRow{name: s.Name, phase: s.Phase, start: s.StartTime, end: s.CompletionTime})
		for _, sub := range s.SubSteps {
			rows = append(rows, timelineRow{name: "  " + sub.Name, phase: sub.Phase, start: sub.StartTime, end: sub.CompletionTime})
		}
	}
	return rows
}

// span is the axis: from the earliest start (the operation's or a
// step's) to the latest end, or now while the operation runs; false when
// nothing has started or the span is empty.
func (r *Renderer) span(obj *opsv1.CloudOperation, rows []timelineRow) (from, to time.Time, ok bool) {
	consider := func(t *metav1.Time, isStart bool) {
		if t == nil {
			return
		}
		if isStart && (from.IsZero() || t.Time.Before(from)) {
			from = t.Time
		}
		if t.After(to) {
			to = t.Time
		}
	}
	for _, row := range rows {
		consider(row.start, true)
		consider(row.end, false)
	}
	if len(rows) == 0 || from.IsZero() {
		return from, to, false
	}
	consider(obj.Status.StartTime, true)
	consider(obj.Status.CompletionTime, false)
	if !obj.Status.Phase.IsTerminal() && r.Now != nil && r.Now().After(to) {
		to = r.Now()
	}
	return from, to, to.After(from)
}

// axis labels the start, the middle and the end of the span over width
// cells, as clock times: with seconds for spans under ten minutes, with
// the date for spans that cross midnight.
func (r *Renderer) axis(from, to time.Time, width int) string {
	loc := r.Location
	if loc == nil {
		loc = time.Local
	}
	layout := "15:04"
	switch {
	case from.In(loc).YearDay() != to.In(loc).YearDay() || from.In(loc).Year() != to.In(loc).Year():
		layout = "01-02 15:04"
	case to.Sub(from) < 10*time.Minute:
		layout = "15:04:05"
	}
	first, mid, last := from.In(loc).Format(layout), from.Add(to.Sub(from)/2).In(loc).Format(layout), to.In(loc).Format(layout)
	line := []rune(strings.Repeat(" ", width))
	place := func(at int, s string) {
		for i, c := range []rune(s) {
			if at+i < len(line) {
				line[at+i] = c
			}
		}
	}
	place(0, first)
	if width >= 3*len(layout)+4 {
		place(width/2-len(mid)/2, mid)
	}
	if width >= 2*len(layout)+2 {
		place(width-len(last), last)
	}
	return strings.TrimRight(string(line), " ")
}
