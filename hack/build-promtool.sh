#!/usr/bin/env bash
# Builds the promtool command pinned in hack/tools/promtool into
# bin/promtool/<version>/, once per version: test/chart
# (TestPromtoolRules) checks and unit-tests the chart's alert rules with
# it, and no binary download is reachable from our build machines.
# <version> is the Go module version of github.com/prometheus/prometheus:
# v0.316.0 is Prometheus v3.16.0.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
version=${PROMTOOL_VERSION:-v0.316.0}
out=${1:-"$root/bin/promtool/${version}"}

pinned=$(cd "$root/hack/tools/promtool" && GOTOOLCHAIN=local go list -m -f '{{.Version}}' github.com/prometheus/prometheus)
if [ "$pinned" != "$version" ]; then
  echo "PROMTOOL_VERSION=$version but hack/tools/promtool/go.mod pins $pinned" >&2
  exit 1
fi
if [ -x "$out/promtool" ]; then exit 0; fi
mkdir -p "$out"

# v0.MMM.P -> M.MM.P, what promtool --version prints.
minor=${version#v0.}; patch=${minor#*.}; minor=${minor%%.*}
release="$((minor / 100)).$((minor % 100)).${patch}"

export GOTOOLCHAIN=local GOFLAGS=-mod=mod CGO_ENABLED=0
echo "building promtool $version (Prometheus $release) into $out" >&2
(cd "$root/hack/tools/promtool" && go build -trimpath \
  -ldflags "-s -w -X github.com/prometheus/common/version.Version=${release}" \
  -o "$out/promtool.tmp" github.com/prometheus/prometheus/cmd/promtool)
mv "$out/promtool.tmp" "$out/promtool"
echo "$out/promtool"
