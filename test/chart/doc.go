// Package chart tests the Helm chart charts/cloudop with the helm binary
// that `make tools` builds into bin/helm: lint, golden renders for several
// value sets, the values schema, server-side apply of every rendered object
// to a real kube-apiserver, the scope of a namespaced install, and that the
// chart does not drift from the kustomize install in config/.
package chart
