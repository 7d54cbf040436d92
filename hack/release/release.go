package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// DefaultRepository is where released images are published; config/manager
// and the chart's values name the manager image under it.
const DefaultRepository = "ghcr.io/cloudop"

// Images are the image layouts a release ships, by layout directory name.
var Images = []string{"manager", "cloudsim"}

// Config says what to bundle and where.
type Config struct {
	// Version is the release version, vMAJOR.MINOR.PATCH[-PRE].
	Version string
	// LayoutDir holds one OCI layout per image (make image's dist/).
	LayoutDir string
	// OutDir receives the bundle; it is emptied first.
	OutDir string
	// Repository is the registry path the images will be pushed under.
	Repository string
	// RepoRoot is the checkout config/ and charts/ are read from.
	RepoRoot string
	// Kubectl and Helm are the binaries used to render and package.
	Kubectl, Helm string
	// SourceDateEpoch is every archive entry's time (the commit's time
	// under make release), so that two builds of one commit are the same
	// bytes and SHA256SUMS.
	SourceDateEpoch time.Time
}

var versionPattern = regexp.MustCompile(`^v(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(-[0-9A-Za-z.-]+)?$`)

// imageRef is the published name of image (a layout directory name).
func (c Config) imageRef(image string) string {
	return c.Repository + "/cloudop-" + image
}

// Check validates the input that does not need the images, so make
// release can refuse a bad VERSION before it builds them.
func (c Config) Check() error {
	if !versionPattern.MatchString(c.Version) {
		return fmt.Errorf("version %q: want vMAJOR.MINOR.PATCH[-PRERELEASE], e.g. v0.2.0", c.Version)
	}
	if _, err := name.NewRepository(c.Repository); err != nil {
		return fmt.Errorf("repository %q: %w", c.Repository, err)
	}
	return nil
}

// Build writes the bundle and returns its file names, sorted.
func Build(c Config) ([]string, error) {
	if err := c.Check(); err != nil {
		return nil, err
	}
	if err := os.RemoveAll(c.OutDir); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(c.OutDir, 0o755); err != nil {
		return nil, err
	}
	digests := map[string]v1.Hash{}
	for _, image := range Images {
		d, err := c.writeImage(image)
		if err != nil {
			return nil, fmt.Errorf("image %s: %w", image, err)
		}
		digests[image] = d
	}
	if err := c.writeInstallYAML(digests["manager"]); err != nil {
		return nil, fmt.Errorf("install.yaml: %w", err)
	}
	if err := c.packageChart(digests["manager"]); err != nil {
		return nil, fmt.Errorf("chart: %w", err)
	}
	return writeChecksums(c.OutDir)
}

// InstallYAMLOnly writes OutDir/install.yaml alone, the manager image
// pinned to digest, as Build would write it, without reading image layouts
// or emptying OutDir.
func (c Config) InstallYAMLOnly(digest string) error {
	if err := c.Check(); err != nil {
		return err
	}
	d, err := v1.NewHash(digest)
	if err != nil {
		return fmt.Errorf("digest %q: %w", digest, err)
	}
	if err := os.MkdirAll(c.OutDir, 0o755); err != nil {
		return err
	}
	return c.writeInstallYAML(d)
}

// writeImage writes image's layout as an OCI archive and each platform's
// image as a Docker archive, and returns the index digest.
func (c Config) writeImage(image string) (v1.Hash, error) {
	dir := filepath.Join(c.LayoutDir, image)
	idx, err := layout.ImageIndexFromPath(dir)
	if err != nil {
		return v1.Hash{}, fmt.Errorf("reading layout %s (run make image first): %w", dir, err)
	}
	// make image writes the image index itself as the layout's index.json,
	// so the layout's digest is the index digest to pin.
	digest, err := idx.Digest()
	if err != nil {
		return v1.Hash{}, err
	}
	base := fmt.Sprintf("cloudop-%s_%s", image, c.Version)
	if err := tarDir(dir, filepath.Join(c.OutDir, base+"_oci.tar"), c.SourceDateEpoch); err != nil {
		return v1.Hash{}, err
	}
	tag, err := name.NewTag(c.imageRef(image) + ":" + c.Version)
	if err != nil {
		return v1.Hash{}, err
	}
	platforms, err := idx.IndexManifest()
	if err != nil {
		return v1.Hash{}, err
	}
	for _, desc := range platforms.Manifests {
		if desc.Platform == nil {
			return v1.Hash{}, fmt.Errorf("index entry %s has no platform", desc.Digest)
		}
		img, err := idx.Image(desc.Digest)
		if err != nil {
			return v1.Hash{}, err
		}
		file := fmt.Sprintf("%s_%s-%s.docker.tar", base, desc.Platform.OS, desc.Platform.Architecture)
		if err := tarball.WriteToFile(filepath.Join(c.OutDir, file), tag, img); err != nil {
			return v1.Hash{}, err
		}
	}
	return digest, nil
}

// tarDir archives dir's files, sorted, with the time at and fixed owners,
// so the archive of one layout is always the same bytes.
func tarDir(dir, out string, at time.Time) error {
	var paths []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == dir {
			return err
		}
		paths = append(paths, p)
		return nil
	})
	if err != nil {
		return err
	}
	sort.Strings(paths)
	f, err := os.Create(out)
	if err != nil {
		return err
	}
	defer f.Close()
	tw := tar.NewWriter(f)
	for _, p := range paths {
		info, err := os.Stat(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		h := &tar.Header{Name: filepath.ToSlash(rel), ModTime: at.UTC(), Mode: 0o644, Format: tar.FormatPAX}
		if info.IsDir() {
			h.Typeflag, h.Name, h.Mode = tar.TypeDir, h.Name+"/", 0o755
			if err := tw.WriteHeader(h); err != nil {
				return err
			}
			continue
		}
		h.Typeflag, h.Size = tar.TypeReg, info.Size()
		if err := tw.WriteHeader(h); err != nil {
			return err
		}
		src, err := os.Open(p)
		if err != nil {
			return err
		}
		_, err = io.Copy(tw, src)
		src.Close()
		if err != nil {
			return err
		}
	}
	if err := tw.Close(); err != nil {
		return err
	}
	return f.Close()
}

// writeInstallYAML renders config/default through a throw-away overlay
// that pins the manager image to its digest, so install.yaml and the
// kustomize tree cannot disagree about anything but the image.
func (c Config) writeInstallYAML(digest v1.Hash) error {
	root, err := filepath.Abs(c.RepoRoot)
	if err != nil {
		return err
	}
	overlay, err := os.MkdirTemp("", "cloudop-release-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(overlay)
	// kustomize accepts only relative paths to a base.
	base, err := filepath.Rel(overlay, filepath.Join(root, "config", "default"))
	if err != nil {
		return err
	}
	kustomization := fmt.Sprintf(`resources:
- %s
images:
- name: %s
  newName: %s
  digest: %s
`, filepath.ToSlash(base), c.imageRef("manager"), c.imageRef("manager"), digest)
	if err := os.WriteFile(filepath.Join(overlay, "kustomization.yaml"), []byte(kustomization), 0o644); err != nil {
		return err
	}
	out, err := run(c.Kubectl, "kustomize", overlay)
	if err != nil {
		return err
	}
	pinned := c.imageRef("manager") + "@" + digest.String()
	if !bytes.Contains(out, []byte("image: "+pinned)) {
		return fmt.Errorf("the rendered manifest does not name %s: is the manager image in config/manager still %s?", pinned, c.imageRef("manager"))
	}
	budgets, err := disruptionBudgets(out)
	if err != nil {
		return err
	}
	if len(budgets) > 0 && !bytes.HasSuffix(out, []byte("\n")) {
		out = append(out, '\n')
	}
	out = append(out, budgets...)
	header := fmt.Sprintf("# cloudop %s: CRD, RBAC, the manager Deployment (image pinned to its digest) and its PodDisruptionBudget.\n# kubectl apply --server-side -f install.yaml; see docs/install.md.\n", c.Version)
	return os.WriteFile(filepath.Join(c.OutDir, "install.yaml"), append([]byte(header), out...), 0o644)
}

// digestValue is the chart's image.digest line with its empty default.
var digestValue = regexp.MustCompile(`(?m)^(\s+digest:\s*)""(\s*(#.*)?)$`)

// packageChart packages a copy of charts/cloudop whose image.digest default
// is the manager's digest, at the release's version.
func (c Config) packageChart(digest v1.Hash) error {
	src := filepath.Join(c.RepoRoot, "charts", "cloudop")
	tmp, err := os.MkdirTemp("", "cloudop-chart-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	dst := filepath.Join(tmp, "cloudop")
	if err := os.CopyFS(dst, os.DirFS(src)); err != nil {
		return err
	}
	valuesPath := filepath.Join(dst, "values.yaml")
	values, err := os.ReadFile(valuesPath)
	if err != nil {
		return err
	}
	if n := len(digestValue.FindAll(values, -1)); n != 1 {
		return fmt.Errorf("%s: want exactly one `digest: \"\"` line (image.digest) to pin, found %d", valuesPath, n)
	}
	values = digestValue.ReplaceAll(values, []byte(`${1}"`+digest.String()+`"${2}`))
	if err := os.WriteFile(valuesPath, values, 0o644); err != nil {
		return err
	}
	if _, err = run(c.Helm, "package", dst, "--version", strings.TrimPrefix(c.Version, "v"), "--app-version", c.Version, "--destination", c.OutDir); err != nil {
		return err
	}
	// helm stamps every entry (and the gzip header) with the time of
	// packaging: rewrite them with the source date.
	return restampTarGz(filepath.Join(c.OutDir, "cloudop-"+strings.TrimPrefix(c.Version, "v")+".tgz"), c.SourceDateEpoch)
}

// restampTarGz rewrites a gzipped tar archive in place with every entry's
// times set to at and a gzip header without name or time, keeping entry
// order, names, modes and contents.
func restampTarGz(path string, at time.Time) error {
	in, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	gz, err := gzip.NewReader(bytes.NewReader(in))
	if err != nil {
		return err
	}
	tr := tar.NewReader(gz)
	var out bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&out, gzip.BestCompression)
	tw := tar.NewWriter(zw)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		h.ModTime, h.AccessTime, h.ChangeTime = at.UTC(), time.Time{}, time.Time{}
		h.Format = tar.FormatPAX
		if err := tw.WriteHeader(h); err != nil {
			return err
		}
		if _, err := io.Copy(tw, tr); err != nil {
			return err
		}
	}
	if err := tw.Close(); err != nil {
		return err
	}
	if err := zw.Close(); err != nil {
		return err
	}
	return os.WriteFile(path, out.Bytes(), 0o644)
}

// writeChecksums writes SHA256SUMS (sha256sum's format) over every file in
// dir and returns the file names, SHA256SUMS last.
func writeChecksums(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var names []string
	var sums strings.Builder
	for _, e := range entries {
		if e.IsDir() {
			continue
		}
		sum, err := sha256File(filepath.Join(dir, e.Name()))
		if err != nil {
			return nil, err
		}
		fmt.Fprintf(&sums, "%s  %s\n", sum, e.Name())
		names = append(names, e.Name())
	}
	if err := os.WriteFile(filepath.Join(dir, "SHA256SUMS"), []byte(sums.String()), 0o644); err != nil {
		return nil, err
	}
	return append(names, "SHA256SUMS"), nil
}

func sha256File(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// run runs a tool and returns its standard output; its standard error
// comes back in the error.
func run(tool string, args ...string) ([]byte, error) {
	var stdout, stderr bytes.Buffer
	cmd := exec.Command(tool, args...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("%s %s: %w\n%s", filepath.Base(tool), strings.Join(args, " "), err, stderr.String())
	}
	return stdout.Bytes(), nil
}
