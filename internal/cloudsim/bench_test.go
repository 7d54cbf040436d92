package cloudsim

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	testingclock "k8s.io/utils/clock/testing"
)

// benchEnv builds a simulator with n operations of svc and n requests
// signed once up front, so the benchmark measures the simulator, not the
// SDK's signer. The handler is called directly: no sockets.
func benchEnv(tb testing.TB, svc Service, n int) (*Simulator, []*http.Request) {
	tb.Helper()
	tmpl := OperationSpec{Service: svc, ID: "op-{{i}}", ProjectID: testProject, ClusterID: "cl-1", StackID: "st-1"}
	switch svc {
	case BCS:
		tmpl.ClusterID, tmpl.StackID = "", ""
	case CCE:
		tmpl.StackID = ""
	case AOS:
		tmpl.ClusterID = ""
	case DWS:
		tmpl.ID, tmpl.ClusterID, tmpl.StackID = "RESTORING", "cl-{{i}}", ""
	default: // the classic and database jobs
		tmpl.ClusterID, tmpl.StackID = "", ""
	}
	t, ok := tb.(*testing.T)
	if !ok {
		t = &testing.T{}
	}
	e := &env{t: t, clock: testingclock.NewFakeClock(t0)}
	sim, err := New(Config{Accounts: testAccounts(), Templates: []Template{{Count: n, Operation: tmpl}}}, WithClock(e.clock.Now))
	if err != nil {
		tb.Fatal(err)
	}
	e.sim = sim
	e.srv = &httptest.Server{URL: "http://cloudsim.local"}
	reqs := make([]*http.Request, n)
	for i := range n {
		var r req
		switch svc {
		case BCS:
			r = req{path: bcsPath(testProject), query: map[string]string{"operation_id": fmt.Sprintf("op-%d", i)}}
		case CCE:
			r = req{path: ccePath(testProject, "cl-1", fmt.Sprintf("op-%d", i))}
		case AOS:
			r = aosReq("st-1", fmt.Sprintf("op-%d", i))
		case DWS:
			r = req{path: dwsPath(testProject, fmt.Sprintf("cl-%d", i), "RESTORING")}
		case RDS, GaussDB, DDS, GaussDBforOpenGauss, GaussDBforNoSQL:
			r = dbJobReq(testProject, fmt.Sprintf("op-%d", i))
		default:
			r = req{path: jobPath(testProject, fmt.Sprintf("op-%d", i))}
		}
		reqs[i] = e.sdkRequest(r)
	}
	e.clock.Step(25 * time.Second)
	return sim, reqs
}

func serveOne(sim *Simulator, r *http.Request) int {
	w := httptest.NewRecorder()
	sim.ServeHTTP(w, r.Clone(context.Background()))
	return w.Code
}

// BenchmarkPoll10k polls 10,000 operations per service from parallel
// goroutines: the per-request cost must not grow with the number of
// operations.
func BenchmarkPoll10k(b *testing.B) {
	for _, svc := range Services {
		b.Run(string(svc), func(b *testing.B) {
			sim, reqs := benchEnv(b, svc, 10_000)
			var i atomic.Int64
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					r := reqs[int(i.Add(1))%len(reqs)]
					if code := serveOne(sim, r); code != 200 {
						b.Errorf("status %d", code)
						return
					}
				}
			})
			b.StopTimer()
			if got := sim.Counts().Services[svc].Total; got < b.N {
				b.Errorf("counted %d of %d requests", got, b.N)
			}
		})
	}
}

// BenchmarkBCSListProject lists a project of 100 BCS operations without
// an operation_id filter: cost is linear in the project's operations.
func BenchmarkBCSListProject(b *testing.B) {
	sim, _ := benchEnv(b, BCS, 100)
	e := &env{t: &testing.T{}, clock: testingclock.NewFakeClock(t0.Add(25 * time.Second)), srv: &httptest.Server{URL: "http://cloudsim.local"}}
	r := e.sdkRequest(req{path: bcsPath(testProject)})
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if code := serveOne(sim, r); code != 200 {
			b.Fatalf("status %d", code)
		}
	}
}

// BenchmarkCTSListPage lists one page (limit 200) of a project's traces
// among those of 10,000 ECS jobs: cost grows with the page, not with the
// project's traces.
func BenchmarkCTSListPage(b *testing.B) {
	sim, _ := benchEnv(b, ECS, 10_000)
	e := &env{t: &testing.T{}, clock: testingclock.NewFakeClock(t0.Add(25 * time.Second)), srv: &httptest.Server{URL: "http://cloudsim.local"}}
	r := e.sdkRequest(req{path: "/v3/" + testProject + "/traces", query: map[string]string{"trace_type": "system", "service_type": "ECS", "limit": "200"}})
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if code := serveOne(sim, r); code != 200 {
			b.Fatalf("status %d", code)
		}
	}
	b.StopTimer()
	if got := sim.ListCount(CTS, testProject+"/ECS"); got != b.N {
		b.Errorf("ListCount %d, want %d", got, b.N)
	}
}

// TestConcurrentUse hammers the simulator from many goroutines while the
// admin side adds and deletes operations, changes faults and speed. Run
// with -race.
func TestConcurrentUse(t *testing.T) {
	sim, reqs := benchEnv(t, CCE, 2000)
	// The list calls read the indexes the admin side changes.
	e := &env{t: t, clock: testingclock.NewFakeClock(t0.Add(25 * time.Second)), srv: &httptest.Server{URL: "http://cloudsim.local"}}
	reqs = append(reqs,
		e.sdkRequest(req{path: "/api/v3/projects/" + testProject + "/clusters/cl-1/operation/upgradeworkflows"}),
		e.sdkRequest(req{path: "/v3/" + testProject + "/traces", query: map[string]string{"trace_type": "system", "limit": "5"}}))
	var wg sync.WaitGroup
	stop := make(chan struct{})
	var served atomic.Int64
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := g; ; i += 8 {
				select {
				case <-stop:
					return
				default:
				}
				code := serveOne(sim, reqs[i%len(reqs)])
				if code != 200 && code != 404 && code != 429 && code != 500 {
					t.Errorf("status %d", code)
					return
				}
				served.Add(1)
			}
		}()
	}
	for i := range 200 {
		key := fmt.Sprintf("op-%d", i)
		_ = sim.SetFaults(CCE, key, Fault{Kind: FaultThrottle, Count: 3})
		_ = sim.SetFaults("", "", Fault{Kind: FaultError500, Count: 1, Probability: 0.5})
		_ = sim.DeleteOperation(CCE, key)
		_ = sim.AddOperation(OperationSpec{Service: CCE, ID: key, ProjectID: testProject, ClusterID: "cl-1", Scenario: ScenarioFail})
		_ = sim.AddOperation(OperationSpec{Service: ECS, ID: key, ProjectID: testProject, StartsIn: D(time.Duration(i%3) * time.Second)})
		if i%2 == 0 {
			_ = sim.DeleteOperation(ECS, key)
		}
		_ = sim.SetSpeed(float64(i%5 + 1))
		if i%20 == 0 {
			_ = sim.Operations(CCE)
			_ = sim.Counts()
		}
		if i%50 == 0 {
			sim.ResetCounts()
		}
	}
	close(stop)
	wg.Wait()
	if served.Load() == 0 {
		t.Fatal("no request served")
	}
}
