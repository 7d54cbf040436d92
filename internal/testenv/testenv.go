// Package testenv starts the real control plane (kube-apiserver and etcd,
// built into bin/ by `make tools`) for tests, the e2e suite and the demo,
// and locates the built kubectl.
package testenv

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
)

// binaries are what a usable assets directory holds.
var binaries = []string{"kube-apiserver", "etcd", "kubectl"}

// RepoRoot returns the repository root: the nearest directory above the
// working directory that holds go.mod and config/crd.
func RepoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if fileExists(filepath.Join(dir, "go.mod")) && fileExists(filepath.Join(dir, "config", "crd")) {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("repository root not found above the working directory")
		}
		dir = parent
	}
}

// AssetsDir returns the directory with kube-apiserver, etcd and kubectl:
// $KUBEBUILDER_ASSETS when set, else the newest complete bin/k8s/* build.
func AssetsDir() (string, error) {
	if dir := os.Getenv("KUBEBUILDER_ASSETS"); dir != "" {
		return dir, checkAssets(dir)
	}
	root, err := RepoRoot()
	if err != nil {
		return "", err
	}
	candidates, _ := filepath.Glob(filepath.Join(root, "bin", "k8s", "*"))
	for i := len(candidates) - 1; i >= 0; i-- {
		if checkAssets(candidates[i]) == nil {
			return candidates[i], nil
		}
	}
	return "", fmt.Errorf("no control plane binaries under %s: run `make tools`", filepath.Join(root, "bin", "k8s"))
}

// Kubectl returns the path of the built kubectl.
func Kubectl() (string, error) {
	dir, err := AssetsDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(dir, "kubectl"), nil
}

// Start starts a control plane with the CloudOperation CRD installed.
// Callers must Stop the returned environment.
func Start() (*envtest.Environment, *rest.Config, error) {
	assets, err := AssetsDir()
	if err != nil {
		return nil, nil, err
	}
	root, err := RepoRoot()
	if err != nil {
		return nil, nil, err
	}
	env := &envtest.Environment{
		BinaryAssetsDirectory: assets,
		CRDDirectoryPaths:     []string{filepath.Join(root, "config", "crd", "bases")},
		ErrorIfCRDPathMissing: true,
	}
	cfg, err := env.Start()
	if err != nil {
		return nil, nil, fmt.Errorf("starting control plane: %w", err)
	}
	return env, cfg, nil
}

func checkAssets(dir string) error {
	for _, b := range binaries {
		if !fileExists(filepath.Join(dir, b)) {
			return fmt.Errorf("%s is missing from %s: run `make tools`", b, dir)
		}
	}
	return nil
}

func fileExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}
