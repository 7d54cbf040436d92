package manager

import (
	"strings"
	"testing"

	"sigs.k8s.io/controller-runtime/pkg/metrics"

	"github.com/cloudop/cloudop/internal/version"
)

// TestBuildInfoMetric: the manager's registry serves cloudop_build_info 1
// with exactly the version, commit and Go version labels of this build.
func TestBuildInfoMetric(t *testing.T) {
	families, err := metrics.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	want := version.Get()
	for _, f := range families {
		if f.GetName() != "cloudop_build_info" {
			continue
		}
		if len(f.GetMetric()) != 1 {
			t.Fatalf("%d series, want 1", len(f.GetMetric()))
		}
		m := f.GetMetric()[0]
		if v := m.GetGauge().GetValue(); v != 1 {
			t.Errorf("value %v, want 1", v)
		}
		got := map[string]string{}
		for _, l := range m.GetLabel() {
			got[l.GetName()] = l.GetValue()
		}
		wantLabels := map[string]string{"version": want.Version, "commit": want.Commit, "goversion": want.GoVersion}
		if len(got) != len(wantLabels) {
			t.Errorf("labels %v, want %v", got, wantLabels)
		}
		for k, v := range wantLabels {
			if got[k] != v {
				t.Errorf("label %s=%q, want %q", k, got[k], v)
			}
		}
		return
	}
	t.Fatal("cloudop_build_info not registered on metrics.Registry")
}

// TestNewBuildInfoLabels: stamped values reach the labels as given.
func TestNewBuildInfoLabels(t *testing.T) {
	g := newBuildInfo(version.Info{Version: "v1.2.3", Commit: "abc", GoVersion: "go1.26.8"})
	d := g.Desc().String()
	for _, s := range []string{`cloudop_build_info`, `version="v1.2.3"`, `commit="abc"`, `goversion="go1.26.8"`} {
		if !strings.Contains(d, s) {
			t.Errorf("desc %s lacks %s", d, s)
		}
	}
}
