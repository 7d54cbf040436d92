// Package apimodule checks that github.com/cloudop/cloudop/api stays cheap to
// import: a consumer module that uses the API types and helpers builds, and
// its module graph holds none of the operator's heavy requirements.
package apimodule

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// forbidden are module path prefixes that must never reach a consumer of
// the API module: they belong to the operator (root module), not its API.
var forbidden = []string{
	"sigs.k8s.io/controller-runtime",
	"k8s.io/client-go",
	"github.com/huaweicloud/",
}

const consumerMain = `package main

import (
	"fmt"

	v1alpha1 "github.com/cloudop/cloudop/api/v1alpha1"
)

func main() {
	op := &v1alpha1.CloudOperation{}
	op.Status.Phase = v1alpha1.PhaseCancelled
	fmt.Println(op.IsTerminal(), op.IsReady(), op.IsFailed(), op.IsStalled(), v1alpha1.GroupVersion.String())
}
`

func TestConsumerModuleGraph(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a module; skipped with -short")
	}
	apiDir, err := filepath.Abs(filepath.Join("..", "..", "api"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(apiDir, "go.mod")); err != nil {
		t.Fatalf("api/ is not a module: %v", err)
	}
	dir := t.TempDir()
	goMod := fmt.Sprintf("module example.com/consumer\n\ngo 1.26\n\nrequire github.com/cloudop/cloudop/api v0.0.0\n\nreplace github.com/cloudop/cloudop/api => %s\n", apiDir)
	for name, text := range map[string]string{"go.mod": goMod, "main.go": consumerMain} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}

	// The same module cache and proxy as the go command running this test
	// (go test puts its GOROOT/bin first on PATH); no workspace, no
	// toolchain switch.
	env := append(os.Environ(), "GOFLAGS=-mod=mod", "GOTOOLCHAIN=local", "GOWORK=off")
	for _, key := range []string{"GOMODCACHE", "GOPROXY"} {
		env = append(env, key+"="+goCmd(t, dir, os.Environ(), "env", key))
	}

	goCmd(t, dir, env, "mod", "tidy")
	goCmd(t, dir, env, "build", "-o", filepath.Join(dir, "consumer"), ".")
	out, err := exec.Command(filepath.Join(dir, "consumer")).CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != "true false true false ops.cloudop.dev/v1alpha1" {
		t.Fatalf("consumer printed %q (%v)", out, err)
	}

	graph := goCmd(t, dir, env, "list", "-m", "all")
	t.Logf("consumer module graph (go list -m all):\n%s", graph)
	mods := map[string]bool{}
	for _, line := range strings.Split(graph, "\n") {
		path := strings.Fields(line + " ")[0]
		mods[path] = true
		for _, bad := range forbidden {
			if strings.HasPrefix(path, bad) {
				t.Errorf("consumer module graph holds %s: the API module must require only k8s.io/apimachinery and what it needs", line)
			}
		}
	}
	for _, want := range []string{"github.com/cloudop/cloudop/api", "k8s.io/apimachinery"} {
		if !mods[want] {
			t.Errorf("consumer module graph lacks %s", want)
		}
	}
}

func goCmd(t *testing.T, dir string, env []string, args ...string) string {
	t.Helper()
	cmd := exec.Command("go", args...)
	cmd.Dir, cmd.Env = dir, env
	out, err := cmd.Output()
	if err != nil {
		stderr := ""
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = string(ee.Stderr)
		}
		t.Fatalf("go %s: %v\n%s%s", strings.Join(args, " "), err, out, stderr)
	}
	return strings.TrimSpace(string(out))
}
