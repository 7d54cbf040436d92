package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

// TestImports checks that the plugin reads CloudOperations only through the
// API module: none of the manager's packages is in its build graph.
func TestImports(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").Output()
	if err != nil {
		t.Fatalf("go list -deps: %v", err)
	}
	deps := strings.Fields(string(out))
	if !slices.Contains(deps, "github.com/cloudop/cloudop/api/v1alpha1") {
		t.Fatalf("the plugin does not import the API types; go list -deps says:\n%s", out)
	}
	forbidden := []string{
		"github.com/cloudop/cloudop/internal/controller",
		"github.com/cloudop/cloudop/internal/cloud",
		"github.com/cloudop/cloudop/internal/manager",
	}
	for _, dep := range deps {
		for _, f := range forbidden {
			if dep == f || strings.HasPrefix(dep, f+"/") {
				t.Errorf("the plugin depends on %s", dep)
			}
		}
	}
}

// krewPlugin is the part of Krew's Plugin (v1alpha2) the manifest must fill.
type krewPlugin struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Metadata   struct {
		Name string `json:"name"`
	} `json:"metadata"`
	Spec struct {
		Version          string `json:"version"`
		Homepage         string `json:"homepage"`
		ShortDescription string `json:"shortDescription"`
		Description      string `json:"description"`
		Caveats          string `json:"caveats"`
		Platforms        []struct {
			Selector struct {
				MatchLabels map[string]string `json:"matchLabels"`
			} `json:"selector"`
			URI    string `json:"uri"`
			Sha256 string `json:"sha256"`
			Files  []struct {
				From string `json:"from"`
				To   string `json:"to"`
			} `json:"files"`
			Bin string `json:"bin"`
		} `json:"platforms"`
	} `json:"spec"`
}

// TestKrewManifest checks plugins/krew/cloudop.yaml against Krew's
// structure: unknown fields are errors, and each of linux and darwin on
// amd64 and arm64 has one platform that installs kubectl-cloudop.
func TestKrewManifest(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "..", "plugins", "krew", "cloudop.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var p krewPlugin
	if err := yaml.UnmarshalStrict(b, &p); err != nil {
		t.Fatalf("manifest: %v", err)
	}
	if p.APIVersion != "krew.googlecontainertools.github.com/v1alpha2" || p.Kind != "Plugin" {
		t.Errorf("apiVersion %q, kind %q", p.APIVersion, p.Kind)
	}
	// The plugin's name is what follows "kubectl-" in the binary's name.
	if p.Metadata.Name != "cloudop" {
		t.Errorf("metadata.name %q, want cloudop", p.Metadata.Name)
	}
	if !regexp.MustCompile(`^v\d+\.\d+\.\d+$`).MatchString(p.Spec.Version) {
		t.Errorf("spec.version %q is not vMAJOR.MINOR.PATCH", p.Spec.Version)
	}
	if p.Spec.ShortDescription == "" || len(p.Spec.ShortDescription) > 80 || p.Spec.Description == "" || p.Spec.Homepage == "" {
		t.Errorf("shortDescription (%d chars, at most 80), description and homepage must be set", len(p.Spec.ShortDescription))
	}
	hex64 := regexp.MustCompile(`^[0-9a-f]{64}$`)
	seen := map[string]bool{}
	for i, pl := range p.Spec.Platforms {
		osArch := pl.Selector.MatchLabels["os"] + "/" + pl.Selector.MatchLabels["arch"]
		if seen[osArch] {
			t.Errorf("platform %d: %s listed twice", i, osArch)
		}
		seen[osArch] = true
		if pl.Bin != "kubectl-cloudop" {
			t.Errorf("%s: bin %q, want kubectl-cloudop", osArch, pl.Bin)
		}
		if !strings.HasPrefix(pl.URI, "https://") || !strings.Contains(pl.URI, strings.ReplaceAll(osArch, "/", "_")) || !strings.Contains(pl.URI, p.Spec.Version) {
			t.Errorf("%s: uri %q is not an https archive of this version and platform", osArch, pl.URI)
		}
		if !hex64.MatchString(pl.Sha256) {
			t.Errorf("%s: sha256 %q is not 64 hex digits", osArch, pl.Sha256)
		}
		if !slices.ContainsFunc(pl.Files, func(f struct {
			From string `json:"from"`
			To   string `json:"to"`
		}) bool {
			return f.From == pl.Bin
		}) {
			t.Errorf("%s: files do not install the binary %s", osArch, pl.Bin)
		}
	}
	for _, want := range []string{"linux/amd64", "linux/arm64", "darwin/amd64", "darwin/arm64"} {
		if !seen[want] {
			t.Errorf("no platform for %s", want)
		}
	}
}
