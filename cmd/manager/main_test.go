package main

import (
	"flag"
	"io"
	"slices"
	"testing"
	"time"

	"github.com/cloudop/cloudop/internal/controller"
	"github.com/cloudop/cloudop/internal/manager"
)

// TestBindFlags: the command serves secure metrics unless told otherwise
// and watches the whole cluster unless given namespaces, one per
// --watch-namespace.
func TestBindFlags(t *testing.T) {
	for _, tc := range []struct {
		name    string
		args    []string
		check   func(manager.Options) bool
		wantErr bool
	}{
		{name: "defaults", check: func(o manager.Options) bool {
			return o.MetricsAddr == ":8080" && o.MetricsSecure && o.MetricsCertDir == "" && o.WatchNamespaces == nil &&
				!o.DisableWorkloadIdentity && o.IdentityAudience == "cloudop" && o.IdentityCredentialDuration == 6*time.Hour
		}},
		{name: "workload identity off", args: []string{"--workload-identity=false", "--identity-token-audience", "sts.example.com", "--service-endpoint", "IAM=http://127.0.0.1:1"}, check: func(o manager.Options) bool {
			return o.DisableWorkloadIdentity && o.IdentityAudience == "sts.example.com" && slices.Equal(o.ServiceEndpoints, []string{"IAM=http://127.0.0.1:1"})
		}},
		{name: "plain metrics", args: []string{"--metrics-secure=false", "--metrics-bind-address", "127.0.0.1:9090"}, check: func(o manager.Options) bool {
			return !o.MetricsSecure && o.MetricsAddr == "127.0.0.1:9090"
		}},
		{name: "cert dir", args: []string{"--metrics-bind-address=:8443", "--metrics-cert-dir", "/certs"}, check: func(o manager.Options) bool {
			return o.MetricsSecure && o.MetricsAddr == ":8443" && o.MetricsCertDir == "/certs"
		}},
		{name: "namespaces", args: []string{"--watch-namespace", "team-a", "--watch-namespace=team-b"}, check: func(o manager.Options) bool {
			return slices.Equal(o.WatchNamespaces, []string{"team-a", "team-b"})
		}},
		{name: "step events default", check: func(o manager.Options) bool { return o.StepEvents.String() == "warnings" }},
		{name: "all step events", args: []string{"--step-events=all"}, check: func(o manager.Options) bool { return o.StepEvents == controller.StepEventsAll }},
		{name: "bad step events", args: []string{"--step-events=some"}, wantErr: true},
		{name: "not a bool", args: []string{"--metrics-secure=maybe"}, wantErr: true},
	} {
		fs := flag.NewFlagSet("manager", flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		options := bindFlags(fs)
		err := fs.Parse(tc.args)
		if tc.wantErr {
			if err == nil {
				t.Errorf("%s: %v accepted", tc.name, tc.args)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		if o := options(); !tc.check(o) {
			t.Errorf("%s: %v gave %+v", tc.name, tc.args, o)
		}
	}
}
