package demo

import (
	"os"
	"path/filepath"

	"github.com/cloudop/cloudop/internal/cloudsim"
	"github.com/cloudop/cloudop/internal/testenv"
)

// Files are the demo's inputs under config/demo.
type Files struct {
	// Sim is cloudsim's scenario file.
	Sim cloudsim.Config
	// Manifest is the CloudOperations (and Secret) to apply.
	Manifest []byte
}

// Backdrop returns the simulator configuration without its operations:
// accounts and settings. Operations are added by Environment.ApplyScenario
// so their clocks start when the CloudOperations are applied.
func (f Files) Backdrop() cloudsim.Config {
	c := f.Sim
	c.Operations, c.Templates = nil, nil
	return c
}

// LoadFiles reads config/demo from the repository.
func LoadFiles() (Files, error) {
	root, err := testenv.RepoRoot()
	if err != nil {
		return Files{}, err
	}
	sim, err := cloudsim.LoadConfig(filepath.Join(root, "config", "demo", "cloudsim.yaml"))
	if err != nil {
		return Files{}, err
	}
	manifest, err := os.ReadFile(filepath.Join(root, "config", "demo", "cloudoperations.yaml"))
	if err != nil {
		return Files{}, err
	}
	return Files{Sim: sim, Manifest: manifest}, nil
}
