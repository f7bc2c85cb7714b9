package testbed

import (
	"context"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/casebridge/casebridge/internal/casesim"
	"github.com/casebridge/casebridge/internal/testkit/sqsproxy"
)

// StartGoawsT starts goaws for a test or benchmark and stops it in t.Cleanup.
// It fails the test (rather than skipping it) when goaws is not installed: a
// silently skipped integration test proves nothing.
func StartGoawsT(t testing.TB, cfg GoawsConfig) *Goaws {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	g, err := StartGoaws(ctx, cfg)
	if err != nil {
		t.Fatalf("start goaws: %v", err)
	}
	t.Cleanup(func() {
		if err := g.Close(); err != nil {
			t.Errorf("stop goaws: %v", err)
		}
	})
	return g
}

// QueueURLT resolves a queue URL or fails the test.
func (g *Goaws) QueueURLT(t testing.TB, name string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	u, err := g.QueueURL(ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// SQS is goaws behind the fidelity proxy: what integration tests should use.
type SQS struct {
	Goaws *Goaws
	Proxy *sqsproxy.Proxy
	// Endpoint is the proxy's URL, the endpoint to give the code under test.
	Endpoint string
}

// StartSQST starts goaws and an sqsproxy in front of it, both stopped in
// t.Cleanup.
func StartSQST(t testing.TB, cfg GoawsConfig) *SQS {
	t.Helper()
	g := StartGoawsT(t, cfg)
	p, endpoint, err := sqsproxy.Start(g.Endpoint)
	if err != nil {
		t.Fatalf("start sqs proxy: %v", err)
	}
	t.Cleanup(func() { _ = p.Close() })
	return &SQS{Goaws: g, Proxy: p, Endpoint: endpoint}
}

// StartCasesimT starts the Cases simulator, seeded with the demo data, on an
// httptest server closed in t.Cleanup, and returns it with its endpoint.
func StartCasesimT(t testing.TB, opts casesim.Options) (*casesim.Server, string) {
	t.Helper()
	sim := casesim.New(opts)
	seed, err := DemoSeed()
	if err == nil {
		err = sim.LoadSeedFile(seed)
	}
	if err != nil {
		t.Fatalf("seeding the simulator: %v", err)
	}
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	return sim, srv.URL
}
