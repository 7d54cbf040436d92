// Package controller reconciles CloudOperations: it polls the cloud
// service through an injected Observer, derives status with pure functions,
// and patches status once per reconcile when something visible changed.
package controller

import (
	"context"
	"crypto/sha256"
	"errors"
	"sync"
	"time"

	"golang.org/x/time/rate"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	opsv1 "github.com/cloudop/cloudop/api/v1alpha1"
	"github.com/cloudop/cloudop/internal/cloud"
)

// Observer fetches the current state of one cloud operation. specEndpoint
// is the object's spec.endpoint, which the observer checks against its
// allowlist. transport.Router implements it; tests inject their own.
type Observer interface {
	Observe(ctx context.Context, t cloud.Target, specEndpoint string) (*cloud.Operation, error)
}

// EventRecorder announces transitions. It must record each Event.Key at
// most once per object: the reconciler announces before it writes status,
// so after a failed write or a restart it announces the same transition
// again. EventWriter implements it.
type EventRecorder interface {
	Record(ctx context.Context, obj *opsv1.CloudOperation, events []Event) error
}

// CloudOperationReconciler polls cloud operations and mirrors them into
// CloudOperation status.
type CloudOperationReconciler struct {
	// Client reads and patches CloudOperations (cached reads).
	Client client.Client
	// Secrets reads credentials Secrets. The manager gives it its uncached
	// API reader, so Secrets are fetched one by one with "get", never
	// listed or watched cluster-wide.
	Secrets *SecretCache
	// Identity obtains temporary credentials for objects that name a
	// ServiceAccount (workload identity); nil refuses such objects with
	// reason IdentityInvalid.
	Identity WorkloadIdentity
	// ManagerIdentity, when set, is the ServiceAccount (the manager's own)
	// that signs for objects naming neither a Secret nor a ServiceAccount.
	// Only single-tenant installs set it: every namespace could use it.
	ManagerIdentity *types.NamespacedName
	// Observer fetches operations from the cloud.
	Observer Observer
	// Recorder records transition events.
	Recorder EventRecorder
	// StepEvents says which step changes are announced; the zero value
	// announces failed, cancelled and unknown steps only.
	StepEvents StepEvents
	// Policy decides when to poll next.
	Policy PollPolicy
	// History learns how long steps take and estimates completion
	// (status.estimatedCompletionTime) and where to poll; nil turns both
	// off.
	History *StepHistory
	// Traces exports each operation as a trace when it ends; nil turns
	// tracing off.
	Traces TraceExporter
	// Clock is the time source; tests use a fake one.
	Clock clock.PassiveClock

	failures failureCounter
	written  writtenStates
}

// +kubebuilder:rbac:groups=ops.cloudop.dev,resources=cloudoperations,verbs=get;list;watch;delete
// +kubebuilder:rbac:groups=ops.cloudop.dev,resources=cloudoperations/status,verbs=get;patch;update
// +kubebuilder:rbac:groups="",resources=secrets,verbs=get
// +kubebuilder:rbac:groups="",resources=events,verbs=create

// Workload identity: read the ServiceAccount a CloudOperation names and
// mint short-lived tokens for it (docs/security.md).
// +kubebuilder:rbac:groups="",resources=serviceaccounts,verbs=get
// +kubebuilder:rbac:groups="",resources=serviceaccounts/token,verbs=create

// The manager's secure metrics endpoint (--metrics-secure) asks the API
// server who a scraper is and whether it may get /metrics.
// +kubebuilder:rbac:groups=authentication.k8s.io,resources=tokenreviews,verbs=create
// +kubebuilder:rbac:groups=authorization.k8s.io,resources=subjectaccessreviews,verbs=create

// Reconcile observes one CloudOperation and updates its status.
func (r *CloudOperationReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	obj := &opsv1.CloudOperation{}
	if err := r.Client.Get(ctx, req.NamespacedName, obj); err != nil {
		if apierrors.IsNotFound(err) {
			r.failures.forget(req.NamespacedName)
			r.written.forget(req.NamespacedName)
		}
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if !obj.DeletionTimestamp.IsZero() {
		return ctrl.Result{}, nil
	}

	// A fresh object needs no status write before its first poll: the
	// API server defaults status.observedGeneration to 0, which kstatus
	// reads as in progress, so the first reconcile writes once.
	pollRequest := obj.GetAnnotations()[opsv1.AnnotationRequestedPoll]
	pollRequested := pollRequest != "" && pollRequest != obj.Status.LastHandledPollRequest
	if obj.IsSuspended() && !pollRequested {
		if _, err := r.patchStatus(ctx, obj, suspendedStatus(obj)); err != nil {
			return writeFailed(ctx, err)
		}
		return ctrl.Result{}, nil
	}
	if donePolling(obj) && !pollRequested {
		return r.expireFinished(ctx, obj)
	}

	if wait := r.Policy.FirstPollWait(obj, r.Clock.Now()); wait > 0 && !pollRequested {
		return r.waitForFirstPoll(ctx, obj, wait)
	}

	obs := r.observe(ctx, obj)
	obs.pollRequest = pollRequest
	if cloud.IsRateLimited(obs.err) {
		// Nothing was sent: our own token bucket deferred the call. Not a
		// failure, nothing to report; try again when a token is due.
		return r.waitForFirstPoll(ctx, obj, r.Policy.deferral(obs.err))
	}
	failures := r.failures.next(req.NamespacedName, obs.err)
	if obs.err != nil {
		log.FromContext(ctx).V(1).Info("observation failed", "kind", cloud.KindOf(obs.err).String(), "error", obs.err.Error(), "failures", failures)
	}
	next := computeStatus(obj, obs)
	if obs.err == nil && r.History != nil {
		next.stepEnd = r.History.applyEstimate(obj, &next.status, obs.now)
	}

	// Announce, then write: a kill in between announces the same
	// transition again after the restart, which the recorder turns into a
	// no-op, whereas the other order would lose the event for good.
	if events := transitionEvents(&obj.Status, &next.status, obs.unknownWords(), r.StepEvents); len(events) > 0 {
		if err := r.announce(ctx, obj, events); err != nil {
			return writeFailed(ctx, err)
		}
	}
	// Exported before the write that ends polling, for the same reason:
	// a kill in between exports it again, with the same IDs.
	r.exportTrace(ctx, obj, &next.status)
	if _, err := r.patchStatus(ctx, obj, next.status); err != nil {
		return writeFailed(ctx, err)
	}
	if d, ok := detectedAfter(&obj.Status, &next.status, r.Clock.Now()); ok {
		detectionLatency.Observe(d.Seconds())
	}
	spans := finishedSpans(&obj.Status, &next.status)
	observeDurations(obj, spans)
	r.History.observe(obj, spans)
	r.failures.store(req.NamespacedName, failures)

	after, again := r.Policy.NextPoll(obj, next, obs, failures)
	if !again {
		// Finished now: come back when its TTL passes, if it has one.
		if left, ok := ttlLeft(obj.Spec.TTLSecondsAfterFinished, &next.status, r.Clock.Now()); ok {
			return ctrl.Result{RequeueAfter: max(left, time.Second)}, nil
		}
		return ctrl.Result{}, nil
	}
	return ctrl.Result{RequeueAfter: after}, nil
}

// TraceExporter exports a finished operation (its final status) as a
// trace; tracing.Exporter implements it.
type TraceExporter interface {
	Export(ctx context.Context, obj *opsv1.CloudOperation) error
}

// traceExportTimeout bounds how long a reconcile waits for the trace
// backend: a slow collector must not hold a worker.
const traceExportTimeout = 5 * time.Second

// exportTrace exports obj as it will be with next, when next ends its
// polling (a terminal phase the service will not resume). A failed
// export is logged and counted, and never holds up the status.
func (r *CloudOperationReconciler) exportTrace(ctx context.Context, obj *opsv1.CloudOperation, next *opsv1.CloudOperationStatus) {
	if r.Traces == nil || finishedChild(obj) {
		return
	}
	final := obj.DeepCopy()
	final.Status = *next.DeepCopy()
	if !finishedChild(final) {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, traceExportTimeout)
	defer cancel()
	err := r.Traces.Export(ctx, final)
	traceExports.WithLabelValues(map[bool]string{true: "ok", false: "error"}[err == nil]).Inc()
	if err != nil {
		log.FromContext(ctx).Error(err, "exporting the operation's trace")
	}
}

// waitForFirstPoll requeues obj after wait without observing it. An object
// never polled yet says so in its conditions first, since its first poll
// is some time away (an aligned BCS tick, a rate-limit token).
func (r *CloudOperationReconciler) waitForFirstPoll(ctx context.Context, obj *opsv1.CloudOperation, wait time.Duration) (ctrl.Result, error) {
	if needsInitialStatus(obj) {
		if _, err := r.patchStatus(ctx, obj, initialStatus(obj)); err != nil {
			return writeFailed(ctx, err)
		}
	}
	return ctrl.Result{RequeueAfter: wait}, nil
}

// writeFailed turns a failed announcement or status patch into the
// reconcile's result. A conflict means our cached copy was stale: look
// again once the cache has caught up. A deleted object needs nothing more.
func writeFailed(ctx context.Context, err error) (ctrl.Result, error) {
	if apierrors.IsConflict(err) {
		log.FromContext(ctx).V(1).Info("status conflict, retrying with a fresh copy")
		return ctrl.Result{RequeueAfter: time.Second}, nil
	}
	return ctrl.Result{}, client.IgnoreNotFound(err)
}

// announce records transition events, but never from a copy that lags
// behind a status this process wrote (a cache catching up): a transition
// computed from it could announce a change already announced from a later
// state. Such a copy is reported as a conflict, like a refused patch.
func (r *CloudOperationReconciler) announce(ctx context.Context, obj *opsv1.CloudOperation, events []Event) error {
	if r.written.lagging(client.ObjectKeyFromObject(obj), &obj.Status) {
		return apierrors.NewConflict(opsv1.GroupVersion.WithResource("cloudoperations").GroupResource(), obj.Name,
			errors.New("the cached copy does not show the last status written yet"))
	}
	return r.Recorder.Record(ctx, obj, events)
}

// expireFinished deletes a finished object once its
// spec.ttlSecondsAfterFinished has passed, or requeues it for then. The
// events of its transitions were written before the status that shows it
// finished (see Reconcile), so deleting it loses none.
func (r *CloudOperationReconciler) expireFinished(ctx context.Context, obj *opsv1.CloudOperation) (ctrl.Result, error) {
	left, ok := ttlLeft(obj.Spec.TTLSecondsAfterFinished, &obj.Status, r.Clock.Now())
	if !ok {
		return ctrl.Result{}, nil
	}
	if left > 0 {
		return ctrl.Result{RequeueAfter: left}, nil
	}
	// The UID precondition: never a newer object of the same name.
	err := r.Client.Delete(ctx, obj, client.Preconditions{UID: &obj.UID})
	if err == nil {
		log.FromContext(ctx).V(1).Info("deleted: its ttlSecondsAfterFinished passed", "finished", obj.Status.LastChangeTime)
		expiredTotal.Inc()
	}
	return ctrl.Result{}, client.IgnoreNotFound(err)
}

// ttlLeft is how long a finished object (status st) has left before its
// spec.ttlSecondsAfterFinished (ttl) passes, counted from the last visible
// change (the transition to the final phase, as cloudop saw it), and
// false when it has no TTL or is not finished.
func ttlLeft(ttl *int32, st *opsv1.CloudOperationStatus, now time.Time) (time.Duration, bool) {
	if ttl == nil || !st.Phase.IsTerminal() || st.LastChangeTime == nil {
		return 0, false
	}
	return st.LastChangeTime.Add(time.Duration(*ttl) * time.Second).Sub(now), true
}

// donePolling reports whether the object's current generation already has
// a terminal phase that will not change. Resumable failures keep polling.
func donePolling(obj *opsv1.CloudOperation) bool {
	if obj.Status.ObservedGeneration != obj.Generation {
		return false
	}
	stalled := obj.GetCondition(opsv1.ConditionStalled)
	if obj.IsTerminal() {
		return stalled == nil || stalled.Reason != opsv1.ReasonResumable
	}
	// Permanent configuration errors wait for a spec change; an overdue
	// operation is still polled, to see it move again.
	return stalled != nil && stalled.Status == metav1.ConditionTrue && stalled.Reason != opsv1.ReasonProgressDeadlineExceeded
}

// observe reads the object's credentials and asks the cloud for its
// operation. Every outcome but a local rate-limit deferral is counted.
func (r *CloudOperationReconciler) observe(ctx context.Context, obj *opsv1.CloudOperation) observation {
	var op *cloud.Operation
	target, forget, err := resolveTarget(ctx, r.Secrets, r.Identity, r.ManagerIdentity, obj)
	if err == nil {
		op, err = r.Observer.Observe(ctx, target, obj.Spec.Endpoint)
		if err != nil && cloud.KindOf(err) == cloud.KindAuth {
			// The Secret may have been fixed since it was cached, or
			// the temporary credentials revoked: read or exchange
			// again next time.
			forget()
		}
	}
	if err != nil {
		op = nil
	}
	if !cloud.IsRateLimited(err) {
		observations.WithLabelValues(string(obj.Spec.Service), resultLabel(err)).Inc()
	}
	return observation{op: op, err: err, now: r.Clock.Now()}
}

// patchStatus writes next as obj's status with one merge patch, and only
// when it differs from what obj already has. It returns the object as
// written (obj itself when nothing was sent); obj is left untouched.
func (r *CloudOperationReconciler) patchStatus(ctx context.Context, obj *opsv1.CloudOperation, next opsv1.CloudOperationStatus) (*opsv1.CloudOperation, error) {
	if equality.Semantic.DeepEqual(obj.Status, next) {
		return obj, nil
	}
	written := obj.DeepCopy()
	written.Status = next
	// The patch carries the resourceVersion it was computed from: a status
	// derived from a stale cache (after a watch outage, say) is refused
	// instead of written, so no transition is reported twice.
	if err := r.Client.Status().Patch(ctx, written, client.MergeFromWithOptions(obj, client.MergeFromWithOptimisticLock{})); err != nil {
		return obj, err
	}
	r.written.remember(client.ObjectKeyFromObject(written), &written.Status)
	statusWrites.Inc()
	return written, nil
}

// SetupWithManager registers the controller. Status writes do not trigger
// reconciles (generation and annotation changes do), so a poll is never
// followed by a second, useless one. maxRetryDelay caps the work queue's
// per-object backoff after failed reconciles; zero keeps controller-runtime's
// default.
func (r *CloudOperationReconciler) SetupWithManager(mgr ctrl.Manager, workers int, maxRetryDelay time.Duration) error {
	opts := controller.Options{MaxConcurrentReconciles: workers}
	if maxRetryDelay > 0 {
		opts.RateLimiter = retryRateLimiter(maxRetryDelay)
	}
	return ctrl.NewControllerManagedBy(mgr).
		For(&opsv1.CloudOperation{}, builder.WithPredicates(r.forgetRemoved(), predicate.Or(
			predicate.GenerationChangedPredicate{},
			predicate.AnnotationChangedPredicate{},
		))).
		WithOptions(opts).
		Named("cloudoperation").
		Complete(r)
}

// forgetRemoved lets every event through and, when the cache loses an
// object (deleted, or relabelled out of this instance's shard), forgets at
// once what the reconciler remembers of it. The reconcile that follows
// would forget it too (NotFound), but an object relabelled away and back
// before that reconcile runs is found again, with a status another shard
// wrote: remembering our older write would take that newer status for a
// lagging copy and refuse to announce from it.
func (r *CloudOperationReconciler) forgetRemoved() predicate.Funcs {
	return predicate.Funcs{DeleteFunc: func(e event.DeleteEvent) bool {
		key := client.ObjectKeyFromObject(e.Object)
		r.failures.forget(key)
		r.written.forget(key)
		return true
	}}
}

// retryRateLimiter paces retries of failed reconciles, which return an error
// only when the Kubernetes API refused a write or a read (cloud errors are
// written as conditions and polled again by RequeueAfter). It is
// controller-runtime's default (per object 5 ms doubling, and 10 retries per
// second overall with a burst of 100) with a lower per-object cap: the
// default 1000 s would leave an object untouched for a quarter of an hour
// after a long API server outage, since nothing else requeues it.
func retryRateLimiter(maxDelay time.Duration) workqueue.TypedRateLimiter[reconcile.Request] {
	return workqueue.NewTypedMaxOfRateLimiter(
		workqueue.NewTypedItemExponentialFailureRateLimiter[reconcile.Request](5*time.Millisecond, maxDelay),
		&workqueue.TypedBucketRateLimiter[reconcile.Request]{Limiter: rate.NewLimiter(rate.Limit(10), 100)},
	)
}

func resultLabel(err error) string {
	if err == nil {
		return "ok"
	}
	return cloud.KindOf(err).String()
}

// failureCounter counts consecutive failed polls per object, for backoff.
// A poll counts once its outcome is written: a reconcile whose status write
// fails is retried by the work queue within milliseconds and observes
// again, and counting those retries would turn a few seconds of API server
// outage into a next poll MaxBackoff away. It lives in memory: after a
// restart backoff starts over, which costs at most a few extra calls.
type failureCounter struct {
	mu sync.Mutex
	n  map[types.NamespacedName]int
}

// next returns the count of consecutive failures including this
// observation's outcome, without storing it.
func (f *failureCounter) next(key types.NamespacedName, err error) int {
	if err == nil {
		return 0
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.n[key] + 1
}

// store keeps the count returned by next once its poll is written.
func (f *failureCounter) store(key types.NamespacedName, n int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if n == 0 {
		delete(f.n, key)
		return
	}
	if f.n == nil {
		f.n = map[types.NamespacedName]int{}
	}
	f.n[key] = n
}

func (f *failureCounter) forget(key types.NamespacedName) {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.n, key)
}

// writtenStates remembers, per object, a digest of the observed state
// (observedState) of the last status this process wrote. A copy showing
// another state lags behind that write. Only the leader writes status, and
// a new leader starts with a freshly listed cache and an empty memory, so
// this needs no API call; writes by others (annotations, spec) do not
// change the observed state and are caught by the patch's optimistic lock.
type writtenStates struct {
	mu sync.Mutex
	m  map[types.NamespacedName][sha256.Size]byte
}

func (w *writtenStates) remember(key types.NamespacedName, st *opsv1.CloudOperationStatus) {
	sum := sha256.Sum256([]byte(observedState(st)))
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.m == nil {
		w.m = map[types.NamespacedName][sha256.Size]byte{}
	}
	w.m[key] = sum
}

func (w *writtenStates) lagging(key types.NamespacedName, st *opsv1.CloudOperationStatus) bool {
	w.mu.Lock()
	last, ok := w.m[key]
	w.mu.Unlock()
	return ok && last != sha256.Sum256([]byte(observedState(st)))
}

func (w *writtenStates) forget(key types.NamespacedName) {
	w.mu.Lock()
	defer w.mu.Unlock()
	delete(w.m, key)
}
