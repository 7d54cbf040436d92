package main

import (
	"archive/tar"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

const (
	versionPkg = "github.com/cloudop/cloudop/internal/version"
	nonroot    = "65532"
)

// Spec is everything an image index depends on: same Spec, same digest.
type Spec struct {
	Name      string        // binary name and entrypoint: /<Name>
	Package   string        // Go package to build, e.g. ./cmd/manager
	ModuleDir string        // where go build runs (the root module)
	Version   string        // stamped into internal/version.Version
	Commit    string        // stamped into internal/version.Commit
	Epoch     time.Time     // every file mtime and the config's Created
	CACerts   string        // CA bundle copied to /etc/ssl/certs/ca-certificates.crt
	Platforms []v1.Platform // one manifest per platform, all linux
}

// DefaultPlatforms are the platforms of make image.
var DefaultPlatforms = []v1.Platform{{OS: "linux", Architecture: "amd64"}, {OS: "linux", Architecture: "arm64"}}

// BuildIndex cross-compiles the binary for each platform into workDir and
// returns an OCI image index of one image per platform.
func BuildIndex(ctx context.Context, s Spec, workDir string) (v1.ImageIndex, error) {
	base, err := baseLayer(s)
	if err != nil {
		return nil, err
	}
	idx := mutate.IndexMediaType(empty.Index, types.OCIImageIndex)
	var adds []mutate.IndexAddendum
	for _, p := range s.Platforms {
		img, err := BuildImage(ctx, s, p, base, workDir)
		if err != nil {
			return nil, fmt.Errorf("%s %s/%s: %w", s.Name, p.OS, p.Architecture, err)
		}
		p := p
		adds = append(adds, mutate.IndexAddendum{Add: img, Descriptor: v1.Descriptor{Platform: &p}})
	}
	idx = mutate.AppendManifests(idx, adds...)
	return mutate.Annotations(idx, annotations(s)).(v1.ImageIndex), nil
}

func annotations(s Spec) map[string]string {
	return map[string]string{
		"org.opencontainers.image.title":    "cloudop-" + s.Name,
		"org.opencontainers.image.version":  s.Version,
		"org.opencontainers.image.revision": s.Commit,
		"org.opencontainers.image.source":   "https://github.com/cloudop/cloudop",
		"org.opencontainers.image.created":  s.Epoch.UTC().Format(time.RFC3339),
	}
}

// BuildImage builds one platform's image: the shared base layer (CA
// bundle, passwd, group) and a layer holding only the static binary.
func BuildImage(ctx context.Context, s Spec, p v1.Platform, base v1.Layer, workDir string) (v1.Image, error) {
	bin := filepath.Join(workDir, s.Name+"-"+p.OS+"-"+p.Architecture)
	if err := goBuild(ctx, s, p, bin); err != nil {
		return nil, err
	}
	data, err := os.ReadFile(bin)
	if err != nil {
		return nil, err
	}
	binLayer, err := layer(s.Epoch, []file{{name: s.Name, mode: 0o755, data: data}})
	if err != nil {
		return nil, err
	}
	created := v1.Time{Time: s.Epoch.UTC()}
	img := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	img, err = mutate.Append(img,
		mutate.Addendum{Layer: base, History: v1.History{Created: created, CreatedBy: "hack/imagebuild: CA certificates, passwd, group", Comment: "base"}},
		mutate.Addendum{Layer: binLayer, History: v1.History{Created: created, CreatedBy: "hack/imagebuild: go build " + s.Package}},
	)
	if err != nil {
		return nil, err
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture, cf.Variant = p.OS, p.Architecture, p.Variant
	cf.Created = created
	cf.Author = ""
	cf.Config = v1.Config{
		User:       nonroot + ":" + nonroot,
		Entrypoint: []string{"/" + s.Name},
		WorkingDir: "/",
		Env:        []string{"SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt"},
		Labels:     annotations(s),
	}
	img, err = mutate.ConfigFile(img, cf)
	if err != nil {
		return nil, err
	}
	return mutate.Annotations(img, annotations(s)).(v1.Image), nil
}

// goBuild builds a static, stripped, reproducible binary: no cgo, no paths
// of this machine, no VCS stamp (the commit is stamped with -X instead), and
// the baseline instruction set whatever this machine's go env says.
func goBuild(ctx context.Context, s Spec, p v1.Platform, out string) error {
	ldflags := fmt.Sprintf("-s -w -X %s.Version=%s -X %s.Commit=%s", versionPkg, s.Version, versionPkg, s.Commit)
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-buildvcs=false", "-ldflags", ldflags, "-o", out, s.Package)
	cmd.Dir = s.ModuleDir
	cmd.Env = append(os.Environ(),
		"CGO_ENABLED=0", "GOOS="+p.OS, "GOARCH="+p.Architecture,
		"GOAMD64=v1", "GOARM64=v8.0", "GOFLAGS=", "GOEXPERIMENT=",
	)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("go build %s: %w", s.Package, err)
	}
	return nil
}

// baseLayer: the files every image shares. The CA bundle comes from
// Debian's ca-certificates on the build machine; 65532 is nonroot, as in
// distroless.
func baseLayer(s Spec) (v1.Layer, error) {
	ca, err := os.ReadFile(s.CACerts)
	if err != nil {
		return nil, fmt.Errorf("CA certificates: %w", err)
	}
	return layer(s.Epoch, []file{
		{name: "etc/", dir: true},
		{name: "etc/passwd", mode: 0o644, data: []byte("root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n")},
		{name: "etc/group", mode: 0o644, data: []byte("root:x:0:\nnonroot:x:65532:\n")},
		{name: "etc/ssl/", dir: true},
		{name: "etc/ssl/certs/", dir: true},
		{name: "etc/ssl/certs/ca-certificates.crt", mode: 0o644, data: ca},
		{name: "home/", dir: true},
		{name: "home/nonroot/", dir: true, mode: 0o700, owner: 65532},
		{name: "tmp/", dir: true, mode: 0o1777},
	})
}

type file struct {
	name  string
	dir   bool
	mode  int64
	owner int
	data  []byte
}

// layer writes files, sorted by name, with fixed mtimes and owners, and
// hands the tar stream to go-containerregistry, which compresses it and
// computes the digests.
func layer(epoch time.Time, files []file) (v1.Layer, error) {
	sort.Slice(files, func(i, j int) bool { return files[i].name < files[j].name })
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, f := range files {
		h := &tar.Header{
			Name: f.name, Mode: f.mode, ModTime: epoch.UTC(),
			Uid: f.owner, Gid: f.owner, Format: tar.FormatPAX,
		}
		if f.owner == 0 {
			h.Uname, h.Gname = "root", "root"
		} else {
			h.Uname, h.Gname = "nonroot", "nonroot"
		}
		if f.dir {
			h.Typeflag = tar.TypeDir
			if h.Mode == 0 {
				h.Mode = 0o755
			}
			if !strings.HasSuffix(h.Name, "/") {
				h.Name += "/"
			}
		} else {
			h.Typeflag = tar.TypeReg
			h.Size = int64(len(f.data))
		}
		if err := tw.WriteHeader(h); err != nil {
			return nil, err
		}
		if _, err := tw.Write(f.data); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	b := buf.Bytes()
	return tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(b)), nil
	}, tarball.WithMediaType(types.OCILayer))
}
