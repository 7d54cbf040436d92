package cloud

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// TestSeedTestdataVerbatim checks that every seed-derived testdata file is
// a byte-for-byte excerpt of its seed page. The seed pages live outside the
// repository, so the test is skipped where they are absent.
func TestSeedTestdataVerbatim(t *testing.T) {
	const seedDir = "/work/shared/seeds"
	seeds, _ := filepath.Glob(filepath.Join(seedDir, "*.txt"))
	if len(seeds) == 0 {
		t.Skip("seed pages not available")
	}
	pages := map[string][]byte{}
	for _, s := range seeds {
		b, err := os.ReadFile(s)
		if err != nil {
			t.Fatal(err)
		}
		pages[filepath.Base(s)[:3]] = b
	}
	files, _ := filepath.Glob("*/testdata/0*.json")
	if len(files) < 15 {
		t.Fatalf("found only %d seed testdata files", len(files))
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		page, ok := pages[filepath.Base(f)[:3]]
		if !ok || !bytes.Contains(page, b) {
			t.Errorf("%s is not a verbatim excerpt of seed %s", f, filepath.Base(f)[:3])
		}
	}
}
