//go:build tools

// Package tools pins the Kubernetes commands that envtest and the demo run:
// kube-apiserver and kubectl, built from k8s.io/kubernetes because no binary
// download is reachable from this project's build machines.
package tools

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kubectl"
)
