package reliability

import (
	"io"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/connectcases/types"

	"github.com/casebridge/casebridge/internal/casesim"
)

// stop ends a worker with SIGTERM and requires a clean exit.
func (p *proc) stop(t *testing.T) {
	t.Helper()
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	if code, exited := p.wait(15 * time.Second); !exited || code != 0 {
		t.Errorf("worker after SIGTERM: exited %v, code %d; want exit 0", exited, code)
	}
}

func appliedCount(sim *casesim.Server) int { return len(sim.AppliedUpdates()) }

// TestWorkerKill9MidDrain: the worker is killed with SIGKILL while draining a
// backlog, and a new one is started. Nothing is lost; messages that were
// applied but whose delete had not reached SQS come back and are applied again
// (the duplicates at-least-once allows), and are counted.
func TestWorkerKill9MidDrain(t *testing.T) {
	w := newWorld(t, 3)
	w.sim.SetFaults(casesim.Faults{Latency: 30 * time.Millisecond})
	msgs := mix(0, 200)
	w.send(msgs)
	p := w.startWorker()
	if !eventually(30*time.Second, func() bool { return appliedCount(w.sim) >= 40 }) {
		t.Fatalf("only %d applied before the kill", appliedCount(w.sim))
	}
	if err := p.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	if _, exited := p.wait(5 * time.Second); !exited {
		t.Fatal("worker did not die on SIGKILL")
	}
	atKill := appliedCount(w.sim)
	if atKill >= len(msgs)*7/10 {
		t.Fatalf("%d applied by the kill: the backlog was already drained, the test proves nothing", atKill)
	}
	p2 := w.startWorker()
	w.waitEmpty(60 * time.Second)
	p2.stop(t)
	dups := account(t, msgs, applied(w.sim), w.drainDLQ())
	t.Logf("kill -9 after %d applications; %d messages, %d duplicates", atKill, len(msgs), dups)
}

// TestWorkerSIGTERMMidDrain: SIGTERM while draining: the worker stops
// receiving, finishes in-flight work, flushes deletes and exits 0 within the
// grace period; every message applied before the signal is applied exactly
// once (it is never delivered again); a second worker finishes the rest.
func TestWorkerSIGTERMMidDrain(t *testing.T) {
	const grace = 5 * time.Second
	w := newWorld(t, 3)
	w.sim.SetFaults(casesim.Faults{Latency: 30 * time.Millisecond})
	msgs := mix(0, 200)
	w.send(msgs)
	p := w.startWorker("CASEBRIDGE_SHUTDOWN_GRACE=" + grace.String())
	if !eventually(30*time.Second, func() bool { return appliedCount(w.sim) >= 40 }) {
		t.Fatalf("only %d applied before the signal", appliedCount(w.sim))
	}
	sigAt := time.Now()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	code, exited := p.wait(grace + 5*time.Second)
	took := time.Since(sigAt)
	if !exited || code != 0 {
		t.Fatalf("after SIGTERM: exited %v (waited %s), code %d; want exit 0", exited, grace+5*time.Second, code)
	}
	// The grace bounds in-flight work; a second on top covers the final delete
	// flush and process exit.
	if took > grace+time.Second {
		t.Errorf("exit took %s, want within the %s grace", took, grace)
	}
	before := map[string]bool{}
	for _, u := range w.sim.AppliedUpdates() {
		if u.At.Before(sigAt) {
			for _, f := range u.Fields {
				if v, ok := f.Value.(*types.FieldValueUnionMemberStringValue); ok && *f.Id == "reason" {
					before[v.Value] = true
				}
			}
		}
	}
	if len(before) >= len(msgs)*7/10 {
		t.Fatalf("%d applied before the signal: the backlog was already drained, the test proves nothing", len(before))
	}
	p2 := w.startWorker()
	w.waitEmpty(60 * time.Second)
	p2.stop(t)
	got := applied(w.sim)
	for m := range before {
		if got[m] != 1 {
			t.Errorf("%s was applied before SIGTERM, then %d times in all: it was delivered again", m, got[m])
		}
	}
	dups := account(t, msgs, got, w.drainDLQ())
	t.Logf("SIGTERM after %d applied; exit 0 in %s; %d messages, %d duplicates", len(before), took.Round(time.Millisecond), len(msgs), dups)
}

func scrape(t *testing.T, addr string) string {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

func metricLines(all, name string) []string {
	var out []string
	for _, l := range strings.Split(all, "\n") {
		if strings.HasPrefix(l, name) {
			out = append(out, l)
		}
	}
	return out
}
