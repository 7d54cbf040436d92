package version

import (
	"runtime"
	"runtime/debug"
	"strings"
	"testing"
)

func TestCommitFromBuildInfo(t *testing.T) {
	for _, tc := range []struct {
		name     string
		settings []debug.BuildSetting
		want     string
	}{
		{"no vcs", nil, "unknown"},
		{"clean", []debug.BuildSetting{{Key: "vcs.revision", Value: "abc"}, {Key: "vcs.modified", Value: "false"}}, "abc"},
		{"dirty", []debug.BuildSetting{{Key: "vcs.revision", Value: "abc"}, {Key: "vcs.modified", Value: "true"}}, "abc-dirty"},
	} {
		if got := commitFromBuildInfo(tc.settings, "unknown"); got != tc.want {
			t.Errorf("%s: got %q, want %q", tc.name, got, tc.want)
		}
	}
}

func TestStampedWins(t *testing.T) {
	defer func(v, c string) { Version, Commit = v, c }(Version, Commit)
	Version, Commit = "v1.2.3", "0123abc"
	got := String("manager")
	want := "manager v1.2.3 (commit 0123abc, " + runtime.Version() + ")"
	if got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
	if !strings.HasPrefix(Get().GoVersion, "go") {
		t.Fatalf("GoVersion %q", Get().GoVersion)
	}
}
