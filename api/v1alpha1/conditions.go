package v1alpha1

import (
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Condition types. Together they let kubectl wait, kstatus (Flux), Argo CD
// and Knative-style clients read a CloudOperation without configuration.
// docs/conditions/ has a page per condition (README.md is the index).
const (
	// ConditionReady is True only when the operation has succeeded.
	ConditionReady = "Ready"
	// ConditionReconciling is True while the operation is pending or
	// running, and before the first poll (kstatus reads it as InProgress).
	ConditionReconciling = "Reconciling"
	// ConditionStalled is True when the operation failed or was cancelled,
	// or the spec can never work as written (kstatus reads it as Failed).
	// It is absent otherwise.
	ConditionStalled = "Stalled"
	// ConditionSucceeded follows Knative/Tekton: Unknown while running, True
	// on success, False on failure or cancellation.
	ConditionSucceeded = "Succeeded"
)

// Condition reasons.
const (
	// ReasonProgressing: the object has been seen but its first poll is
	// put off (an aligned BCS tick, a rate-limit token).
	ReasonProgressing = "Progressing"
	// ReasonPending: the service accepted the operation; it has not started.
	ReasonPending = "Pending"
	// ReasonInProgress: the operation is running.
	ReasonInProgress = "InProgress"
	// ReasonSucceeded: the operation finished successfully.
	ReasonSucceeded = "Succeeded"
	// ReasonFailed: the operation finished with a failure.
	ReasonFailed = "Failed"
	// ReasonResumable: the operation failed but the service can resume it
	// (a CCE upgrade workflow in phase Pending); polled slowly.
	ReasonResumable = "FailedResumable"
	// ReasonCancelled: the operation was stopped before finishing.
	ReasonCancelled = "Cancelled"
	// ReasonUnknownStatus: the service reported a status word cloudop does
	// not know; status.serviceStatus has it.
	ReasonUnknownStatus = "UnknownStatus"
	// ReasonAuthFailed: the service rejected the credentials (HTTP 401/403).
	ReasonAuthFailed = "AuthFailed"
	// ReasonCredentialsInvalid: the credentials Secret is missing or lacks a
	// required key or value.
	ReasonCredentialsInvalid = "CredentialsInvalid"
	// ReasonNotFound: the service does not know the operation.
	ReasonNotFound = "NotFound"
	// ReasonThrottled: the service throttled cloudop; polling backs off.
	ReasonThrottled = "Throttled"
	// ReasonTransientError: a temporary failure (5xx, timeout, reset,
	// unreadable answer); the last observed phase is kept.
	ReasonTransientError = "TransientError"
	// ReasonInvalidConfiguration: the spec can never work as written (the
	// service answered 400, the endpoint is not allowed, the project is
	// unknown).
	ReasonInvalidConfiguration = "InvalidConfiguration"
	// ReasonSuspended: polling is suspended by the suspend annotation.
	ReasonSuspended = "Suspended"
	// ReasonProgressDeadlineExceeded: the operation still runs but has
	// shown no visible change for longer than its progress deadline
	// (spec.progressDeadline). Polling goes on; the reason clears when it
	// moves again.
	ReasonProgressDeadlineExceeded = "ProgressDeadlineExceeded"
	// ReasonIdentityInvalid: spec.serviceAccountName names a ServiceAccount
	// that does not exist in the object's namespace, or that lacks the
	// identity annotations (AnnotationIdentityProviderID, and
	// AnnotationIdentityProjectID unless spec.projectID is set), or whose
	// tokens the manager may not create (RBAC). Fixed by the
	// ServiceAccount's owner or the install; retried every poll interval.
	ReasonIdentityInvalid = "IdentityInvalid"
	// ReasonIdentityRejected: IAM refused to exchange the ServiceAccount's
	// token: the identity provider is unknown, does not trust the
	// cluster's issuer or audience, or no mapping rule matches the
	// ServiceAccount. Fixed in IAM; retried slowly, like AuthFailed.
	ReasonIdentityRejected = "IdentityRejected"
	// ReasonIdentityUnavailable: temporary credentials could not be
	// obtained for a reason that passes (IAM throttled or down, the
	// TokenRequest API failed); retried with backoff.
	ReasonIdentityUnavailable = "IdentityUnavailable"
)

// ServiceAccount annotations read for workload identity (a CloudOperation
// with spec.serviceAccountName). docs/identity.md shows how to set them up.
const (
	// AnnotationIdentityProviderID is the ID of the IAM identity provider
	// (OpenID Connect, virtual-user SSO) that trusts the cluster's
	// service-account issuer; sent as X-Idp-Id. Required.
	AnnotationIdentityProviderID = "identity.cloudop.dev/idp-id"
	// AnnotationIdentityProjectID is the project the temporary credentials
	// address, used when spec.projectID is empty.
	AnnotationIdentityProjectID = "identity.cloudop.dev/project-id"
	// AnnotationIdentityRegion names the region whose IAM endpoint
	// (iam.{region}.myhuaweicloud.com) exchanges the token; empty means
	// the object's spec.region.
	AnnotationIdentityRegion = "identity.cloudop.dev/region"
)

// LabelWorkloadIdentity, set to LabelWorkloadIdentityEnabled on a
// Namespace by a cluster admin, opts that namespace in to workload
// identity: the ValidatingAdmissionPolicy the install ships lets the
// manager mint ServiceAccount tokens (with cloudop's audience only) in
// labelled namespaces and refuses every other TokenRequest it makes.
// Namespace labels are cluster-scoped writes, out of a tenant's reach.
const (
	LabelWorkloadIdentity        = "identity.cloudop.dev/enabled"
	LabelWorkloadIdentityEnabled = "true"
)

// Annotations understood by the controller.
const (
	// AnnotationSuspend set to "true" stops polling; the status is kept.
	AnnotationSuspend = "ops.cloudop.dev/suspend"
	// AnnotationRequestedPoll requests an immediate poll whenever its value
	// changes (any value, e.g. a timestamp). The handled value is recorded
	// in status.lastHandledPollRequest.
	AnnotationRequestedPoll = "ops.cloudop.dev/requested-poll"
)

// DefaultPollInterval is the poll interval when spec.pollInterval is unset.
const DefaultPollInterval = 30 * time.Second

// IsTerminal reports whether the phase is final: Succeeded, Failed or
// Cancelled.
func (p Phase) IsTerminal() bool {
	return p == PhaseSucceeded || p == PhaseFailed || p == PhaseCancelled
}

// IsFailed reports whether the phase is a final phase other than success:
// Failed or Cancelled.
func (p Phase) IsFailed() bool {
	return p == PhaseFailed || p == PhaseCancelled
}

// IsTerminal reports whether the operation has reached a final phase.
func (o *CloudOperation) IsTerminal() bool { return o.Status.Phase.IsTerminal() }

// IsFailed reports whether the operation ended without success (phase Failed
// or Cancelled). A consumer deciding "done, failed, still running" reads
// IsReady, then IsFailed or IsStalled, and otherwise keeps waiting. A failed
// CCE upgrade the service can resume (reason FailedResumable) is Failed too.
func (o *CloudOperation) IsFailed() bool { return o.Status.Phase.IsFailed() }

// IsSuspended reports whether polling is suspended by annotation.
func (o *CloudOperation) IsSuspended() bool {
	return o.GetAnnotations()[AnnotationSuspend] == "true"
}

// GetPollInterval returns spec.pollInterval or the default.
func (o *CloudOperation) GetPollInterval() time.Duration {
	if o.Spec.PollInterval != nil && o.Spec.PollInterval.Duration > 0 {
		return o.Spec.PollInterval.Duration
	}
	return DefaultPollInterval
}

// GetCondition returns the condition of the given type, or nil.
func (o *CloudOperation) GetCondition(conditionType string) *metav1.Condition {
	return meta.FindStatusCondition(o.Status.Conditions, conditionType)
}

// IsReady reports whether the Ready condition is True for the current
// generation.
func (o *CloudOperation) IsReady() bool {
	c := o.GetCondition(ConditionReady)
	return c != nil && c.Status == metav1.ConditionTrue && c.ObservedGeneration == o.Generation
}

// IsStalled reports whether the Stalled condition is True.
func (o *CloudOperation) IsStalled() bool {
	return meta.IsStatusConditionTrue(o.Status.Conditions, ConditionStalled)
}
