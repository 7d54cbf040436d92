package waiter

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// rootModule is cloudop's operator module. A consumer needs only its API
// module; importing the root would bring the Huawei SDK and the rest of the
// operator's requirements into the consumer's version selection.
const (
	rootModule = "github.com/cloudop/cloudop"
	apiModule  = rootModule + "/api"
)

// TestModuleGraph checks that this example depends on cloudop only through
// the API module: no package of the root module is imported, neither the
// root module nor the Huawei SDK is in the module graph, and the API module
// and controller-runtime are.
func TestModuleGraph(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the go command; skipped with -short")
	}
	if out, err := goCmd("mod", "tidy", "-diff"); err != nil {
		t.Errorf("go.mod or go.sum is not tidy (go mod tidy -diff: %v):\n%s", err, out)
	}
	mods := map[string]bool{}
	for _, line := range goList(t, "-m", "all") {
		path := strings.Fields(line)[0]
		mods[path] = true
		if path == rootModule || strings.HasPrefix(path, "github.com/huaweicloud/") {
			t.Errorf("module graph holds %s: the example must need only the API module and controller-runtime", line)
		}
	}
	for _, want := range []string{apiModule, "sigs.k8s.io/controller-runtime"} {
		if !mods[want] {
			t.Errorf("module graph lacks %s", want)
		}
	}

	imported := false
	for _, pkg := range goList(t, "-deps", "-test", "./...") {
		if strings.HasPrefix(pkg, rootModule+"/") && !strings.HasPrefix(pkg, apiModule+"/") && !strings.HasPrefix(pkg, rootModule+"/examples/") {
			t.Errorf("imports %s, a package of the root module", pkg)
		}
		imported = imported || strings.HasPrefix(pkg, apiModule+"/")
	}
	if !imported {
		t.Errorf("no package of %s among the dependencies", apiModule)
	}
}

// goList runs `go list` in this module, with go.mod as committed, and
// returns its output lines.
func goList(t *testing.T, args ...string) []string {
	t.Helper()
	out, err := goCmd(append([]string{"list", "-mod=readonly"}, args...)...)
	if err != nil {
		t.Fatalf("go list %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return strings.Split(strings.TrimSpace(out), "\n")
}

// goCmd runs the go command (go test puts its own first on PATH) in this
// module, without a workspace or a toolchain switch, and returns its
// standard output, or its standard error when it fails.
func goCmd(args ...string) (string, error) {
	cmd := exec.Command("go", args...)
	cmd.Env = append(os.Environ(), "GOWORK=off", "GOTOOLCHAIN=local")
	out, err := cmd.Output()
	if ee, ok := err.(*exec.ExitError); ok {
		return string(out) + string(ee.Stderr), err
	}
	return string(out), err
}
