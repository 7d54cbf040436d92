//go:build tools

// Package tools pins etcd for envtest and the demo. It lives in its own module
// because etcd's requirements clash with k8s.io/kubernetes'.
package tools

import _ "go.etcd.io/etcd/server/v3"
