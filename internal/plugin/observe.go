package plugin

import (
	"context"
	"errors"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/watch"
	"sigs.k8s.io/controller-runtime/pkg/client"

	opsv1 "github.com/cloudop/cloudop/api/v1alpha1"
)

// observer follows CloudOperations in one namespace with a Kubernetes
// watch: it lists, hands every object to its callbacks, then watches from
// the list's resourceVersion, listing again when the watch ends or expires.
type observer struct {
	client    client.WithWatch
	namespace string
	// fields narrows the objects, e.g. metadata.name=NAME; nil for all.
	fields fields.Selector
	// listed is called with every list result before its objects are
	// handled; optional.
	listed func(items []opsv1.CloudOperation) error
	// changed is called for every object listed, added or modified; it
	// returns true when observing is done.
	changed func(obj *opsv1.CloudOperation) (done bool, err error)
}

// errDeleted says an observed object was deleted.
var errDeleted = errors.New("was deleted")

// run observes until changed says done, an error, or ctx ends.
func (o *observer) run(ctx context.Context) error {
	for {
		rv, done, err := o.list(ctx)
		if err != nil || done {
			return err
		}
		done, err = o.watch(ctx, rv)
		if err != nil || done {
			return err
		}
		// The watch ended (server timeout, expired resourceVersion): list
		// again and go on.
	}
}

func (o *observer) options(rv string) *client.ListOptions {
	opts := &client.ListOptions{Namespace: o.namespace, FieldSelector: o.fields}
	if rv != "" {
		opts.Raw = &metav1.ListOptions{ResourceVersion: rv, AllowWatchBookmarks: true}
	}
	return opts
}

func (o *observer) list(ctx context.Context) (rv string, done bool, err error) {
	var list opsv1.CloudOperationList
	if err := o.client.List(ctx, &list, o.options("")); err != nil {
		return "", false, err
	}
	if o.listed != nil {
		if err := o.listed(list.Items); err != nil {
			return "", false, err
		}
	}
	for i := range list.Items {
		if done, err := o.changed(&list.Items[i]); done || err != nil {
			return "", done, err
		}
	}
	return list.ResourceVersion, false, nil
}

func (o *observer) watch(ctx context.Context, rv string) (done bool, err error) {
	w, err := o.client.Watch(ctx, &opsv1.CloudOperationList{}, o.options(rv))
	if err != nil {
		if apierrors.IsResourceExpired(err) || apierrors.IsGone(err) {
			return false, nil
		}
		return false, err
	}
	defer w.Stop()
	for {
		select {
		case <-ctx.Done():
			return false, ctx.Err()
		case ev, ok := <-w.ResultChan():
			if !ok {
				return false, ctx.Err()
			}
			switch ev.Type {
			case watch.Added, watch.Modified:
				obj, ok := ev.Object.(*opsv1.CloudOperation)
				if !ok {
					continue
				}
				if done, err := o.changed(obj); done || err != nil {
					return done, err
				}
			case watch.Deleted:
				if obj, ok := ev.Object.(*opsv1.CloudOperation); ok {
					return false, fmt.Errorf("cloudoperation %s/%s %w", obj.Namespace, obj.Name, errDeleted)
				}
			case watch.Error:
				if status, ok := ev.Object.(*metav1.Status); ok && status.Code == 410 {
					return false, nil // expired: list again
				}
				return false, apierrors.FromObject(ev.Object)
			}
		}
	}
}

// nameSelector selects one object by name.
func nameSelector(name string) fields.Selector {
	return fields.OneTermEqualSelector("metadata.name", name)
}

// outcome says how an operation ended for watch and wait: nil once it
// succeeded, an error saying why when it failed, was cancelled or stalled,
// and errNotYet otherwise.
func outcome(obj *opsv1.CloudOperation, readyMeansDone bool) error {
	switch {
	case readyMeansDone && obj.IsReady():
		return nil
	case !readyMeansDone && obj.Status.Phase == opsv1.PhaseSucceeded:
		return nil
	case obj.IsFailed() || obj.IsStalled():
		return operationFailed("cloudoperation/%s %s", obj.Name, why(obj))
	}
	return errNotYet
}

var errNotYet = errors.New("not finished")

// why explains a failure from the Stalled (else Ready) condition.
func why(obj *opsv1.CloudOperation) string {
	c := obj.GetCondition(opsv1.ConditionStalled)
	if c == nil || c.Status != metav1.ConditionTrue {
		c = obj.GetCondition(opsv1.ConditionReady)
	}
	phase := string(obj.Status.Phase)
	if !obj.IsFailed() {
		phase = "stalled"
	}
	if c == nil {
		return "is " + phase
	}
	return fmt.Sprintf("is %s (%s): %s", phase, c.Reason, c.Message)
}
