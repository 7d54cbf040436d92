package transport

import (
	"context"

	"github.com/cloudop/cloudop/internal/cloud"
)

// Router resolves a target's endpoint and hands it to the service's
// Fetcher. It is built explicitly by the manager (no registration at
// init), so tests can route services to fakes.
type Router struct {
	// Endpoints resolves base URLs; nil means the regional defaults and
	// the default spec.endpoint allowlist.
	Endpoints *EndpointResolver
	// Services maps each supported service to its Fetcher.
	Services map[cloud.Service]cloud.Fetcher
}

// ListOperations resolves t.BaseURL as Observe does and lists the
// operations of the resource t names. A service whose adapter lists
// nothing is a KindPermanent error.
func (r *Router) ListOperations(ctx context.Context, t cloud.Target, specEndpoint string) (map[string]*cloud.Operation, error) {
	l, ok := r.Services[t.Service].(cloud.OperationLister)
	if !ok {
		return nil, cloud.Permanentf("service %q has no list of operations cloudop reads", cloud.Excerpt(string(t.Service), cloud.MaxQuotedRunes))
	}
	base, err := r.Endpoints.Resolve(t.Service, t.Region, specEndpoint)
	if err != nil {
		return nil, err
	}
	t.BaseURL = base
	return l.ListOperations(ctx, t)
}

// Observe resolves t.BaseURL (from specEndpoint, an override or the
// regional default) and fetches the operation. An unsupported service and
// a disallowed endpoint are KindPermanent errors; fetch errors are passed
// through (already classified by the adapters).
func (r *Router) Observe(ctx context.Context, t cloud.Target, specEndpoint string) (*cloud.Operation, error) {
	f, ok := r.Services[t.Service]
	if !ok || f == nil {
		return nil, cloud.Permanentf("unsupported service %q", cloud.Excerpt(string(t.Service), cloud.MaxQuotedRunes))
	}
	base, err := r.Endpoints.Resolve(t.Service, t.Region, specEndpoint)
	if err != nil {
		return nil, err
	}
	t.BaseURL = base
	op, err := f.Fetch(ctx, t)
	if err != nil {
		return nil, err
	}
	if op == nil {
		return nil, &cloud.Error{Kind: cloud.KindTransient, Message: "adapter returned no operation"}
	}
	return op, nil
}
