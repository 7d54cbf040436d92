package cloud

import (
	"slices"
	"strings"
	"time"
)

// Service names a supported cloud service. The values match the
// CloudOperation API's spec.service enum (TestServiceTableCopies).
type Service string

// Supported services; Descriptors says what each one is.
const (
	ServiceBCS Service = "BCS"
	ServiceCCE Service = "CCE"
	ServiceAOS Service = "AOS"
	ServiceDWS Service = "DWS"
	// The classic job services: GET /v1/{project_id}/jobs/{job_id} on the
	// service's own host.
	ServiceECS Service = "ECS"
	ServiceEVS Service = "EVS"
	ServiceIMS Service = "IMS"
	ServiceBMS Service = "BMS"
	ServiceVPC Service = "VPC"
	// The database services (the RDS family): GET /v3/{project_id}/jobs?id=
	// on the service's own host.
	ServiceRDS                 Service = "RDS"
	ServiceGaussDB             Service = "GaussDB"
	ServiceDDS                 Service = "DDS"
	ServiceGaussDBforOpenGauss Service = "GaussDBforOpenGauss"
	ServiceGaussDBforNoSQL     Service = "GaussDBforNoSQL"
	// ServiceRFS is Resource Formation Service: a stack deployment.
	ServiceRFS Service = "RFS"
)

// Services lists every supported service, in the table's order. It is
// derived from Descriptors, never written by hand.
var Services = serviceNames(Descriptors)

// Family names the adapter package that reads a service's operations.
// Services of one family share one adapter (one request shape, each on
// its own host); the manager builds one adapter per family.
type Family string

// Adapter families, one per package under internal/cloud.
const (
	FamilyBCS        Family = "bcs"
	FamilyCCE        Family = "cce"
	FamilyAOS        Family = "aos"
	FamilyDWS        Family = "dws"
	FamilyClassicJob Family = "classicjob"
	FamilyDBJob      Family = "rdsjob"
	FamilyRFS        Family = "rfs"
)

// SpecField names an optional spec field that identifies an operation
// together with spec.operationID for some services. The values are the
// fields' JSON names.
type SpecField string

// Spec fields the service table speaks of.
const (
	FieldClusterID    SpecField = "clusterID"
	FieldStackID      SpecField = "stackID"
	FieldStackName    SpecField = "stackName"
	FieldBlockchainID SpecField = "blockchainID"
)

// SpecFields lists every SpecField.
var SpecFields = []SpecField{FieldClusterID, FieldStackID, FieldStackName, FieldBlockchainID}

// Kind is one kind of operation a service tracks.
type Kind struct {
	// Type is spec.operationType's value for this kind. It is empty for a
	// service whose only kind has no name: the API then refuses any
	// spec.operationType.
	Type OperationType
	// Requires are the spec fields an operation of this kind must set.
	Requires []SpecField
}

// Hosts is where a service's API answers:
// https://{label}.{region}.{domain}, with the exceptions the Huawei Cloud
// SDK's region tables give. The domain rule every service shares (.eu for
// eu-* regions but eu-west-0) is transport's; only a service's own
// exceptions are here. transport.DefaultEndpoint builds hosts from it, and
// the default spec.endpoint allowlist allows only hosts built from it.
type Hosts struct {
	// Label is the host's first label; "" means the service's name in
	// lower case.
	Label string
	// RegionLabels are the regions whose host has another first label.
	RegionLabels map[string]string
	// RegionDomains are the regions whose domain differs from the rule
	// every service follows.
	RegionDomains map[string]string
	// RegionBaseURLs are whole base URLs the SDK gives instead of the
	// {label}.{region}.{domain} rule.
	RegionBaseURLs map[string]string
}

// Descriptor is what cloudop knows of one service outside its adapter.
type Descriptor struct {
	// Name is the spec.service value.
	Name Service
	// Family is the adapter that reads the service's operations.
	Family Family
	// Kinds are the kinds of operation the service tracks. The first is
	// the default, taken when spec.operationType is empty.
	Kinds []Kind
	// Optional are the spec fields the service accepts in any of its
	// kinds without requiring them there. A field neither required by one
	// of its kinds nor listed here is refused by the API.
	Optional []SpecField
	// Hosts are the service's API hosts.
	Hosts Hosts
	// AlignedPolls marks a service that serves many operations with one
	// list call (BCS ListOpRecord): its polls are aligned to shared
	// wall-clock ticks, so one call within the adapter's list window
	// serves them all.
	AlignedPolls bool
	// ProgressDeadline is spec.progressDeadline's default: how long an
	// operation of the service may show no visible change before it is
	// reported Stalled (ProgressDeadlineExceeded). docs/discovery.md
	// gives each value's reason; zero turns the check off.
	ProgressDeadline time.Duration
}

// Default progress deadlines. No service documents an upper bound for a
// step; these are cloudop's, chosen so that a healthy operation never
// reaches them (docs/discovery.md#progress-deadline says why each).
const (
	// deadlineSteps: operations whose visible changes are step ends of
	// minutes (server, volume, image and network jobs, stack resources,
	// blockchain steps).
	deadlineSteps = time.Hour
	// deadlineNodeUpgrade: a CCE upgrade task upgrades every node of the
	// cluster in one step, node by node.
	deadlineNodeUpgrade = 3 * time.Hour
	// deadlineDataCopy: backups, restores and resizes that copy a
	// database's or warehouse's data in one step.
	deadlineDataCopy = 6 * time.Hour
)

// Huawei Cloud's API domains, for the services' own exceptions.
const domainCN = "myhuaweicloud.cn"

// Descriptors is the service table: one entry per supported service,
// everything else about services is read from it (Services, the
// endpoint rules, the manager's adapters, the poll policy's alignment) or
// checked against it by one test each (the CRD's enum and CEL rules,
// the plugin's list and the adapters' family lists in
// TestServiceTableCopies; cloudsim's lists in its own cross-check).
//
// Host exceptions, from the SDK's tables: some DWS regions answer only
// under myhuaweicloud.cn. GaussDB (for MySQL) answers on gaussdb.{region}
// but in some regions on gaussdbformysql or gaussdb-mysql; GaussDB for
// openGauss on gaussdb-opengauss, in some regions on gaussdb (the label
// GaussDB for MySQL has elsewhere); GaussDB for NoSQL on gaussdb-nosql
// everywhere. RFS in eu-west-101 answers on aos.myhuaweicloud.eu, without
// the region.
var Descriptors = []Descriptor{
	{
		Name: ServiceBCS, Family: FamilyBCS,
		Kinds:            []Kind{{}},
		Optional:         []SpecField{FieldBlockchainID},
		AlignedPolls:     true,
		ProgressDeadline: deadlineSteps,
	},
	{
		Name: ServiceCCE, Family: FamilyCCE,
		Kinds: []Kind{
			{Type: OperationTypeUpgradeWorkflow, Requires: []SpecField{FieldClusterID}},
			{Type: OperationTypeJob},
		},
		Optional:         []SpecField{FieldClusterID},
		ProgressDeadline: deadlineNodeUpgrade,
	},
	{
		Name: ServiceAOS, Family: FamilyAOS,
		Kinds:            []Kind{{Requires: []SpecField{FieldStackID}}},
		ProgressDeadline: deadlineSteps,
	},
	{
		Name: ServiceDWS, Family: FamilyDWS,
		Kinds:            []Kind{{Requires: []SpecField{FieldClusterID}}},
		ProgressDeadline: deadlineDataCopy,
		Hosts: Hosts{RegionDomains: map[string]string{
			"ap-southeast-4": domainCN,
			"cn-east-4":      domainCN,
			"cn-north-12":    domainCN,
			"cn-south-4":     domainCN,
			"tr-west-1":      domainCN,
		}},
	},
	{Name: ServiceECS, Family: FamilyClassicJob, Kinds: []Kind{{Type: OperationTypeJob}}, ProgressDeadline: deadlineSteps},
	{Name: ServiceEVS, Family: FamilyClassicJob, Kinds: []Kind{{Type: OperationTypeJob}}, ProgressDeadline: deadlineSteps},
	{Name: ServiceIMS, Family: FamilyClassicJob, Kinds: []Kind{{Type: OperationTypeJob}}, ProgressDeadline: deadlineSteps},
	{Name: ServiceBMS, Family: FamilyClassicJob, Kinds: []Kind{{Type: OperationTypeJob}}, ProgressDeadline: deadlineSteps},
	{Name: ServiceVPC, Family: FamilyClassicJob, Kinds: []Kind{{Type: OperationTypeJob}}, ProgressDeadline: deadlineSteps},
	{Name: ServiceRDS, Family: FamilyDBJob, Kinds: []Kind{{Type: OperationTypeJob}}, ProgressDeadline: deadlineDataCopy},
	{
		Name: ServiceGaussDB, Family: FamilyDBJob,
		Kinds:            []Kind{{Type: OperationTypeJob}},
		ProgressDeadline: deadlineDataCopy,
		Hosts: Hosts{RegionLabels: map[string]string{
			"ap-southeast-1": "gaussdbformysql",
			"ap-southeast-2": "gaussdbformysql",
			"cn-north-11":    "gaussdbformysql",
			"me-east-1":      "gaussdbformysql",
			"tr-west-1":      "gaussdbformysql",
			"af-south-1":     "gaussdb-mysql",
			"cn-east-5":      "gaussdb-mysql",
			"cn-southwest-3": "gaussdb-mysql",
			"la-north-2":     "gaussdb-mysql",
		}},
	},
	{Name: ServiceDDS, Family: FamilyDBJob, Kinds: []Kind{{Type: OperationTypeJob}}, ProgressDeadline: deadlineDataCopy},
	{
		Name: ServiceGaussDBforOpenGauss, Family: FamilyDBJob,
		Kinds:            []Kind{{Type: OperationTypeJob}},
		ProgressDeadline: deadlineDataCopy,
		Hosts: Hosts{Label: "gaussdb-opengauss", RegionLabels: map[string]string{
			"af-north-1":     "gaussdb",
			"ap-southeast-5": "gaussdb",
			"cn-east-2":      "gaussdb",
			"cn-east-4":      "gaussdb",
			"cn-east-5":      "gaussdb",
			"cn-north-12":    "gaussdb",
			"me-east-1":      "gaussdb",
			"tr-west-1":      "gaussdb",
		}},
	},
	{
		Name: ServiceGaussDBforNoSQL, Family: FamilyDBJob,
		Kinds:            []Kind{{Type: OperationTypeJob}},
		ProgressDeadline: deadlineDataCopy,
		Hosts:            Hosts{Label: "gaussdb-nosql"},
	},
	{
		Name: ServiceRFS, Family: FamilyRFS,
		Kinds:            []Kind{{Requires: []SpecField{FieldStackName}}},
		Optional:         []SpecField{FieldStackID},
		ProgressDeadline: deadlineSteps,
		Hosts:            Hosts{RegionBaseURLs: map[string]string{"eu-west-101": "https://aos.myhuaweicloud.eu"}},
	},
}

// Describe returns the service's descriptor, and false for a service
// not in the table.
func Describe(s Service) (Descriptor, bool) {
	for _, d := range Descriptors {
		if d.Name == s {
			return d, true
		}
	}
	return Descriptor{}, false
}

// MainLabel is the first label of the service's host outside the regions
// that name another.
func (d Descriptor) MainLabel() string {
	if d.Hosts.Label != "" {
		return d.Hosts.Label
	}
	return strings.ToLower(string(d.Name))
}

// Uses reports whether the service accepts field in some kind.
func (d Descriptor) Uses(field SpecField) bool {
	for _, k := range d.Kinds {
		if slices.Contains(k.Requires, field) {
			return true
		}
	}
	return slices.Contains(d.Optional, field)
}

// Types are the spec.operationType values the service accepts besides
// empty, default first.
func (d Descriptor) Types() []OperationType {
	var out []OperationType
	for _, k := range d.Kinds {
		if k.Type != "" {
			out = append(out, k.Type)
		}
	}
	return out
}

func serviceNames(ds []Descriptor) []Service {
	out := make([]Service, len(ds))
	for i, d := range ds {
		out[i] = d.Name
	}
	return out
}
