package main

import (
	"archive/tar"
	"bufio"
	"compress/gzip"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"sigs.k8s.io/yaml"
)

// tools returns the kubectl and helm binaries make tools builds, skipping
// the test when they are missing outside CI.
func tools(t *testing.T) (kubectl, helm string) {
	t.Helper()
	kubectl = filepath.Join(os.Getenv("KUBEBUILDER_ASSETS"), "kubectl")
	helm = os.Getenv("HELM")
	for _, bin := range []string{kubectl, helm} {
		if _, err := exec.LookPath(bin); bin == "" || err != nil {
			if os.Getenv("CI") != "" {
				t.Fatalf("tool %q missing in CI: make tools builds kubectl and helm into bin/", bin)
			}
			t.Skipf("tool %q missing (KUBEBUILDER_ASSETS and HELM come from make): run make test", bin)
		}
	}
	return kubectl, helm
}

// writeLayouts writes a small two-platform index per image, as make image
// would, and returns the index digests.
func writeLayouts(t *testing.T, dir string) map[string]v1.ImageIndex {
	t.Helper()
	out := map[string]v1.ImageIndex{}
	for _, image := range Images {
		var idx v1.ImageIndex = empty.Index
		for _, arch := range []string{"amd64", "arm64"} {
			img, err := random.Image(256, 1)
			if err != nil {
				t.Fatal(err)
			}
			idx = mutate.AppendManifests(idx, mutate.IndexAddendum{Add: img, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: arch}}})
		}
		if _, err := layout.Write(filepath.Join(dir, image), idx); err != nil {
			t.Fatal(err)
		}
		out[image] = idx
	}
	return out
}

// TestBuild: the bundle holds every promised file, install.yaml and the
// packaged chart pin the manager's index digest, each archive reads back as
// the image it claims, and SHA256SUMS checks out.
func TestBuild(t *testing.T) {
	kubectl, helm := tools(t)
	layouts := t.TempDir()
	indexes := writeLayouts(t, layouts)
	c := Config{Version: "v0.0.0-test", LayoutDir: layouts, OutDir: filepath.Join(t.TempDir(), "bundle"),
		Repository: DefaultRepository, RepoRoot: "../..", Kubectl: kubectl, Helm: helm}
	files, err := Build(c)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"SHA256SUMS",
		"cloudop-0.0.0-test.tgz",
		"cloudop-cloudsim_v0.0.0-test_linux-amd64.docker.tar",
		"cloudop-cloudsim_v0.0.0-test_linux-arm64.docker.tar",
		"cloudop-cloudsim_v0.0.0-test_oci.tar",
		"cloudop-manager_v0.0.0-test_linux-amd64.docker.tar",
		"cloudop-manager_v0.0.0-test_linux-arm64.docker.tar",
		"cloudop-manager_v0.0.0-test_oci.tar",
		"install.yaml",
	}
	got := slices.Sorted(slices.Values(files))
	if !slices.Equal(got, want) {
		t.Fatalf("bundle files:\n got %q\nwant %q", got, want)
	}
	managerDigest, _ := indexes["manager"].Digest()
	pinned := "ghcr.io/cloudop/cloudop-manager@" + managerDigest.String()

	t.Run("install.yaml pins the manager digest", func(t *testing.T) {
		data, err := os.ReadFile(filepath.Join(c.OutDir, "install.yaml"))
		if err != nil {
			t.Fatal(err)
		}
		kinds := map[string]int{}
		var images []string
		for _, doc := range strings.Split(string(data), "\n---\n") {
			var obj struct {
				Kind string `json:"kind"`
				Spec struct {
					Template struct {
						Spec struct {
							Containers []struct{ Image string } `json:"containers"`
						} `json:"spec"`
					} `json:"template"`
				} `json:"spec"`
			}
			if err := yaml.Unmarshal([]byte(doc), &obj); err != nil {
				t.Fatalf("install.yaml document does not parse: %v", err)
			}
			kinds[obj.Kind]++
			for _, ctr := range obj.Spec.Template.Spec.Containers {
				images = append(images, ctr.Image)
			}
		}
		for _, kind := range []string{"CustomResourceDefinition", "ClusterRole", "ClusterRoleBinding", "ServiceAccount", "Deployment", "PodDisruptionBudget"} {
			if kinds[kind] == 0 {
				t.Errorf("install.yaml has no %s (kinds: %v)", kind, kinds)
			}
		}
		if !slices.Equal(images, []string{pinned}) {
			t.Errorf("Deployment images = %q, want [%s]", images, pinned)
		}
	})

	t.Run("chart pins the manager digest at the release version", func(t *testing.T) {
		chart := readTarGz(t, filepath.Join(c.OutDir, "cloudop-0.0.0-test.tgz"))
		if !strings.Contains(chart["cloudop/values.yaml"], `digest: "`+managerDigest.String()+`"`) {
			t.Errorf("packaged values.yaml does not pin %s", managerDigest)
		}
		meta := chart["cloudop/Chart.yaml"]
		for _, line := range []string{"version: 0.0.0-test", "appVersion: v0.0.0-test"} {
			if !strings.Contains(meta, line) {
				t.Errorf("packaged Chart.yaml lacks %q:\n%s", line, meta)
			}
		}
	})

	t.Run("archives read back as the built images", func(t *testing.T) {
		for image, idx := range indexes {
			manifest, _ := idx.IndexManifest()
			for _, desc := range manifest.Manifests {
				path := filepath.Join(c.OutDir, "cloudop-"+image+"_v0.0.0-test_linux-"+desc.Platform.Architecture+".docker.tar")
				img, err := tarball.ImageFromPath(path, nil)
				if err != nil {
					t.Fatal(err)
				}
				if d, _ := img.Digest(); d != desc.Digest {
					t.Errorf("%s: digest %s, want %s", filepath.Base(path), d, desc.Digest)
				}
			}
			unpacked := t.TempDir()
			untar(t, filepath.Join(c.OutDir, "cloudop-"+image+"_v0.0.0-test_oci.tar"), unpacked)
			read, err := layout.ImageIndexFromPath(unpacked)
			if err != nil {
				t.Fatal(err)
			}
			want, _ := idx.Digest()
			if got, _ := read.Digest(); got != want {
				t.Errorf("%s OCI archive: index digest %s, want %s", image, got, want)
			}
		}
	})

	t.Run("SHA256SUMS matches every file", func(t *testing.T) {
		f, err := os.Open(filepath.Join(c.OutDir, "SHA256SUMS"))
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		listed := 0
		for sc := bufio.NewScanner(f); sc.Scan(); listed++ {
			sum, file, ok := strings.Cut(sc.Text(), "  ")
			if !ok {
				t.Fatalf("malformed line %q", sc.Text())
			}
			if got, _ := sha256File(filepath.Join(c.OutDir, file)); got != sum {
				t.Errorf("%s: sha256 %s, SHA256SUMS says %s", file, got, sum)
			}
		}
		if listed != len(want)-1 {
			t.Errorf("SHA256SUMS lists %d files, want %d", listed, len(want)-1)
		}
	})
}

// TestBuildRejects: bad input stops the release with a message saying what
// to fix, before anything is written.
func TestBuildRejects(t *testing.T) {
	for _, tc := range []struct {
		name, version, layouts, want string
	}{
		{"version without v", "0.1.0", "", "want vMAJOR.MINOR.PATCH"},
		{"version not semver", "v1.2", "", "want vMAJOR.MINOR.PATCH"},
		{"no layouts", "v0.1.0", "missing", "run make image first"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "bundle")
			layouts := filepath.Join(t.TempDir(), tc.layouts)
			_, err := Build(Config{Version: tc.version, LayoutDir: layouts, OutDir: out, Repository: DefaultRepository, RepoRoot: "../..", Kubectl: "false", Helm: "false"})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Build error = %v, want one containing %q", err, tc.want)
			}
		})
	}
}

func readTarGz(t *testing.T, path string) map[string]string {
	t.Helper()
	_, _, files := tarGz(t, path)
	return files
}

// tarGz reads a gzipped tar archive: its gzip header, its entries'
// headers in order, and their contents by name.
func tarGz(t *testing.T, path string) (gzip.Header, []*tar.Header, map[string]string) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	gz, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	var headers []*tar.Header
	files := map[string]string{}
	tr := tar.NewReader(gz)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return gz.Header, headers, files
		}
		if err != nil {
			t.Fatal(err)
		}
		data, _ := io.ReadAll(tr)
		headers = append(headers, h)
		files[h.Name] = string(data)
	}
}

func untar(t *testing.T, archive, dir string) {
	t.Helper()
	f, err := os.Open(archive)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(dir, filepath.FromSlash(h.Name))
		if h.Typeflag == tar.TypeDir {
			if err := os.MkdirAll(path, 0o755); err != nil {
				t.Fatal(err)
			}
			continue
		}
		data, _ := io.ReadAll(tr)
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// TestReproducible: two builds of the same input, a second apart (helm
// stamps archives with the time of packaging), give the same bytes: the
// same SHA256SUMS; every chart entry carries the source date.
func TestReproducible(t *testing.T) {
	kubectl, helm := tools(t)
	layouts := t.TempDir()
	writeLayouts(t, layouts)
	epoch := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	build := func() (sums string, chart string) {
		c := Config{Version: "v0.0.0-test", LayoutDir: layouts, OutDir: filepath.Join(t.TempDir(), "bundle"),
			Repository: DefaultRepository, RepoRoot: "../..", Kubectl: kubectl, Helm: helm, SourceDateEpoch: epoch}
		if _, err := Build(c); err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(filepath.Join(c.OutDir, "SHA256SUMS"))
		if err != nil {
			t.Fatal(err)
		}
		return string(b), filepath.Join(c.OutDir, "cloudop-0.0.0-test.tgz")
	}
	first, chart := build()
	time.Sleep(1100 * time.Millisecond) // tar keeps whole seconds: a later second would show
	second, _ := build()
	if first != second {
		t.Errorf("two builds differ:\n%s\n%s", first, second)
	}
	gzHeader, headers, _ := tarGz(t, chart)
	if !gzHeader.ModTime.IsZero() || gzHeader.Name != "" {
		t.Errorf("gzip header carries name %q, time %v", gzHeader.Name, gzHeader.ModTime)
	}
	for _, h := range headers {
		if !h.ModTime.Equal(epoch) {
			t.Errorf("%s: time %v, want the source date %v", h.Name, h.ModTime, epoch)
		}
	}
	entries := len(headers)
	if entries < 10 {
		t.Errorf("the chart archive has %d entries", entries)
	}
}

// TestDisruptionBudgets: a Deployment of more than one replica gets a
// PodDisruptionBudget of minAvailable 1 over its own selector, named and
// labelled after it; one of a single replica, or without replicas (one),
// gets none, as it would block every node drain.
func TestDisruptionBudgets(t *testing.T) {
	const manifest = `apiVersion: v1
kind: Namespace
metadata:
  name: cloudop-system
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: cloudop-manager
  namespace: cloudop-system
  labels:
    app.kubernetes.io/name: cloudop
spec:
  replicas: 2
  selector:
    matchLabels:
      app.kubernetes.io/name: cloudop
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: single
  namespace: cloudop-system
spec:
  replicas: 1
  selector:
    matchLabels: {app: single}
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: defaulted
  namespace: cloudop-system
spec:
  selector:
    matchLabels: {app: defaulted}
`
	out, err := disruptionBudgets([]byte(manifest))
	if err != nil {
		t.Fatal(err)
	}
	var pdbs []map[string]any
	for _, doc := range strings.Split(string(out), "---\n") {
		var obj map[string]any
		if err := yaml.Unmarshal([]byte(doc), &obj); err != nil {
			t.Fatalf("%v:\n%s", err, doc)
		}
		if obj != nil {
			pdbs = append(pdbs, obj)
		}
	}
	if len(pdbs) != 1 {
		t.Fatalf("%d PodDisruptionBudgets, want 1 (for cloudop-manager only):\n%s", len(pdbs), out)
	}
	want := map[string]any{
		"apiVersion": "policy/v1",
		"kind":       "PodDisruptionBudget",
		"metadata": map[string]any{
			"name":      "cloudop-manager",
			"namespace": "cloudop-system",
			"labels":    map[string]any{"app.kubernetes.io/name": "cloudop"},
		},
		"spec": map[string]any{
			"minAvailable": float64(1),
			"selector":     map[string]any{"matchLabels": map[string]any{"app.kubernetes.io/name": "cloudop"}},
		},
	}
	if d := cmp.Diff(want, pdbs[0]); d != "" {
		t.Errorf("PodDisruptionBudget (-want +got):\n%s", d)
	}
	if out, err := disruptionBudgets([]byte("apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: x}\nspec: {replicas: 3}\n")); err == nil {
		t.Errorf("a Deployment without selector gave %s, want an error", out)
	}
}
