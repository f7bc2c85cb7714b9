package lookup_test

import (
	"context"
	"math"
	"strconv"
	"strings"
	"testing"

	"github.com/casebridge/casebridge/internal/casesim"
	"github.com/casebridge/casebridge/internal/casesim/awsquota"
	"github.com/casebridge/casebridge/internal/lookup"
	"github.com/casebridge/casebridge/internal/testkit/testbed"
)

// BenchmarkFind measures a lookup's cost in the process: answered from the
// cache, and a search through the SDK against the simulator over loopback
// HTTP (unpaced, so the number is the client's and the round trip's; the
// quota, 2/s, is what bounds searches in production).
func BenchmarkFind(b *testing.B) {
	sim, url := testbed.StartCasesimT(b, casesim.Options{})
	if err := sim.LoadSeed(strings.NewReader(seed)); err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	b.Run("cached", func(b *testing.B) {
		f := lookup.New(testbed.NewCasesClient(url), lookup.Options{})
		if _, err := f.Find(ctx, dom, "order_number", str("8842")); err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		for b.Loop() {
			if _, err := f.Find(ctx, dom, "order_number", str("8842")); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("search", func(b *testing.B) {
		f := lookup.New(testbed.NewCasesClient(url), lookup.Options{Pace: awsquota.Quota{Rate: math.Inf(1)}})
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			i++ // a new key each time: every find is a miss that searches
			if _, err := f.Find(ctx, dom, "order_number", str("k"+strconv.Itoa(i))); err == nil {
				b.Fatal("found")
			}
		}
	})
}
