//go:build tools

// Package tools pins the helm command that the chart tests (test/chart) and
// make targets run, built from helm.sh/helm/v4 because no binary download is
// reachable from this project's build machines.
package tools

import (
	_ "helm.sh/helm/v4/cmd/helm"
)
