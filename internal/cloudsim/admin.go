package cloudsim

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
	"time"
)

// The admin API is unsigned on purpose: it is a test fixture's control
// panel, reachable only where the simulator listens. Every answer is JSON;
// errors are {"error": "..."}.

const maxAdminBody = 64 << 20 // a 10,000-operation bulk add fits easily

func (s *Simulator) adminHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /admin/healthz", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})

	mux.HandleFunc("GET /admin/operations", func(w http.ResponseWriter, r *http.Request) {
		svc, err := parseService(r.URL.Query().Get("service"), true)
		if err != nil {
			adminError(w, http.StatusBadRequest, err)
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"operations": s.Operations(svc)})
	})
	mux.HandleFunc("POST /admin/operations", func(w http.ResponseWriter, r *http.Request) {
		specs, err := decodeOperations(r.Body)
		if err != nil {
			adminError(w, http.StatusBadRequest, err)
			return
		}
		if err := s.AddOperations(specs); err != nil {
			status := http.StatusBadRequest
			if errors.Is(err, ErrExists) {
				status = http.StatusConflict
			}
			adminError(w, status, err)
			return
		}
		writeJSON(w, http.StatusCreated, map[string]int{"added": len(specs)})
	})
	mux.HandleFunc("DELETE /admin/operations", func(w http.ResponseWriter, r *http.Request) {
		s.DeleteAllOperations()
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("GET /admin/operations/{service}/{key...}", func(w http.ResponseWriter, r *http.Request) {
		svc, key, ok := opPath(w, r)
		if !ok {
			return
		}
		st, err := s.Operation(svc, key)
		if err != nil {
			adminError(w, http.StatusNotFound, err)
			return
		}
		writeJSON(w, http.StatusOK, st)
	})
	mux.HandleFunc("DELETE /admin/operations/{service}/{key...}", func(w http.ResponseWriter, r *http.Request) {
		svc, key, ok := opPath(w, r)
		if !ok {
			return
		}
		if err := s.DeleteOperation(svc, key); err != nil {
			adminError(w, http.StatusNotFound, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})

	faults := func(global bool) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			var svc Service
			var key string
			if !global {
				var ok bool
				if svc, key, ok = opPath(w, r); !ok {
					return
				}
			}
			var err error
			switch r.Method {
			case http.MethodGet:
				var fs []Fault
				if fs, err = s.Faults(svc, key); err == nil {
					writeJSON(w, http.StatusOK, map[string]any{"faults": fs})
					return
				}
			case http.MethodPut:
				var fs []Fault
				if fs, err = decodeFaults(r.Body); err == nil {
					if err = s.SetFaults(svc, key, fs...); err == nil {
						writeJSON(w, http.StatusOK, map[string]any{"faults": fs})
						return
					}
				}
			case http.MethodPost:
				var fs []Fault
				if fs, err = decodeFaults(r.Body); err == nil {
					for _, f := range fs {
						if err = s.AddFault(svc, key, f); err != nil {
							break
						}
					}
					if err == nil {
						list, _ := s.Faults(svc, key)
						writeJSON(w, http.StatusOK, map[string]any{"faults": list})
						return
					}
				}
			case http.MethodDelete:
				if err = s.SetFaults(svc, key); err == nil {
					w.WriteHeader(http.StatusNoContent)
					return
				}
			}
			status := http.StatusBadRequest
			if errors.Is(err, ErrNotFound) {
				status = http.StatusNotFound
			}
			adminError(w, status, err)
		}
	}
	for _, m := range []string{"GET", "PUT", "POST", "DELETE"} {
		mux.HandleFunc(m+" /admin/faults", faults(true))
		mux.HandleFunc(m+" /admin/faults/{service}/{key...}", faults(false))
	}

	mux.HandleFunc("GET /admin/speed", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, s.clockInfo())
	})
	mux.HandleFunc("PUT /admin/speed", func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			Speed *float64 `json:"speed"`
		}
		if err := decodeStrict(r.Body, &req); err != nil || req.Speed == nil {
			adminError(w, http.StatusBadRequest, fmt.Errorf(`want {"speed": <number>}: %v`, err))
			return
		}
		if err := s.SetSpeed(*req.Speed); err != nil {
			adminError(w, http.StatusBadRequest, err)
			return
		}
		writeJSON(w, http.StatusOK, s.clockInfo())
	})
	mux.HandleFunc("POST /admin/advance", func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			By *Duration `json:"by"`
		}
		if err := decodeStrict(r.Body, &req); err != nil || req.By == nil {
			adminError(w, http.StatusBadRequest, fmt.Errorf(`want {"by": "<duration>"}: %v`, err))
			return
		}
		if err := s.Advance(req.By.Duration); err != nil {
			adminError(w, http.StatusBadRequest, err)
			return
		}
		writeJSON(w, http.StatusOK, s.clockInfo())
	})

	mux.HandleFunc("GET /admin/counts", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, s.Counts())
	})
	mux.HandleFunc("GET /admin/requests", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{"requests": s.Requests()})
	})
	mux.HandleFunc("DELETE /admin/counts", func(w http.ResponseWriter, r *http.Request) {
		s.ResetCounts()
		w.WriteHeader(http.StatusNoContent)
	})

	mux.HandleFunc("GET /admin/accounts", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{"accounts": s.accountList()})
	})
	mux.HandleFunc("POST /admin/accounts", func(w http.ResponseWriter, r *http.Request) {
		accts, err := decodeAccounts(r.Body)
		if err == nil {
			for _, a := range accts {
				if err = a.validate(); err != nil {
					err = fmt.Errorf("account %q: %w", a.AccessKey, err)
					break
				}
			}
		}
		if err != nil {
			adminError(w, http.StatusBadRequest, err)
			return
		}
		for _, a := range accts {
			_ = s.AddAccount(a)
		}
		writeJSON(w, http.StatusCreated, map[string]int{"added": len(accts)})
	})
	mux.HandleFunc("DELETE /admin/accounts/{accessKey}", func(w http.ResponseWriter, r *http.Request) {
		s.RemoveAccount(r.PathValue("accessKey"))
		w.WriteHeader(http.StatusNoContent)
	})

	mux.HandleFunc("/admin/", func(w http.ResponseWriter, r *http.Request) {
		adminError(w, http.StatusNotFound, fmt.Errorf("no admin route %s %s (see docs/cloudsim.md)", r.Method, r.URL.Path))
	})
	return http.MaxBytesHandler(mux, maxAdminBody)
}

// ClockInfo is what GET /admin/speed reports.
type ClockInfo struct {
	// Speed is simulated seconds per real second.
	Speed float64 `json:"speed"`
	// Now is the simulator's (real or injected) clock.
	Now time.Time `json:"now"`
	// SimulatedNow is the simulated clock operations advance with.
	SimulatedNow time.Time `json:"simulatedNow"`
}

func (s *Simulator) clockInfo() ClockInfo {
	now := s.now()
	return ClockInfo{Speed: s.clock.speed(), Now: now.UTC(), SimulatedNow: s.clock.simAt(now).UTC()}
}

type accountInfo struct {
	AccessKey  string   `json:"accessKey"`
	Temporary  bool     `json:"temporary"`
	DomainID   string   `json:"domainID"`
	ProjectIDs []string `json:"projectIDs"`
}

// accountList never includes secrets or tokens.
func (s *Simulator) accountList() []accountInfo {
	s.mu.RLock()
	out := make([]accountInfo, 0, len(s.accounts))
	for _, a := range s.accounts {
		out = append(out, accountInfo{AccessKey: a.AccessKey, Temporary: a.SecurityToken != "", DomainID: a.DomainID, ProjectIDs: a.ProjectIDs})
	}
	s.mu.RUnlock()
	sort.Slice(out, func(i, j int) bool { return out[i].AccessKey < out[j].AccessKey })
	return out
}

func adminError(w http.ResponseWriter, status int, err error) {
	writeJSON(w, status, map[string]string{"error": err.Error()})
}

func parseService(v string, optional bool) (Service, error) {
	if v == "" && optional {
		return "", nil
	}
	for _, svc := range Services {
		if strings.EqualFold(string(svc), v) {
			return svc, nil
		}
	}
	return "", fmt.Errorf("unknown service %q (want %s)", v, serviceNames)
}

func opPath(w http.ResponseWriter, r *http.Request) (Service, string, bool) {
	svc, err := parseService(r.PathValue("service"), false)
	if err != nil {
		adminError(w, http.StatusBadRequest, err)
		return "", "", false
	}
	return svc, r.PathValue("key"), true
}

func decodeStrict(r io.Reader, v any) error {
	dec := json.NewDecoder(r)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return errors.New("trailing data after the JSON value")
	}
	return nil
}

// decodeOperations accepts a spec, a list of specs, a template, or
// {"operations": [...], "templates": [...]}.
func decodeOperations(r io.Reader) ([]OperationSpec, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, err
	}
	data = bytes.TrimSpace(data)
	if len(data) > 0 && data[0] == '[' {
		var specs []OperationSpec
		if err := decodeStrict(bytes.NewReader(data), &specs); err != nil {
			return nil, fmt.Errorf("decode operations: %w", err)
		}
		return specs, nil
	}
	var keys map[string]json.RawMessage
	if err := json.Unmarshal(data, &keys); err != nil {
		return nil, fmt.Errorf("decode operations: %w", err)
	}
	_, hasOps := keys["operations"]
	_, hasTemplates := keys["templates"]
	_, hasCount := keys["count"]
	switch {
	case hasOps || hasTemplates:
		var req struct {
			Operations []OperationSpec `json:"operations"`
			Templates  []Template      `json:"templates"`
		}
		if err := decodeStrict(bytes.NewReader(data), &req); err != nil {
			return nil, fmt.Errorf("decode operations: %w", err)
		}
		specs := req.Operations
		for i, t := range req.Templates {
			ops, err := t.Expand()
			if err != nil {
				return nil, fmt.Errorf("templates[%d]: %w", i, err)
			}
			specs = append(specs, ops...)
		}
		return specs, nil
	case hasCount:
		var t Template
		if err := decodeStrict(bytes.NewReader(data), &t); err != nil {
			return nil, fmt.Errorf("decode template: %w", err)
		}
		return t.Expand()
	}
	var spec OperationSpec
	if err := decodeStrict(bytes.NewReader(data), &spec); err != nil {
		return nil, fmt.Errorf("decode operation: %w", err)
	}
	return []OperationSpec{spec}, nil
}

// decodeFaults accepts a fault, a list, or {"faults": [...]}.
func decodeFaults(r io.Reader) ([]Fault, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, err
	}
	data = bytes.TrimSpace(data)
	var fs []Fault
	switch {
	case len(data) == 0:
		return nil, nil
	case data[0] == '[':
		err = decodeStrict(bytes.NewReader(data), &fs)
	case bytes.Contains(data, []byte(`"faults"`)):
		var req struct {
			Faults []Fault `json:"faults"`
		}
		err = decodeStrict(bytes.NewReader(data), &req)
		fs = req.Faults
	default:
		var f Fault
		err = decodeStrict(bytes.NewReader(data), &f)
		fs = []Fault{f}
	}
	if err != nil {
		return nil, fmt.Errorf("decode faults: %w", err)
	}
	return fs, validateFaults(fs)
}

// decodeAccounts accepts an account or a list of accounts.
func decodeAccounts(r io.Reader) ([]Account, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, err
	}
	data = bytes.TrimSpace(data)
	var accts []Account
	if len(data) > 0 && data[0] == '[' {
		err = decodeStrict(bytes.NewReader(data), &accts)
	} else {
		var a Account
		err = decodeStrict(bytes.NewReader(data), &a)
		accts = []Account{a}
	}
	if err != nil {
		return nil, fmt.Errorf("decode accounts: %w", err)
	}
	return accts, nil
}
