package cloud

import (
	"context"
	"testing"
)

type fakeFetcher struct {
	got Target
	op  *Operation
	err error
}

func (f *fakeFetcher) Fetch(_ context.Context, t Target) (*Operation, error) {
	f.got = t
	return f.op, f.err
}

func TestRouterObserve(t *testing.T) {
	cce := &fakeFetcher{op: &Operation{Phase: PhaseRunning}}
	nilOp := &fakeFetcher{}
	failing := &fakeFetcher{err: &Error{Kind: KindNotFound, Message: "gone"}}
	r := &Router{
		Endpoints: &EndpointResolver{Overrides: map[Service]string{ServiceDWS: "http://127.0.0.1:9000"}},
		Services:  map[Service]Fetcher{ServiceCCE: cce, ServiceDWS: nilOp, ServiceBCS: failing},
	}
	ctx := context.Background()

	op, err := r.Observe(ctx, Target{Service: ServiceCCE, Region: "cn-north-4", OperationID: "w"}, "")
	if err != nil || op.Phase != PhaseRunning {
		t.Fatalf("got %v, %v", op, err)
	}
	if cce.got.BaseURL != "https://cce.cn-north-4.myhuaweicloud.com" || cce.got.OperationID != "w" {
		t.Errorf("fetcher got %+v", cce.got)
	}

	if _, err := r.Observe(ctx, Target{Service: ServiceCCE, Region: "cn-north-4"}, "https://cce.cn-north-4.myhuaweicloud.com"); err != nil {
		t.Errorf("allowed spec endpoint: %v", err)
	}
	if _, err := r.Observe(ctx, Target{Service: ServiceCCE, Region: "cn-north-4"}, "http://10.0.0.1"); KindOf(err) != KindPermanent {
		t.Errorf("disallowed spec endpoint: got %v", err)
	}
	if _, err := r.Observe(ctx, Target{Service: "ECS", Region: "cn-north-4"}, ""); KindOf(err) != KindPermanent {
		t.Errorf("unknown service: got %v", err)
	}
	if _, err := r.Observe(ctx, Target{Service: ServiceAOS, Region: "cn-north-4"}, ""); KindOf(err) != KindPermanent {
		t.Errorf("service without fetcher: got %v", err)
	}
	if _, err := r.Observe(ctx, Target{Service: ServiceDWS, Region: "cn-north-4"}, ""); KindOf(err) != KindTransient {
		t.Errorf("nil operation: got %v", err)
	}
	if nilOp.got.BaseURL != "http://127.0.0.1:9000" {
		t.Errorf("override not used: %q", nilOp.got.BaseURL)
	}
	if _, err := r.Observe(ctx, Target{Service: ServiceBCS, Region: "cn-north-4"}, ""); KindOf(err) != KindNotFound {
		t.Errorf("fetch error not passed through: got %v", err)
	}
}
