package bcs

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	testingclock "k8s.io/utils/clock/testing"
	"sigs.k8s.io/controller-runtime/pkg/metrics"

	"github.com/cloudop/cloudop/internal/cloud"
	"github.com/cloudop/cloudop/internal/cloud/transport"
)

const testProject = "p1"

// listServer is a fake ListOpRecord API: records belong to blockchains;
// it counts unfiltered list calls per "AK/blockchain" and filtered calls
// per operation_id.
type listServer struct {
	*httptest.Server
	mu       sync.Mutex
	records  map[string]string // operation_id -> blockchain_id
	lists    map[string]int
	filtered map[string]int
	failNext []int // statuses for the next list calls
}

func newListServer(t *testing.T, chains map[string]int) *listServer {
	s := &listServer{records: map[string]string{}, lists: map[string]int{}, filtered: map[string]int{}}
	for bc, n := range chains {
		for i := 0; i < n; i++ {
			s.records[fmt.Sprintf("%s-op-%d", bc, i)] = bc
		}
	}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.Close)
	return s
}

func (s *listServer) serve(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != recordPath(testProject) {
		w.WriteHeader(http.StatusNotFound)
		return
	}
	auth := strings.TrimPrefix(r.Header.Get("Authorization"), "SDK-HMAC-SHA256 Access=")
	ak, _, _ := strings.Cut(auth, ",")
	q := r.URL.Query()
	bc, opID := q.Get("blockchain_id"), q.Get("operation_id")

	s.mu.Lock()
	if opID == "" {
		s.lists[ak+"/"+bc]++
		if len(s.failNext) > 0 {
			status := s.failNext[0]
			s.failNext = s.failNext[1:]
			s.mu.Unlock()
			w.WriteHeader(status)
			fmt.Fprintf(w, `{"error_code":"BCS.%d","error_msg":"injected"}`, status)
			return
		}
	} else {
		s.filtered[opID]++
	}
	type rec struct {
		OperationID     string `json:"operation_id"`
		BlockchainID    string `json:"blockchain_id"`
		OperationStatus string `json:"operation_status"`
		Desc            string `json:"desc"`
	}
	var recs []rec
	for id, chain := range s.records {
		if (bc == "" || chain == bc) && (opID == "" || id == opID) {
			recs = append(recs, rec{id, chain, "processing", "record " + id})
		}
	}
	s.mu.Unlock()
	sort.Slice(recs, func(i, j int) bool { return recs[i].OperationID < recs[j].OperationID })
	json.NewEncoder(w).Encode(map[string]any{"count": len(recs), "operation_records": recs})
}

func (s *listServer) counts() (lists map[string]int, filtered map[string]int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	lists, filtered = map[string]int{}, map[string]int{}
	for k, v := range s.lists {
		lists[k] = v
	}
	for k, v := range s.filtered {
		filtered[k] = v
	}
	return lists, filtered
}

func (s *listServer) add(id, bc string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.records[id] = bc
}

func newClock() *testingclock.FakeClock {
	return testingclock.NewFakeClock(time.Date(2024, 3, 5, 6, 7, 8, 0, time.UTC))
}

func bcsTarget(base, ak, sk, blockchain, opID string) cloud.Target {
	return cloud.Target{
		Service: cloud.ServiceBCS, Region: "cn-north-4", ProjectID: testProject, OperationID: opID,
		BlockchainID: blockchain, BaseURL: base, Credentials: cloud.Credentials{AccessKey: ak, SecretKey: sk},
	}
}

// coalescedBCS reads cloudop_cloud_coalesced_total{service="BCS"} from the
// controller-runtime registry the manager serves.
func coalescedBCS(t *testing.T) float64 {
	t.Helper()
	families, err := metrics.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() != "cloudop_cloud_coalesced_total" {
			continue
		}
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "service" && l.GetValue() == "BCS" {
					return m.GetCounter().GetValue()
				}
			}
		}
	}
	return 0
}

// TestListCacheCoalescesOneBlockchain: 20 operations of one blockchain
// polled concurrently cost one list call; each gets its own record; an
// operation absent from the list is KindNotFound (after one filtered call
// confirming it) and does not affect the others.
func TestListCacheCoalescesOneBlockchain(t *testing.T) {
	srv := newListServer(t, map[string]int{"bc1": 20, "bc2": 3})
	clk := newClock()
	a := &Adapter{HTTP: &transport.HTTPClient{}, Lists: &ListCache{Now: clk.Now}}
	coalesced0 := coalescedBCS(t)

	ids := make([]string, 0, 21)
	for i := 0; i < 20; i++ {
		ids = append(ids, fmt.Sprintf("bc1-op-%d", i))
	}
	ids = append(ids, "bc1-op-missing")
	ops := make([]*cloud.Operation, len(ids))
	errs := make([]error, len(ids))
	var wg sync.WaitGroup
	for i, id := range ids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ops[i], errs[i] = a.Fetch(context.Background(), bcsTarget(srv.URL, "AK", "SK", "bc1", id))
		}()
	}
	wg.Wait()

	for i, id := range ids[:20] {
		if errs[i] != nil {
			t.Fatalf("%s: %v", id, errs[i])
		}
		if ops[i].Message != "record "+id || ops[i].Phase != cloud.PhaseRunning {
			t.Errorf("%s: got record %q (%s)", id, ops[i].Message, ops[i].Phase)
		}
	}
	if cloud.KindOf(errs[20]) != cloud.KindNotFound {
		t.Errorf("missing operation: %v", errs[20])
	}
	lists, filtered := srv.counts()
	if want := map[string]int{"AK/bc1": 1}; fmt.Sprint(lists) != fmt.Sprint(want) {
		t.Errorf("list calls = %v, want %v", lists, want)
	}
	if want := map[string]int{"bc1-op-missing": 1}; fmt.Sprint(filtered) != fmt.Sprint(want) {
		t.Errorf("filtered calls = %v, want %v (only to confirm the missing one)", filtered, want)
	}
	if d := coalescedBCS(t) - coalesced0; d != 20 {
		t.Errorf("coalesced_total{service=BCS} moved by %v, want 20", d)
	}

	// Each caller owns its operation.
	ops[0].Message = "changed"
	again, err := a.Fetch(context.Background(), bcsTarget(srv.URL, "AK", "SK", "bc1", ids[0]))
	if err != nil || again.Message != "record "+ids[0] {
		t.Errorf("cached record was changed by a caller: %v, %v", again, err)
	}
}

// TestListCacheKeysAndWindow: which polls share a list call.
func TestListCacheKeysAndWindow(t *testing.T) {
	type poll struct {
		advance             time.Duration
		ak, sk, chain, opID string
	}
	for _, tc := range []struct {
		name      string
		window    time.Duration
		polls     []poll
		wantLists map[string]int
	}{
		{"same blockchain within the window", 0, []poll{
			{0, "AK", "SK", "bc1", "bc1-op-0"}, {4 * time.Second, "AK", "SK", "bc1", "bc1-op-1"}, {999 * time.Millisecond, "AK", "SK", "bc1", "bc1-op-2"},
		}, map[string]int{"AK/bc1": 1}},
		{"the window elapsed", 0, []poll{
			{0, "AK", "SK", "bc1", "bc1-op-0"}, {DefaultListWindow, "AK", "SK", "bc1", "bc1-op-1"},
		}, map[string]int{"AK/bc1": 2}},
		{"a longer window", time.Minute, []poll{
			{0, "AK", "SK", "bc1", "bc1-op-0"}, {30 * time.Second, "AK", "SK", "bc1", "bc1-op-1"},
		}, map[string]int{"AK/bc1": 1}},
		{"no window: sequential polls do not share", -1, []poll{
			{0, "AK", "SK", "bc1", "bc1-op-0"}, {0, "AK", "SK", "bc1", "bc1-op-1"},
		}, map[string]int{"AK/bc1": 2}},
		{"different blockchains", 0, []poll{
			{0, "AK", "SK", "bc1", "bc1-op-0"}, {0, "AK", "SK", "bc2", "bc2-op-0"}, {0, "AK", "SK", "bc1", "bc1-op-1"},
		}, map[string]int{"AK/bc1": 1, "AK/bc2": 1}},
		{"whole project apart from one blockchain", 0, []poll{
			{0, "AK", "SK", "", "bc1-op-0"}, {0, "AK", "SK", "bc1", "bc1-op-1"}, {0, "AK", "SK", "", "bc2-op-0"},
		}, map[string]int{"AK/": 1, "AK/bc1": 1}},
		{"different access keys", 0, []poll{
			{0, "AK", "SK", "bc1", "bc1-op-0"}, {0, "AK2", "SK", "bc1", "bc1-op-1"},
		}, map[string]int{"AK/bc1": 1, "AK2/bc1": 1}},
		{"same access key, different secret", 0, []poll{
			{0, "AK", "SK", "bc1", "bc1-op-0"}, {0, "AK", "other", "bc1", "bc1-op-1"},
		}, map[string]int{"AK/bc1": 2}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := newListServer(t, map[string]int{"bc1": 5, "bc2": 5})
			clk := newClock()
			a := &Adapter{HTTP: &transport.HTTPClient{}, Lists: &ListCache{Window: tc.window, Now: clk.Now}}
			for _, p := range tc.polls {
				clk.Step(p.advance)
				op, err := a.Fetch(context.Background(), bcsTarget(srv.URL, p.ak, p.sk, p.chain, p.opID))
				if err != nil || op.Message != "record "+p.opID {
					t.Fatalf("%+v: %v, %v", p, op, err)
				}
			}
			lists, filtered := srv.counts()
			if fmt.Sprint(lists) != fmt.Sprint(tc.wantLists) {
				t.Errorf("list calls = %v, want %v", lists, tc.wantLists)
			}
			if len(filtered) != 0 {
				t.Errorf("filtered calls = %v, want none", filtered)
			}
		})
	}
}

// TestListCacheErrorsAreNotKept: a failed list call reaches only its own
// callers; the next poll asks again.
func TestListCacheErrorsAreNotKept(t *testing.T) {
	for _, tc := range []struct {
		status int
		kind   cloud.ErrorKind
	}{
		{500, cloud.KindTransient},
		{429, cloud.KindThrottled},
		{404, cloud.KindNotFound},
		{401, cloud.KindAuth},
	} {
		t.Run(fmt.Sprint(tc.status), func(t *testing.T) {
			srv := newListServer(t, map[string]int{"bc1": 3})
			srv.failNext = []int{tc.status}
			clk := newClock()
			a := &Adapter{HTTP: &transport.HTTPClient{}, Lists: &ListCache{Now: clk.Now}}
			if _, err := a.Fetch(context.Background(), bcsTarget(srv.URL, "AK", "SK", "bc1", "bc1-op-0")); cloud.KindOf(err) != tc.kind {
				t.Fatalf("first poll: %v, want %v", err, tc.kind)
			}
			for _, id := range []string{"bc1-op-1", "bc1-op-2"} {
				if op, err := a.Fetch(context.Background(), bcsTarget(srv.URL, "AK", "SK", "bc1", id)); err != nil || op.Message != "record "+id {
					t.Fatalf("%s: %v, %v", id, op, err)
				}
			}
			lists, filtered := srv.counts()
			if lists["AK/bc1"] != 2 || len(filtered) != 0 {
				t.Errorf("lists %v, filtered %v; want 2 list calls (the failed one and one shared by both later polls)", lists, filtered)
			}
		})
	}
}

// TestListCacheMissingOperations: an operation started after the cached
// list is found by the confirming filtered call.
func TestListCacheMissingOperations(t *testing.T) {
	srv := newListServer(t, map[string]int{"bc1": 2})
	clk := newClock()
	a := &Adapter{HTTP: &transport.HTTPClient{}, Lists: &ListCache{Now: clk.Now}}
	if _, err := a.Fetch(context.Background(), bcsTarget(srv.URL, "AK", "SK", "bc1", "bc1-op-0")); err != nil {
		t.Fatal(err)
	}
	srv.add("bc1-op-new", "bc1")
	op, err := a.Fetch(context.Background(), bcsTarget(srv.URL, "AK", "SK", "bc1", "bc1-op-new"))
	if err != nil || op.Message != "record bc1-op-new" {
		t.Fatalf("new operation: %v, %v", op, err)
	}
	// Seed IDs with stray spaces still match through the shared list.
	srv.add(" bc1 -op-spaced", "bc1")
	clk.Step(DefaultListWindow)
	if op, err := a.Fetch(context.Background(), bcsTarget(srv.URL, "AK", "SK", "bc1", "bc1-op-spaced")); err != nil || !strings.HasSuffix(op.Message, "-op-spaced") {
		t.Fatalf("spaced ID: %v, %v", op, err)
	}
	lists, filtered := srv.counts()
	if lists["AK/bc1"] != 2 || fmt.Sprint(filtered) != "map[bc1-op-new:1]" {
		t.Errorf("lists %v, filtered %v", lists, filtered)
	}
}

// TestListCacheTooLargeFallsBack: a list over the body limit is not used;
// operations are fetched one by one and the list is not asked for again
// for a while.
func TestListCacheTooLargeFallsBack(t *testing.T) {
	srv := newListServer(t, map[string]int{"bc1": 30})
	clk := newClock()
	a := &Adapter{HTTP: &transport.HTTPClient{MaxBodyBytes: 512}, Lists: &ListCache{Now: clk.Now}}
	for _, id := range []string{"bc1-op-0", "bc1-op-1"} {
		clk.Step(time.Minute)
		op, err := a.Fetch(context.Background(), bcsTarget(srv.URL, "AK", "SK", "bc1", id))
		if err != nil || op.Message != "record "+id {
			t.Fatalf("%s: %v, %v", id, op, err)
		}
	}
	lists, filtered := srv.counts()
	if lists["AK/bc1"] != 1 || len(filtered) != 2 {
		t.Errorf("lists %v, filtered %v; want 1 oversized list call, then filtered calls", lists, filtered)
	}
	clk.Step(oversizeMemory)
	if _, err := a.Fetch(context.Background(), bcsTarget(srv.URL, "AK", "SK", "bc1", "bc1-op-2")); err != nil {
		t.Fatal(err)
	}
	if lists, _ := srv.counts(); lists["AK/bc1"] != 2 {
		t.Errorf("list not retried after %v: %v", oversizeMemory, lists)
	}
}

// TestListCacheSweep: expired lists are dropped.
func TestListCacheSweep(t *testing.T) {
	srv := newListServer(t, map[string]int{"bc1": 1, "bc2": 1})
	clk := newClock()
	a := &Adapter{HTTP: &transport.HTTPClient{}, Lists: &ListCache{Now: clk.Now}}
	for _, bc := range []string{"bc1", "bc2"} {
		if _, err := a.Fetch(context.Background(), bcsTarget(srv.URL, "AK", "SK", bc, bc+"-op-0")); err != nil {
			t.Fatal(err)
		}
	}
	clk.Step(time.Minute)
	if _, err := a.Fetch(context.Background(), bcsTarget(srv.URL, "AK", "SK", "bc1", "bc1-op-0")); err != nil {
		t.Fatal(err)
	}
	if n := a.Lists.Len(); n != 1 {
		t.Errorf("%d lists held, want 1", n)
	}
}
