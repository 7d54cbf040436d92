// Package adaptertest holds the table test that the job adapters' tests
// (classicjob, rdsjob, cce jobs) share: answers in, expected Operations
// out, compared with go-cmp, the invariants their fuzz targets check, and
// the small helpers their expectations are written with. It is imported
// by tests only.
package adaptertest

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
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

// At reads an expected time written in RFC 3339, independently of the
// parser under test, in UTC.
func At(s string) *time.Time {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		panic(err)
	}
	t = t.UTC()
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

// Rejected checks that f refuses each target with a KindPermanent error,
// sending them to baseURL if it sends anything (callers check that their
// server saw no request).
func Rejected(t *testing.T, f cloud.Fetcher, baseURL string, targets []cloud.Target) {
	t.Helper()
	for _, tg := range targets {
		tg.BaseURL = baseURL
		if _, err := f.Fetch(context.Background(), tg); cloud.KindOf(err) != cloud.KindPermanent {
			t.Errorf("%+v: got %v", tg, err)
		}
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
