// Package manager assembles the cloudop manager: the scheme, the
// controller-runtime manager, the cloud adapters and the reconciler. The
// manager command and the end-to-end tests both start it from here.
package manager

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	"k8s.io/apimachinery/pkg/util/validation"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	ctrlmanager "sigs.k8s.io/controller-runtime/pkg/manager"
	"sigs.k8s.io/controller-runtime/pkg/metrics"

	opsv1 "github.com/cloudop/cloudop/api/v1alpha1"
	"github.com/cloudop/cloudop/internal/cloud"
	"github.com/cloudop/cloudop/internal/cloud/aos"
	"github.com/cloudop/cloudop/internal/cloud/bcs"
	"github.com/cloudop/cloudop/internal/cloud/cce"
	"github.com/cloudop/cloudop/internal/cloud/classicjob"
	"github.com/cloudop/cloudop/internal/cloud/cts"
	"github.com/cloudop/cloudop/internal/cloud/dws"
	"github.com/cloudop/cloudop/internal/cloud/identity"
	"github.com/cloudop/cloudop/internal/cloud/rdsjob"
	"github.com/cloudop/cloudop/internal/cloud/rfs"
	"github.com/cloudop/cloudop/internal/cloud/transport"
	"github.com/cloudop/cloudop/internal/controller"
	"github.com/cloudop/cloudop/internal/tracing"
)

// Options configures a manager.
type Options struct {
	// MetricsAddr is the Prometheus endpoint's address; "0" disables it.
	MetricsAddr string
	// MetricsSecure serves metrics over HTTPS to clients whose token the
	// API server authenticates and authorizes for get on /metrics (the
	// manager then needs to create TokenReviews and SubjectAccessReviews).
	// False, the zero value, serves plain HTTP to anyone.
	MetricsSecure bool
	// MetricsCertDir holds the HTTPS certificate of secure metrics
	// (tls.crt, tls.key); "" uses a self-signed one.
	MetricsCertDir string
	// ProbeAddr is the address of /healthz and /readyz; "" or "0" disables.
	ProbeAddr string
	// LeaderElect turns on leader election.
	LeaderElect bool
	// LeaderElectionNamespace is where the lease lives (outside a cluster
	// it must be set).
	LeaderElectionNamespace string
	// LeaseDuration is how long a standby waits after the leader's last
	// renewal before taking over; 0 means DefaultLeaseDuration.
	LeaseDuration time.Duration
	// RenewDeadline is how long the leader keeps retrying to renew before
	// it gives up leadership; 0 means DefaultRenewDeadline.
	RenewDeadline time.Duration
	// RetryPeriod is the wait between leader election attempts; 0 means
	// DefaultRetryPeriod.
	RetryPeriod time.Duration
	// Workers is the number of concurrent reconciles.
	Workers int
	// MaxRetryDelay caps the per-object backoff of reconciles that failed
	// on the Kubernetes API; 0 means one minute.
	MaxRetryDelay time.Duration
	// RequestTimeout bounds one cloud API request.
	RequestTimeout time.Duration
	// KubeQPS and KubeBurst limit requests to the API server.
	KubeQPS   float32
	KubeBurst int
	// ServiceEndpoints are SERVICE=URL overrides of regional hosts;
	// IAM=URL is IAM's, for workload identity.
	ServiceEndpoints []string
	// DisableWorkloadIdentity refuses CloudOperations that name a
	// ServiceAccount (reason IdentityInvalid) instead of exchanging its
	// tokens for temporary credentials.
	DisableWorkloadIdentity bool
	// ManagerIdentity is "NAMESPACE/NAME" of the ServiceAccount (the
	// manager's own) that signs for CloudOperations naming neither a
	// Secret nor a ServiceAccount; "" refuses those (multi-tenant
	// installs: any namespace could borrow it).
	ManagerIdentity string
	// IdentityAudience is the audience of the ServiceAccount tokens the
	// manager requests (the IAM identity provider's client ID); "" means
	// identity.DefaultAudience.
	IdentityAudience string
	// IdentityCredentialDuration is the lifetime asked of IAM for
	// temporary credentials; 0 means identity.DefaultCredentialDuration.
	IdentityCredentialDuration time.Duration
	// IdentityMinExchangeInterval is the shortest time between two IAM
	// exchanges for one ServiceAccount whose credentials the cloud
	// rejected; 0 means identity.DefaultMinExchangeInterval.
	IdentityMinExchangeInterval time.Duration
	// IdentityExchangeQPS bounds the IAM exchanges of all ServiceAccounts
	// together; 0 means identity.DefaultExchangeQPS.
	IdentityExchangeQPS float64
	// AllowedEndpoints are the patterns spec.endpoint may match.
	AllowedEndpoints []string
	// StepEvents says which step changes are announced as events: ""
	// and controller.StepEventsWarnings only failed, cancelled and unknown
	// steps, controller.StepEventsAll every one.
	StepEvents controller.StepEvents
	// Policy decides poll timing; nil means controller.DefaultPollPolicy.
	Policy *controller.PollPolicy
	// Traces exports finished operations as traces. nil: an OTLP exporter
	// when the standard OTEL_EXPORTER_OTLP_* variables name an endpoint
	// (tracing.Configured), else none.
	Traces controller.TraceExporter
	// RateLimit sizes the client-side token buckets (per access key,
	// service and region, plus a global one); zero fields take defaults.
	RateLimit transport.RateLimitConfig
	// SecretCacheTTL is how long a credentials Secret read is reused by
	// other polls; zero takes 5s, negative disables the cache.
	SecretCacheTTL time.Duration
	// BCSListWindow is how long one BCS ListOpRecord answer serves other
	// operations of the same blockchain; zero or less takes the default.
	// It must be at least Policy's AlignSpread (New refuses a shorter one).
	BCSListWindow time.Duration
	// WatchLabelSelector limits the instance to the CloudOperations it
	// selects (a label selector, e.g. "sharding.cloudop.dev/key=shard1");
	// "" watches every CloudOperation. See ShardLabel.
	WatchLabelSelector string
	// WatchNamespaces limits the instance to these namespaces: it caches,
	// reconciles and reads only there, so namespaced permissions (Roles)
	// in each of them suffice. Empty watches the whole cluster.
	WatchNamespaces []string
	// LeaderElectionID names the leader election lease; "" derives it from
	// WatchLabelSelector (LeaderElectionID), so each shard has its own.
	LeaderElectionID string
	// CloudBudgetShards is how many instances share the cloud accounts'
	// request budget: RateLimit's rates and bursts are divided by it
	// (RateLimitConfig.Split). 0 or 1 leaves them whole.
	CloudBudgetShards int
}

// EventController is the reportingController of cloudop's events.
const EventController = "ops.cloudop.dev/cloudop-manager"

// reportingInstance names this replica in its events: the pod name inside a
// cluster (a pod's hostname), the host name outside.
func reportingInstance() string {
	name, err := os.Hostname()
	if err != nil || name == "" {
		return "cloudop-manager"
	}
	const maxReportingInstance = 128 // the Event API's limit
	return name[:min(len(name), maxReportingInstance)]
}

// NewScheme returns a scheme with the core and CloudOperation types.
func NewScheme() *runtime.Scheme {
	scheme := runtime.NewScheme()
	utilruntime.Must(clientgoscheme.AddToScheme(scheme))
	utilruntime.Must(opsv1.AddToScheme(scheme))
	return scheme
}

// Run builds the manager and runs it until ctx is done.
func Run(ctx context.Context, restConfig *rest.Config, o Options) error {
	mgr, err := New(restConfig, o)
	if err != nil {
		return err
	}
	return mgr.Start(ctx)
}

// New builds a manager with the cloudop controller registered.
func New(restConfig *rest.Config, o Options) (ctrl.Manager, error) {
	return newManager(restConfig, o, nil)
}

// newManager is New with a last say on controller-runtime's options
// (tests run several managers in one process, which controller-runtime's
// unique controller names forbid unless told).
func newManager(restConfig *rest.Config, o Options, adjust func(*ctrl.Options)) (ctrl.Manager, error) {
	selector, err := parseWatchSelector(o.WatchLabelSelector)
	if err != nil {
		return nil, err
	}
	leaseID := o.LeaderElectionID
	if leaseID == "" {
		leaseID = leaseFor(selector)
	}
	if o.CloudBudgetShards < 0 {
		return nil, fmt.Errorf("cloud budget shards %d: must not be negative", o.CloudBudgetShards)
	}
	policy := controller.DefaultPollPolicy()
	if o.Policy != nil {
		policy = *o.Policy
	}
	if !(policy.StepPaceFactor >= 0) { // NaN too
		return nil, fmt.Errorf("step pace factor %v: must be 0 or more", policy.StepPaceFactor)
	}
	if err := checkAlignSpread(policy, o); err != nil {
		return nil, err
	}
	if o.IdentityCredentialDuration != 0 {
		if err := identity.CheckCredentialDuration(o.IdentityCredentialDuration); err != nil {
			return nil, err
		}
	}
	if o.StepEvents != "" {
		if err := new(controller.StepEvents).Set(string(o.StepEvents)); err != nil {
			return nil, fmt.Errorf("step events %w", err)
		}
	}
	namespaces, err := parseWatchNamespaces(o.WatchNamespaces)
	if err != nil {
		return nil, err
	}
	metricsOpts, err := metricsOptions(o.MetricsAddr, o.MetricsSecure, o.MetricsCertDir)
	if err != nil {
		return nil, err
	}
	o.RateLimit = o.RateLimit.Split(o.CloudBudgetShards)
	ctrl.Log.WithName("setup").Info("scope", "watchNamespaces", scopeNamespaces(namespaces),
		"watchLabelSelector", o.WatchLabelSelector, "leaderElectionID", leaseID,
		"cloudBudgetShards", max(o.CloudBudgetShards, 1))
	serviceEndpoints, iamEndpoint, err := splitIAMEndpoint(o.ServiceEndpoints)
	if err != nil {
		return nil, err
	}
	o.ServiceEndpoints = serviceEndpoints
	router, err := NewRouter(o)
	if err != nil {
		return nil, err
	}
	cfg := rest.CopyConfig(restConfig)
	if o.KubeQPS > 0 {
		cfg.QPS, cfg.Burst = o.KubeQPS, o.KubeBurst
	}
	lease, renew, retry := leaderTimings(o)
	if o.LeaderElect {
		if err := CheckLeaderTimings(lease, renew, retry); err != nil {
			return nil, err
		}
	}
	mgrOpts := ctrl.Options{
		Scheme:                  NewScheme(),
		Metrics:                 metricsOpts,
		HealthProbeBindAddress:  defaultString(o.ProbeAddr, "0"),
		LeaderElection:          o.LeaderElect,
		LeaderElectionID:        leaseID,
		LeaderElectionNamespace: o.LeaderElectionNamespace,
		LeaseDuration:           &lease,
		RenewDeadline:           &renew,
		RetryPeriod:             &retry,
		// On SIGTERM (a rolling update, a drained node) the leader gives the
		// lease back once its reconciles have finished, so a standby takes
		// over within one retry period instead of a whole lease duration.
		// Safe because the process exits as soon as the manager stops.
		LeaderElectionReleaseOnCancel: true,
		Cache:                         cacheOptions(selector, namespaces),
	}
	if adjust != nil {
		adjust(&mgrOpts)
	}
	mgr, err := ctrl.NewManager(cfg, mgrOpts)
	if err != nil {
		return nil, fmt.Errorf("creating manager: %w", err)
	}
	reconciler := &controller.CloudOperationReconciler{
		Client:   mgr.GetClient(),
		Secrets:  &controller.SecretCache{Reader: mgr.GetAPIReader(), TTL: defaultDuration(o.SecretCacheTTL, 5*time.Second)},
		Observer: router,
		Recorder: &controller.EventWriter{
			Client:     mgr.GetClient(),
			Controller: EventController,
			Instance:   reportingInstance(),
			Clock:      clock.RealClock{},
		},
		StepEvents: o.StepEvents,
		Policy:     policy,
		History:    controller.NewStepHistory(),
		Clock:      clock.RealClock{},
	}
	if !o.DisableWorkloadIdentity {
		reconciler.Identity = &identity.Provider{
			Reader: mgr.GetAPIReader(),
			Tokens: mgr.GetClient(),
			// One client for every exchange, so they reuse connections.
			Exchanger:           &identity.Exchanger{Client: transport.NewHTTPTransportClient(), Endpoint: iamEndpoint, Timeout: o.RequestTimeout},
			Audience:            o.IdentityAudience,
			CredentialDuration:  o.IdentityCredentialDuration,
			MinExchangeInterval: o.IdentityMinExchangeInterval,
			ExchangeQPS:         o.IdentityExchangeQPS,
			ServiceAccountTTL:   o.SecretCacheTTL,
		}
	}
	if o.ManagerIdentity != "" {
		if reconciler.Identity == nil {
			return nil, errors.New("--manager-identity needs workload identity, which --workload-identity=false turns off")
		}
		sa, err := parseServiceAccount(o.ManagerIdentity)
		if err != nil {
			return nil, fmt.Errorf("manager identity: %w", err)
		}
		reconciler.ManagerIdentity = &sa
	}
	if err := setUpTraces(mgr, reconciler, o); err != nil {
		return nil, err
	}
	// The step history is rebuilt from the objects at start-up, so a
	// restart keeps the estimates.
	if err := mgr.Add(&controller.HistoryLoader{Reader: mgr.GetClient(), History: reconciler.History}); err != nil {
		return nil, err
	}
	if err := reconciler.SetupWithManager(mgr, max(o.Workers, 1), defaultDuration(o.MaxRetryDelay, time.Minute)); err != nil {
		return nil, fmt.Errorf("setting up controller: %w", err)
	}
	// Sources share the trackers' identity, router and so the BCS list
	// cache: a source and the trackers of its operations cost one list.
	sources := &controller.SourceReconciler{
		Client:          mgr.GetClient(),
		Secrets:         reconciler.Secrets,
		Identity:        reconciler.Identity,
		ManagerIdentity: reconciler.ManagerIdentity,
		Lister:          router,
		InheritedLabels: []string{ShardLabel},
		Policy:          policy,
		Clock:           clock.RealClock{},
	}
	// A cluster upgraded to this manager without the CloudOperationSource
	// CRD still gets its CloudOperations tracked.
	if _, err := mgr.GetRESTMapper().RESTMapping(opsv1.GroupVersion.WithKind("CloudOperationSource").GroupKind(), opsv1.GroupVersion.Version); err != nil {
		ctrl.Log.WithName("setup").Info("CloudOperationSource is not served (install its CRD to discover operations): the source controller is off", "reason", err.Error())
	} else if err := sources.SetupWithManager(mgr); err != nil {
		return nil, fmt.Errorf("setting up the source controller: %w", err)
	}
	// One collector per process: a second manager in the same process (tests)
	// keeps the first one's.
	if err := metrics.Registry.Register(controller.PhaseCollector{Reader: mgr.GetClient()}); err != nil && !errors.As(err, &prometheus.AlreadyRegisteredError{}) {
		return nil, err
	}
	if err := mgr.AddHealthzCheck("healthz", healthz.Ping); err != nil {
		return nil, err
	}
	if err := mgr.AddReadyzCheck("readyz", healthz.Ping); err != nil {
		return nil, err
	}
	return mgr, nil
}

// NewRouter wires the service adapters explicitly: no registries. It
// builds one adapter per family of the service table (cloud.Descriptors)
// with the family's constructor in adapters, and routes every service of
// the table to its family's adapter. All adapters share one HTTP client,
// so they share its rate limiter and coalescing.
func NewRouter(o Options) (*transport.Router, error) {
	overrides := map[cloud.Service]string{}
	for _, v := range o.ServiceEndpoints {
		svc, url, err := transport.ParseServiceEndpoint(v)
		if err != nil {
			return nil, fmt.Errorf("service endpoint %q: %w", v, err)
		}
		overrides[svc] = url
	}
	endpoints := &transport.EndpointResolver{Overrides: overrides, Allowed: o.AllowedEndpoints}
	if err := endpoints.Validate(); err != nil {
		return nil, err
	}
	httpClient := transport.NewHTTPClient(o.RequestTimeout)
	httpClient.Limiter = transport.NewRateLimiter(o.RateLimit)
	// One adapter per family: the services of a family (the classic and
	// the database jobs) share it, and the Router gives each request its
	// own service's host.
	families := map[cloud.Family]cloud.Fetcher{}
	services := make(map[cloud.Service]cloud.Fetcher, len(cloud.Descriptors))
	for _, d := range cloud.Descriptors {
		f, ok := families[d.Family]
		if !ok {
			newAdapter, known := adapters[d.Family]
			if !known {
				return nil, fmt.Errorf("service %s: no adapter for family %q", d.Name, d.Family)
			}
			f = newAdapter(httpClient, o)
			families[d.Family] = f
		}
		services[d.Name] = f
	}
	transport.InitServiceMetrics(slices.Collect(maps.Keys(services))...)
	// CTS tracks nothing itself; CTS sources read it on the same client
	// (its own rate-limit buckets, under service CTS).
	discoverers := map[cloud.Service]cloud.Discoverer{cloud.ServiceCTS: cts.New(httpClient)}
	return &transport.Router{Endpoints: endpoints, Services: services, Discoverers: discoverers}, nil
}

// adapters builds each family's adapter on the shared client, with the
// options that concern it. TestAdaptersCoverTheTable checks it has
// exactly the table's families.
var adapters = map[cloud.Family]func(*transport.HTTPClient, Options) cloud.Fetcher{
	cloud.FamilyBCS: func(c *transport.HTTPClient, o Options) cloud.Fetcher {
		a := bcs.New(c)
		a.Lists.Window = bcsListWindow(o)
		return a
	},
	cloud.FamilyCCE:        func(c *transport.HTTPClient, _ Options) cloud.Fetcher { return cce.New(c) },
	cloud.FamilyAOS:        func(c *transport.HTTPClient, _ Options) cloud.Fetcher { return aos.New(c) },
	cloud.FamilyDWS:        func(c *transport.HTTPClient, _ Options) cloud.Fetcher { return dws.New(c) },
	cloud.FamilyClassicJob: func(c *transport.HTTPClient, _ Options) cloud.Fetcher { return classicjob.New(c) },
	cloud.FamilyDBJob:      func(c *transport.HTTPClient, _ Options) cloud.Fetcher { return rdsjob.New(c) },
	cloud.FamilyRFS:        func(c *transport.HTTPClient, _ Options) cloud.Fetcher { return rfs.New(c) },
}

// bcsListWindow is how long one BCS list answer serves other operations:
// --bcs-list-window, or the adapter's default when it is not positive.
func bcsListWindow(o Options) time.Duration {
	if o.BCSListWindow > 0 {
		return o.BCSListWindow
	}
	return bcs.DefaultListWindow
}

// checkAlignSpread refuses a poll policy whose aligned polls (the
// services with cloud.Descriptor.AlignedPolls: BCS) spread further past
// their shared tick than one list answer is kept: the polls of one tick
// would then no longer share one list call, and every extra call costs
// the account's budget.
func checkAlignSpread(policy controller.PollPolicy, o Options) error {
	if window := bcsListWindow(o); policy.AlignSpread > window {
		return fmt.Errorf("align spread %v is longer than the BCS list window %v (--bcs-list-window): polls aligned to one tick would not share one list call", policy.AlignSpread, window)
	}
	return nil
}

// setUpTraces gives the reconciler its trace exporter: o.Traces, or one
// from the OTEL_EXPORTER_OTLP_* variables, shut down (its queue sent)
// when the manager stops.
func setUpTraces(mgr ctrl.Manager, r *controller.CloudOperationReconciler, o Options) error {
	if o.Traces != nil {
		r.Traces = o.Traces
		return nil
	}
	if !tracing.Configured() {
		return nil
	}
	exp, err := tracing.NewFromEnv(context.Background())
	if err != nil {
		return err
	}
	r.Traces = exp
	ctrl.Log.WithName("setup").Info("exporting finished operations as OTLP traces")
	return mgr.Add(ctrlmanager.RunnableFunc(func(ctx context.Context) error {
		<-ctx.Done()
		stop, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		return exp.Shutdown(stop)
	}))
}

// splitIAMEndpoint takes IAM=URL out of the --service-endpoint values:
// IAM is no service whose operations are tracked, only the exchange's
// endpoint. It returns the other values and IAM's base URL ("" if none).
func splitIAMEndpoint(values []string) (rest []string, iam string, err error) {
	for _, v := range values {
		name, raw, ok := strings.Cut(v, "=")
		if !ok || !strings.EqualFold(strings.TrimSpace(name), string(identity.IAMService)) {
			rest = append(rest, v)
			continue
		}
		if iam, err = transport.NormalizeBaseURL(raw); err != nil {
			return nil, "", fmt.Errorf("service endpoint %q: %w", v, err)
		}
	}
	return rest, iam, nil
}

func defaultDuration(d, def time.Duration) time.Duration {
	if d == 0 {
		return def
	}
	return max(d, 0)
}

func defaultString(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// nonZero returns a pointer to d, or nil (the default) when d is 0.
// Leader election defaults. The renew deadline is shorter than
// controller-runtime's 10 s so that the defaults pass
// CheckLeaderTimings.
const (
	DefaultLeaseDuration = 15 * time.Second
	DefaultRenewDeadline = 8 * time.Second
	DefaultRetryPeriod   = 2 * time.Second
)

// leaderTimings are o's lease duration, renew deadline and retry period,
// with the defaults for zero values.
func leaderTimings(o Options) (lease, renew, retry time.Duration) {
	return defaultDuration(o.LeaseDuration, DefaultLeaseDuration), defaultDuration(o.RenewDeadline, DefaultRenewDeadline), defaultDuration(o.RetryPeriod, DefaultRetryPeriod)
}

// CheckLeaderTimings refuses timings that let two leaders run at once. A
// leader that cannot renew stops its controllers at the latest retry +
// renew deadline after its last renewal, and then spends up to
// max(renew/2, 1 s) handing the lease back (LeaderElectionReleaseOnCancel);
// a standby may take over one lease duration after that renewal. So the
// lease must outlast the three together (docs/reliability.md, "Network
// partition", measured it).
func CheckLeaderTimings(lease, renew, retry time.Duration) error {
	release := max(renew/2, time.Second)
	if renew <= 0 || retry <= 0 || lease <= retry+renew+release {
		return fmt.Errorf("leader election timings let two leaders overlap: the lease duration (%v) must be longer than the retry period (%v) + the renew deadline (%v) + the release time (%v, half the renew deadline, at least 1s) = %v",
			lease, retry, renew, release, retry+renew+release)
	}
	return nil
}

// parseServiceAccount parses "NAMESPACE/NAME".
func parseServiceAccount(s string) (types.NamespacedName, error) {
	ns, name, ok := strings.Cut(s, "/")
	if !ok {
		return types.NamespacedName{}, fmt.Errorf("%q: want NAMESPACE/NAME", s)
	}
	if errs := validation.IsDNS1123Label(ns); len(errs) > 0 {
		return types.NamespacedName{}, fmt.Errorf("%q: namespace: %s", s, strings.Join(errs, "; "))
	}
	if errs := validation.IsDNS1123Subdomain(name); len(errs) > 0 {
		return types.NamespacedName{}, fmt.Errorf("%q: name: %s", s, strings.Join(errs, "; "))
	}
	return types.NamespacedName{Namespace: ns, Name: name}, nil
}
