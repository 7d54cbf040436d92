// Package adaptertest holds what every adapter package's tests share: the
// conformance suite each runs (RunConformance), the table test of answers
// in and expected Operations out (Run, compared with go-cmp), the
// invariants their fuzz targets check, and the small helpers their
// expectations are written with (Read, At, Unix, Pct, Res). It is
// imported by tests only.
package adaptertest

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/cloudop/cloudop/internal/cloud"
)

// Case is one answer and the Operation it must give. Name is the file
// name in testdata/ for a fixture, a description for an inline Body.
type Case struct {
	Name string
	Body string
	Want *cloud.Operation
}

// Fixture returns the Case of testdata/file.
func Fixture(t testing.TB, file string, want *cloud.Operation) Case {
	return Case{Name: file, Body: string(Read(t, file)), Want: want}
}

// Read returns testdata/name.
func Read(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Bodies is the Answer made of the files testdata/name, in order.
func Bodies(t testing.TB, names ...string) Answer {
	t.Helper()
	a := make(Answer, len(names))
	for i, n := range names {
		a[i] = string(Read(t, n))
	}
	return a
}

// Run checks each case as a subtest: parse must succeed and give Want.
func Run(t *testing.T, parse func([]byte) (*cloud.Operation, error), cases []Case) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.Name, func(t *testing.T) {
			got, err := parse([]byte(c.Body))
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(c.Want, got); d != "" {
				t.Errorf("(-want +got)\n%s", d)
			}
		})
	}
}

// CheckInvariants fails t when op breaks what every answer must give:
// progress within 0..100 and steps nested at most one level (sub-steps
// have no sub-steps of their own).
func CheckInvariants(t *testing.T, op *cloud.Operation) {
	t.Helper()
	if op.Progress != nil && (*op.Progress < 0 || *op.Progress > 100) {
		t.Fatalf("progress %d", *op.Progress)
	}
	for _, s := range op.Steps {
		for _, ss := range s.SubSteps {
			if len(ss.SubSteps) > 0 {
				t.Fatalf("step %q: sub-step %q has sub-steps", s.Name, ss.Name)
			}
		}
	}
}

// atLayouts are the forms expectations are written in: RFC 3339, Go's
// time.Time.String form (as CCE prints its times) and a time without a
// zone, which is UTC (as DWS prints them).
var atLayouts = []string{time.RFC3339Nano, "2006-01-02 15:04:05.999999999 -0700 MST", "2006-01-02 15:04:05.999999999"}

// At reads an expected time, independently of the parser under test, in
// UTC; it panics on a form none of atLayouts reads.
func At(s string) *time.Time {
	for _, layout := range atLayouts {
		if t, err := time.Parse(layout, s); err == nil {
			t = t.UTC()
			return &t
		}
	}
	panic(fmt.Sprintf("adaptertest.At: %q is in none of the forms %q", s, atLayouts))
}

// Unix is an expected time given as seconds and nanoseconds since the
// epoch (as time.Unix), in UTC.
func Unix(sec, nsec int64) *time.Time {
	t := time.Unix(sec, nsec).UTC()
	return &t
}

// Pct returns a pointer to an expected progress.
func Pct(v int32) *int32 { return &v }

// Res is an expected resource.
func Res(typ, id string) cloud.Resource { return cloud.Resource{Type: typ, ID: id} }

// Times checks an adapter's time parser: each input must give the time
// printed as want (fmt's form, "<nil>" for none).
func Times(t *testing.T, parse func(string) *time.Time, want map[string]string) {
	t.Helper()
	for in, w := range want {
		if got := fmt.Sprint(parse(in)); got != w {
			t.Errorf("parseTime(%q) = %s, want %s", in, got, w)
		}
	}
}

// Rejected checks that f refuses each target with a KindPermanent error
// without sending anything: the targets go to a server of Rejected's own
// that records every request (and answers none usefully), signed with
// valid-looking credentials when they have none, so that only what is
// wrong in the target can be why it is refused.
func Rejected(t *testing.T, f cloud.Fetcher, targets []cloud.Target) {
	t.Helper()
	var (
		mu   sync.Mutex
		sent []string
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		sent = append(sent, pathQuery(r))
		mu.Unlock()
		w.WriteHeader(http.StatusInternalServerError)
	}))
	defer srv.Close()
	for _, tg := range targets {
		tg.BaseURL = srv.URL
		if tg.Credentials == (cloud.Credentials{}) {
			tg.Credentials = permanent
		}
		_, err := f.Fetch(context.Background(), tg)
		if cloud.KindOf(err) != cloud.KindPermanent {
			t.Errorf("%+v: got %v, want a permanent error", tg, err)
		}
		mu.Lock()
		if len(sent) > 0 {
			t.Errorf("%+v: sent %q", tg, sent)
			sent = nil
		}
		mu.Unlock()
	}
}

// Fetched fetches tg with f and checks that it gives want; name says
// which case failed.
func Fetched(t *testing.T, name string, f cloud.Fetcher, tg cloud.Target, want *cloud.Operation) {
	t.Helper()
	op, err := f.Fetch(context.Background(), tg)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	if d := cmp.Diff(want, op); d != "" {
		t.Errorf("%s: (-want +got)\n%s", name, d)
	}
}
