// Package docs keeps the package tables of README.md and docs/engine.md
// true: every Go package in the repository is named in README's layout
// table, and every package of the polling engine (internal/cloud and
// below, and the manager that wires it) in engine.md's.
package docs

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cloudop/cloudop/internal/cloud"
)

// root is the repository root, relative to this package.
const root = "../.."

// skipDirs hold no packages of ours: build output, the tool modules
// (pinned dependencies only) and test inputs.
var skipDirs = map[string]bool{".git": true, "bin": true, "dist": true, "testdata": true, ".demo": true, "hack/tools": true}

// packages lists every directory (slash-separated, relative to the root)
// that holds a .go file.
func packages(t *testing.T) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		rel = filepath.ToSlash(rel)
		if d.IsDir() {
			if skipDirs[d.Name()] || skipDirs[rel] {
				return filepath.SkipDir
			}
			return nil
		}
		if strings.HasSuffix(path, ".go") {
			dir := filepath.ToSlash(filepath.Dir(rel))
			if !slices.Contains(out, dir) {
				out = append(out, dir)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(out) < 20 {
		t.Fatalf("found only %d packages under %s: the walk is wrong", len(out), root)
	}
	return out
}

// tablePaths returns every path a Markdown table's first column names in
// backquotes, with "a/{b,c}" expanded to a/b and a/c and trailing slashes
// dropped.
func tablePaths(t *testing.T, file, heading string) map[string]bool {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(root, file))
	if err != nil {
		t.Fatal(err)
	}
	text := string(data)
	if heading != "" {
		i := strings.Index(text, heading)
		if i < 0 {
			t.Fatalf("%s has no %q", file, heading)
		}
		text = text[i:]
	}
	paths := map[string]bool{}
	cell := regexp.MustCompile("`([^`]+)`")
	brace := regexp.MustCompile(`^(.*)\{([^}]*)\}(.*)$`)
	for _, line := range strings.Split(text, "\n") {
		if !strings.HasPrefix(line, "| `") {
			continue
		}
		first := strings.SplitN(line, "|", 3)[1]
		for _, m := range cell.FindAllStringSubmatch(first, -1) {
			p := strings.TrimSuffix(m[1], "/")
			if b := brace.FindStringSubmatch(p); b != nil {
				for _, alt := range strings.Split(b[2], ",") {
					paths[b[1]+alt+b[3]] = true
				}
				continue
			}
			paths[p] = true
		}
	}
	if len(paths) == 0 {
		t.Fatalf("no package table in %s", file)
	}
	return paths
}

// TestReadmeListsEveryPackage: README's layout table names every package.
func TestReadmeListsEveryPackage(t *testing.T) {
	listed := tablePaths(t, "README.md", "## Layout")
	for _, p := range packages(t) {
		if !listed[p] {
			t.Errorf("README.md's layout table does not name package %s", p)
		}
	}
}

// TestEngineListsEveryEnginePackage: docs/engine.md's package table names
// every package of the polling engine.
func TestEngineListsEveryEnginePackage(t *testing.T) {
	listed := tablePaths(t, "docs/engine.md", "")
	for _, p := range packages(t) {
		engine := p == "internal/manager" || p == "internal/cloud" ||
			(strings.HasPrefix(p, "internal/cloud/") && !strings.HasPrefix(p, "internal/cloud/internal/"))
		if engine && !listed[p] {
			t.Errorf("docs/engine.md's package table does not name package %s", p)
		}
	}
}

// TestProgressDeadlineDefaults: docs/discovery.md's table of default
// progress deadlines names every service of the service table once, with
// its default.
func TestProgressDeadlineDefaults(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(root, "docs", "discovery.md"))
	if err != nil {
		t.Fatal(err)
	}
	row := regexp.MustCompile(`(?m)^\| ([A-Za-z]+) \| ([0-9hms]+) \|`)
	documented := map[cloud.Service]time.Duration{}
	for _, m := range row.FindAllStringSubmatch(string(b), -1) {
		d, err := time.ParseDuration(m[2])
		if err != nil {
			t.Errorf("%s: %v", m[1], err)
			continue
		}
		if _, dup := documented[cloud.Service(m[1])]; dup {
			t.Errorf("%s is documented twice", m[1])
		}
		documented[cloud.Service(m[1])] = d
	}
	for _, d := range cloud.Descriptors {
		got, ok := documented[d.Name]
		switch {
		case !ok:
			t.Errorf("docs/discovery.md gives no default progress deadline for %s (%v)", d.Name, d.ProgressDeadline)
		case got != d.ProgressDeadline:
			t.Errorf("docs/discovery.md gives %s %v, the service table %v", d.Name, got, d.ProgressDeadline)
		}
		delete(documented, d.Name)
	}
	for svc := range documented {
		t.Errorf("docs/discovery.md lists %s, which the service table does not have", svc)
	}
}
