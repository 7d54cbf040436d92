package transport

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"
	testingclock "k8s.io/utils/clock/testing"
	"sigs.k8s.io/controller-runtime/pkg/metrics"

	"github.com/cloudop/cloudop/internal/cloud"
)

// accessKeyOf extracts the access key from a signed request.
func accessKeyOf(r *http.Request) string {
	a := strings.TrimPrefix(r.Header.Get("Authorization"), "SDK-HMAC-SHA256 Access=")
	ak, _, _ := strings.Cut(a, ",")
	return ak
}

// gatedTransport stands in for the network in a synctest bubble: it
// counts the requests and answers each with handler once release is
// closed. Every goroutine then blocks on channels of the bubble, so
// synctest.Wait returns once every caller has sent its request or joined
// a shared one, with no counters in the client.
type gatedTransport struct {
	handler http.HandlerFunc
	hits    atomic.Int64
	release chan struct{}
}

// gatedURL is the base URL of requests sent through a gatedTransport.
const gatedURL = "http://gated.test"

func newGatedClient(h http.HandlerFunc) (*HTTPClient, *gatedTransport) {
	g := &gatedTransport{handler: h, release: make(chan struct{})}
	return &HTTPClient{Client: &http.Client{Transport: g}}, g
}

func (g *gatedTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	g.hits.Add(1)
	select {
	case <-g.release:
	case <-r.Context().Done():
		return nil, r.Context().Err()
	}
	w := httptest.NewRecorder()
	g.handler(w, r)
	return w.Result(), nil
}

type getCall struct {
	target  cloud.Target
	path    string
	query   url.Values
	headers http.Header
}

// TestGetCoalescesIdenticalRequests: concurrent identical Gets share one
// HTTP exchange; any difference in URL, query, headers or credentials
// makes its own.
func TestGetCoalescesIdenticalRequests(t *testing.T) {
	tg := func(ak, sk string) cloud.Target {
		t := testTarget("")
		t.Service = "TEST-COALESCE"
		t.Credentials = cloud.Credentials{AccessKey: ak, SecretKey: sk}
		return t
	}
	same := func(n int) []getCall {
		calls := make([]getCall, n)
		for i := range calls {
			calls[i] = getCall{target: tg("AK", "SK"), path: "/v2/p/operation/record", query: url.Values{"a": {"1"}}}
		}
		return calls
	}
	for _, tc := range []struct {
		name     string
		calls    []getCall
		wantHits int
	}{
		{"50 identical", same(50), 1},
		{"different query", []getCall{
			{target: tg("AK", "SK"), path: "/x", query: url.Values{"a": {"1"}}},
			{target: tg("AK", "SK"), path: "/x", query: url.Values{"a": {"2"}}},
		}, 2},
		{"different path", []getCall{
			{target: tg("AK", "SK"), path: "/x"},
			{target: tg("AK", "SK"), path: "/y"},
		}, 2},
		{"different access key", []getCall{
			{target: tg("AK", "SK"), path: "/x"},
			{target: tg("AK2", "SK"), path: "/x"},
		}, 2},
		{"same access key, different secret", []getCall{
			{target: tg("AK", "SK"), path: "/x"},
			{target: tg("AK", "wrong"), path: "/x"},
		}, 2},
		{"different headers", []getCall{
			{target: tg("AK", "SK"), path: "/x", headers: http.Header{"X-Language": {"en-us"}}},
			{target: tg("AK", "SK"), path: "/x", headers: http.Header{"X-Language": {"zh-cn"}}},
		}, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				c, gate := newGatedClient(func(w http.ResponseWriter, r *http.Request) {
					io.WriteString(w, `{"path":"`+r.URL.Path+`"}`)
				})
				coalescedBefore := testutil.ToFloat64(coalescedTotal.WithLabelValues("TEST-COALESCE"))

				bodies := make([][]byte, len(tc.calls))
				errs := make([]error, len(tc.calls))
				var wg sync.WaitGroup
				for i, call := range tc.calls {
					call.target.BaseURL = gatedURL
					wg.Go(func() {
						bodies[i], errs[i] = c.Get(context.Background(), call.target, call.path, call.query, call.headers)
					})
				}
				// Answer only once every caller has sent its request or
				// joined a shared one.
				synctest.Wait()
				close(gate.release)
				wg.Wait()

				if got := gate.hits.Load(); got != int64(tc.wantHits) {
					t.Errorf("HTTP calls = %d, want %d", got, tc.wantHits)
				}
				for i := range tc.calls {
					if errs[i] != nil || !strings.HasPrefix(string(bodies[i]), `{"path":"`+tc.calls[i].path) {
						t.Fatalf("call %d: %q, %v", i, bodies[i], errs[i])
					}
				}
				// Each caller owns its body.
				bodies[0][0] = 'X'
				if len(bodies) > 1 && bodies[1][0] != '{' {
					t.Error("callers share one body slice")
				}
				wantCoalesced := float64(len(tc.calls) - tc.wantHits)
				if got := testutil.ToFloat64(coalescedTotal.WithLabelValues("TEST-COALESCE")) - coalescedBefore; got != wantCoalesced {
					t.Errorf("coalesced_total moved by %v, want %v", got, wantCoalesced)
				}
			})
		})
	}
}

// TestCoalescedErrorsAndCancellation: a shared failure reaches every
// caller as its own *Error; one caller giving up does not fail the others.
func TestCoalescedErrorsAndCancellation(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c, gate := newGatedClient(func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusTooManyRequests)
			io.WriteString(w, `{"error_code":"APIGW.0308","error_msg":"The throttling threshold has been reached"}`)
		})
		tg := testTarget(gatedURL)

		errs := make([]error, 5)
		var wg sync.WaitGroup
		for i := range errs {
			wg.Go(func() { _, errs[i] = c.Get(context.Background(), tg, "/x", nil, nil) })
		}
		synctest.Wait()
		if gate.hits.Load() != 1 {
			t.Fatalf("HTTP calls = %d, want 1", gate.hits.Load())
		}
		close(gate.release)
		wg.Wait()
		seen := map[*cloud.Error]bool{}
		for i, err := range errs {
			var ce *cloud.Error
			if !errors.As(err, &ce) || ce.Kind != cloud.KindThrottled || ce.Code != "APIGW.0308" {
				t.Fatalf("caller %d: %#v", i, err)
			}
			if seen[ce] {
				t.Errorf("caller %d shares an *Error with another caller", i)
			}
			seen[ce] = true
		}
	})

	// The first caller's context ends mid-flight; the second still gets
	// the answer.
	synctest.Test(t, func(t *testing.T) {
		c, gate := newGatedClient(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, `{}`) })
		tg := testTarget(gatedURL)
		ctx, cancel := context.WithCancel(context.Background())
		firstErr := make(chan error, 1)
		go func() {
			_, err := c.Get(ctx, tg, "/y", nil, nil)
			firstErr <- err
		}()
		synctest.Wait()
		second := make(chan error, 1)
		go func() {
			body, err := c.Get(context.Background(), tg, "/y", nil, nil)
			if err == nil && string(body) != "{}" {
				err = errors.New("body " + string(body))
			}
			second <- err
		}()
		synctest.Wait()
		cancel()
		if err := <-firstErr; cloud.KindOf(err) != cloud.KindTransient {
			t.Errorf("cancelled caller: %v", err)
		}
		close(gate.release)
		if err := <-second; err != nil {
			t.Errorf("second caller: %v", err)
		}
		if gate.hits.Load() != 1 {
			t.Errorf("HTTP calls = %d, want 1", gate.hits.Load())
		}
	})
}

// throttleServer answers 429 (APIGW.0308) on /throttle, optionally with
// Retry-After, and {} elsewhere, counting requests per access key.
type throttleServer struct {
	*httptest.Server
	mu   sync.Mutex
	hits map[string]int
}

func newThrottleServer(t *testing.T) *throttleServer {
	s := &throttleServer{hits: map[string]int{}}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.hits[accessKeyOf(r)]++
		s.mu.Unlock()
		if r.URL.Path == "/throttle" {
			if ra := r.URL.Query().Get("retry-after"); ra != "" {
				w.Header().Set("Retry-After", ra)
			}
			w.WriteHeader(http.StatusTooManyRequests)
			io.WriteString(w, `{"error_code":"APIGW.0308","error_msg":"The throttling threshold has been reached: policy user over ratelimit, limit:10, time:1 second"}`)
			return
		}
		io.WriteString(w, `{}`)
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *throttleServer) count(ak string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.hits[ak]
}

// TestThrottledBucketSlowsSiblings: a 429 on one object's request slows
// and pauses the whole (access key, service, region) bucket, so a sibling
// object with the same credentials is held back (here deferred, with a
// fake clock and no waiting), while another access key is unaffected.
// Successes bring the rate back step by step.
func TestThrottledBucketSlowsSiblings(t *testing.T) {
	const svc = "TEST-THROTTLE"
	srv := newThrottleServer(t)
	clk := testingclock.NewFakeClock(fixedNow)
	lim := NewRateLimiter(RateLimitConfig{Now: clk.Now, MaxWait: -1})
	c := &HTTPClient{Limiter: lim}
	target := func(ak string) cloud.Target {
		tg := testTarget(srv.URL)
		tg.Service, tg.Region = svc, "cn-north-4"
		tg.Credentials = cloud.Credentials{AccessKey: ak, SecretKey: "SK"}
		return tg
	}
	keyA, keyB := bucketKeyOf(target("A")), bucketKeyOf(target("B"))
	waits := func() float64 { return testutil.ToFloat64(throttledWaits.WithLabelValues(svc)) }
	deferred := func() float64 { return testutil.ToFloat64(deferredRequests.WithLabelValues(svc)) }
	waits0, deferred0 := waits(), deferred()

	// Object 1 is throttled by the service.
	_, err := c.Get(context.Background(), target("A"), "/throttle", nil, nil)
	if cloud.KindOf(err) != cloud.KindThrottled || cloud.IsRateLimited(err) {
		t.Fatalf("object 1: %v", err)
	}
	if r := lim.Rate(keyA); r != DefaultQPS/2 {
		t.Errorf("bucket A rate after 429 = %v, want %v", r, DefaultQPS/2)
	}
	if p := lim.PausedFor(keyA); p != DefaultThrottlePause {
		t.Errorf("bucket A paused for %v, want %v", p, DefaultThrottlePause)
	}

	// Object 2, same credentials: held back, nothing sent.
	_, err = c.Get(context.Background(), target("A"), "/op2", nil, nil)
	var ce *cloud.Error
	if !cloud.IsRateLimited(err) || !errors.As(err, &ce) || ce.Kind != cloud.KindThrottled || ce.RetryAfter <= 0 || ce.RetryAfter > 2*DefaultThrottlePause {
		t.Fatalf("object 2: %#v", err)
	}
	if n := srv.count("A"); n != 1 {
		t.Errorf("requests with key A = %d, want 1", n)
	}
	if d := waits() - waits0; d != 1 {
		t.Errorf("throttled_waits_total moved by %v, want 1", d)
	}
	if d := deferred() - deferred0; d != 1 {
		t.Errorf("deferred_total moved by %v, want 1", d)
	}

	// Object 3, another access key: unaffected.
	if _, err := c.Get(context.Background(), target("B"), "/op2", nil, nil); err != nil {
		t.Fatalf("object 3: %v", err)
	}
	if n := srv.count("B"); n != 1 {
		t.Errorf("requests with key B = %d, want 1", n)
	}
	if r := lim.Rate(keyB); r != DefaultQPS {
		t.Errorf("bucket B rate = %v, want %v", r, DefaultQPS)
	}
	if d := waits() - waits0; d != 1 {
		t.Errorf("key B waited: throttled_waits_total moved by %v", d)
	}

	// After the pause, object 2 goes through and the rate starts to
	// recover; enough successes restore it fully.
	clk.Step(DefaultThrottlePause)
	if _, err := c.Get(context.Background(), target("A"), "/op2", nil, nil); err != nil {
		t.Fatalf("object 2 after the pause: %v", err)
	}
	want := DefaultQPS/2 + DefaultQPS*DefaultRecoveryStep
	if r := lim.Rate(keyA); r != want {
		t.Errorf("bucket A rate after one success = %v, want %v", r, want)
	}
	prev := lim.Rate(keyA)
	for i := 0; i < 20; i++ {
		clk.Step(time.Second)
		if _, err := c.Get(context.Background(), target("A"), "/op2", nil, nil); err != nil {
			t.Fatalf("success %d: %v", i, err)
		}
		if r := lim.Rate(keyA); r < prev {
			t.Fatalf("rate fell on success: %v < %v", r, prev)
		}
		prev = lim.Rate(keyA)
	}
	if prev != DefaultQPS {
		t.Errorf("rate after 20 successes = %v, want %v", prev, DefaultQPS)
	}
}

// TestThrottledSiblingWaits: with waiting allowed (real clock, short
// pause), the sibling's request waits for the pause and then succeeds.
func TestThrottledSiblingWaits(t *testing.T) {
	const svc = "TEST-WAIT"
	srv := newThrottleServer(t)
	lim := NewRateLimiter(RateLimitConfig{ThrottlePause: 20 * time.Millisecond})
	c := &HTTPClient{Limiter: lim}
	tg := testTarget(srv.URL)
	tg.Service = svc
	waits0 := testutil.ToFloat64(throttledWaits.WithLabelValues(svc))
	deferred0 := testutil.ToFloat64(deferredRequests.WithLabelValues(svc))

	if _, err := c.Get(context.Background(), tg, "/throttle", nil, nil); cloud.KindOf(err) != cloud.KindThrottled {
		t.Fatalf("first: %v", err)
	}
	if _, err := c.Get(context.Background(), tg, "/sibling", nil, nil); err != nil {
		t.Fatalf("sibling: %v", err)
	}
	if d := testutil.ToFloat64(throttledWaits.WithLabelValues(svc)) - waits0; d != 1 {
		t.Errorf("throttled_waits_total moved by %v, want 1", d)
	}
	if d := testutil.ToFloat64(deferredRequests.WithLabelValues(svc)) - deferred0; d != 0 {
		t.Errorf("deferred_total moved by %v, want 0", d)
	}
	if n := srv.count("AK"); n != 2 {
		t.Errorf("requests = %d, want 2", n)
	}
}

// TestRateLimiterRecord covers how throttled answers change a bucket.
func TestRateLimiterRecord(t *testing.T) {
	key := BucketKey{Signer: "A", Service: cloud.ServiceCCE, Region: "r"}
	throttled := &cloud.Error{Kind: cloud.KindThrottled, HTTPStatus: 429}
	withRetry := &cloud.Error{Kind: cloud.KindThrottled, HTTPStatus: 429, RetryAfter: 30 * time.Second}
	local := &cloud.Error{Kind: cloud.KindThrottled, Err: cloud.ErrRateLimited, RetryAfter: time.Minute}
	type step struct {
		advance time.Duration
		err     error
	}
	for _, tc := range []struct {
		name      string
		cfg       RateLimitConfig
		steps     []step
		wantRate  float64
		wantPause time.Duration
	}{
		{"untouched", RateLimitConfig{}, nil, 10, 0},
		{"one 429", RateLimitConfig{}, []step{{0, throttled}}, 5, time.Second},
		{"429s of requests already in flight halve once", RateLimitConfig{},
			[]step{{0, throttled}, {0, throttled}, {100 * time.Millisecond, throttled}}, 5, time.Second},
		{"a 429 after the pause halves again", RateLimitConfig{},
			[]step{{0, throttled}, {time.Second, throttled}}, 2.5, time.Second},
		{"Retry-After pauses longer", RateLimitConfig{}, []step{{0, withRetry}}, 5, 30 * time.Second},
		{"Retry-After shorter than the pause", RateLimitConfig{ThrottlePause: time.Minute}, []step{{0, withRetry}}, 5, time.Minute},
		{"floor", RateLimitConfig{MinQPS: 2},
			[]step{{0, throttled}, {time.Second, throttled}, {time.Second, throttled}, {time.Second, throttled}}, 2, time.Second},
		{"local deferrals change nothing", RateLimitConfig{}, []step{{0, local}}, 10, 0},
		{"other errors change nothing", RateLimitConfig{},
			[]step{{0, &cloud.Error{Kind: cloud.KindTransient, HTTPStatus: 503}}, {0, &cloud.Error{Kind: cloud.KindAuth, HTTPStatus: 401}}, {0, errors.New("x")}}, 10, 0},
		{"success recovers one step", RateLimitConfig{}, []step{{0, throttled}, {time.Second, nil}}, 5.5, 0},
		{"recovery stops at QPS", RateLimitConfig{QPS: 4, RecoveryStep: 0.5},
			[]step{{0, throttled}, {time.Second, nil}, {0, nil}, {0, nil}}, 4, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clk := testingclock.NewFakeClock(fixedNow)
			tc.cfg.Now = clk.Now
			lim := NewRateLimiter(tc.cfg)
			for _, s := range tc.steps {
				clk.Step(s.advance)
				lim.Record(key, s.err)
			}
			if r := lim.Rate(key); r != tc.wantRate {
				t.Errorf("rate = %v, want %v", r, tc.wantRate)
			}
			if p := lim.PausedFor(key); p != tc.wantPause {
				t.Errorf("paused for %v, want %v", p, tc.wantPause)
			}
			if r := lim.Rate(BucketKey{Signer: "B", Service: cloud.ServiceCCE, Region: "r"}); r != lim.cfg.QPS {
				t.Errorf("another key's rate = %v", r)
			}
		})
	}
}

// TestRateLimiterWait covers tokens, the global bucket, MaxWait and the
// context's deadline.
func TestRateLimiterWait(t *testing.T) {
	keyOf := func(ak string) BucketKey { return BucketKey{Signer: ak, Service: "TEST-WAITS", Region: "r"} }

	t.Run("bucket burst, then deferral with the delay", func(t *testing.T) {
		clk := testingclock.NewFakeClock(fixedNow)
		lim := NewRateLimiter(RateLimitConfig{QPS: 2, Burst: 3, Now: clk.Now, MaxWait: -1})
		for i := 0; i < 3; i++ {
			if err := lim.Wait(context.Background(), keyOf("A")); err != nil {
				t.Fatalf("token %d: %v", i, err)
			}
		}
		err := lim.Wait(context.Background(), keyOf("A"))
		var ce *cloud.Error
		if !errors.As(err, &ce) || !cloud.IsRateLimited(err) || ce.RetryAfter < 500*time.Millisecond || ce.RetryAfter > 600*time.Millisecond {
			t.Fatalf("4th: %#v", err)
		}
		if err := lim.Wait(context.Background(), keyOf("B")); err != nil {
			t.Errorf("another key: %v", err)
		}
		clk.Step(500 * time.Millisecond)
		if err := lim.Wait(context.Background(), keyOf("A")); err != nil {
			t.Errorf("after refill: %v", err)
		}
	})

	t.Run("global bucket spans access keys", func(t *testing.T) {
		clk := testingclock.NewFakeClock(fixedNow)
		lim := NewRateLimiter(RateLimitConfig{GlobalQPS: 1, GlobalBurst: 2, Now: clk.Now, MaxWait: -1})
		for _, ak := range []string{"A", "B"} {
			if err := lim.Wait(context.Background(), keyOf(ak)); err != nil {
				t.Fatal(err)
			}
		}
		if err := lim.Wait(context.Background(), keyOf("C")); !cloud.IsRateLimited(err) {
			t.Fatalf("third key: %v", err)
		}
		clk.Step(time.Second)
		if err := lim.Wait(context.Background(), keyOf("C")); err != nil {
			t.Fatalf("after refill: %v", err)
		}
	})

	t.Run("pause longer than the context's deadline defers", func(t *testing.T) {
		lim := NewRateLimiter(RateLimitConfig{})
		lim.Record(keyOf("A"), &cloud.Error{Kind: cloud.KindThrottled, RetryAfter: 5 * time.Second})
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		if err := lim.Wait(ctx, keyOf("A")); !cloud.IsRateLimited(err) {
			t.Fatalf("got %v", err)
		}
	})

	t.Run("pause longer than MaxWait defers", func(t *testing.T) {
		lim := NewRateLimiter(RateLimitConfig{MaxWait: time.Second})
		lim.Record(keyOf("A"), &cloud.Error{Kind: cloud.KindThrottled, RetryAfter: 5 * time.Second})
		err := lim.Wait(context.Background(), keyOf("A"))
		var ce *cloud.Error
		if !errors.As(err, &ce) || !cloud.IsRateLimited(err) || ce.RetryAfter <= time.Second {
			t.Fatalf("got %#v", err)
		}
	})

	t.Run("cancelled while waiting", func(t *testing.T) {
		lim := NewRateLimiter(RateLimitConfig{})
		lim.Record(keyOf("A"), &cloud.Error{Kind: cloud.KindThrottled, RetryAfter: 5 * time.Second})
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- lim.Wait(ctx, keyOf("A")) }()
		cancel()
		if err := <-done; cloud.KindOf(err) != cloud.KindTransient || cloud.IsRateLimited(err) {
			t.Fatalf("got %v", err)
		}
	})
}

// TestRequestMetrics: requests, codes, durations, registration.
func TestRequestMetrics(t *testing.T) {
	const svc = "TEST-METRICS"
	srv := newThrottleServer(t)
	c := &HTTPClient{}
	tg := testTarget(srv.URL)
	tg.Service = svc
	count := func(code string) float64 { return testutil.ToFloat64(requestsTotal.WithLabelValues(svc, code)) }
	samples := func() uint64 {
		var m dto.Metric
		if err := requestDuration.WithLabelValues(svc).(prometheus.Histogram).Write(&m); err != nil {
			t.Fatal(err)
		}
		return m.GetHistogram().GetSampleCount()
	}
	ok0, thr0, err0, n0 := count("200"), count("429"), count("error"), samples()

	if _, err := c.Get(context.Background(), tg, "/ok", nil, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Get(context.Background(), tg, "/throttle", nil, nil); cloud.KindOf(err) != cloud.KindThrottled {
		t.Fatal(err)
	}
	closed := httptest.NewServer(http.NotFoundHandler())
	closed.Close()
	tg.BaseURL = closed.URL
	if _, err := c.Get(context.Background(), tg, "/ok", nil, nil); cloud.KindOf(err) != cloud.KindTransient {
		t.Fatal(err)
	}
	// A bad endpoint is refused before any request: not counted.
	tg.BaseURL = "ftp://x"
	if _, err := c.Get(context.Background(), tg, "/ok", nil, nil); cloud.KindOf(err) != cloud.KindPermanent {
		t.Fatal(err)
	}

	for code, want := range map[string]float64{"200": ok0 + 1, "429": thr0 + 1, "error": err0 + 1} {
		if got := count(code); got != want {
			t.Errorf("requests_total{code=%q} = %v, want %v", code, got, want)
		}
	}
	if got := samples() - n0; got != 3 {
		t.Errorf("request_duration_seconds samples moved by %d, want 3", got)
	}

	families, err := metrics.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	found := map[string]bool{}
	for _, f := range families {
		found[f.GetName()] = true
	}
	for _, name := range []string{
		"cloudop_cloud_requests_total", "cloudop_cloud_request_duration_seconds",
		"cloudop_cloud_throttled_waits_total", "cloudop_cloud_coalesced_total",
	} {
		if !found[name] {
			t.Errorf("%s is not registered with the controller-runtime registry", name)
		}
	}
}

// TestCredentialsFingerprint: equal credentials, equal fingerprints; any
// difference in key, secret or token changes it.
func TestCredentialsFingerprint(t *testing.T) {
	base := cloud.Credentials{AccessKey: "AK", SecretKey: "SK", SecurityToken: "T"}
	if Fingerprint(base) != Fingerprint(cloud.Credentials{AccessKey: "AK", SecretKey: "SK", SecurityToken: "T"}) {
		t.Error("equal credentials, different fingerprints")
	}
	for _, c := range []cloud.Credentials{
		{AccessKey: "AK2", SecretKey: "SK", SecurityToken: "T"},
		{AccessKey: "AK", SecretKey: "SK2", SecurityToken: "T"},
		{AccessKey: "AK", SecretKey: "SK"},
		{AccessKey: "AKS", SecretKey: "K", SecurityToken: "T"},
	} {
		if Fingerprint(c) == Fingerprint(base) {
			t.Errorf("%+v has the same fingerprint", c)
		}
	}
	if strings.Contains(Fingerprint(base), "SK") {
		t.Error("fingerprint shows the secret")
	}
}
