package manager

import (
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"k8s.io/client-go/rest"

	"github.com/cloudop/cloudop/internal/cloud"
	"github.com/cloudop/cloudop/internal/controller"
)

// TestAdaptersCoverTheTable: the manager has a constructor for exactly the
// service table's families, NewRouter routes every service to one
// adapter per family, and the only services with aligned polls are those
// whose list window checkAlignSpread knows (BCS's).
func TestAdaptersCoverTheTable(t *testing.T) {
	var families []cloud.Family
	for _, d := range cloud.Descriptors {
		if !slices.Contains(families, d.Family) {
			families = append(families, d.Family)
		}
		if d.AlignedPolls && d.Family != cloud.FamilyBCS {
			t.Errorf("%s has aligned polls, but checkAlignSpread knows only the BCS list window", d.Name)
		}
	}
	if got := slices.Sorted(maps.Keys(adapters)); !slices.Equal(got, slices.Sorted(slices.Values(families))) {
		t.Fatalf("adapters has constructors for %v, the service table's families are %v", got, families)
	}
	r, err := NewRouter(Options{})
	if err != nil {
		t.Fatal(err)
	}
	if got := slices.Sorted(maps.Keys(r.Services)); !slices.Equal(got, slices.Sorted(slices.Values(cloud.Services))) {
		t.Errorf("the router serves %v, the table lists %v", got, cloud.Services)
	}
	byFamily := map[cloud.Family]cloud.Fetcher{}
	for _, d := range cloud.Descriptors {
		f := r.Services[d.Name]
		if first, ok := byFamily[d.Family]; ok && first != f {
			t.Errorf("%s: another adapter than the rest of family %s", d.Name, d.Family)
		}
		byFamily[d.Family] = f
	}
}

// TestNewRefusesAlignSpreadBeyondListWindow: aligned polls spread further
// past their tick than one BCS list answer is kept would each cost a list
// call, so the manager does not start with such a policy; within the
// window (the default one when --bcs-list-window is zero or negative) it
// does.
func TestNewRefusesAlignSpreadBeyondListWindow(t *testing.T) {
	tests := []struct {
		name   string
		spread time.Duration
		window time.Duration
		ok     bool
	}{
		{name: "defaults", spread: controller.DefaultPollPolicy().AlignSpread, ok: true},
		{name: "spread equals the window", spread: 3 * time.Second, window: 3 * time.Second, ok: true},
		{name: "spread beyond the window", spread: 3 * time.Second, window: 2 * time.Second},
		{name: "spread beyond the default window", spread: 6 * time.Second},
		{name: "negative window means the default", spread: 5 * time.Second, window: -time.Second, ok: true},
		{name: "no alignment", spread: 0, window: time.Millisecond, ok: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			policy := controller.DefaultPollPolicy()
			policy.AlignSpread = tt.spread
			o := Options{Policy: &policy, BCSListWindow: tt.window}
			if err := checkAlignSpread(policy, o); (err == nil) != tt.ok {
				t.Fatalf("checkAlignSpread: %v, want ok %v", err, tt.ok)
			}
			if tt.ok {
				return
			}
			_, err := New(&rest.Config{Host: "https://127.0.0.1:1"}, o)
			if err == nil || !strings.Contains(err.Error(), "--bcs-list-window") {
				t.Errorf("New: %v, want a refusal naming --bcs-list-window", err)
			}
		})
	}
}
