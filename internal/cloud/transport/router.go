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
	// Discoverers are the listers of services that track nothing
	// themselves (CTS).
	Discoverers map[cloud.Service]cloud.Discoverer
}

// List resolves q.Target.BaseURL as Observe does and lists what a
// discovery source asks for: a Discoverer's answer, or the operations of
// the resource the target names, of the target's own service. A service
// that lists nothing is a KindPermanent error.
func (r *Router) List(ctx context.Context, q cloud.ListQuery, specEndpoint string) ([]cloud.Listed, error) {
	t := q.Target
	d, discovers := r.Discoverers[t.Service]
	l, lists := r.Services[t.Service].(cloud.OperationLister)
	if !discovers && !lists {
		return nil, cloud.Permanentf("service %q has no list of operations cloudop reads", cloud.Excerpt(string(t.Service), cloud.MaxQuotedRunes))
	}
	base, err := r.Endpoints.Resolve(t.Service, t.Region, specEndpoint)
	if err != nil {
		return nil, err
	}
	q.Target.BaseURL = base
	if discovers {
		return d.Discover(ctx, q)
	}
	ops, err := l.ListOperations(ctx, q.Target)
	if err != nil {
		return nil, err
	}
	out := make([]cloud.Listed, 0, len(ops))
	for id, op := range ops {
		out = append(out, cloud.Listed{Service: t.Service, ID: id, Operation: op})
	}
	return out, nil
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
