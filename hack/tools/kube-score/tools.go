//go:build tools

// Package tools pins kube-score, the Kubernetes object linter that
// test/chart runs on every chart render (TestKubeScore), built from
// github.com/zegl/kube-score because no binary download is reachable from
// this project's build machines.
package tools

import (
	_ "github.com/zegl/kube-score/cmd/kube-score"
)
