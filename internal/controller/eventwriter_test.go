package controller

import (
	"context"
	"errors"
	"strings"
	"testing"

	. "github.com/onsi/gomega"
	eventsv1 "k8s.io/api/events/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/validation"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	opsv1 "github.com/cloudop/cloudop/api/v1alpha1"
)

func TestEventWriterRecordsEachKeyOnce(t *testing.T) {
	g := NewWithT(t)
	ns := newNamespace(t)
	obj := newCCEOperation(ns, "upgrade", "wf-ew")
	g.Expect(k8s.Create(context.Background(), obj)).To(Succeed())
	w := newTestReconciler(newFakeObserver(), testNow).Recorder

	running := Event{Type: "Normal", Reason: eventPhaseChanged, Note: "phase new → Running", Key: "from new"}
	long := Event{Type: "Normal", Reason: eventStepChanged, Note: strings.Repeat("step “ü” is Succeeded; ", 200), Key: "from running"}
	for range 3 {
		g.Expect(w.Record(context.Background(), obj, []Event{running, long})).To(Succeed())
	}

	var list eventsv1.EventList
	g.Expect(k8s.List(context.Background(), &list, client.InNamespace(ns))).To(Succeed())
	g.Expect(list.Items).To(HaveLen(2), "recorded three times, stored once each")
	for _, e := range list.Items {
		g.Expect(e.Regarding.UID).To(Equal(obj.UID))
		g.Expect(e.Regarding.Kind).To(Equal("CloudOperation"))
		g.Expect(len(e.Note)).To(BeNumerically("<=", maxEventNote))
		g.Expect(e.Series).To(BeNil())
	}
}

func TestEventNameIsValidAndDependsOnUID(t *testing.T) {
	g := NewWithT(t)
	e := Event{Reason: eventPhaseChanged, Key: "k"}
	obj := func(name, uid string) *opsv1.CloudOperation {
		o := newCCEOperation("ns", name, "x")
		o.UID = types.UID(uid)
		return o
	}
	cases := []struct{ name string }{
		{"upgrade"},
		{strings.Repeat("a", 253)},
		{strings.Repeat("a", 235) + "-" + strings.Repeat("b", 17)},
		{strings.Repeat("a.", 126) + "a"},
	}
	for _, tc := range cases {
		n := eventName(obj(tc.name, "uid-1"), e)
		g.Expect(validation.NameIsDNSSubdomain(n, false)).To(BeEmpty(), "event name %q for object %q is invalid", n, tc.name)
		g.Expect(eventName(obj(tc.name, "uid-2"), e)).NotTo(Equal(n), "a recreated object %q would reuse the old object's event name %q", tc.name, n)
		g.Expect(eventName(obj(tc.name, "uid-1"), e)).To(Equal(n), "event name for %q is not deterministic", tc.name)
	}
}

// failingStatus fails every status patch, as a manager killed between its
// announcement and its status write would never make it.
type failingStatus struct{ client.Client }

func (f failingStatus) Status() client.SubResourceWriter { return failingWriter{f.Client.Status()} }

type failingWriter struct{ client.SubResourceWriter }

func (failingWriter) Patch(context.Context, client.Object, client.Patch, ...client.SubResourcePatchOption) error {
	return apierrors.NewServiceUnavailable("killed before the status write")
}

// reconcileRefused runs one reconcile of r whose status write the API
// server refuses, and fails the test unless the reconcile reports it.
func reconcileRefused(t *testing.T, r *CloudOperationReconciler, obj *opsv1.CloudOperation) {
	t.Helper()
	working := r.Client
	r.Client = failingStatus{working}
	defer func() { r.Client = working }()
	_, err := r.Reconcile(context.Background(), ctrl.Request{NamespacedName: client.ObjectKeyFromObject(obj)})
	NewWithT(t).Expect(err).To(HaveOccurred(), "reconcile of %s succeeded although its status write was refused", obj.Name)
}

// TestTransitionAnnouncedOnceAcrossFailedWrites: the reconciler announces a
// transition, then fails to write the status (a kill, an outage). The
// reconciles after it, by a fresh reconciler as after a restart, announce
// the same transition again, and the API server still holds one event.
func TestTransitionAnnouncedOnceAcrossFailedWrites(t *testing.T) {
	g := NewWithT(t)
	ns, obj, observer := newTrackedOperation(t, "wf-crash", runningOp(), nil)
	reconcileOnce(t, newTestReconciler(observer, testNow), obj)
	before := namespaceEvents(t, ns)

	observer.set("wf-crash", succeededOp(), nil)
	for range 2 {
		reconcileRefused(t, newTestReconciler(observer, testNow), obj)
		g.Expect(fetch(t, obj).Status.Phase).To(Equal(opsv1.PhaseRunning), "nothing written")
	}
	announced := namespaceEvents(t, ns)
	g.Expect(announced).To(ContainElement(ContainSubstring("PhaseChanged phase Running → Succeeded")))

	restarted := newTestReconciler(observer, testNow)
	reconcileOnce(t, restarted, obj)
	g.Expect(fetch(t, obj).Status.Phase).To(Equal(opsv1.PhaseSucceeded))
	g.Expect(namespaceEvents(t, ns)).To(Equal(announced), "the restart adds no event")
	g.Expect(len(announced)).To(BeNumerically(">", len(before)))

	// A failed poll in between changes conditions, not the transition.
	obj2 := newCCEOperation(ns, "upgrade-2", "wf-crash-2")
	g.Expect(k8s.Create(context.Background(), obj2)).To(Succeed())
	observer.set("wf-crash-2", runningOp(), nil)
	reconcileOnce(t, restarted, obj2)
	observer.set("wf-crash-2", succeededOp(), nil)
	reconcileRefused(t, newTestReconciler(observer, testNow), obj2)
	observer.set("wf-crash-2", nil, errors.New("connection reset"))
	reconcileOnce(t, restarted, obj2)
	observer.set("wf-crash-2", succeededOp(), nil)
	reconcileOnce(t, restarted, obj2)
	g.Expect(fetch(t, obj2).Status.Phase).To(Equal(opsv1.PhaseSucceeded))
	g.Expect(countEvents(t, ns, "PhaseChanged phase Running → Succeeded")).To(Equal(2), "one per object")
}
