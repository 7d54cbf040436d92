// Command imagebuild builds cloudop's container images without a Docker
// daemon or a registry: for each image, a static Go binary per platform,
// layered with go-containerregistry onto nothing but CA certificates and a
// nonroot user, gathered into an OCI image index and written as an OCI
// layout (dist/<image>/). Same commit, same inputs: same digest.
//
// It is a build tool, not a shipped binary, so it lives under hack/ (like
// hack/tools) rather than cmd/. make image runs it; see docs/install.md.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
)

// images are the images make image builds: name → package.
var images = map[string]string{
	"manager":  "./cmd/manager",
	"cloudsim": "./cmd/cloudsim",
}

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "imagebuild:", err)
		os.Exit(1)
	}
}

func run() error {
	var (
		out       = flag.String("out", "dist", "directory the OCI layouts go to: <out>/<image>/")
		names     = flag.String("images", "manager,cloudsim", "images to build: "+strings.Join(keys(), ","))
		ver       = flag.String("version", "dev", "version stamped into the binaries and the image annotations")
		commit    = flag.String("commit", "unknown", "commit stamped into the binaries and the image annotations")
		epoch     = flag.String("source-date-epoch", os.Getenv("SOURCE_DATE_EPOCH"), "Unix time of every file and of the config's created (the commit's time); default 0")
		caCerts   = flag.String("ca-certificates", "/etc/ssl/certs/ca-certificates.crt", "CA bundle to copy into the image (Debian's ca-certificates)")
		platforms = flag.String("platforms", "linux/amd64,linux/arm64", "platforms of the index")
	)
	flag.Parse()

	var t int64
	if *epoch != "" {
		var err error
		if t, err = strconv.ParseInt(*epoch, 10, 64); err != nil {
			return fmt.Errorf("--source-date-epoch: %w", err)
		}
	}
	var plats []v1.Platform
	for _, s := range strings.Split(*platforms, ",") {
		p, err := v1.ParsePlatform(s)
		if err != nil {
			return err
		}
		plats = append(plats, *p)
	}
	work, err := os.MkdirTemp("", "imagebuild")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	ctx := context.Background()
	for _, name := range strings.Split(*names, ",") {
		pkg, ok := images[name]
		if !ok {
			return fmt.Errorf("unknown image %q (known: %s)", name, strings.Join(keys(), ","))
		}
		s := Spec{
			Name: name, Package: pkg, ModuleDir: ".", Version: *ver, Commit: *commit,
			Epoch: time.Unix(t, 0).UTC(), CACerts: *caCerts, Platforms: plats,
		}
		digest, err := WriteLayout(ctx, s, filepath.Join(*out, name), work)
		if err != nil {
			return err
		}
		fmt.Printf("%s %s %s\n", name, filepath.Join(*out, name), digest)
	}
	return nil
}

// WriteLayout builds s's index and writes it as a fresh OCI layout at dir
// (anything there before is removed), returning the index digest.
func WriteLayout(ctx context.Context, s Spec, dir, workDir string) (v1.Hash, error) {
	idx, err := BuildIndex(ctx, s, workDir)
	if err != nil {
		return v1.Hash{}, err
	}
	if err := os.RemoveAll(dir); err != nil {
		return v1.Hash{}, err
	}
	if _, err := layout.Write(dir, idx); err != nil {
		return v1.Hash{}, err
	}
	return idx.Digest()
}

func keys() []string { return []string{"manager", "cloudsim"} }
