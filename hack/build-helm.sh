#!/usr/bin/env bash
# Builds the helm command pinned in hack/tools/helm into bin/helm/<version>/,
# once per version: the chart tests (test/chart) and the release bundle run
# it, and no binary download is reachable from our build machines.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
helm_version=${HELM_VERSION:-v4.3.1}
out=${1:-"$root/bin/helm/${helm_version}"}

pinned=$(cd "$root/hack/tools/helm" && GOTOOLCHAIN=local go list -m -f '{{.Version}}' helm.sh/helm/v4)
if [ "$pinned" != "$helm_version" ]; then
  echo "HELM_VERSION=$helm_version but hack/tools/helm/go.mod pins $pinned" >&2
  exit 1
fi
if [ -x "$out/helm" ]; then exit 0; fi
mkdir -p "$out"

export GOTOOLCHAIN=local GOFLAGS=-mod=mod CGO_ENABLED=0
echo "building helm $helm_version into $out" >&2
(cd "$root/hack/tools/helm" && go build -trimpath \
  -ldflags "-s -w -X helm.sh/helm/v4/internal/version.version=${helm_version} -X helm.sh/helm/v4/internal/version.metadata= -X helm.sh/helm/v4/internal/version.gitTreeState=clean" \
  -o "$out/helm.tmp" helm.sh/helm/v4/cmd/helm)
mv "$out/helm.tmp" "$out/helm"
echo "$out/helm"
