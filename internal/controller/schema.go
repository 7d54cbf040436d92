package controller

import (
	opsv1 "github.com/cloudop/cloudop/api/v1alpha1"
	"github.com/cloudop/cloudop/internal/cloud"
)

// Limits of the CloudOperation status schema (the MaxLength and MaxItems
// markers in api/v1alpha1): status is cut to them here, where the cloud
// model meets the API, so a status is always accepted whatever a service
// returns. TestLimitsMatchTheCRD reads them back from the generated CRD.
// Text is cut by bytes, which never exceeds the schema's character count.
const (
	maxSteps         = 128   // status.steps
	maxSubSteps      = 128   // status.steps[].subSteps
	maxStepName      = 256   // status.currentStep and every step's name
	maxServiceStatus = 64    // status.serviceStatus and every step's
	maxStepMessage   = 1024  // every step's message
	maxStatusMessage = 4096  // status.message
	maxConditionMsg  = 32768 // metav1.Condition's message
	maxResources     = 32    // status.resources
	maxResourceType  = 64    // status.resources[].type
	maxResourceID    = 128   // status.resources[].id
)

// apiPhase is the API's name for a cloud phase. The two enums have the same
// values (TestEnumsMatch), so this is a cast kept in one place.
func apiPhase(p cloud.Phase) opsv1.Phase { return opsv1.Phase(p) }

// cloudService is the cloud model's name for an API service (see apiPhase).
func cloudService(s opsv1.Service) cloud.Service { return cloud.Service(s) }

// cloudOperationType is the cloud model's name for an API operation type
// (see apiPhase).
func cloudOperationType(t opsv1.OperationType) cloud.OperationType { return cloud.OperationType(t) }
