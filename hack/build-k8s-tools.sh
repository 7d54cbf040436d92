#!/usr/bin/env bash
# Builds kube-apiserver, kubectl and etcd from the Go module proxy into one
# directory that envtest's BinaryAssetsDirectory and the demo both use.
# Binary downloads (setup-envtest) are not reachable from our build machines,
# so the control plane comes from source, once per version.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
k8s_version=${K8S_VERSION:-v1.37.2}
etcd_version=${ETCD_VERSION:-v3.7.3}
out=${1:-"$root/bin/k8s/${k8s_version}-etcd-${etcd_version}"}
# Further arguments name the binaries to build (default: all three).
shift || true
wanted=" ${*:-kube-apiserver kubectl etcd} "
mkdir -p "$out"

export GOTOOLCHAIN=local GOFLAGS=-mod=mod

build() { # name dir pkg [ldflags]
  local name=$1 dir=$2 pkg=$3 ldflags=${4:-}
  if [ -x "$out/$name" ] || [[ $wanted != *" $name "* ]]; then return; fi
  echo "building $name into $out" >&2
  (cd "$root/hack/tools/$dir" && go build -trimpath -ldflags "$ldflags" -o "$out/$name.tmp" "$pkg")
  mv "$out/$name.tmp" "$out/$name"
}

version_flags="-X k8s.io/component-base/version.gitVersion=${k8s_version} -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=$(echo "$k8s_version" | cut -d. -f2) -X k8s.io/component-base/version.gitTreeState=clean -X k8s.io/client-go/pkg/version.gitVersion=${k8s_version}"
build kube-apiserver kube k8s.io/kubernetes/cmd/kube-apiserver "$version_flags"
build kubectl kube k8s.io/kubernetes/cmd/kubectl "$version_flags"
build etcd etcd go.etcd.io/etcd/server/v3
echo "$out"
