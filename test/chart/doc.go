// Package chart tests the Helm chart charts/cloudop with the helm binary
// that `make tools` builds into bin/helm: lint, golden renders for several
// value sets, the values schema, server-side apply of every rendered object
// to a real kube-apiserver, the scope of a namespaced install, that the
// chart does not drift from the kustomize install in config/, that
// values.schema.json's Kubernetes types match the API server's OpenAPI,
// kube-score and kubeconform on every render and on install.yaml, promtool
// on the alert rules (with unit tests in testdata/promtool) and the
// dashboard's queries, and the day-two commands of docs/install.md.
package chart
