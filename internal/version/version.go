// Package version tells which build runs. make image stamps Version and
// Commit with -ldflags "-X github.com/cloudop/cloudop/internal/version.Version=…";
// a plain go build leaves the defaults, and Get then falls back to the VCS
// revision Go records in the binary (vcs.revision) when there is one.
package version

import (
	"fmt"
	"runtime"
	"runtime/debug"
)

// Stamped at link time; see the package comment.
var (
	Version = "dev"
	Commit  = "unknown"
)

// Info describes a build.
type Info struct {
	Version   string
	Commit    string
	GoVersion string
}

// Get returns the stamped version and commit, the commit falling back to
// the binary's vcs.revision (with "-dirty" when vcs.modified) when not stamped.
func Get() Info {
	info := Info{Version: Version, Commit: Commit, GoVersion: runtime.Version()}
	if info.Commit == "unknown" {
		if bi, ok := debug.ReadBuildInfo(); ok {
			info.Commit = commitFromBuildInfo(bi.Settings, info.Commit)
		}
	}
	return info
}

func commitFromBuildInfo(settings []debug.BuildSetting, fallback string) string {
	var rev string
	var modified bool
	for _, s := range settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			modified = s.Value == "true"
		}
	}
	if rev == "" {
		return fallback
	}
	if modified {
		rev += "-dirty"
	}
	return rev
}

// String is the --version line: "<program> <version> (commit <commit>, <go version>)".
func String(program string) string {
	i := Get()
	return fmt.Sprintf("%s %s (commit %s, %s)", program, i.Version, i.Commit, i.GoVersion)
}
