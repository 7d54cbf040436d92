package transport

import (
	"context"
	"testing"

	"github.com/cloudop/cloudop/internal/cloud"
)

type fakeFetcher struct {
	got cloud.Target
	op  *cloud.Operation
	err error
}

func (f *fakeFetcher) Fetch(_ context.Context, t cloud.Target) (*cloud.Operation, error) {
	f.got = t
	return f.op, f.err
}

func TestRouterObserve(t *testing.T) {
	cce := &fakeFetcher{op: &cloud.Operation{Phase: cloud.PhaseRunning}}
	nilOp := &fakeFetcher{}
	failing := &fakeFetcher{err: &cloud.Error{Kind: cloud.KindNotFound, Message: "gone"}}
	r := &Router{
		Endpoints: &EndpointResolver{Overrides: map[cloud.Service]string{cloud.ServiceDWS: "http://127.0.0.1:9000"}},
		Services:  map[cloud.Service]cloud.Fetcher{cloud.ServiceCCE: cce, cloud.ServiceDWS: nilOp, cloud.ServiceBCS: failing},
	}
	ctx := context.Background()

	op, err := r.Observe(ctx, cloud.Target{Service: cloud.ServiceCCE, Region: "cn-north-4", OperationID: "w"}, "")
	if err != nil || op.Phase != cloud.PhaseRunning {
		t.Fatalf("got %v, %v", op, err)
	}
	if cce.got.BaseURL != "https://cce.cn-north-4.myhuaweicloud.com" || cce.got.OperationID != "w" {
		t.Errorf("fetcher got %+v", cce.got)
	}

	if _, err := r.Observe(ctx, cloud.Target{Service: cloud.ServiceCCE, Region: "cn-north-4"}, "https://cce.cn-north-4.myhuaweicloud.com"); err != nil {
		t.Errorf("allowed spec endpoint: %v", err)
	}
	if _, err := r.Observe(ctx, cloud.Target{Service: cloud.ServiceCCE, Region: "cn-north-4"}, "http://10.0.0.1"); cloud.KindOf(err) != cloud.KindPermanent {
		t.Errorf("disallowed spec endpoint: got %v", err)
	}
	if _, err := r.Observe(ctx, cloud.Target{Service: "ECS", Region: "cn-north-4"}, ""); cloud.KindOf(err) != cloud.KindPermanent {
		t.Errorf("unknown service: got %v", err)
	}
	if _, err := r.Observe(ctx, cloud.Target{Service: cloud.ServiceAOS, Region: "cn-north-4"}, ""); cloud.KindOf(err) != cloud.KindPermanent {
		t.Errorf("service without fetcher: got %v", err)
	}
	if _, err := r.Observe(ctx, cloud.Target{Service: cloud.ServiceDWS, Region: "cn-north-4"}, ""); cloud.KindOf(err) != cloud.KindTransient {
		t.Errorf("nil operation: got %v", err)
	}
	if nilOp.got.BaseURL != "http://127.0.0.1:9000" {
		t.Errorf("override not used: %q", nilOp.got.BaseURL)
	}
	if _, err := r.Observe(ctx, cloud.Target{Service: cloud.ServiceBCS, Region: "cn-north-4"}, ""); cloud.KindOf(err) != cloud.KindNotFound {
		t.Errorf("fetch error not passed through: got %v", err)
	}
}
