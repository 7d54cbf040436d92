// Command manager runs the cloudop controller: it watches CloudOperations
// and polls the cloud services they name.
package main

import (
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	"github.com/cloudop/cloudop/internal/cloud/bcs"
	"github.com/cloudop/cloudop/internal/cloud/transport"
	"github.com/cloudop/cloudop/internal/controller"
	"github.com/cloudop/cloudop/internal/manager"
	"github.com/cloudop/cloudop/internal/version"
)

// repeated collects a repeatable string flag.
type repeated []string

func (r *repeated) String() string     { return strings.Join(*r, ",") }
func (r *repeated) Set(v string) error { *r = append(*r, v); return nil }

func main() {
	var (
		o                manager.Options
		kubeQPS          float64
		serviceEndpoints repeated
		allowedEndpoints repeated
		policy           = controller.DefaultPollPolicy()
	)
	flag.StringVar(&o.MetricsAddr, "metrics-bind-address", ":8080", "Address of the Prometheus metrics endpoint; 0 disables it.")
	flag.StringVar(&o.ProbeAddr, "health-probe-bind-address", ":8081", "Address of the /healthz and /readyz probes.")
	flag.BoolVar(&o.LeaderElect, "leader-elect", false, "Elect a leader so only one replica polls at a time.")
	flag.StringVar(&o.LeaderElectionNamespace, "leader-election-namespace", "", "Namespace of the leader election lease (needed outside a cluster).")
	flag.StringVar(&o.LeaderElectionID, "leader-election-id", "", "Name of the leader election lease. Default: "+manager.DefaultLeaderElectionID+", or with --watch-label-selector a name derived from the selector, so each shard elects its own leader.")
	flag.StringVar(&o.WatchLabelSelector, "watch-label-selector", "", "Only reconcile the CloudOperations this label selector matches, e.g. "+manager.ShardLabel+"=shard1; the default instance of a sharded install uses '!"+manager.ShardLabel+"'. Default: every CloudOperation. See docs/scaling.md.")
	flag.DurationVar(&o.LeaseDuration, "leader-election-lease-duration", 15*time.Second, "How long a standby waits after the leader's last renewal before taking over.")
	flag.DurationVar(&o.RenewDeadline, "leader-election-renew-deadline", 10*time.Second, "How long the leader retries renewing before it gives up leadership.")
	flag.DurationVar(&o.RetryPeriod, "leader-election-retry-period", 2*time.Second, "Wait between leader election attempts.")
	flag.DurationVar(&policy.AuthRetryInterval, "auth-retry-interval", policy.AuthRetryInterval, "Wait before retrying after the service rejected the credentials (faster risks the gateway's key lockout).")
	flag.DurationVar(&policy.MaxBackoff, "max-backoff", policy.MaxBackoff, "Longest wait between polls after repeated errors or throttling.")
	flag.DurationVar(&policy.MaxQuietInterval, "max-quiet-interval", policy.MaxQuietInterval, "Longest interval an operation whose state has not changed for a long time is polled at; 0 turns the quiet backoff off.")
	flag.IntVar(&o.Workers, "workers", 16, "Concurrent reconciles, so slow cloud calls do not starve other objects.")
	flag.DurationVar(&o.MaxRetryDelay, "max-retry-delay", time.Minute, "Longest per-object wait before retrying a reconcile the Kubernetes API failed (controller-runtime's default is 1000s).")
	flag.DurationVar(&o.RequestTimeout, "request-timeout", 15*time.Second, "Timeout of one cloud API request.")
	flag.Float64Var(&kubeQPS, "kube-api-qps", 50, "Queries per second to the Kubernetes API server.")
	flag.IntVar(&o.KubeBurst, "kube-api-burst", 100, "Burst of queries to the Kubernetes API server.")
	flag.Float64Var(&o.RateLimit.QPS, "cloud-qps", transport.DefaultQPS, "Cloud requests per second per (access key, service, region).")
	flag.IntVar(&o.RateLimit.Burst, "cloud-burst", transport.DefaultBurst, "Burst of cloud requests per (access key, service, region).")
	flag.Float64Var(&o.RateLimit.GlobalQPS, "cloud-global-qps", transport.DefaultGlobalQPS, "Cloud requests per second in all.")
	flag.IntVar(&o.RateLimit.GlobalBurst, "cloud-global-burst", transport.DefaultGlobalBurst, "Burst of cloud requests in all.")
	flag.IntVar(&o.CloudBudgetShards, "cloud-budget-shards", 1, "How many instances (shards) share the cloud accounts: the --cloud-* rates and bursts are divided by it, so together they stay within one account's budget.")
	flag.DurationVar(&o.RateLimit.MaxWait, "cloud-max-wait", transport.DefaultMaxWait, "Longest wait for a rate-limit token; longer waits defer the poll.")
	flag.DurationVar(&o.SecretCacheTTL, "secret-cache-ttl", 5*time.Second, "How long a credentials Secret read serves other polls; a changed Secret takes effect within it. Negative disables.")
	flag.DurationVar(&o.BCSListWindow, "bcs-list-window", bcs.DefaultListWindow, "How long one BCS list answer serves the other operations of its blockchain.")
	flag.Var(&serviceEndpoints, "service-endpoint", "SERVICE=URL: base URL for a service instead of its regional host, e.g. CCE=http://127.0.0.1:9443 (repeatable).")
	flag.Var(&allowedEndpoints, "allowed-endpoint", "Base URL pattern spec.endpoint may use, e.g. https://*.example.com (repeatable). Default: HTTPS under the official Huawei Cloud domains.")
	showVersion := flag.Bool("version", false, "Print the version and commit, then exit.")
	zapOpts := zap.Options{}
	zapOpts.BindFlags(flag.CommandLine)
	flag.Parse()
	if *showVersion {
		fmt.Println(version.String("manager"))
		return
	}
	ctrl.SetLogger(zap.New(zap.UseFlagOptions(&zapOpts)))

	o.KubeQPS = float32(kubeQPS)
	o.ServiceEndpoints = serviceEndpoints
	o.AllowedEndpoints = allowedEndpoints
	o.Policy = &policy
	if err := manager.Run(ctrl.SetupSignalHandler(), ctrl.GetConfigOrDie(), o); err != nil {
		ctrl.Log.WithName("setup").Error(err, "manager stopped")
		os.Exit(1)
	}
}
