package cce

import (
	"context"
	"net/http"
	"strings"

	"github.com/cloudop/cloudop/internal/cloud"
	"github.com/cloudop/cloudop/internal/cloud/internal/flex"
)

// MaxListedWorkflows bounds the workflows read from one
// ListUpgradeWorkFlows answer. A cluster has one upgrade workflow per
// upgrade attempt; a longer list is hostile or corrupt.
const MaxListedWorkflows = 500

var _ cloud.OperationLister = (*Adapter)(nil)

// workflowList is ListUpgradeWorkFlowsResponse (SDK v0.1.207): each item
// is what ShowUpgradeWorkFlow returns for it.
type workflowList struct {
	apiError
	Items flex.List[workflow] `json:"items"`
}

// ListOperations lists the upgrade workflows of cluster t.ClusterID
// (ListUpgradeWorkFlows, GET /api/v3/projects/{project_id}/clusters/
// {cluster_id}/operation/upgradeworkflows), by workflow ID
// (metadata.uid). Items without a uid are skipped: nothing could fetch
// them again.
func (a *Adapter) ListOperations(ctx context.Context, t cloud.Target) (map[string]*cloud.Operation, error) {
	project, err := t.RequireProjectID()
	if err != nil {
		return nil, err
	}
	if err := cloud.RequireSegment("spec.clusterID", t.ClusterID); err != nil {
		return nil, err
	}
	body, err := a.HTTP.Get(ctx, t, "/api/v3/projects/"+project+"/clusters/"+t.ClusterID+"/operation/upgradeworkflows",
		nil, http.Header{"Content-Type": {"application/json"}})
	if err != nil {
		return nil, err
	}
	return ParseList(body)
}

// ParseList reads a ListUpgradeWorkFlows answer into the workflows it
// lists, by ID. A 200 carrying CCE's error object is a transient error.
func ParseList(body []byte) (map[string]*cloud.Operation, error) {
	var l workflowList
	if err := cloud.DecodeJSONObject(body, &l); err != nil {
		return nil, err
	}
	if text := l.text(); text != "" {
		return nil, &cloud.Error{Kind: cloud.KindTransient, Message: "ListUpgradeWorkFlows answered with an error: " + cloud.Excerpt(text, cloud.MaxQuotedRunes)}
	}
	items := []workflow(l.Items)
	if len(items) > MaxListedWorkflows {
		items = items[:MaxListedWorkflows]
	}
	out := make(map[string]*cloud.Operation, len(items))
	for i := range items {
		id := strings.TrimSpace(string(items[i].Metadata.UID))
		if id == "" || !cloud.ValidPathSegment(id) {
			continue
		}
		out[id] = items[i].operation()
	}
	return out, nil
}
