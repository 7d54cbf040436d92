// Package waiter is an example of a controller that waits on CloudOperations,
// as a platform team would write one. A ConfigMap labelled
// example.cloudop.dev/wait-for=<CloudOperation name> is a gate: the
// controller writes into its data whether what depends on that operation may
// proceed (state: proceed), must not (state: blocked, with the condition's
// reason and message) or has to wait (state: waiting).
//
// It imports only the API module (github.com/cloudop/cloudop/api) and
// controller-runtime, watches CloudOperations instead of polling them, and
// decides with the API module's helpers and constants. docs/consumers.md
// walks through it.
package waiter

import (
	"context"
	"fmt"
	"maps"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/selection"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	v1alpha1 "github.com/cloudop/cloudop/api/v1alpha1"
)

// LabelWaitFor on a ConfigMap names the CloudOperation, in the ConfigMap's
// namespace, that the ConfigMap waits for. A label value holds at most 63
// characters, so this works for operations with names that short.
const LabelWaitFor = "example.cloudop.dev/wait-for"

// Keys the controller writes into a waiting ConfigMap's data.
const (
	// KeyState is StateWaiting, StateProceed or StateBlocked.
	KeyState = "state"
	// KeyReason is the reason of the condition the state was read from.
	KeyReason = "reason"
	// KeyMessage is that condition's message.
	KeyMessage = "message"
	// KeyResources lists the cloud resources a succeeded operation
	// reported (status.resources), as type/id separated by commas.
	KeyResources = "resources"
)

// States written under KeyState.
const (
	// StateWaiting: the operation is pending, running, not polled yet,
	// retrying after an error, or does not exist yet.
	StateWaiting = "waiting"
	// StateProceed: the operation succeeded (Ready=True for its generation).
	StateProceed = "proceed"
	// StateBlocked: the operation failed, was cancelled, or stalled.
	StateBlocked = "blocked"
)

// Selector matches the ConfigMaps that carry LabelWaitFor, so a manager can
// cache those instead of every ConfigMap in the cluster.
func Selector() labels.Selector {
	exists, err := labels.NewRequirement(LabelWaitFor, selection.Exists, nil)
	if err != nil {
		panic(err) // LabelWaitFor is a valid label key
	}
	return labels.NewSelector().Add(*exists)
}

// Reconciler keeps each labelled ConfigMap's data in line with the
// CloudOperation it waits for.
//
// +kubebuilder:rbac:groups="",resources=configmaps,verbs=get;list;watch;patch
// +kubebuilder:rbac:groups=ops.cloudop.dev,resources=cloudoperations,verbs=get;list;watch
type Reconciler struct {
	client.Client
}

// Reconcile reads one ConfigMap and the operation it names, and patches the
// ConfigMap's data when the decision changed.
func (r *Reconciler) Reconcile(ctx context.Context, req reconcile.Request) (reconcile.Result, error) {
	var cm corev1.ConfigMap
	if err := r.Get(ctx, req.NamespacedName, &cm); err != nil {
		return reconcile.Result{}, client.IgnoreNotFound(err)
	}
	name := cm.Labels[LabelWaitFor]
	if name == "" {
		return reconcile.Result{}, nil
	}
	want := map[string]string{KeyState: StateWaiting, KeyMessage: fmt.Sprintf("CloudOperation %s does not exist yet", name)}
	var op v1alpha1.CloudOperation
	err := r.Get(ctx, types.NamespacedName{Namespace: cm.Namespace, Name: name}, &op)
	switch {
	case err == nil:
		want = Decide(&op)
	case !apierrors.IsNotFound(err):
		return reconcile.Result{}, err
	}
	// Keep keys others wrote; replace ours. No requeue: the CloudOperation
	// watch brings the next change.
	data := maps.Clone(cm.Data)
	if data == nil {
		data = map[string]string{}
	}
	for _, key := range []string{KeyState, KeyReason, KeyMessage, KeyResources} {
		delete(data, key)
	}
	maps.Copy(data, want)
	if maps.Equal(data, cm.Data) {
		return reconcile.Result{}, nil
	}
	patch := client.MergeFrom(cm.DeepCopy())
	cm.Data = data
	return reconcile.Result{}, r.Patch(ctx, &cm, patch)
}

// Decide returns the data a ConfigMap waiting for op should hold. Only the
// API module's helpers and constants decide: Ready first (it also checks that
// the condition describes the current generation), then failed or stalled,
// and anything else is still running.
func Decide(op *v1alpha1.CloudOperation) map[string]string {
	data := map[string]string{KeyState: StateWaiting}
	cond := op.GetCondition(v1alpha1.ConditionReady)
	switch {
	case op.IsReady():
		data[KeyState] = StateProceed
		var ids []string
		for _, res := range op.Status.Resources {
			ids = append(ids, res.Type+"/"+res.ID)
		}
		if len(ids) > 0 {
			data[KeyResources] = strings.Join(ids, ",")
		}
	case op.IsFailed() || op.IsStalled():
		data[KeyState] = StateBlocked
		// Stalled says why; Ready carries the same reason should it be absent.
		if stalled := op.GetCondition(v1alpha1.ConditionStalled); stalled != nil {
			cond = stalled
		}
	}
	if cond != nil {
		data[KeyReason], data[KeyMessage] = cond.Reason, cond.Message
	}
	return data
}

// SetupWithManager registers the controller: it reconciles labelled
// ConfigMaps and, on every change of a CloudOperation, the ConfigMaps that
// wait for it.
func (r *Reconciler) SetupWithManager(mgr ctrl.Manager) error {
	labelled := predicate.NewPredicateFuncs(func(o client.Object) bool {
		return o.GetLabels()[LabelWaitFor] != ""
	})
	return ctrl.NewControllerManagedBy(mgr).
		Named("waiter").
		For(&corev1.ConfigMap{}, builder.WithPredicates(labelled)).
		Watches(&v1alpha1.CloudOperation{}, handler.EnqueueRequestsFromMapFunc(r.waitersOf)).
		Complete(r)
}

// waitersOf maps a CloudOperation to the ConfigMaps in its namespace that
// wait for it, read from the manager's cache.
func (r *Reconciler) waitersOf(ctx context.Context, op client.Object) []reconcile.Request {
	var cms corev1.ConfigMapList
	if err := r.List(ctx, &cms, client.InNamespace(op.GetNamespace()), client.MatchingLabels{LabelWaitFor: op.GetName()}); err != nil {
		ctrl.LoggerFrom(ctx).Error(err, "listing ConfigMaps waiting for a CloudOperation", "cloudoperation", op.GetName())
		return nil
	}
	reqs := make([]reconcile.Request, 0, len(cms.Items))
	for _, cm := range cms.Items {
		reqs = append(reqs, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(&cm)})
	}
	return reqs
}
