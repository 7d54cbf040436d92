package controller

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/clock"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"

	opsv1 "github.com/cloudop/cloudop/api/v1alpha1"
)

// Limits of the Event schema.
const (
	maxEventNote = 1024
	maxEventName = 253
)

// EventWriter records transition events under names derived from the
// object's UID and the transition itself. Recording a transition again,
// from a retried reconcile or from a manager restarted between the event
// and the status write, finds the event already there and adds nothing:
// each transition is announced exactly once.
//
// client-go's recorders cannot give that: they name events by timestamp,
// send them asynchronously (a kill loses the queue) and fold events that
// differ only in their note into one series.
//
// The events are core/v1 Events carrying both the events.k8s.io fields
// (eventTime, reporting controller and instance, action) and the legacy
// timestamps and count: kubectl describe orders events by lastTimestamp
// only, which events.k8s.io/v1 refuses to set.
type EventWriter struct {
	// Client creates events; the manager's client (writes are never cached).
	Client client.Client
	// Controller is the events' reportingController.
	Controller string
	// Instance is the events' reportingInstance: which replica recorded it.
	Instance string
	// Clock stamps the events' times.
	Clock clock.PassiveClock
}

// Record creates the events that do not exist yet. It returns an error
// only when the API server may accept a retry; an event it refuses for
// good (forbidden by RBAC, invalid) is logged, so a broken event path never
// stops status from being written.
func (w *EventWriter) Record(ctx context.Context, obj *opsv1.CloudOperation, events []Event) error {
	for _, e := range events {
		ev := w.build(obj, e)
		err := w.Client.Create(ctx, ev)
		switch {
		case err == nil:
			eventsRecorded.WithLabelValues("created").Inc()
		case apierrors.IsAlreadyExists(err):
			// Announced before a restart or a failed status write.
			eventsRecorded.WithLabelValues("exists").Inc()
		case apierrors.IsForbidden(err) || apierrors.IsInvalid(err):
			eventsRecorded.WithLabelValues("refused").Inc()
			log.FromContext(ctx).Error(err, "event refused by the API server", "reason", e.Reason)
		default:
			return fmt.Errorf("recording %s event: %w", e.Reason, err)
		}
	}
	return nil
}

func (w *EventWriter) build(obj *opsv1.CloudOperation, e Event) *corev1.Event {
	now := w.Clock.Now()
	return &corev1.Event{
		ObjectMeta: metav1.ObjectMeta{
			Namespace: obj.Namespace,
			Name:      eventName(obj, e),
		},
		InvolvedObject: corev1.ObjectReference{
			APIVersion:      opsv1.GroupVersion.String(),
			Kind:            "CloudOperation",
			Namespace:       obj.Namespace,
			Name:            obj.Name,
			UID:             obj.UID,
			ResourceVersion: obj.ResourceVersion,
		},
		Reason:              e.Reason,
		Message:             truncate(e.Note, maxEventNote),
		Type:                e.Type,
		Source:              corev1.EventSource{Component: w.Controller},
		FirstTimestamp:      metav1.NewTime(now),
		LastTimestamp:       metav1.NewTime(now),
		Count:               1,
		EventTime:           metav1.NewMicroTime(now),
		Action:              "Poll",
		ReportingController: w.Controller,
		ReportingInstance:   w.Instance,
	}
}

// eventName is "<object>.<digest of UID and transition>". The UID keeps a
// recreated object with the same name from colliding with the old one's
// events, which live on for the API server's event TTL.
func eventName(obj *opsv1.CloudOperation, e Event) string {
	sum := sha256.Sum256([]byte(string(obj.UID) + "\x00" + e.Key))
	suffix := "." + hex.EncodeToString(sum[:8])
	name := obj.Name
	if len(name)+len(suffix) > maxEventName {
		// A cut name must still end in an alphanumeric character.
		name = strings.TrimRight(name[:maxEventName-len(suffix)], "-.")
	}
	return name + suffix
}
