package reliability

import (
	"flag"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/casebridge/casebridge/internal/casesim"
)

var (
	soak         = flag.Bool("soak", false, "run TestSoak (long; not part of CI)")
	soakDuration = flag.Duration("soak-duration", 10*time.Minute, "how long TestSoak sends and injects faults")
)

// TestSoak (behind -soak): for -soak-duration, messages keep arriving while
// the simulator's faults change every few seconds (500s, drops, latency
// spikes, throttle storms) and the worker is killed with SIGKILL or SIGTERM
// and restarted every 20–40 s. At the end, every message is in its one right
// place. Run: go test -run TestSoak -soak -soak-duration 30m -timeout 40m ./internal/reliability/
func TestSoak(t *testing.T) {
	if !*soak {
		t.Skip("long soak: run with -soak")
	}
	w := newWorld(t, 5)
	rng := rand.New(rand.NewPCG(1, 2))
	faults := []casesim.Faults{
		{ErrorRate: 0.10, DropRate: 0.05},
		{ErrorRate: 0.10, DropRate: 0.05, Latency: 2 * time.Second},
		{ErrorRate: 0.05, Rate: 2, Burst: 2},
		{},
	}
	var msgs []msg
	p := w.startWorker()
	end := time.Now().Add(*soakDuration)
	nextRestart := time.Now().Add(time.Duration(20+rng.IntN(20)) * time.Second)
	kills := 0
	for time.Now().Before(end) {
		batch := mix(len(msgs), 50)
		w.send(batch)
		msgs = append(msgs, batch...)
		w.sim.SetFaults(faults[rng.IntN(len(faults))])
		time.Sleep(3 * time.Second) // the pace of arrivals and fault changes
		if time.Now().After(nextRestart) {
			if rng.IntN(2) == 0 {
				_ = p.cmd.Process.Kill()
				p.wait(5 * time.Second)
			} else {
				p.stop(t)
			}
			kills++
			p = w.startWorker()
			nextRestart = time.Now().Add(time.Duration(20+rng.IntN(20)) * time.Second)
		}
	}
	w.sim.SetFaults(casesim.Faults{})
	w.waitEmpty(5 * time.Minute)
	p.stop(t)
	dups := account(t, msgs, applied(w.sim), w.drainDLQ())
	t.Logf("soak %s: %d messages, %d restarts, %d duplicates", *soakDuration, len(msgs), kills, dups)
}
