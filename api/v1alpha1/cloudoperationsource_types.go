package v1alpha1

import (
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// LabelSource is the label cloudop puts on every CloudOperation a source
// created, naming the source.
const LabelSource = "ops.cloudop.dev/source"

// Source condition reasons (besides ReasonProgressing and the error
// reasons a CloudOperation shares: AuthFailed, CredentialsInvalid,
// Identity*, Throttled, TransientError, InvalidConfiguration).
const (
	// ReasonListed: the last list succeeded; the source's CloudOperations
	// are up to date with it.
	ReasonListed = "Listed"
)

// SourceService names what a CloudOperationSource lists.
// +kubebuilder:validation:Enum=BCS;CCE;CTS
type SourceService string

// Source services.
const (
	// SourceBCS lists one blockchain's operation records (ListOpRecord).
	SourceBCS SourceService = "BCS"
	// SourceCCE lists one cluster's upgrade workflows
	// (ListUpgradeWorkFlows).
	SourceCCE SourceService = "CCE"
	// SourceCTS lists the Cloud Trace Service's management traces of job
	// services (ListTraces v3) and mirrors the jobs their answers name.
	SourceCTS SourceService = "CTS"
)

// CloudOperationSourceSpec names a cloud resource whose operations are
// mirrored as CloudOperations, how to reach it, and what the
// CloudOperations get.
//
// +kubebuilder:validation:XValidation:rule="self.service != 'BCS' || has(self.blockchainID)",message="blockchainID is required when service is BCS: the source lists one blockchain's operations",fieldPath=".blockchainID",reason=FieldValueRequired
// +kubebuilder:validation:XValidation:rule="self.service == 'BCS' || !has(self.blockchainID)",message="blockchainID is only for service BCS",fieldPath=".blockchainID",reason=FieldValueForbidden
// +kubebuilder:validation:XValidation:rule="self.service != 'CCE' || has(self.clusterID)",message="clusterID is required when service is CCE: the source lists one cluster's upgrade workflows",fieldPath=".clusterID",reason=FieldValueRequired
// +kubebuilder:validation:XValidation:rule="self.service == 'CCE' || !has(self.clusterID)",message="clusterID is only for service CCE",fieldPath=".clusterID",reason=FieldValueForbidden
// +kubebuilder:validation:XValidation:rule="self.service != 'CTS' || (has(self.services) && size(self.services) > 0)",message="services is required when service is CTS: name the job services whose traces are read",fieldPath=".services",reason=FieldValueRequired
// +kubebuilder:validation:XValidation:rule="self.service == 'CTS' || (!has(self.services) && !has(self.traceNames))",message="services and traceNames are only for service CTS",fieldPath=".services",reason=FieldValueForbidden
// +kubebuilder:validation:XValidation:rule="self.service != 'CTS' || !has(self.phases)",message="phases cannot filter a CTS source: a trace says an operation started, not how it is doing",fieldPath=".phases",reason=FieldValueForbidden
// +kubebuilder:validation:XValidation:rule="!has(self.credentialsSecretRef) || !has(self.serviceAccountName)",message="credentialsSecretRef and serviceAccountName are mutually exclusive: name one identity",reason=FieldValueInvalid
type CloudOperationSourceSpec struct {
	// Service whose operations are listed: BCS (ListOpRecord of one
	// blockchain), CCE (ListUpgradeWorkFlows of one cluster) or CTS (the
	// Cloud Trace Service's management traces of the job services named
	// in spec.services, whose answers carry a job ID). docs/discovery.md
	// says what each one mirrors.
	// +required
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="service is immutable"
	Service SourceService `json:"service"`

	// Region is the cloud region, e.g. cn-north-4.
	// +required
	// +kubebuilder:validation:MinLength=4
	// +kubebuilder:validation:MaxLength=32
	// +kubebuilder:validation:Pattern=`^[a-z]{2}(-[a-z]+)+-[0-9]{1,3}$`
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="region is immutable"
	Region string `json:"region"`

	// ProjectID is the project that owns the resource. Optional when the
	// credentials Secret has a projectID key.
	// +optional
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=64
	// +kubebuilder:validation:Pattern=`^[0-9A-Za-z]+$`
	ProjectID string `json:"projectID,omitempty"`

	// BlockchainID is the BCS blockchain whose operations are mirrored.
	// +optional
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=64
	// +kubebuilder:validation:Pattern=`^[A-Za-z0-9][A-Za-z0-9_.-]*$`
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="blockchainID is immutable"
	BlockchainID string `json:"blockchainID,omitempty"`

	// ClusterID is the CCE cluster whose upgrade workflows are mirrored.
	// +optional
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=64
	// +kubebuilder:validation:Pattern=`^[A-Za-z0-9][A-Za-z0-9_.-]*$`
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="clusterID is immutable"
	ClusterID string `json:"clusterID,omitempty"`

	// Services are, for a CTS source, the services whose traces are
	// read; each traced call whose answer carries a job ID (RFS: a
	// deployment ID, on the stack the trace names) becomes a
	// CloudOperation of that service.
	// +optional
	// +listType=set
	// +kubebuilder:validation:MaxItems=10
	// +kubebuilder:validation:XValidation:rule="self.all(s, s in ['ECS', 'EVS', 'IMS', 'BMS', 'VPC', 'RDS', 'GaussDB', 'DDS', 'GaussDBforOpenGauss', 'GaussDBforNoSQL', 'RFS'])",message="services must be services whose traced calls name their operation: the job services ECS, EVS, IMS, BMS, VPC, RDS, GaussDB, DDS, GaussDBforOpenGauss, GaussDBforNoSQL (job_id), or RFS (deployment_id)"
	Services []Service `json:"services,omitempty"`

	// TraceNames, for a CTS source, keeps only the traces of these calls
	// (createServer, attachVolume, …). Unset: every traced call whose
	// answer carries a job ID.
	// +optional
	// +listType=set
	// +kubebuilder:validation:MaxItems=32
	// +kubebuilder:validation:items:MinLength=1
	// +kubebuilder:validation:items:MaxLength=64
	// +kubebuilder:validation:items:Pattern=`^[A-Za-z0-9_.-]+$`
	TraceNames []string `json:"traceNames,omitempty"`

	// Phases keeps only operations the list shows in one of these phases
	// (for example [Running, Pending] to mirror only what is in flight).
	// Unset: every phase. Not for CTS, whose traces carry no phase.
	// +optional
	// +listType=set
	// +kubebuilder:validation:MaxItems=6
	Phases []Phase `json:"phases,omitempty"`

	// CredentialsSecretRef names the Secret with the AK/SK to list with, in
	// the source's namespace; the CloudOperations it creates name it too.
	// +optional
	CredentialsSecretRef SecretReference `json:"credentialsSecretRef,omitzero"`

	// ServiceAccountName names a ServiceAccount in the source's namespace
	// whose identity lists (workload identity, as in CloudOperation); the
	// CloudOperations it creates name it too.
	// +optional
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`
	ServiceAccountName string `json:"serviceAccountName,omitempty"`

	// Endpoint overrides the service's regional base URL, as in
	// CloudOperation; used only when it matches the manager's
	// --allowed-endpoint list.
	// +optional
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:Pattern=`^https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?/?$`
	Endpoint string `json:"endpoint,omitempty"`

	// Since leaves out operations that started before it. Unset: every
	// operation the service lists (for CTS, which keeps a week of traces,
	// the traces from one hour before the source was created).
	// +optional
	Since *metav1.Time `json:"since,omitempty"`

	// Interval is how often the resource's operations are listed.
	// +optional
	// +kubebuilder:default="1m"
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:Pattern=`^([0-9]+(\.[0-9]+)?(ms|s|m|h))+$`
	// +kubebuilder:validation:XValidation:rule="duration(self) >= duration('30s')",message="interval must be at least 30s"
	// +kubebuilder:validation:XValidation:rule="duration(self) <= duration('24h')",message="interval must be at most 24h"
	Interval *metav1.Duration `json:"interval,omitempty"`

	// Template is what every CloudOperation the source creates gets.
	// +optional
	Template CloudOperationTemplate `json:"template,omitzero"`

	// SuccessfulHistoryLimit is how many of the source's Succeeded
	// CloudOperations are kept, the most recently finished; older ones are
	// deleted, as a CronJob keeps its Jobs.
	// +optional
	// +kubebuilder:default=10
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=1000
	SuccessfulHistoryLimit *int32 `json:"successfulHistoryLimit,omitempty"`

	// FailedHistoryLimit is the same for Failed and Cancelled ones.
	// +optional
	// +kubebuilder:default=10
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=1000
	FailedHistoryLimit *int32 `json:"failedHistoryLimit,omitempty"`
}

// CloudOperationTemplate is what a source puts into the CloudOperations it
// creates.
type CloudOperationTemplate struct {
	// Labels are added to each CloudOperation (besides
	// ops.cloudop.dev/source, and the sharding label the source carries).
	// +optional
	Labels map[string]string `json:"labels,omitempty"`

	// Annotations are added to each CloudOperation.
	// +optional
	Annotations map[string]string `json:"annotations,omitempty"`

	// PollInterval is each CloudOperation's spec.pollInterval.
	// +optional
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:Pattern=`^([0-9]+(\.[0-9]+)?(ms|s|m|h))+$`
	// +kubebuilder:validation:XValidation:rule="duration(self) >= duration('5s')",message="pollInterval must be at least 5s"
	// +kubebuilder:validation:XValidation:rule="duration(self) <= duration('24h')",message="pollInterval must be at most 24h"
	PollInterval *metav1.Duration `json:"pollInterval,omitempty"`

	// ProgressDeadline is each CloudOperation's spec.progressDeadline.
	// +optional
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:Pattern=`^([0-9]+(\.[0-9]+)?(ms|s|m|h))+$`
	// +kubebuilder:validation:XValidation:rule="duration(self) == duration('0s') || duration(self) >= duration('1m')",message="progressDeadline must be 0s (off) or at least 1m"
	// +kubebuilder:validation:XValidation:rule="duration(self) <= duration('168h')",message="progressDeadline must be at most 168h"
	ProgressDeadline *metav1.Duration `json:"progressDeadline,omitempty"`

	// TTLSecondsAfterFinished is each CloudOperation's
	// spec.ttlSecondsAfterFinished.
	// +optional
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=31536000
	TTLSecondsAfterFinished *int32 `json:"ttlSecondsAfterFinished,omitempty"`
}

// CloudOperationSourceStatus is what the source found when it last listed.
type CloudOperationSourceStatus struct {
	// ObservedGeneration is the metadata.generation this status reflects.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// Resource names what the source lists, as "blockchain/<id>",
	// "cluster/<id>" or "traces/<services>", for the printer column.
	// +optional
	// +kubebuilder:validation:MaxLength=256
	Resource string `json:"resource,omitempty"`

	// LastListTime is when the resource's operations were last listed
	// successfully.
	// +optional
	LastListTime *metav1.Time `json:"lastListTime,omitempty"`

	// Listed is how many operations the last list returned (since
	// spec.since).
	// +optional
	Listed int32 `json:"listed,omitempty"`

	// Mirrored is how many CloudOperations of the source exist after the
	// last list and the history limits.
	// +optional
	Mirrored int32 `json:"mirrored,omitempty"`

	// Watermark is the latest start time of the operations the source has
	// created CloudOperations for. A finished operation that started
	// before it is not created again, so one deleted (by a user, a TTL or
	// the history limits) stays deleted; an operation still running is
	// created again.
	// +optional
	Watermark *metav1.Time `json:"watermark,omitempty"`

	// Message says what the last list found, or why it failed.
	// +optional
	// +kubebuilder:validation:MaxLength=1024
	Message string `json:"message,omitempty"`

	// Conditions: Ready (the last list succeeded), Reconciling (listing or
	// retrying) and Stalled (a list that cannot succeed as configured),
	// for kstatus, Flux and Argo CD.
	// +optional
	// +listType=map
	// +listMapKey=type
	// +patchStrategy=merge
	// +patchMergeKey=type
	Conditions []metav1.Condition `json:"conditions,omitempty" patchStrategy:"merge" patchMergeKey:"type"`
}

// CloudOperationSource lists the operations of one cloud resource (a BCS
// blockchain, a CCE cluster) or the job services' traces in CTS, and
// creates a CloudOperation for each, so operations
// started from the console, Terraform or the service's own automation
// are tracked like registered ones.
//
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=cloudopsrc,categories=cloud
// +kubebuilder:printcolumn:name="Service",type=string,JSONPath=`.spec.service`
// +kubebuilder:printcolumn:name="Resource",type=string,JSONPath=`.status.resource`
// +kubebuilder:printcolumn:name="Listed",type=integer,JSONPath=`.status.listed`
// +kubebuilder:printcolumn:name="Mirrored",type=integer,JSONPath=`.status.mirrored`
// +kubebuilder:printcolumn:name="Last List",type=date,JSONPath=`.status.lastListTime`
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
// +kubebuilder:printcolumn:name="Message",type=string,priority=1,JSONPath=`.status.message`
type CloudOperationSource struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// Spec names the resource and what its CloudOperations get.
	// +required
	Spec CloudOperationSourceSpec `json:"spec"`

	// Status is what the last list found.
	// +optional
	// +kubebuilder:default={observedGeneration: 0}
	Status CloudOperationSourceStatus `json:"status,omitzero"`
}

// CloudOperationSourceList is a list of CloudOperationSources.
//
// +kubebuilder:object:root=true
type CloudOperationSourceList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	// Items are the sources.
	Items []CloudOperationSource `json:"items"`
}

// Resource names what a source lists: "blockchain/<id>",
// "cluster/<id>" or "traces/<services>" (status.resource, the plugin's
// header).
func (s *CloudOperationSourceSpec) Resource() string {
	switch s.Service {
	case SourceCCE:
		return "cluster/" + s.ClusterID
	case SourceCTS:
		names := make([]string, len(s.Services))
		for i, svc := range s.Services {
			names[i] = string(svc)
		}
		return "traces/" + strings.Join(names, ",")
	}
	return "blockchain/" + s.BlockchainID
}
