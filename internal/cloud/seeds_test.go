package cloud

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

// wantSeedCopies is how many JSON examples testdata/extract_seeds.py
// copies from the API reference pages into the adapters' testdata.
const wantSeedCopies = 15

// TestSeedTestdata checks the JSON examples copied from the API reference
// pages into the adapters' testdata (*/testdata/0*.json): all of them are
// there and parse. Where the seed pages are available (../shared/seeds
// from the repository root, outside the repository), each copy must also
// still be a byte-for-byte excerpt of its page; elsewhere only that
// comparison is skipped.
func TestSeedTestdata(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("*", "testdata", "0*.json"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < wantSeedCopies {
		t.Fatalf("found %d seed copies, want at least %d", len(files), wantSeedCopies)
	}
	copies := map[string][]byte{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if !json.Valid(b) {
			t.Errorf("%s is not valid JSON", f)
		}
		copies[f] = b
	}

	seedDir := filepath.Join(repoRoot(t), "..", "shared", "seeds")
	pages, _ := filepath.Glob(filepath.Join(seedDir, "*.txt"))
	if len(pages) == 0 {
		t.Logf("no seed pages in %s: byte-for-byte comparison skipped", seedDir)
		return
	}
	// A page's number (its first three characters) names its copies.
	byNumber := map[string][]byte{}
	for _, p := range pages {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		byNumber[filepath.Base(p)[:3]] = b
	}
	for f, b := range copies {
		n := filepath.Base(f)[:3]
		if page, ok := byNumber[n]; !ok || !bytes.Contains(page, b) {
			t.Errorf("%s is not a verbatim excerpt of seed page %s", f, n)
		}
	}
}

// repoRoot returns the nearest directory above the working directory (the
// package's) that holds go.mod.
func repoRoot(t *testing.T) string {
	t.Helper()
	dir, err := filepath.Abs(".")
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		if filepath.Dir(dir) == dir {
			t.Fatal("no go.mod above the working directory")
		}
		dir = filepath.Dir(dir)
	}
}
