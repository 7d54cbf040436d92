//go:build tools

// Package tools pins kubeconform, the manifest validator that test/chart
// runs on every chart render (TestKubeconform) against JSON schemas
// converted from the test kube-apiserver's OpenAPI, built from
// github.com/yannh/kubeconform because no binary download is reachable
// from this project's build machines.
package tools

import (
	_ "github.com/yannh/kubeconform/cmd/kubeconform"
)
