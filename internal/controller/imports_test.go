package controller

import (
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strings"
	"testing"

	. "github.com/onsi/gomega"
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
	g := NewWithT(t)
	files, err := filepath.Glob("*.go")
	g.Expect(err).NotTo(HaveOccurred())
	checked := 0
	var refused []string
	for _, file := range files {
		if strings.HasSuffix(file, "_test.go") {
			continue
		}
		src, err := os.ReadFile(file)
		g.Expect(err).NotTo(HaveOccurred())
		f, err := parser.ParseFile(token.NewFileSet(), file, src, parser.ImportsOnly)
		g.Expect(err).NotTo(HaveOccurred(), file)
		checked++
		for _, imp := range f.Imports {
			path := strings.Trim(imp.Path.Value, `"`)
			if strings.HasPrefix(path, "github.com/cloudop/cloudop/") && !allowedImports[path] {
				refused = append(refused, file+" imports "+path)
			}
		}
	}
	g.Expect(checked).To(BeNumerically(">", 0), "no controller source found")
	g.Expect(refused).To(BeEmpty(), "the controller may import only %v", allowedImports)
}
