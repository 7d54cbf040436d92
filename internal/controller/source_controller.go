package controller

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/clock"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/metrics"
	"sigs.k8s.io/controller-runtime/pkg/predicate"

	opsv1 "github.com/cloudop/cloudop/api/v1alpha1"
	"github.com/cloudop/cloudop/internal/cloud"
)

// Lister lists what a source names: the operations of one cloud
// resource, or the jobs CTS traces name; specEndpoint is checked against
// the allowlist as for Observer. transport.Router implements it.
type Lister interface {
	List(ctx context.Context, q cloud.ListQuery, specEndpoint string) ([]cloud.Listed, error)
}

// ctsLookback is how far back a CTS source without spec.since reads
// traces on its first list: CTS keeps a week of them, and a source is
// about what happens from now on.
const ctsLookback = time.Hour

// defaultSourceInterval is spec.interval's default (the CRD's too).
const defaultSourceInterval = time.Minute

var (
	sourceLists = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "cloudop_source_lists_total",
		Help: "Lists of a resource's operations by CloudOperationSources, by service and result (ok or the error kind).",
	}, []string{"service", "result"})
	sourceCreated = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "cloudop_source_operations_created_total",
		Help: "CloudOperations created by CloudOperationSources for operations nobody had registered, by service.",
	}, []string{"service"})
	sourcePruned = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "cloudop_source_operations_pruned_total",
		Help: "Finished CloudOperations of sources deleted by their history limits.",
	})
)

func init() {
	metrics.Registry.MustRegister(sourceLists, sourceCreated, sourcePruned)
}

// SourceReconciler lists the operations of the resource each
// CloudOperationSource names and creates a CloudOperation for each one
// not mirrored yet; the CloudOperationReconciler tracks them from there.
type SourceReconciler struct {
	// Client reads sources and CloudOperations (cached), creates and
	// deletes CloudOperations and patches source status.
	Client client.Client
	// Secrets, Identity and ManagerIdentity resolve a source's identity
	// as they do a CloudOperation's.
	Secrets         *SecretCache
	Identity        WorkloadIdentity
	ManagerIdentity *types.NamespacedName
	// Lister lists the operations of a resource.
	Lister Lister
	// InheritedLabels are the source's labels its CloudOperations get too
	// (the sharding key, so one instance serves a source and what it
	// created).
	InheritedLabels []string
	// Policy aligns the lists of services whose trackers poll on shared
	// wall-clock ticks (BCS) to the same ticks, so one list call serves
	// the source and the trackers; the manager passes the trackers'.
	Policy PollPolicy
	// Clock is the time source; tests use a fake one.
	Clock clock.PassiveClock
}

// +kubebuilder:rbac:groups=ops.cloudop.dev,resources=cloudoperationsources,verbs=get;list;watch
// +kubebuilder:rbac:groups=ops.cloudop.dev,resources=cloudoperationsources/status,verbs=get;patch;update
// +kubebuilder:rbac:groups=ops.cloudop.dev,resources=cloudoperations,verbs=create

// Reconcile lists one source's resource, creates the CloudOperations it
// lacks, applies the history limits and reports what it found.
func (r *SourceReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	src := &opsv1.CloudOperationSource{}
	if err := r.Client.Get(ctx, req.NamespacedName, src); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if !src.DeletionTimestamp.IsZero() {
		return ctrl.Result{}, nil
	}
	interval := defaultSourceInterval
	if src.Spec.Interval != nil {
		interval = src.Spec.Interval.Duration
	}

	probe := probeOperation(src)
	listed, err := r.list(ctx, src, probe)
	now := r.Clock.Now()
	next := *src.Status.DeepCopy()
	next.ObservedGeneration = src.Generation
	if err != nil {
		reason, stalled := errorReason(probe, observation{err: err, now: now})
		set := errorConditions(stalled)
		set.succeeded = absent
		next.Message = truncate(err.Error(), maxStatusMessage)
		setConditionList(&next.Conditions, src.Generation, set, reason, next.Message)
		if err := r.patchStatus(ctx, src, next); err != nil {
			return writeFailed(ctx, err)
		}
		return ctrl.Result{RequeueAfter: r.nextList(src, interval, now)}, nil
	}

	var all opsv1.CloudOperationList
	if err := r.Client.List(ctx, &all, client.InNamespace(src.Namespace)); err != nil {
		return ctrl.Result{}, err
	}
	children, registered := splitNamespace(src, all.Items)
	plan := planMirror(src, listed, children, registered)
	created := 0
	for _, l := range plan.create {
		child := r.childFor(src, l)
		switch err := r.Client.Create(ctx, child); {
		case err == nil:
			created++
			sourceCreated.WithLabelValues(string(l.Service)).Inc()
		case apierrors.IsAlreadyExists(err):
			// Created by an earlier run whose status write was lost, or by
			// a leader that lost its lease: the name is deterministic.
		default:
			return ctrl.Result{}, err
		}
	}
	pruned := 0
	for i := range plan.prune {
		obj := &plan.prune[i]
		if err := r.Client.Delete(ctx, obj, client.Preconditions{UID: &obj.UID}); client.IgnoreNotFound(err) != nil {
			return ctrl.Result{}, err
		}
		pruned++
		sourcePruned.Inc()
	}

	next.Resource = src.Spec.Resource()
	next.LastListTime = &metav1.Time{Time: now}
	next.Listed = int32(len(listed))
	next.Mirrored = int32(len(children) + created - pruned)
	next.Watermark = plan.watermark
	next.Message = fmt.Sprintf("listed %d operations of %s; %d CloudOperations (%d created, %d removed by the history limits)",
		len(listed), next.Resource, next.Mirrored, created, pruned)
	setConditionList(&next.Conditions, src.Generation, listedConditions, opsv1.ReasonListed, next.Message)
	if created > 0 || pruned > 0 {
		log.FromContext(ctx).Info("mirrored", "created", created, "pruned", pruned, "listed", len(listed))
	}
	if err := r.patchStatus(ctx, src, next); err != nil {
		return writeFailed(ctx, err)
	}
	return ctrl.Result{RequeueAfter: r.nextList(src, interval, now)}, nil
}

// nextList is the wait before src lists again: its interval, or for a
// service whose trackers poll on shared wall-clock ticks (BCS), the next
// tick of its interval, where the trackers' polls and the source's list
// share one call of the adapter's list cache.
func (r *SourceReconciler) nextList(src *opsv1.CloudOperationSource, interval time.Duration, now time.Time) time.Duration {
	if d, ok := cloud.Describe(cloud.Service(src.Spec.Service)); ok && d.AlignedPolls {
		return r.Policy.aligned(interval, now)
	}
	return interval
}

// listedConditions: the last list worked; a source has no Succeeded.
var listedConditions = conditionSet{ready: metav1.ConditionTrue, reconciling: absent, stalled: absent, succeeded: absent}

// list resolves the source's identity and lists its resource's
// operations since spec.since, in spec.phases.
func (r *SourceReconciler) list(ctx context.Context, src *opsv1.CloudOperationSource, probe *opsv1.CloudOperation) ([]cloud.Listed, error) {
	target, forget, err := resolveTarget(ctx, r.Secrets, r.Identity, r.ManagerIdentity, probe)
	var listed []cloud.Listed
	if err == nil {
		listed, err = r.Lister.List(ctx, listQuery(src, target), src.Spec.Endpoint)
		if err != nil && cloud.KindOf(err) == cloud.KindAuth {
			forget()
		}
	}
	if !cloud.IsRateLimited(err) {
		sourceLists.WithLabelValues(string(src.Spec.Service), resultLabel(err)).Inc()
	}
	if err != nil {
		return nil, err
	}
	return slices.DeleteFunc(listed, func(l cloud.Listed) bool {
		op := l.Operation
		return op == nil ||
			(src.Spec.Since != nil && op.StartTime != nil && op.StartTime.Before(src.Spec.Since.Time)) ||
			(len(src.Spec.Phases) > 0 && !slices.Contains(src.Spec.Phases, opsv1.Phase(op.Phase)))
	}), nil
}

// listQuery is what src asks its service for. A CTS list starts at the
// watermark (traces are mirrored once, so older ones need not be read
// again), else at spec.since, else ctsLookback before the source was
// created.
func listQuery(src *opsv1.CloudOperationSource, target cloud.Target) cloud.ListQuery {
	q := cloud.ListQuery{Target: target, TraceNames: src.Spec.TraceNames}
	if src.Spec.Service != opsv1.SourceCTS {
		return q
	}
	for _, svc := range src.Spec.Services {
		q.Services = append(q.Services, cloud.Service(svc))
	}
	switch {
	case src.Status.Watermark != nil:
		q.Since = src.Status.Watermark.Time
	case src.Spec.Since != nil:
		q.Since = src.Spec.Since.Time
	default:
		q.Since = src.CreationTimestamp.Add(-ctsLookback)
	}
	if src.Spec.Since != nil && src.Spec.Since.After(q.Since) {
		q.Since = src.Spec.Since.Time
	}
	return q
}

// patchStatus writes next as the source's status when it changed.
func (r *SourceReconciler) patchStatus(ctx context.Context, src *opsv1.CloudOperationSource, next opsv1.CloudOperationSourceStatus) error {
	if equality.Semantic.DeepEqual(src.Status, next) {
		return nil
	}
	written := src.DeepCopy()
	written.Status = next
	return r.Client.Status().Patch(ctx, written, client.MergeFromWithOptions(src, client.MergeFromWithOptimisticLock{}))
}

// probeOperation is a CloudOperation naming the source's resource and
// identity, so that the source resolves them exactly as its
// CloudOperations will.
func probeOperation(src *opsv1.CloudOperationSource) *opsv1.CloudOperation {
	return &opsv1.CloudOperation{
		ObjectMeta: metav1.ObjectMeta{Namespace: src.Namespace, Name: src.Name, CreationTimestamp: src.CreationTimestamp},
		Spec: opsv1.CloudOperationSpec{
			Service: opsv1.Service(src.Spec.Service), Region: src.Spec.Region, ProjectID: src.Spec.ProjectID,
			BlockchainID: src.Spec.BlockchainID, ClusterID: src.Spec.ClusterID,
			CredentialsSecretRef: src.Spec.CredentialsSecretRef, ServiceAccountName: src.Spec.ServiceAccountName,
			Endpoint: src.Spec.Endpoint,
		},
	}
}

// resourceKey is the resource of src that its operations' IDs are
// unique in ("" for CTS: a job ID is unique in its service).
func resourceKey(src *opsv1.CloudOperationSource) string {
	return src.Spec.BlockchainID + src.Spec.ClusterID
}

// operationKey identifies an operation across the source's list and the
// CloudOperations of the namespace.
func operationKey(svc cloud.Service, resource, id string) string {
	return string(svc) + "/" + resource + "/" + id
}

// childFor is the CloudOperation of a listed operation: named by
// childName, owned by the source (deleting the source deletes it),
// labelled with the source's name, the template's labels and the
// inherited ones.
func (r *SourceReconciler) childFor(src *opsv1.CloudOperationSource, l cloud.Listed) *opsv1.CloudOperation {
	labels := maps.Clone(src.Spec.Template.Labels)
	if labels == nil {
		labels = map[string]string{}
	}
	for _, key := range r.InheritedLabels {
		if v, ok := src.Labels[key]; ok {
			labels[key] = v
		}
	}
	labels[opsv1.LabelSource] = src.Name
	spec := probeOperation(src).Spec
	spec.Service = opsv1.Service(l.Service)
	spec.OperationID = l.ID
	if l.StackName != "" {
		spec.StackName = l.StackName // an RFS deployment found in CTS
	}
	spec.PollInterval = src.Spec.Template.PollInterval
	spec.ProgressDeadline = src.Spec.Template.ProgressDeadline
	spec.TTLSecondsAfterFinished = src.Spec.Template.TTLSecondsAfterFinished
	return &opsv1.CloudOperation{
		ObjectMeta: metav1.ObjectMeta{
			Namespace: src.Namespace, Name: childName(src, l.Service, l.ID),
			Labels: labels, Annotations: maps.Clone(src.Spec.Template.Annotations),
			// No blockOwnerDeletion: it would need update rights on the
			// sources' finalizers, and nothing waits on it.
			OwnerReferences: []metav1.OwnerReference{{
				APIVersion: opsv1.GroupVersion.String(), Kind: "CloudOperationSource",
				Name: src.Name, UID: src.UID, Controller: ptr.To(true),
			}},
		},
		Spec: spec,
	}
}

// childName is the CloudOperation name of operation id of service svc
// listed by src: the source's name and a hash of the service, resource
// and ID, so every run of every instance picks the same one and a create
// never duplicates.
func childName(src *opsv1.CloudOperationSource, svc cloud.Service, id string) string {
	sum := sha256.Sum256([]byte(operationKey(svc, resourceKey(src), id)))
	suffix := hex.EncodeToString(sum[:])[:10]
	base := src.Name
	if room := 253 - len(suffix) - 1; len(base) > room {
		base = base[:room]
	}
	return base + "-" + suffix
}

// splitNamespace separates the source's CloudOperations from the IDs of
// the operations of its resource that someone registered by hand: those
// are tracked already and are not mirrored a second time.
// The keys of registered are operationKey's.
func splitNamespace(src *opsv1.CloudOperationSource, all []opsv1.CloudOperation) (children []opsv1.CloudOperation, registered map[string]bool) {
	registered = map[string]bool{}
	for _, c := range all {
		if c.Labels[opsv1.LabelSource] == src.Name {
			children = append(children, c)
			continue
		}
		registered[operationKey(cloud.Service(c.Spec.Service), c.Spec.BlockchainID+c.Spec.ClusterID, c.Spec.OperationID)] = true
	}
	return children, registered
}

// mirrorPlan is what one list calls for.
type mirrorPlan struct {
	// create are the operations to create CloudOperations for, oldest
	// start first.
	create []cloud.Listed
	// prune are finished CloudOperations past the history limits.
	prune []opsv1.CloudOperation
	// watermark is status.watermark after this list.
	watermark *metav1.Time
}

// planMirror decides, from what the service listed and the source's
// CloudOperations, which to create and which to delete:
//   - an operation already mirrored, or registered by hand in the
//     namespace, is left alone;
//   - a finished operation, or one only known to have started (a trace),
//     that started no later than the watermark is not created again (it
//     was mirrored once, and deleted since);
//   - finished operations to create are capped by the history limits,
//     newest first, so a long history is not created only to be pruned;
//   - finished CloudOperations past the limits are pruned, oldest first.
//
// Operations without a start time are mirrored only while they run. The
// watermark is compared at whole seconds, the precision status keeps.
func planMirror(src *opsv1.CloudOperationSource, listed []cloud.Listed, children []opsv1.CloudOperation, registered map[string]bool) mirrorPlan {
	plan := mirrorPlan{watermark: src.Status.Watermark}
	existing := make(map[string]bool, len(children))
	for _, c := range children {
		existing[c.Name] = true
	}
	raise := func(t *time.Time) {
		if t != nil && (plan.watermark == nil || t.After(plan.watermark.Time)) {
			plan.watermark = &metav1.Time{Time: *t}
		}
	}
	pastWatermark := func(t *time.Time) bool {
		return t != nil && (src.Status.Watermark == nil || t.Truncate(time.Second).After(src.Status.Watermark.Time))
	}
	var running, finished, started []cloud.Listed
	for _, l := range listed {
		op := l.Operation
		if existing[childName(src, l.Service, l.ID)] || registered[operationKey(l.Service, resourceKey(src), l.ID)] {
			raise(op.StartTime)
			continue
		}
		switch {
		case l.StartOnly:
			if pastWatermark(op.StartTime) {
				started = append(started, l)
			}
		case !op.Phase.IsTerminal():
			running = append(running, l)
		case pastWatermark(op.StartTime):
			finished = append(finished, l)
		}
	}
	// Newest finished first, at most a history limit of each outcome: the
	// CloudOperations they replace are pruned by a later list, once these
	// show their final status. (Capping by the room the existing ones
	// leave instead would skip the newest operation for good, the
	// watermark passing it, while older ones are kept.)
	slices.SortFunc(finished, func(a, b cloud.Listed) int { return b.Operation.StartTime.Compare(*a.Operation.StartTime) })
	room := map[bool]int{true: limit(src.Spec.SuccessfulHistoryLimit), false: limit(src.Spec.FailedHistoryLimit)}
	var chosen []cloud.Listed
	for _, l := range finished {
		ok := l.Operation.Phase == cloud.PhaseSucceeded
		if room[ok] > 0 {
			room[ok]--
			chosen = append(chosen, l)
		}
	}
	chosen = append(chosen, running...)
	chosen = append(chosen, started...)
	slices.SortFunc(chosen, func(a, b cloud.Listed) int {
		at, bt := a.Operation.StartTime, b.Operation.StartTime
		if at == nil || bt == nil {
			return compareBool(at == nil, bt == nil)
		}
		if c := at.Compare(*bt); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	for _, l := range chosen {
		plan.create = append(plan.create, l)
		raise(l.Operation.StartTime)
	}
	// Every finished operation listed has been considered once: the
	// watermark passes the ones the limits left out too.
	for _, l := range finished {
		raise(l.Operation.StartTime)
	}
	plan.prune = pruneHistory(children, limit(src.Spec.SuccessfulHistoryLimit), limit(src.Spec.FailedHistoryLimit))
	return plan
}

// compareBool orders false before true.
func compareBool(a, b bool) int {
	switch {
	case a == b:
		return 0
	case a:
		return 1
	}
	return -1
}

// limit is a history limit's value. The API server defaults both to ten;
// a source built in code without them (tests) gets the same.
func limit(l *int32) int {
	if l == nil {
		return 10
	}
	return int(*l)
}

// finishedChild reports whether a CloudOperation is done for good: a
// terminal phase for its generation that will not change (a resumable
// failure is still polled and never pruned).
func finishedChild(c *opsv1.CloudOperation) bool {
	return c.Status.Phase.IsTerminal() && donePolling(c)
}

// pruneHistory returns the finished CloudOperations past the limits:
// Succeeded ones beyond the newest okLimit, Failed and Cancelled ones
// beyond the newest failLimit, by when they finished.
func pruneHistory(children []opsv1.CloudOperation, okLimit, failLimit int) []opsv1.CloudOperation {
	var ok, failed []opsv1.CloudOperation
	for _, c := range children {
		switch {
		case !finishedChild(&c):
		case c.Status.Phase == opsv1.PhaseSucceeded:
			ok = append(ok, c)
		default:
			failed = append(failed, c)
		}
	}
	newestFirst := func(a, b opsv1.CloudOperation) int { return finishedAt(&b).Compare(finishedAt(&a)) }
	slices.SortFunc(ok, newestFirst)
	slices.SortFunc(failed, newestFirst)
	var out []opsv1.CloudOperation
	if len(ok) > okLimit {
		out = append(out, ok[okLimit:]...)
	}
	if len(failed) > failLimit {
		out = append(out, failed[failLimit:]...)
	}
	return out
}

// finishedAt is when a finished CloudOperation ended: its service's
// completion time, else when cloudop saw it end, else its creation.
func finishedAt(c *opsv1.CloudOperation) time.Time {
	switch {
	case c.Status.CompletionTime != nil:
		return c.Status.CompletionTime.Time
	case c.Status.LastChangeTime != nil:
		return c.Status.LastChangeTime.Time
	}
	return c.CreationTimestamp.Time
}

// SetupWithManager registers the reconciler. Sources are listed on their
// interval, and at once when created or when their spec changes; their
// own status writes do not trigger a list.
func (r *SourceReconciler) SetupWithManager(mgr ctrl.Manager) error {
	return ctrl.NewControllerManagedBy(mgr).
		For(&opsv1.CloudOperationSource{}, builder.WithPredicates(predicate.GenerationChangedPredicate{})).
		Named("cloudoperationsource").
		Complete(r)
}
