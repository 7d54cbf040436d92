package cloudsim

import (
	"net/http"
	"sync"
	"time"
)

// maxRequestLog bounds the request log; older entries are dropped.
const maxRequestLog = 4096

// RequestRecord is one service request as the request log keeps it: who
// signed it, never a key, token or signature.
type RequestRecord struct {
	// Time is when it was answered (simulator clock).
	Time time.Time `json:"time"`
	// Method and Path are the request's.
	Method string `json:"method"`
	Path   string `json:"path"`
	// Status is the HTTP status answered (StatusReset for none).
	Status int `json:"status"`
	// AccessKey signed the request; empty when the signature did not
	// verify.
	AccessKey string `json:"accessKey,omitempty"`
	// Principal is who holds AccessKey: the scenario account's access key,
	// or the subject (system:serviceaccount:NS:NAME) that temporary
	// credentials were issued to.
	Principal string `json:"principal,omitempty"`
	// Temporary marks temporary credentials (a security token).
	Temporary bool `json:"temporary,omitempty"`
	// RemoteAddr is the client's address (IP:port) as the simulator's
	// server saw it: which of several clients sent the request, e.g. which
	// manager replica when each has an address of its own.
	RemoteAddr string `json:"remoteAddr,omitempty"`
}

// requestLog is a bounded log of service requests.
type requestLog struct {
	mu      sync.Mutex
	entries []RequestRecord
}

func (l *requestLog) add(r *http.Request, status int, signer *account, now time.Time) {
	e := RequestRecord{Time: now, Method: r.Method, Path: r.URL.Path, Status: status, RemoteAddr: r.RemoteAddr}
	if signer != nil {
		e.AccessKey, e.Principal, e.Temporary = signer.AccessKey, signer.principal, signer.SecurityToken != ""
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.entries) >= maxRequestLog {
		l.entries = append(l.entries[:0:0], l.entries[len(l.entries)-maxRequestLog+1:]...)
	}
	l.entries = append(l.entries, e)
}

func (l *requestLog) list() []RequestRecord {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]RequestRecord(nil), l.entries...)
}

func (l *requestLog) reset() {
	l.mu.Lock()
	l.entries = nil
	l.mu.Unlock()
}

// Requests returns the request log: the last service requests (at most
// 4096), oldest first. ResetCounts clears it.
func (s *Simulator) Requests() []RequestRecord { return s.requests.list() }
