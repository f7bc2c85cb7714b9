package mapper

import (
	"os"
	"path/filepath"
	"testing"
)

// TestWriteFuzzSeeds regenerates testdata/fuzz/FuzzMap from the shipped
// sample messages when CASEBRIDGE_WRITE_SEEDS=1; otherwise it only checks
// that the seed corpus exists.
func TestWriteFuzzSeeds(t *testing.T) {
	dir := filepath.Join("testdata", "fuzz", "FuzzMap")
	if os.Getenv("CASEBRIDGE_WRITE_SEEDS") != "1" {
		if seeds, _ := filepath.Glob(filepath.Join(dir, "*")); len(seeds) == 0 {
			t.Fatalf("no fuzz seeds in %s", dir)
		}
		return
	}
	var sources []string
	for _, pattern := range []string{"../../examples/messages/*.json", "../../contract/testdata/corpus/*/*.json"} {
		m, err := filepath.Glob(pattern)
		if err != nil {
			t.Fatal(err)
		}
		sources = append(sources, m...)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, src := range sources {
		b, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		name := filepath.Base(filepath.Dir(src)) + "-" + filepath.Base(src)
		if err := os.WriteFile(filepath.Join(dir, name), []byte(seedFile(b)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
