package cce

import (
	"strconv"
	"strings"

	"github.com/cloudop/cloudop/internal/cloud"
	"github.com/cloudop/cloudop/internal/cloud/internal/flex"
)

// JobPhases maps a job's and each sub-job's status.phase (the SDK's
// JobStatus lists Initializing, Running, Failed and Success).
var JobPhases = cloud.StatusTable{
	"Initializing": cloud.PhasePending,
	"Running":      cloud.PhaseRunning,
	"Success":      cloud.PhaseSucceeded,
	"Failed":       cloud.PhaseFailed,
}

// maxUnfinishedJobPercent is the most a job that is not terminal shows.
// CCE completes a job only after all its sub-jobs (the SDK's JobSpec) and
// may list more sub-jobs as the job goes on, so every listed sub-job
// having succeeded does not make the job done. 99 keeps the share of
// sub-jobs done as it is until then, rather than guessing how many are
// still to come.
const maxUnfinishedJobPercent = 99

// job is a ShowJob answer; each of its sub-jobs is a full job again.
type job struct {
	apiError
	Metadata metadata `json:"metadata"`
	Spec     struct {
		Type         flex.String    `json:"type"`
		ClusterUID   flex.String    `json:"clusterUID"`
		ResourceID   flex.String    `json:"resourceID"`
		ResourceName flex.String    `json:"resourceName"`
		SubJobs      flex.List[job] `json:"subJobs"`
	} `json:"spec"`
	Status struct {
		Phase  flex.String `json:"phase"`
		Reason flex.String `json:"reason"`
	} `json:"status"`
}

// resourceKinds give the type of a job's resourceID from a word in its
// spec.type (CreateNodePool → nodepool, DeleteNode → node, CreateCluster
// → cluster), the most specific word first; case is ignored.
var resourceKinds = []struct{ word, typ string }{
	{"nodepool", "nodepool"},
	{"node", "node"},
	{"addon", "addon"},
	{"cluster", "cluster"},
}

// resourceType returns the type of the resource a job of type jobType
// works on, "resource" when its type names none of the known kinds.
func resourceType(jobType string) string {
	t := strings.ToLower(jobType)
	for _, k := range resourceKinds {
		if strings.Contains(t, k.word) {
			return k.typ
		}
	}
	return "resource"
}

// ParseJob reads a ShowJob answer. Sub-jobs become steps and their own
// sub-jobs sub-steps (deeper levels are not shown).
func ParseJob(body []byte) (*cloud.Operation, error) {
	var j job
	if err := cloud.DecodeJSONObject(body, &j); err != nil {
		return nil, err
	}
	word := string(j.Status.Phase)
	op := JobPhases.NewOperation(word)
	addJobResources(op, &j)

	var steps []cloud.Step
	done := 0
	for i := range j.Spec.SubJobs {
		sub := &j.Spec.SubJobs[i]
		s := jobStep(op, sub, i)
		for k := range sub.Spec.SubJobs {
			s.SubSteps = append(s.SubSteps, jobStep(op, &sub.Spec.SubJobs[k], k))
		}
		if s.Phase == cloud.PhaseSucceeded {
			done++
		}
		steps = append(steps, s)
	}

	op.Progress = cloud.PercentOf(done, len(steps))
	switch {
	case op.Phase == cloud.PhaseSucceeded:
		// Success is the job's own word that it is complete.
		op.Progress = cloud.PercentOf(1, 1)
	case !op.Phase.IsTerminal() && op.Progress != nil && *op.Progress > maxUnfinishedJobPercent:
		*op.Progress = maxUnfinishedJobPercent
	}
	op.CurrentStep = cloud.CurrentStepOf(steps)
	op.StartTime = parseTime(string(j.Metadata.CreationTimestamp))
	if op.Phase.IsTerminal() {
		op.CompletionTime = parseTime(string(j.Metadata.UpdateTimestamp))
	}
	op.Message = cloud.SanitizeText(cloud.JoinNonEmpty("; ", j.text(), string(j.Status.Reason)))
	if op.Message == "" && op.Phase == cloud.PhaseFailed {
		op.Message = cloud.FailureMessage(steps)
	}
	op.Steps = steps
	return op, nil
}

// jobStep turns sub-job i into a step (without sub-steps) and adds its
// resources to op.
func jobStep(op *cloud.Operation, j *job, i int) cloud.Step {
	addJobResources(op, j)
	word := string(j.Status.Phase)
	s := cloud.Step{
		Name:          jobName(j, i),
		Phase:         JobPhases.MapStepStatus(op, word),
		ServiceStatus: cloud.SanitizeText(word),
		Message:       cloud.SanitizeText(string(j.Status.Reason)),
		StartTime:     parseTime(string(j.Metadata.CreationTimestamp)),
	}
	if s.Phase.IsTerminal() {
		s.CompletionTime = parseTime(string(j.Metadata.UpdateTimestamp))
	}
	return s
}

// jobName is spec.type (else metadata.uid, else "sub-job-N") followed by
// spec.resourceName when set, e.g. "InstallAddon (coredns)".
func jobName(j *job, i int) string {
	name := strings.TrimSpace(string(j.Spec.Type))
	if name == "" {
		name = strings.TrimSpace(string(j.Metadata.UID))
	}
	if name == "" {
		name = "sub-job-" + strconv.Itoa(i+1)
	}
	if rn := strings.TrimSpace(string(j.Spec.ResourceName)); rn != "" {
		name += " (" + rn + ")"
	}
	return cloud.SanitizeText(name)
}

// addJobResources records the job's cluster and the resource it works on
// (the cluster again when resourceID is clusterUID, whatever the type).
func addJobResources(op *cloud.Operation, j *job) {
	cluster, id := string(j.Spec.ClusterUID), string(j.Spec.ResourceID)
	op.AddResource("cluster", cluster)
	if id == cluster {
		return
	}
	op.AddResource(resourceType(string(j.Spec.Type)), id)
}
