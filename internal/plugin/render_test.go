package plugin

import (
	"strings"
	"testing"
	"time"

	opsv1 "github.com/cloudop/cloudop/api/v1alpha1"
)

func TestCellsAndCut(t *testing.T) {
	tests := []struct {
		in        string
		cells     int
		cutTo     int
		wantAfter string
	}{
		{"abc", 3, 5, "abc"},
		{"abcdef", 6, 4, "abc…"},
		{"创建快照", 8, 5, "创建…"},
		{"e\u0301t\u00e9", 3, 3, "e\u0301t\u00e9"},
		{"abc", 3, 0, ""},
	}
	for _, tt := range tests {
		if got := cells(tt.in); got != tt.cells {
			t.Errorf("cells(%q) = %d, want %d", tt.in, got, tt.cells)
		}
		if got := cut(tt.in, tt.cutTo); got != tt.wantAfter {
			t.Errorf("cut(%q, %d) = %q, want %q", tt.in, tt.cutTo, got, tt.wantAfter)
		}
	}
}

// TestRenderColorAndWidth checks that colour adds escape sequences without
// changing the text, and that every line fits the width with or without
// colour.
func TestRenderColorAndWidth(t *testing.T) {
	obj := readFixture(t, "ecs-create-servers-failed")
	for _, width := range []int{40, 60, 100} {
		plain := &Renderer{Width: width, Now: func() time.Time { return fixedNow }, Location: time.UTC}
		color := *plain
		color.Color = true
		p, c := plain.Render(obj), color.Render(obj)
		if len(p) != len(c) {
			t.Fatalf("width %d: %d plain lines, %d coloured", width, len(p), len(c))
		}
		if !strings.Contains(strings.Join(c, "\n"), ansiRed+"✗") {
			t.Errorf("width %d: the failed phase is not red:\n%q", width, c)
		}
		for i := range p {
			if cells(p[i]) > width || cells(stripANSI(c[i])) > width {
				t.Errorf("width %d, line %d is too wide: %q / %q", width, i, p[i], stripANSI(c[i]))
			}
			if strings.Contains(p[i], "\x1b") {
				t.Errorf("width %d: escape sequence without colour: %q", width, p[i])
			}
		}
	}
}

func TestProgressBar(t *testing.T) {
	r := &Renderer{}
	for _, tt := range []struct {
		p    int32
		want string
	}{
		{0, strings.Repeat("░", 20) + "   0%"},
		{25, strings.Repeat("█", 5) + strings.Repeat("░", 15) + "  25%"},
		{100, strings.Repeat("█", 20) + " 100%"},
		{140, strings.Repeat("█", 20) + " 100%"},
	} {
		if got := r.progressBar(tt.p, ansiGreen); got != tt.want {
			t.Errorf("progressBar(%d) = %q, want %q", tt.p, got, tt.want)
		}
	}
}

// TestRenderNotPolledYet checks an object the manager has not seen.
func TestRenderNotPolledYet(t *testing.T) {
	obj := &opsv1.CloudOperation{}
	obj.Name, obj.Spec.Service, obj.Spec.OperationID = "fresh", opsv1.ServiceRDS, "j1"
	got := strings.Join((&Renderer{}).Render(obj), "\n")
	if got != "fresh  RDS j1\n· Waiting for first poll" {
		t.Errorf("got %q", got)
	}
}
