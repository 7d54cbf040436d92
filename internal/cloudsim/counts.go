package cloudsim

import (
	"sync"
	"sync/atomic"
)

// StatusReset is the status under which requests that got no HTTP answer
// are counted: the reset fault, or a client that gave up during a delay.
const StatusReset = 0

// RequestCounts counts requests by the HTTP status they were answered with.
type RequestCounts struct {
	// Total is the number of requests.
	Total int `json:"total"`
	// ByStatus maps HTTP status to requests; StatusReset (0) counts
	// requests that got no response.
	ByStatus map[int]int `json:"byStatus"`
}

// Counts is a snapshot of the request counters.
type Counts struct {
	// Total covers every request to a service API path (not /admin/),
	// CTS's included.
	Total RequestCounts `json:"total"`
	// Services counts per service, including requests that named no
	// existing operation. CTS, which runs no operations, is not among
	// them: see CTS.
	Services map[Service]RequestCounts `json:"services"`
	// Operations counts per service and operation key (see
	// OperationSpec.Key), whether or not the operation exists. A BCS list
	// call counts for an operation only when it filters by operation_id.
	Operations map[Service]map[string]RequestCounts `json:"operations"`
	// BCSLists counts BCS ListOpRecord calls by "projectID" and, when the
	// call filters by blockchain_id, by "projectID/blockchainID" too
	// (with or without operation_id; Lists counts only those without).
	BCSLists map[string]RequestCounts `json:"bcsLists"`
	// Lists counts the list calls, which list a resource's operations
	// instead of addressing one, by service and listed resource (see
	// Simulator.ListCount): BCS ListOpRecord without operation_id by
	// "projectID" and "projectID/blockchainID", CCE ListUpgradeWorkFlows
	// by "projectID/clusterID", RFS ListStackEvents without deployment_id
	// by "projectID/stackName", CTS ListTraces by "projectID" and, with a
	// service_type filter, "projectID/serviceType".
	Lists map[Service]map[string]RequestCounts `json:"lists"`
	// CTS counts the CTS requests (ListTraces), which are in Total but
	// not in Services.
	CTS RequestCounts `json:"cts"`
	// Unrouted counts requests for paths that are no simulated API
	// (answered 404 APIGW.0101).
	Unrouted RequestCounts `json:"unrouted"`
	// Principals counts the service requests whose signature verified, by
	// who signed them: the access key of a scenario account, or the
	// subject (system:serviceaccount:NS:NAME) temporary credentials were
	// issued to.
	Principals map[string]RequestCounts `json:"principals"`
	// IAM counts the IAM requests by API (IAMCreateTokenWithIDToken,
	// IAMCreateTemporaryAccessKey); they are not in Total.
	IAM map[string]RequestCounts `json:"iam"`
}

type counter struct {
	mu    sync.Mutex
	total int
	by    map[int]int
}

func (c *counter) add(status int) {
	c.mu.Lock()
	c.total++
	if c.by == nil {
		c.by = make(map[int]int, 2)
	}
	c.by[status]++
	c.mu.Unlock()
}

func (c *counter) snapshot() RequestCounts {
	c.mu.Lock()
	defer c.mu.Unlock()
	rc := RequestCounts{Total: c.total, ByStatus: make(map[int]int, len(c.by))}
	for k, v := range c.by {
		rc.ByStatus[k] = v
	}
	return rc
}

// counterSet holds one generation of counters; ResetCounts swaps in a new
// one so that readers and writers never need a global lock.
type counterSet struct {
	total    counter
	unrouted counter
	cts      counter
	services map[Service]*counter
	ops      sync.Map // refKey -> *counter
	bcs      sync.Map // string -> *counter
	lists    sync.Map // refKey{service, listed resource} -> *counter
	signers  sync.Map // principal -> *counter
	iam      sync.Map // IAM API -> *counter
}

func newCounterSet() *counterSet {
	cs := &counterSet{services: map[Service]*counter{}}
	for _, s := range Services {
		cs.services[s] = &counter{}
	}
	return cs
}

type counters struct {
	cur atomic.Pointer[counterSet]
}

func (c *counters) init() { c.cur.Store(newCounterSet()) }

func (c *counters) reset() { c.cur.Store(newCounterSet()) }

func loadCounter(m *sync.Map, k any) *counter {
	if v, ok := m.Load(k); ok {
		return v.(*counter)
	}
	v, _ := m.LoadOrStore(k, &counter{})
	return v.(*counter)
}

// record counts one answered request for route rt.
func (c *counters) record(rt *route, status int) {
	cs := c.cur.Load()
	if rt == nil {
		cs.total.add(status)
		cs.unrouted.add(status)
		return
	}
	cs.total.add(status)
	for _, l := range rt.lists {
		loadCounter(&cs.lists, refKey{rt.svc, l}).add(status)
	}
	if rt.svc == CTS {
		cs.cts.add(status)
		return
	}
	cs.services[rt.svc].add(status)
	if rt.id != "" {
		loadCounter(&cs.ops, refKey{rt.svc, rt.key()}).add(status)
	}
	if rt.svc == BCS {
		loadCounter(&cs.bcs, rt.project).add(status)
		if rt.target != "" {
			loadCounter(&cs.bcs, rt.project+"/"+rt.target).add(status)
		}
	}
}

// recordPrincipal counts one answered request signed by principal.
func (c *counters) recordPrincipal(principal string, status int) {
	loadCounter(&c.cur.Load().signers, principal).add(status)
}

// recordIAM counts one answered IAM request ("" for an unknown path).
func (c *counters) recordIAM(api string, status int) {
	loadCounter(&c.cur.Load().iam, or(api, "unknown")).add(status)
}

func (c *counters) opTotal(svc Service, key string) int {
	return total(&c.cur.Load().ops, refKey{svc, key})
}

func (c *counters) listTotal(svc Service, resource string) int {
	return total(&c.cur.Load().lists, refKey{svc, resource})
}

// total reads the total of m's counter for k, 0 when there is none.
func total(m *sync.Map, k refKey) int {
	v, ok := m.Load(k)
	if !ok {
		return 0
	}
	cn := v.(*counter)
	cn.mu.Lock()
	defer cn.mu.Unlock()
	return cn.total
}

func (c *counters) snapshot() Counts {
	cs := c.cur.Load()
	out := Counts{
		Total:      cs.total.snapshot(),
		Unrouted:   cs.unrouted.snapshot(),
		CTS:        cs.cts.snapshot(),
		Lists:      map[Service]map[string]RequestCounts{},
		Services:   map[Service]RequestCounts{},
		Operations: map[Service]map[string]RequestCounts{},
		BCSLists:   map[string]RequestCounts{},
		Principals: map[string]RequestCounts{},
		IAM:        map[string]RequestCounts{},
	}
	cs.signers.Range(func(k, v any) bool {
		out.Principals[k.(string)] = v.(*counter).snapshot()
		return true
	})
	cs.iam.Range(func(k, v any) bool {
		out.IAM[k.(string)] = v.(*counter).snapshot()
		return true
	})
	for s, cn := range cs.services {
		out.Services[s] = cn.snapshot()
	}
	cs.ops.Range(func(k, v any) bool {
		rk := k.(refKey)
		m := out.Operations[rk.svc]
		if m == nil {
			m = map[string]RequestCounts{}
			out.Operations[rk.svc] = m
		}
		m[rk.key] = v.(*counter).snapshot()
		return true
	})
	cs.bcs.Range(func(k, v any) bool {
		out.BCSLists[k.(string)] = v.(*counter).snapshot()
		return true
	})
	cs.lists.Range(func(k, v any) bool {
		rk := k.(refKey)
		m := out.Lists[rk.svc]
		if m == nil {
			m = map[string]RequestCounts{}
			out.Lists[rk.svc] = m
		}
		m[rk.key] = v.(*counter).snapshot()
		return true
	})
	return out
}
