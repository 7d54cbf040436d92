//go:build tools

// Package tools pins promtool, Prometheus' rule checker and rule unit test
// runner, which test/chart runs on the chart's alert rules
// (TestPromtoolRules), built from github.com/prometheus/prometheus because
// no binary download is reachable from this project's build machines.
// Prometheus v3.x.y is the Go module version v0.3xx.y.
package tools

import (
	_ "github.com/prometheus/prometheus/cmd/promtool"
)
