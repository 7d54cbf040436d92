#!/usr/bin/env bash
# Builds the kube-score command pinned in hack/tools/kube-score into
# bin/kube-score/<version>/, once per version: test/chart (TestKubeScore)
# runs it on every chart render, and no binary download is reachable from
# our build machines.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
version=${KUBE_SCORE_VERSION:-v1.20.0}
out=${1:-"$root/bin/kube-score/${version}"}

pinned=$(cd "$root/hack/tools/kube-score" && GOTOOLCHAIN=local go list -m -f '{{.Version}}' github.com/zegl/kube-score)
if [ "$pinned" != "$version" ]; then
  echo "KUBE_SCORE_VERSION=$version but hack/tools/kube-score/go.mod pins $pinned" >&2
  exit 1
fi
if [ -x "$out/kube-score" ]; then exit 0; fi
mkdir -p "$out"

export GOTOOLCHAIN=local GOFLAGS=-mod=mod CGO_ENABLED=0
echo "building kube-score $version into $out" >&2
(cd "$root/hack/tools/kube-score" && go build -trimpath \
  -ldflags "-s -w -X main.version=${version#v}" \
  -o "$out/kube-score.tmp" github.com/zegl/kube-score/cmd/kube-score)
mv "$out/kube-score.tmp" "$out/kube-score"
echo "$out/kube-score"
