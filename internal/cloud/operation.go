// Package cloud holds the service-neutral model of a long-running cloud
// operation (Operation, Step, Phase, the Target to observe), the typed
// errors every layer returns, and the helpers adapters share to turn an
// answer into that model (status tables, text bounds, time parsing). It
// does no I/O, so the controller can depend on it alone.
//
// Package transport (which imports this one) sends the signed,
// rate-limited requests. Each adapter family lives in its own package
// (bcs, cce, aos, dws, rfs; classicjob serves the job API the classic
// services share, rdsjob the job query of the database services; the
// service table says which service is whose) and turns its API's answer
// into an Operation.
//
// The service table (Descriptors, services.go) holds the facts other
// packages need about a service: its name, its adapter family, its kinds
// of operation and the spec fields they need, its hosts and its
// capabilities (aligned polls). The other packages read it; the copies
// that cannot import it are checked against it: the API module's enum
// and CEL rules, the kubectl plugin's list and the job adapters' lists
// by TestServiceTableCopies, cloudsim's lists by its
// TestServicesMatchTheServiceTable. docs/adding-a-service.md has the
// steps. The table
// names each service's adapter by Family rather than holding its
// constructor, because this package cannot import the adapters (they
// import it): the manager, where the wiring happens, maps each Family to
// a constructor explicitly, and its test checks that map covers the
// table. Imports keep pointing one way: cloud ← transport ← adapters ←
// manager. Nothing is registered at init.
package cloud

import (
	"context"
	"time"
)

// OperationType is the kind of operation of a service that has several.
// Empty means the service's first kind (for CCE, an upgrade workflow).
// The values match the API's spec.operationType enum.
type OperationType string

// Operation types.
const (
	OperationTypeUpgradeWorkflow OperationType = "UpgradeWorkflow"
	OperationTypeJob             OperationType = "Job"
)

// OperationTypes lists every operation type.
var OperationTypes = []OperationType{OperationTypeUpgradeWorkflow, OperationTypeJob}

// Phase is the normalized state of an operation or one of its steps.
type Phase string

// Normalized phases. Unknown means the service reported a word the mapping
// does not know; the word itself is kept in ServiceStatus.
const (
	PhasePending   Phase = "Pending"
	PhaseRunning   Phase = "Running"
	PhaseSucceeded Phase = "Succeeded"
	PhaseFailed    Phase = "Failed"
	PhaseCancelled Phase = "Cancelled"
	PhaseUnknown   Phase = "Unknown"
)

// Phases lists every normalized phase.
var Phases = []Phase{PhasePending, PhaseRunning, PhaseSucceeded, PhaseFailed, PhaseCancelled, PhaseUnknown}

// IsTerminal reports whether no further change is expected in this phase.
func (p Phase) IsTerminal() bool {
	return p == PhaseSucceeded || p == PhaseFailed || p == PhaseCancelled
}

// Operation is one observation of a cloud operation, normalized across
// services. Adapters fill it from a single API answer.
type Operation struct {
	// Phase is the normalized overall state.
	Phase Phase
	// ServiceStatus is the service's own status word, verbatim.
	ServiceStatus string
	// Progress is the completion percentage (0-100), nil when unknown.
	Progress *int32
	// CurrentStep names the step in progress (or the one that failed).
	CurrentStep string
	// Steps are the operation's steps in execution order.
	Steps []Step
	// StartTime and CompletionTime are nil when the service does not say.
	StartTime      *time.Time
	CompletionTime *time.Time
	// Message is a human-readable summary from the service, if any.
	Message string
	// Resumable marks a Failed phase the service may leave on its own
	// (CCE's workflow phase Pending: a task failed but can be retried).
	Resumable bool
	// EstimatedRemaining is the service's estimate of time left; zero when
	// the service gives none (DWS estimated_time -1).
	EstimatedRemaining time.Duration
	// UnknownStatuses lists status words (of the operation or its steps)
	// that the mapping did not recognise, for warning events.
	UnknownStatuses []string
	// Resources are the cloud resources the operation reports (a job's
	// server_id, volume_id, …), in the order reported, without duplicates.
	Resources []Resource
}

// Resource is one cloud resource an operation reported.
type Resource struct {
	// Type is the kind of resource as the service's field names it
	// (server, volume, image, publicip, cluster, node, …).
	Type string
	// ID is the resource's ID in the service.
	ID string
}

// AddResource records a resource once; an empty ID is ignored.
func (o *Operation) AddResource(typ, id string) {
	typ, id = SanitizeText(typ), SanitizeText(id)
	if id == "" {
		return
	}
	for _, r := range o.Resources {
		if r.Type == typ && r.ID == id {
			return
		}
	}
	o.Resources = append(o.Resources, Resource{Type: typ, ID: id})
}

// Step is one step (or sub-step) of an operation.
type Step struct {
	Name           string
	Phase          Phase
	ServiceStatus  string
	Message        string
	StartTime      *time.Time
	CompletionTime *time.Time
	SubSteps       []Step
}

// Credentials are the AK/SK pair (and optional temporary token) a request
// is signed with; the project is not part of them but of the Target.
type Credentials struct {
	AccessKey     string
	SecretKey     string
	SecurityToken string
}

// Target identifies one operation to observe: which service, where, and
// with which credentials.
type Target struct {
	Service Service
	Region  string
	// ProjectID is the project the URL names and X-Project-Id carries.
	// The controller resolves it (spec.projectID, else the credentials
	// Secret's projectID); adapters only check it.
	ProjectID string
	// OperationType is the kind of operation OperationID names; empty
	// means the service's first kind.
	OperationType OperationType
	OperationID   string
	ClusterID     string
	StackID       string
	// StackName is the RFS stack a deployment belongs to.
	StackName    string
	BlockchainID string
	// BaseURL is the resolved scheme://host[:port] to call.
	BaseURL     string
	Credentials Credentials
}

// Fetcher observes one operation of one service. Each service package
// provides an Adapter implementing it; t.BaseURL is already resolved (by
// transport.Router).
type Fetcher interface {
	Fetch(ctx context.Context, t Target) (*Operation, error)
}

// OperationLister lists the operations of one resource (t names it;
// t.OperationID is empty), by the service's operation ID. Adapters of
// services with such a list API implement it besides Fetcher; the
// operations returned are the caller's to keep.
type OperationLister interface {
	ListOperations(ctx context.Context, t Target) (map[string]*Operation, error)
}

// ServiceCTS is the Cloud Trace Service. It is no service whose operations
// are tracked (it is not in Descriptors): a discovery source reads its
// management traces to find the jobs other services started.
const ServiceCTS Service = "CTS"

// ListQuery is what a discovery source lists: the resource the Target
// names (its OperationID empty), or for CTS the traces of Services.
type ListQuery struct {
	// Target is the service listed (BCS, CCE, CTS), where and as whom.
	Target Target
	// Services are the job services whose traces a CTS list reads.
	Services []Service
	// TraceNames, when set, keeps only the traces of these calls.
	TraceNames []string
	// Since, when set, is the earliest start a list needs to return (a
	// lister may return older operations; the caller filters).
	Since time.Time
}

// Listed is one operation a discovery list found.
type Listed struct {
	// Service is the operation's own service: the listed service, or for
	// a CTS trace the job service that answered the traced call.
	Service Service
	// ID is the operation's ID in its service (spec.operationID).
	ID string
	// StackName is, for an RFS deployment, its stack (spec.stackName).
	StackName string
	// Operation is what the list says of it.
	Operation *Operation
	// StartOnly marks an operation the list only says was started (a
	// trace): its Phase is Unknown and whether it still runs is not
	// known, so discovery mirrors it once, like a finished one.
	StartOnly bool
}

// Discoverer lists operations for discovery sources where the service has
// no operations of its own to fetch (CTS). Adapters of services that have
// both implement OperationLister instead.
type Discoverer interface {
	Discover(ctx context.Context, q ListQuery) ([]Listed, error)
}
