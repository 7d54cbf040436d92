package chart

import (
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/cloudop/cloudop/internal/manager"
)

// helpFlag is a flag line of Go's flag package's -help output.
var helpFlag = regexp.MustCompile(`(?m)^  -([a-z0-9-]+)`)

// TestManagerAcceptsRenderedArgs: every flag each value set passes to a
// manager container is one the manager built from this tree accepts, so a
// chart value can never render an argument that makes the pod crash-loop.
func TestManagerAcceptsRenderedArgs(t *testing.T) {
	needHelm(t)
	bin := filepath.Join(t.TempDir(), "manager")
	if out, err := exec.Command("go", "build", "-o", bin, "github.com/cloudop/cloudop/cmd/manager").CombinedOutput(); err != nil {
		t.Fatalf("building the manager: %v\n%s", err, out)
	}
	// -help exits 0 and prints the flags to stderr.
	help, _ := exec.Command(bin, "-help").CombinedOutput()
	known := map[string]bool{}
	for _, m := range helpFlag.FindAllStringSubmatch(string(help), -1) {
		known[m[1]] = true
	}
	if !known["watch-namespace"] || !known["metrics-secure"] {
		t.Fatalf("could not read the manager's flags from -help:\n%s", help)
	}
	for _, set := range valueSets {
		for _, d := range ofKind(decode(t, render(t, release, namespace, valuesFile(set))), "Deployment") {
			timings := map[string]time.Duration{
				"leader-election-lease-duration": manager.DefaultLeaseDuration,
				"leader-election-renew-deadline": manager.DefaultRenewDeadline,
				"leader-election-retry-period":   manager.DefaultRetryPeriod,
			}
			for _, arg := range managerArgs(t, d) {
				name, value, _ := strings.Cut(strings.TrimLeft(arg, "-"), "=")
				if !strings.HasPrefix(arg, "-") || !known[name] {
					t.Errorf("value set %s: Deployment %s passes %q, which the manager does not accept", set, d.GetName(), arg)
				}
				if _, ok := timings[name]; ok {
					v, err := time.ParseDuration(value)
					if err != nil {
						t.Errorf("value set %s: %s: %v", set, arg, err)
					}
					timings[name] = v
				}
			}
			// The manager refuses leader timings that let two leaders
			// overlap: a value set must not render a crash loop.
			if err := manager.CheckLeaderTimings(timings["leader-election-lease-duration"], timings["leader-election-renew-deadline"], timings["leader-election-retry-period"]); err != nil {
				t.Errorf("value set %s: Deployment %s: %v", set, d.GetName(), err)
			}
		}
	}
}
