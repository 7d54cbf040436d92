package controller

import (
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// allowedImports are the packages of this module the controller may use:
// the model, workload identity's types and the read cache. Cloud calls
// come through the injected Observer, never transport or an adapter.
var allowedImports = map[string]bool{
	"github.com/cloudop/cloudop/api/v1alpha1":            true,
	"github.com/cloudop/cloudop/internal/cloud":          true,
	"github.com/cloudop/cloudop/internal/cloud/identity": true,
	"github.com/cloudop/cloudop/internal/readcache":      true,
}

// TestControllerImports holds the controller's non-test code to the
// imports README.md and docs/engine.md promise.
func TestControllerImports(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	checked := 0
	for _, file := range files {
		if strings.HasSuffix(file, "_test.go") {
			continue
		}
		src, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		f, err := parser.ParseFile(token.NewFileSet(), file, src, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		checked++
		for _, imp := range f.Imports {
			path := strings.Trim(imp.Path.Value, `"`)
			if strings.HasPrefix(path, "github.com/cloudop/cloudop/") && !allowedImports[path] {
				t.Errorf("%s imports %s; the controller may import only %v", file, path, allowedImports)
			}
		}
	}
	if checked == 0 {
		t.Fatal("no controller source found")
	}
}
