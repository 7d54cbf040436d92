package transport

import (
	"context"
	"errors"

	"golang.org/x/sync/singleflight"

	"github.com/cloudop/cloudop/internal/cloud"
)

// Coalesce runs fn once for every caller of g asking for key while it
// runs, so identical requests cost one exchange (HTTPClient.Get, the BCS
// list cache). fn runs under context.WithoutCancel(ctx): one caller giving
// up must not fail the others, so what bounds fn (a request timeout) must
// come from inside it. A caller whose ctx ends stops waiting at once with
// ClassifyTransport(ctx.Err()).
//
// A result that several callers receive is each one's own: a shared
// *cloud.Error is copied, and a shared value passes through clone (nil
// when the value is read-only and may be shared as is). coalesced reports
// that the result came from a call another caller started; it is false
// when ctx ended first.
func Coalesce[T any](ctx context.Context, g *singleflight.Group, key string, fn func(context.Context) (T, error), clone func(T) T) (v T, coalesced bool, err error) {
	executed := false
	ch := g.DoChan(key, func() (any, error) {
		executed = true
		return fn(context.WithoutCancel(ctx))
	})
	select {
	case res := <-ch:
		// executed is only read after the result arrived, which happens
		// after the function (if it was this caller's) returned.
		coalesced = !executed
		if res.Err != nil {
			var ce *cloud.Error
			if res.Shared && errors.As(res.Err, &ce) {
				cp := *ce
				return v, coalesced, &cp
			}
			return v, coalesced, res.Err
		}
		v = res.Val.(T)
		if res.Shared && clone != nil {
			v = clone(v)
		}
		return v, coalesced, nil
	case <-ctx.Done():
		return v, false, ClassifyTransport(ctx.Err())
	}
}
