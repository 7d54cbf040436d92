package main

import (
	"archive/tar"
	"bytes"
	"context"
	"debug/elf"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// standinSpec builds testdata/standin, a tiny main that prints the same
// --version line, through the full pipeline: cross-compiling the real
// manager for two platforms takes minutes on 2 cores. make image's own
// reproducibility is checked by running it twice (docs/install.md).
func standinSpec(t *testing.T) Spec {
	return Spec{
		Name: "manager", Package: "./hack/imagebuild/testdata/standin", ModuleDir: "../..",
		Version: "v0.0.0-test", Commit: "0123456789abcdef", Epoch: time.Unix(1700000000, 0).UTC(),
		CACerts: caBundle(t), Platforms: DefaultPlatforms,
	}
}

func caBundle(t *testing.T) string {
	const p = "/etc/ssl/certs/ca-certificates.crt"
	if _, err := os.Stat(p); err != nil {
		t.Skipf("no CA bundle at %s (install Debian's ca-certificates): %v", p, err)
	}
	return p
}

// TestReproducibleIndex: two builds from the same inputs, in different
// directories, write the same index digest; the layout on disk says so too.
func TestReproducibleIndex(t *testing.T) {
	ctx := context.Background()
	s := standinSpec(t)
	var digests []v1.Hash
	for i := 0; i < 2; i++ {
		dir := t.TempDir()
		d, err := WriteLayout(ctx, s, filepath.Join(dir, "manager"), t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		lp, err := layout.FromPath(filepath.Join(dir, "manager"))
		if err != nil {
			t.Fatal(err)
		}
		// layout.Write stores the index itself as index.json: its digest
		// is the index digest (what crane push publishes).
		root, err := lp.ImageIndex()
		if err != nil {
			t.Fatal(err)
		}
		if rd, err := root.Digest(); err != nil || rd != d {
			t.Fatalf("index.json digest %s (%v), want %s", rd, err, d)
		}
		m, err := root.IndexManifest()
		if err != nil {
			t.Fatal(err)
		}
		if len(m.Manifests) != 2 {
			t.Fatalf("index.json holds %d manifests, want 2", len(m.Manifests))
		}
		digests = append(digests, d)
	}
	if digests[0] != digests[1] {
		t.Fatalf("two builds of the same inputs differ: %s vs %s", digests[0], digests[1])
	}
	s.Version = "v0.0.1-test"
	other, err := WriteLayout(ctx, s, filepath.Join(t.TempDir(), "manager"), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if other == digests[0] {
		t.Fatal("another version gave the same digest: the stamp is not in the image")
	}
}

// TestImageContents: each platform's image runs /manager as 65532 with no
// shell, and holds a static binary for its architecture and the CA bundle.
func TestImageContents(t *testing.T) {
	s := standinSpec(t)
	idx, err := BuildIndex(context.Background(), s, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	if len(im.Manifests) != 2 {
		t.Fatalf("%d manifests, want 2", len(im.Manifests))
	}
	ca, _ := os.ReadFile(s.CACerts)
	machine := map[string]elf.Machine{"amd64": elf.EM_X86_64, "arm64": elf.EM_AARCH64}
	for _, desc := range im.Manifests {
		p := desc.Platform
		if p == nil || p.OS != "linux" {
			t.Fatalf("descriptor platform %+v", p)
		}
		img, err := idx.Image(desc.Digest)
		if err != nil {
			t.Fatal(err)
		}
		cf, err := img.ConfigFile()
		if err != nil {
			t.Fatal(err)
		}
		if cf.Architecture != p.Architecture || cf.OS != "linux" {
			t.Errorf("%s: config says %s/%s", p.Architecture, cf.OS, cf.Architecture)
		}
		if cf.Config.User != "65532:65532" {
			t.Errorf("%s: user %q", p.Architecture, cf.Config.User)
		}
		if strings.Join(cf.Config.Entrypoint, " ") != "/manager" || len(cf.Config.Cmd) != 0 {
			t.Errorf("%s: entrypoint %q cmd %q", p.Architecture, cf.Config.Entrypoint, cf.Config.Cmd)
		}
		if !cf.Created.Time.Equal(s.Epoch) {
			t.Errorf("%s: created %v, want %v", p.Architecture, cf.Created, s.Epoch)
		}
		files := imageFiles(t, img, s.Epoch)
		for f := range files {
			if strings.HasPrefix(f, "bin/") || strings.HasPrefix(f, "usr/") || strings.HasSuffix(f, "/sh") || f == "sh" {
				t.Errorf("%s: image holds %s: no shell or userland wanted", p.Architecture, f)
			}
		}
		if !bytes.Equal(files["etc/ssl/certs/ca-certificates.crt"], ca) {
			t.Errorf("%s: CA bundle missing or different", p.Architecture)
		}
		if !strings.Contains(string(files["etc/passwd"]), "nonroot:x:65532:65532:") {
			t.Errorf("%s: /etc/passwd lacks nonroot: %q", p.Architecture, files["etc/passwd"])
		}
		bin, ok := files["manager"]
		if !ok {
			t.Fatalf("%s: no /manager", p.Architecture)
		}
		f, err := elf.NewFile(bytes.NewReader(bin))
		if err != nil {
			t.Fatalf("%s: /manager is not ELF: %v", p.Architecture, err)
		}
		if f.Machine != machine[p.Architecture] {
			t.Errorf("%s: /manager is for %v", p.Architecture, f.Machine)
		}
		for _, prog := range f.Progs {
			if prog.Type == elf.PT_INTERP || prog.Type == elf.PT_DYNAMIC {
				t.Errorf("%s: /manager is dynamically linked (%v)", p.Architecture, prog.Type)
			}
		}
	}
}

// imageFiles reads every layer's tar: regular files by path (no leading
// slash), directories as nil; every entry must carry the fixed mtime.
func imageFiles(t *testing.T, img v1.Image, epoch time.Time) map[string][]byte {
	t.Helper()
	layers, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	files := map[string][]byte{}
	for _, l := range layers {
		rc, err := l.Uncompressed()
		if err != nil {
			t.Fatal(err)
		}
		tr := tar.NewReader(rc)
		for {
			h, err := tr.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			if !h.ModTime.Equal(epoch) {
				t.Errorf("%s: mtime %v, want %v", h.Name, h.ModTime, epoch)
			}
			name := strings.TrimPrefix(h.Name, "/")
			if h.Typeflag == tar.TypeReg {
				b, err := io.ReadAll(tr)
				if err != nil {
					t.Fatal(err)
				}
				files[name] = b
			} else {
				files[name] = nil
			}
		}
		rc.Close()
	}
	return files
}

// TestDockerRunVersion: the real manager's linux/amd64 image, loaded into
// the local Docker engine (nothing pulled), answers --version as its
// entrypoint. Skipped when no Docker engine answers.
func TestDockerRunVersion(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: skipping the docker run of the real manager image")
	}
	if err := exec.Command("docker", "version").Run(); err != nil {
		t.Skipf("no Docker engine answers `docker version` (%v): skipping docker load/run of the manager image", err)
	}
	s := Spec{
		Name: "manager", Package: "./cmd/manager", ModuleDir: "../..",
		Version: "v0.0.0-dockertest", Commit: "feedface", Epoch: time.Unix(1700000000, 0).UTC(),
		CACerts: caBundle(t), Platforms: DefaultPlatforms[:1],
	}
	base, err := baseLayer(s)
	if err != nil {
		t.Fatal(err)
	}
	img, err := BuildImage(context.Background(), s, s.Platforms[0], base, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	const ref = "cloudop-manager:test"
	tag, err := name.NewTag(ref)
	if err != nil {
		t.Fatal(err)
	}
	tarPath := filepath.Join(t.TempDir(), "manager.tar")
	if err := tarball.WriteToFile(tarPath, tag, img); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("docker", "load", "-i", tarPath).CombinedOutput(); err != nil {
		t.Fatalf("docker load: %v\n%s", err, out)
	}
	t.Cleanup(func() { exec.Command("docker", "rmi", "-f", ref).Run() })
	out, err := exec.Command("docker", "run", "--rm", "--network", "none", ref, "--version").CombinedOutput()
	if err != nil {
		t.Fatalf("docker run: %v\n%s", err, out)
	}
	want := "manager v0.0.0-dockertest (commit feedface, "
	if !strings.HasPrefix(strings.TrimSpace(string(out)), want) {
		t.Fatalf("docker run %s --version printed %q, want a line starting %q", ref, out, want)
	}
	// The user from the image config, not root.
	out, err = exec.Command("docker", "image", "inspect", "--format", "{{.Config.User}}", ref).CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != "65532:65532" {
		t.Fatalf("docker image inspect user: %q %v", out, err)
	}
}
