// Command release assembles a cloudop release bundle from the image layouts
// that make image wrote: the images as OCI archives (for crane/skopeo) and
// per-platform Docker archives (for docker load), install.yaml rendered from
// config/default with the manager image pinned to its digest, the Helm
// chart packaged with the same digest, and SHA256SUMS over all of it.
//
// make release VERSION=vX.Y.Z runs it; docs/install.md says how a
// maintainer publishes the result. Nothing here touches the network.
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

func main() {
	var c Config
	flag.StringVar(&c.Version, "version", "", "release version, vMAJOR.MINOR.PATCH[-PRE] (required)")
	flag.StringVar(&c.LayoutDir, "layouts", "dist", "directory holding the OCI layouts make image wrote: <dir>/manager, <dir>/cloudsim")
	flag.StringVar(&c.OutDir, "out", "", "bundle directory (default dist/release/<version>)")
	flag.StringVar(&c.Repository, "repository", DefaultRepository, "registry path the images are published under: <repository>/cloudop-manager, <repository>/cloudop-cloudsim")
	flag.StringVar(&c.RepoRoot, "root", ".", "repository root (config/ and charts/ are read from it)")
	flag.StringVar(&c.Kubectl, "kubectl", "kubectl", "kubectl binary (its kustomize renders install.yaml)")
	flag.StringVar(&c.Helm, "helm", "helm", "helm binary (packages the chart)")
	epoch := flag.Int64("source-date-epoch", 0, "time of every archive entry, in seconds since 1970 (make release passes the commit's time)")
	check := flag.Bool("check", false, "only validate -version and -repository, and exit")
	installOnly := flag.String("install-yaml-digest", "", "only write -out/install.yaml, the manager image pinned to this index digest (sha256:...), without image layouts: test/chart lints the install.yaml a release would ship")
	flag.Parse()
	c.SourceDateEpoch = time.Unix(*epoch, 0)
	if *check {
		if err := c.Check(); err != nil {
			fmt.Fprintln(os.Stderr, "release:", err)
			os.Exit(1)
		}
		return
	}
	if c.OutDir == "" {
		c.OutDir = "dist/release/" + c.Version
	}
	if *installOnly != "" {
		if err := c.InstallYAMLOnly(*installOnly); err != nil {
			fmt.Fprintln(os.Stderr, "release:", err)
			os.Exit(1)
		}
		fmt.Println(filepath.Join(c.OutDir, "install.yaml"))
		return
	}
	files, err := Build(c)
	if err != nil {
		fmt.Fprintln(os.Stderr, "release:", err)
		os.Exit(1)
	}
	fmt.Printf("release %s in %s:\n", c.Version, c.OutDir)
	for _, f := range files {
		fmt.Println("  " + f)
	}
}
