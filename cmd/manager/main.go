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
	"github.com/cloudop/cloudop/internal/cloud/identity"
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
	options := bindFlags(flag.CommandLine)
	showVersion := flag.Bool("version", false, "Print the version and commit, then exit.")
	zapOpts := zap.Options{}
	zapOpts.BindFlags(flag.CommandLine)
	flag.Parse()
	if *showVersion {
		fmt.Println(version.String("manager"))
		return
	}
	ctrl.SetLogger(zap.New(zap.UseFlagOptions(&zapOpts)))

	if err := manager.Run(ctrl.SetupSignalHandler(), ctrl.GetConfigOrDie(), options()); err != nil {
		ctrl.Log.WithName("setup").Error(err, "manager stopped")
		os.Exit(1)
	}
}

// bindFlags defines the manager's flags on fs; the function it returns
// gives the options they set, once fs is parsed.
func bindFlags(fs *flag.FlagSet) func() manager.Options {
	var (
		o                manager.Options
		kubeQPS          float64
		serviceEndpoints repeated
		allowedEndpoints repeated
		watchNamespaces  repeated
		policy           = controller.DefaultPollPolicy()
	)
	fs.StringVar(&o.MetricsAddr, "metrics-bind-address", ":8080", "Address of the Prometheus metrics endpoint; 0 disables it.")
	fs.BoolVar(&o.MetricsSecure, "metrics-secure", true, "Serve metrics over HTTPS, only to clients whose bearer token may get /metrics (checked with TokenReview and SubjectAccessReview); false serves plain HTTP to anyone.")
	fs.StringVar(&o.MetricsCertDir, "metrics-cert-dir", "", "Directory with the secure metrics endpoint's tls.crt and tls.key (reloaded when they change). Default: a self-signed certificate made at start.")
	fs.StringVar(&o.ProbeAddr, "health-probe-bind-address", ":8081", "Address of the /healthz and /readyz probes.")
	fs.BoolVar(&o.LeaderElect, "leader-elect", false, "Elect a leader so only one replica polls at a time.")
	fs.StringVar(&o.LeaderElectionNamespace, "leader-election-namespace", "", "Namespace of the leader election lease (needed outside a cluster).")
	fs.StringVar(&o.LeaderElectionID, "leader-election-id", "", "Name of the leader election lease. Default: "+manager.DefaultLeaderElectionID+", or with --watch-label-selector a name derived from the selector, so each shard elects its own leader.")
	fs.Var(&watchNamespaces, "watch-namespace", "Only cache and reconcile the CloudOperations of this namespace (repeatable); Roles in these namespaces then suffice. Default: the whole cluster.")
	fs.StringVar(&o.WatchLabelSelector, "watch-label-selector", "", "Only reconcile the CloudOperations this label selector matches, e.g. "+manager.ShardLabel+"=shard1; the default instance of a sharded install uses '!"+manager.ShardLabel+"'. Default: every CloudOperation. See docs/scaling.md.")
	fs.DurationVar(&o.LeaseDuration, "leader-election-lease-duration", manager.DefaultLeaseDuration, "How long a standby waits after the leader's last renewal before taking over; must exceed retry period + renew deadline + max(renew deadline/2, 1s), or two leaders could overlap.")
	fs.DurationVar(&o.RenewDeadline, "leader-election-renew-deadline", manager.DefaultRenewDeadline, "How long the leader retries renewing before it gives up leadership.")
	fs.DurationVar(&o.RetryPeriod, "leader-election-retry-period", manager.DefaultRetryPeriod, "Wait between leader election attempts.")
	fs.DurationVar(&policy.AuthRetryInterval, "auth-retry-interval", policy.AuthRetryInterval, "Wait before retrying after the service rejected the credentials (faster risks the gateway's key lockout).")
	fs.DurationVar(&policy.MaxBackoff, "max-backoff", policy.MaxBackoff, "Longest wait between polls after repeated errors or throttling.")
	fs.DurationVar(&policy.MaxQuietInterval, "max-quiet-interval", policy.MaxQuietInterval, "Longest interval an operation whose state has not changed for a long time is polled at; 0 turns the quiet backoff off.")
	fs.Float64Var(&policy.StepPaceFactor, "step-pace-factor", policy.StepPaceFactor, "After a poll that saw a step end, wait this share of the operation's mean step duration before the next poll (when longer than the interval; never past --max-quiet-interval, never in the last step); 0 polls every interval. See docs/polling.md.")
	fs.IntVar(&o.Workers, "workers", 16, "Concurrent reconciles, so slow cloud calls do not starve other objects.")
	fs.DurationVar(&o.MaxRetryDelay, "max-retry-delay", time.Minute, "Longest per-object wait before retrying a reconcile the Kubernetes API failed (controller-runtime's default is 1000s).")
	fs.DurationVar(&o.RequestTimeout, "request-timeout", 15*time.Second, "Timeout of one cloud API request.")
	fs.Float64Var(&kubeQPS, "kube-api-qps", 50, "Queries per second to the Kubernetes API server.")
	fs.IntVar(&o.KubeBurst, "kube-api-burst", 100, "Burst of queries to the Kubernetes API server.")
	fs.Float64Var(&o.RateLimit.QPS, "cloud-qps", transport.DefaultQPS, "Cloud requests per second per (key pair, service, region).")
	fs.IntVar(&o.RateLimit.Burst, "cloud-burst", transport.DefaultBurst, "Burst of cloud requests per (key pair, service, region).")
	fs.Float64Var(&o.RateLimit.GlobalQPS, "cloud-global-qps", transport.DefaultGlobalQPS, "Cloud requests per second in all.")
	fs.IntVar(&o.RateLimit.GlobalBurst, "cloud-global-burst", transport.DefaultGlobalBurst, "Burst of cloud requests in all.")
	fs.IntVar(&o.CloudBudgetShards, "cloud-budget-shards", 1, "How many instances (shards) share the cloud accounts: the --cloud-* rates and bursts are divided by it, so together they stay within one account's budget.")
	fs.DurationVar(&o.RateLimit.MaxWait, "cloud-max-wait", transport.DefaultMaxWait, "Longest wait for a rate-limit token; longer waits defer the poll.")
	fs.DurationVar(&o.SecretCacheTTL, "secret-cache-ttl", 5*time.Second, "How long a credentials Secret read serves other polls; a changed Secret takes effect within it. Negative disables.")
	fs.DurationVar(&o.BCSListWindow, "bcs-list-window", bcs.DefaultListWindow, "How long one BCS list answer serves the other operations of its blockchain.")
	fs.Var(&serviceEndpoints, "service-endpoint", "SERVICE=URL: base URL for a service instead of its regional host, e.g. CCE=http://127.0.0.1:9443 (repeatable); IAM=URL is IAM's, for workload identity.")
	workloadIdentity := true
	fs.BoolVar(&workloadIdentity, "workload-identity", true, "Let CloudOperations name a ServiceAccount of their own namespace (spec.serviceAccountName), whose tokens are exchanged at IAM for temporary credentials; false refuses them. See docs/identity.md.")
	fs.StringVar(&o.ManagerIdentity, "manager-identity", "", "NAMESPACE/NAME of a ServiceAccount (the manager's own) that signs for CloudOperations naming neither credentialsSecretRef nor serviceAccountName. Single-tenant installs only: any namespace could use it. Default: such objects are refused (CredentialsInvalid).")
	fs.StringVar(&o.IdentityAudience, "identity-token-audience", identity.DefaultAudience, "Audience of the ServiceAccount tokens the manager requests; the IAM identity provider's client ID must be the same.")
	fs.DurationVar(&o.IdentityCredentialDuration, "identity-credential-duration", identity.DefaultCredentialDuration, "Lifetime asked of IAM for temporary credentials (15m to 24h in whole seconds, as IAM allows; the manager refuses to start otherwise); they are refreshed before they expire.")
	fs.DurationVar(&o.IdentityMinExchangeInterval, "identity-min-exchange-interval", identity.DefaultMinExchangeInterval, "Shortest time between two IAM exchanges for one ServiceAccount when the cloud rejects its credentials: a 401/403 per poll costs one exchange per interval, not one per poll.")
	fs.Float64Var(&o.IdentityExchangeQPS, "identity-exchange-qps", identity.DefaultExchangeQPS, "IAM exchanges per second of all ServiceAccounts together (burst 10), so no tenant spends the IAM budget every tenant depends on.")
	fs.Var(&o.StepEvents, "step-events", "Which step changes are announced as StepChanged events: warnings (steps that fail, are cancelled or unknown; the others are in status.steps) or all.")
	fs.Var(&allowedEndpoints, "allowed-endpoint", "Base URL pattern spec.endpoint may use, e.g. https://*.example.com (repeatable); replaces the default, which allows only the service's own Huawei Cloud API hosts in the object's region.")
	return func() manager.Options {
		o.KubeQPS = float32(kubeQPS)
		o.ServiceEndpoints = serviceEndpoints
		o.DisableWorkloadIdentity = !workloadIdentity
		o.AllowedEndpoints = allowedEndpoints
		o.WatchNamespaces = watchNamespaces
		o.Policy = &policy
		return o
	}
}
