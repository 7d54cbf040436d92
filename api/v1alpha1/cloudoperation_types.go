package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Service names the cloud service whose operation is tracked.
// +kubebuilder:validation:Enum=BCS;CCE;AOS;DWS;ECS;EVS;IMS;BMS;VPC;RDS;GaussDB;DDS;GaussDBforOpenGauss;GaussDBforNoSQL;RFS
type Service string

// Supported services.
const (
	// ServiceBCS is Blockchain Service; the operation is an operation record
	// (ListOpRecord), identified by its operation_id.
	ServiceBCS Service = "BCS"
	// ServiceCCE is Cloud Container Engine; the operation is a cluster
	// upgrade workflow (ShowUpgradeWorkFlow), identified by its
	// upgrade_workflow_id.
	ServiceCCE Service = "CCE"
	// ServiceAOS is Application Orchestration Service; the operation is a
	// stack execution, identified by its action_id.
	ServiceAOS Service = "AOS"
	// ServiceDWS is Data Warehouse Service; the operation is a cluster action
	// (ListClusterActions), identified by its action_name.
	ServiceDWS Service = "DWS"
	// ServiceECS is Elastic Cloud Server; the operation is a job
	// (ShowJob), identified by the job_id a create, resize or delete call
	// returned.
	ServiceECS Service = "ECS"
	// ServiceEVS is Elastic Volume Service; the operation is a job, as for
	// ECS.
	ServiceEVS Service = "EVS"
	// ServiceIMS is Image Management Service; the operation is a job, as
	// for ECS.
	ServiceIMS Service = "IMS"
	// ServiceBMS is Bare Metal Server; the operation is a job, as for ECS.
	ServiceBMS Service = "BMS"
	// ServiceVPC is Virtual Private Cloud, including EIPs; the operation
	// is a job, as for ECS.
	ServiceVPC Service = "VPC"
	// ServiceRDS is Relational Database Service; the operation is a job
	// (ListJobInfo, GET /v3/{project_id}/jobs?id=), identified by the job_id
	// a create, resize or restore call returned.
	ServiceRDS Service = "RDS"
	// ServiceGaussDB is GaussDB (for MySQL, now TaurusDB); a job, as for
	// RDS.
	ServiceGaussDB Service = "GaussDB"
	// ServiceDDS is Document Database Service; a job, as for RDS.
	ServiceDDS Service = "DDS"
	// ServiceGaussDBforOpenGauss is GaussDB (for openGauss); a job, as for
	// RDS.
	ServiceGaussDBforOpenGauss Service = "GaussDBforOpenGauss"
	// ServiceGaussDBforNoSQL is GaussDB NoSQL (Cassandra, Mongo, Influx,
	// Redis interfaces); a job, as for RDS.
	ServiceGaussDBforNoSQL Service = "GaussDBforNoSQL"
	// ServiceRFS is Resource Formation Service, AOS's successor; the
	// operation is one deployment of a stack (DeployStack's deployment_id),
	// read from the stack's metadata and its events for that deployment.
	ServiceRFS Service = "RFS"
)

// OperationType says which kind of operation of a service is tracked, for
// services with more than one. Empty means the service's first kind: the
// one it had before types existed (a CCE upgrade workflow), so objects
// written before this field keep their meaning.
// +kubebuilder:validation:Enum=UpgradeWorkflow;Job
type OperationType string

// Operation types.
const (
	// OperationTypeUpgradeWorkflow is a CCE cluster upgrade workflow
	// (ShowUpgradeWorkFlow); CCE's default.
	OperationTypeUpgradeWorkflow OperationType = "UpgradeWorkflow"
	// OperationTypeJob is an asynchronous job identified by its job_id:
	// the only kind of ECS, EVS, IMS, BMS, VPC and the database services,
	// and CCE's cluster, node and node-pool jobs (ShowJob).
	OperationTypeJob OperationType = "Job"
)

// Phase is the normalized state of an operation or step.
// +kubebuilder:validation:Enum=Pending;Running;Succeeded;Failed;Cancelled;Unknown
type Phase string

// Normalized phases, the same for every service.
const (
	// PhasePending: accepted by the service, not started yet.
	PhasePending Phase = "Pending"
	// PhaseRunning: in progress.
	PhaseRunning Phase = "Running"
	// PhaseSucceeded: finished successfully. Terminal.
	PhaseSucceeded Phase = "Succeeded"
	// PhaseFailed: finished with a failure. Terminal (CCE workflows may
	// resume from it; those keep being polled slowly).
	PhaseFailed Phase = "Failed"
	// PhaseCancelled: stopped before finishing. Terminal.
	PhaseCancelled Phase = "Cancelled"
	// PhaseUnknown: the service reported a status word cloudop does not
	// know; serviceStatus holds it verbatim.
	PhaseUnknown Phase = "Unknown"
)

// SecretReference names a Secret in the CloudOperation's own namespace.
type SecretReference struct {
	// Name of the Secret. It must hold the keys accessKey and secretKey, and
	// may hold securityToken (temporary credentials) and projectID.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`
	Name string `json:"name"`
}

// CloudOperationSpec identifies one long-running operation of a cloud
// service and how to reach it.
//
// +kubebuilder:validation:XValidation:rule="self.service != 'CCE' || (has(self.operationType) && self.operationType == 'Job') || has(self.clusterID)",message="clusterID is required for a CCE upgrade workflow",fieldPath=".clusterID",reason=FieldValueRequired
// +kubebuilder:validation:XValidation:rule="!has(self.operationType) || self.operationType != 'UpgradeWorkflow' || self.service == 'CCE'",message="operationType UpgradeWorkflow is only used when service is CCE",fieldPath=".operationType",reason=FieldValueInvalid
// +kubebuilder:validation:XValidation:rule="!has(self.operationType) || self.operationType != 'Job' || self.service in ['CCE', 'ECS', 'EVS', 'IMS', 'BMS', 'VPC', 'RDS', 'GaussDB', 'DDS', 'GaussDBforOpenGauss', 'GaussDBforNoSQL']",message="operationType Job is only used when service is CCE, a job service (ECS, EVS, IMS, BMS, VPC) or a database service (RDS, GaussDB, DDS, GaussDBforOpenGauss, GaussDBforNoSQL)",fieldPath=".operationType",reason=FieldValueInvalid
// +kubebuilder:validation:XValidation:rule="has(self.operationType) == has(oldSelf.operationType) && (!has(self.operationType) || self.operationType == oldSelf.operationType)",message="operationType is immutable",fieldPath=".operationType"
// +kubebuilder:validation:XValidation:rule="self.service != 'DWS' || has(self.clusterID)",message="clusterID is required when service is DWS",fieldPath=".clusterID",reason=FieldValueRequired
// +kubebuilder:validation:XValidation:rule="self.service != 'AOS' || has(self.stackID)",message="stackID is required when service is AOS",fieldPath=".stackID",reason=FieldValueRequired
// +kubebuilder:validation:XValidation:rule="self.service == 'AOS' || self.service == 'RFS' || !has(self.stackID)",message="stackID is only used when service is AOS or RFS",fieldPath=".stackID",reason=FieldValueForbidden
// +kubebuilder:validation:XValidation:rule="self.service != 'RFS' || has(self.stackName)",message="stackName is required when service is RFS",fieldPath=".stackName",reason=FieldValueRequired
// +kubebuilder:validation:XValidation:rule="self.service == 'RFS' || !has(self.stackName)",message="stackName is only used when service is RFS",fieldPath=".stackName",reason=FieldValueForbidden
// +kubebuilder:validation:XValidation:rule="has(self.stackName) == has(oldSelf.stackName) && (!has(self.stackName) || self.stackName == oldSelf.stackName)",message="stackName is immutable",fieldPath=".stackName"
// +kubebuilder:validation:XValidation:rule="self.service == 'BCS' || !has(self.blockchainID)",message="blockchainID is only used when service is BCS",fieldPath=".blockchainID",reason=FieldValueForbidden
// +kubebuilder:validation:XValidation:rule="self.service == 'CCE' || self.service == 'DWS' || !has(self.clusterID)",message="clusterID is only used when service is CCE or DWS",fieldPath=".clusterID",reason=FieldValueForbidden
// +kubebuilder:validation:XValidation:rule="self.service != 'DWS' || self.operationID.matches('^[A-Z][A-Z_]*$')",message="operationID of a DWS operation is an action name such as RESTORING or SNAPSHOTTING_FAILED",fieldPath=".operationID",reason=FieldValueInvalid
// +kubebuilder:validation:XValidation:rule="has(self.projectID) == has(oldSelf.projectID) && (!has(self.projectID) || self.projectID == oldSelf.projectID)",message="projectID is immutable",fieldPath=".projectID"
// +kubebuilder:validation:XValidation:rule="has(self.clusterID) == has(oldSelf.clusterID) && (!has(self.clusterID) || self.clusterID == oldSelf.clusterID)",message="clusterID is immutable",fieldPath=".clusterID"
// +kubebuilder:validation:XValidation:rule="has(self.stackID) == has(oldSelf.stackID) && (!has(self.stackID) || self.stackID == oldSelf.stackID)",message="stackID is immutable",fieldPath=".stackID"
// +kubebuilder:validation:XValidation:rule="has(self.blockchainID) == has(oldSelf.blockchainID) && (!has(self.blockchainID) || self.blockchainID == oldSelf.blockchainID)",message="blockchainID is immutable",fieldPath=".blockchainID"
// +kubebuilder:validation:XValidation:rule="!has(self.credentialsSecretRef) || !has(self.serviceAccountName)",message="credentialsSecretRef and serviceAccountName are mutually exclusive: name one identity",reason=FieldValueInvalid
type CloudOperationSpec struct {
	// Service is the cloud service that runs the operation.
	// +required
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="service is immutable"
	Service Service `json:"service"`

	// Region is the cloud region, e.g. cn-north-4.
	// +required
	// +kubebuilder:validation:MinLength=4
	// +kubebuilder:validation:MaxLength=32
	// +kubebuilder:validation:Pattern=`^[a-z]{2}(-[a-z]+)+-[0-9]{1,3}$`
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="region is immutable"
	Region string `json:"region"`

	// ProjectID is the project that owns the operation. Optional when the
	// credentials Secret has a projectID key.
	// +optional
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=64
	// +kubebuilder:validation:Pattern=`^[0-9A-Za-z]+$`
	ProjectID string `json:"projectID,omitempty"`

	// OperationType says which kind of operation OperationID names, for
	// services with more than one (CCE: UpgradeWorkflow, the default, or
	// Job). Services with one kind need not set it.
	// +optional
	OperationType OperationType `json:"operationType,omitempty"`

	// OperationID is the service's own ID of the operation: BCS
	// operation_id, CCE upgrade_workflow_id (or job_id), AOS action_id,
	// DWS action_name, the job_id of an ECS, EVS, IMS, BMS or VPC job or of
	// a database service's job, RFS deployment_id.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=128
	// +kubebuilder:validation:Pattern=`^[A-Za-z0-9][A-Za-z0-9_.:-]*$`
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="operationID is immutable"
	OperationID string `json:"operationID"`

	// ClusterID is the CCE or DWS cluster the operation runs on (not needed
	// for a CCE job).
	// +optional
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=64
	// +kubebuilder:validation:Pattern=`^[A-Za-z0-9][A-Za-z0-9_.-]*$`
	ClusterID string `json:"clusterID,omitempty"`

	// StackName is the RFS stack the deployment belongs to (RFS addresses
	// stacks by name).
	// +optional
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=128
	// +kubebuilder:validation:Pattern=`^[A-Za-z一-龥][A-Za-z0-9_一-龥-]*$`
	StackName string `json:"stackName,omitempty"`

	// StackID is the AOS stack the execution belongs to; for RFS, optionally
	// the stack's ID, so a stack deleted and created again under the same
	// name is not mistaken for the one deployed.
	// +optional
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=64
	// +kubebuilder:validation:Pattern=`^[A-Za-z0-9][A-Za-z0-9_.-]*$`
	StackID string `json:"stackID,omitempty"`

	// BlockchainID narrows a BCS query to one blockchain.
	// +optional
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=64
	// +kubebuilder:validation:Pattern=`^[A-Za-z0-9][A-Za-z0-9_.-]*$`
	BlockchainID string `json:"blockchainID,omitempty"`

	// CredentialsSecretRef names the Secret with the AK/SK to sign requests
	// with. The Secret must be in the CloudOperation's namespace. At most
	// one of credentialsSecretRef and serviceAccountName is set; with
	// neither, the manager signs with its own identity if its install
	// enables that (--manager-identity, single-tenant installs), and
	// otherwise reports CredentialsInvalid.
	// +optional
	CredentialsSecretRef SecretReference `json:"credentialsSecretRef,omitzero"`

	// ServiceAccountName names a ServiceAccount in the CloudOperation's own
	// namespace whose identity signs the requests (workload identity): the
	// manager requests a short-lived token for it and exchanges it at IAM
	// for temporary credentials. The ServiceAccount's annotations
	// identity.cloudop.dev/idp-id and identity.cloudop.dev/project-id say
	// how (docs/identity.md). At most one of credentialsSecretRef and
	// serviceAccountName is set.
	// +optional
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`
	ServiceAccountName string `json:"serviceAccountName,omitempty"`

	// Endpoint overrides the service's regional base URL, e.g.
	// https://cce.example.internal. It is used only when it matches the
	// manager's --allowed-endpoint list.
	// +optional
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:Pattern=`^https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?/?$`
	Endpoint string `json:"endpoint,omitempty"`

	// PollInterval is how often the operation is polled while it runs.
	// +optional
	// +kubebuilder:default="30s"
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:Pattern=`^([0-9]+(\.[0-9]+)?(ms|s|m|h))+$`
	// +kubebuilder:validation:XValidation:rule="duration(self) >= duration('5s')",message="pollInterval must be at least 5s"
	// +kubebuilder:validation:XValidation:rule="duration(self) <= duration('24h')",message="pollInterval must be at most 24h"
	PollInterval *metav1.Duration `json:"pollInterval,omitempty"`

	// ProgressDeadline is how long a running operation may go without a
	// visible change (status.lastChangeTime: phase, progress, current step
	// or a step's state) before it is reported Stalled with reason
	// ProgressDeadlineExceeded, as a Deployment's progressDeadlineSeconds
	// is. Polling goes on, and the condition clears as soon as the
	// operation moves again. Unset: the service's default
	// (docs/discovery.md#progress-deadline); "0s" turns the check off.
	// +optional
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:Pattern=`^([0-9]+(\.[0-9]+)?(ms|s|m|h))+$`
	// +kubebuilder:validation:XValidation:rule="duration(self) == duration('0s') || duration(self) >= duration('1m')",message="progressDeadline must be 0s (off) or at least 1m"
	// +kubebuilder:validation:XValidation:rule="duration(self) <= duration('168h')",message="progressDeadline must be at most 168h"
	ProgressDeadline *metav1.Duration `json:"progressDeadline,omitempty"`

	// TTLSecondsAfterFinished deletes the CloudOperation this many
	// seconds after cloudop saw it reach a phase that will not change
	// (Succeeded, Failed, Cancelled; not a failure the service can
	// resume), as a Job's ttlSecondsAfterFinished does. Its events were
	// written before that status, so none is lost. Unset: kept until
	// deleted.
	// +optional
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=31536000
	TTLSecondsAfterFinished *int32 `json:"ttlSecondsAfterFinished,omitempty"`
}

// StepStatus is the state of one step of an operation.
type StepStatus struct {
	// Name of the step, as the service calls it.
	// +kubebuilder:validation:MaxLength=256
	Name string `json:"name"`
	// Phase is the step's normalized state.
	// +optional
	Phase Phase `json:"phase,omitempty"`
	// ServiceStatus is the service's own word for the step's state.
	// +optional
	// +kubebuilder:validation:MaxLength=64
	ServiceStatus string `json:"serviceStatus,omitempty"`
	// Message is the service's detail for the step.
	// +optional
	// +kubebuilder:validation:MaxLength=1024
	Message string `json:"message,omitempty"`
	// StartTime is when the step started.
	// +optional
	StartTime *metav1.Time `json:"startTime,omitempty"`
	// CompletionTime is when the step finished.
	// +optional
	CompletionTime *metav1.Time `json:"completionTime,omitempty"`
}

// OperationStep is one step of an operation with its sub-steps.
type OperationStep struct {
	StepStatus `json:",inline"`
	// SubSteps are the step's sub-steps in execution order.
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=128
	SubSteps []StepStatus `json:"subSteps,omitempty"`
}

// ResourceReference names one cloud resource an operation reported.
type ResourceReference struct {
	// Type is the kind of resource, as the service's field names it:
	// server, volume, image, publicip, nic, cluster, node, nodepool, ….
	// +kubebuilder:validation:MaxLength=64
	Type string `json:"type"`
	// ID is the resource's ID in the service.
	// +kubebuilder:validation:MaxLength=128
	ID string `json:"id"`
}

// CloudOperationStatus is the last observed state of the operation.
type CloudOperationStatus struct {
	// ObservedGeneration is the metadata.generation this status reflects.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// Phase is the operation's normalized state.
	// +optional
	Phase Phase `json:"phase,omitempty"`

	// ServiceStatus is the service's own status word, verbatim.
	// +optional
	// +kubebuilder:validation:MaxLength=64
	ServiceStatus string `json:"serviceStatus,omitempty"`

	// Progress is the completion percentage, when the service reports or
	// implies one.
	// +optional
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=100
	Progress *int32 `json:"progress,omitempty"`

	// CurrentStep names the step in progress, or the step that failed.
	// +optional
	// +kubebuilder:validation:MaxLength=256
	CurrentStep string `json:"currentStep,omitempty"`

	// Steps are the operation's steps in execution order.
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=128
	Steps []OperationStep `json:"steps,omitempty"`

	// StartTime is when the operation started, as the service reports it.
	// +optional
	StartTime *metav1.Time `json:"startTime,omitempty"`

	// CompletionTime is when the operation reached a terminal phase.
	// +optional
	CompletionTime *metav1.Time `json:"completionTime,omitempty"`

	// LastChangeTime is when a poll last saw the operation itself change
	// (phase, progress, current step or a step's state). The poll interval
	// lengthens while it lies far in the past; see docs/polling.md.
	// +optional
	LastChangeTime *metav1.Time `json:"lastChangeTime,omitempty"`

	// EstimatedCompletionTime is when a running operation is expected to
	// end: each step left taking the median of its earlier runs of the
	// same service, operation type and step. Unset until enough runs of
	// every step left have been seen, and once the operation ends.
	// +optional
	EstimatedCompletionTime *metav1.Time `json:"estimatedCompletionTime,omitempty"`

	// Message is a human-readable summary of the latest observation.
	// +optional
	// +kubebuilder:validation:MaxLength=4096
	Message string `json:"message,omitempty"`

	// Resources are the cloud resources the operation reports it created
	// or changed (a job's server_id, volume_id, image_id, …), so a
	// pipeline can use them next. At most 32, in the order reported.
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=32
	Resources []ResourceReference `json:"resources,omitempty"`

	// LastHandledPollRequest is the last value of the
	// ops.cloudop.dev/requested-poll annotation that was acted on.
	// +optional
	LastHandledPollRequest string `json:"lastHandledPollRequest,omitempty"`

	// Conditions describe the object's state for kubectl wait, kstatus,
	// Flux and Argo CD. See the Condition* and Reason* constants.
	// +optional
	// +listType=map
	// +listMapKey=type
	// +patchStrategy=merge
	// +patchMergeKey=type
	Conditions []metav1.Condition `json:"conditions,omitempty" patchStrategy:"merge" patchMergeKey:"type"`
}

// CloudOperation tracks one long-running operation of a cloud service and
// mirrors its phase, progress and steps into status.
//
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=cloudop,categories=cloud
// +kubebuilder:selectablefield:JSONPath=`.spec.service`
// +kubebuilder:printcolumn:name="Service",type=string,JSONPath=`.spec.service`
// +kubebuilder:printcolumn:name="Type",type=string,priority=1,JSONPath=`.spec.operationType`
// +kubebuilder:printcolumn:name="Operation",type=string,JSONPath=`.spec.operationID`
// +kubebuilder:printcolumn:name="Phase",type=string,JSONPath=`.status.phase`
// +kubebuilder:printcolumn:name="Progress",type=integer,JSONPath=`.status.progress`
// +kubebuilder:printcolumn:name="Step",type=string,JSONPath=`.status.currentStep`
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
// +kubebuilder:printcolumn:name="ETA",type=string,priority=1,JSONPath=`.status.estimatedCompletionTime`
// +kubebuilder:printcolumn:name="Message",type=string,priority=1,JSONPath=`.status.message`
type CloudOperation struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// Spec identifies the operation.
	// +required
	Spec CloudOperationSpec `json:"spec"`

	// Status is the operation's last observed state. Until the controller
	// first writes it, the API server shows observedGeneration 0, so
	// kstatus (Flux), which takes an object without status for done, sees
	// it in progress from the moment it is created, and the first
	// reconcile needs only one status write.
	// +optional
	// +kubebuilder:default={observedGeneration: 0}
	Status CloudOperationStatus `json:"status,omitempty"`
}

// CloudOperationList is a list of CloudOperations.
//
// +kubebuilder:object:root=true
type CloudOperationList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	// Items are the CloudOperations.
	Items []CloudOperation `json:"items"`
}
