package reliability

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/connectcases/types"

	"github.com/casebridge/casebridge/internal/casesim"
)

// graceOverLog starts the warning the worker logs when its shutdown grace
// ends before in-flight work does (internal/worker's GraceOverLog, kept true
// by its TestShutdownGraceCutsStuckWork).
const graceOverLog = "shutdown grace over"

// exitSlack is how long past its shutdown grace a signalled worker may take to
// exit before a test calls it hung: generous, for a loaded machine.
const exitSlack = 30 * time.Second

// stop ends a worker with SIGTERM and requires a clean exit (the worlds' workers
// run with a 5 s grace).
func (p *proc) stop(t *testing.T) {
	t.Helper()
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	if code, exited := p.wait(5*time.Second + exitSlack); !exited || code != 0 {
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
	if !eventually(60*time.Second, func() bool { return appliedCount(w.sim) >= 40 }) {
		t.Fatalf("only %d applied before the kill", appliedCount(w.sim))
	}
	if err := p.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	if _, exited := p.wait(30 * time.Second); !exited {
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
// receiving, finishes in-flight work within the grace period, flushes deletes
// and exits 0; every message applied before the signal is applied exactly
// once (it is never delivered again); a second worker finishes the rest.
//
// "Within the grace" is read from the worker's own log, not from the test's
// clock: the in-flight calls take 30 ms, so the drain must end by itself, and
// a drain the grace had to cut logs the grace-over warning. The exit itself
// gets a generous bound, to catch a hang, not to time a loaded machine.
func TestWorkerSIGTERMMidDrain(t *testing.T) {
	const grace = 10 * time.Second
	w := newWorld(t, 3)
	w.sim.SetFaults(casesim.Faults{Latency: 30 * time.Millisecond})
	msgs := mix(0, 200)
	w.send(msgs)
	p := w.startWorker("CASEBRIDGE_SHUTDOWN_GRACE=" + grace.String())
	if !eventually(60*time.Second, func() bool { return appliedCount(w.sim) >= 40 }) {
		t.Fatalf("only %d applied before the signal", appliedCount(w.sim))
	}
	sigAt := time.Now()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	code, exited := p.wait(grace + exitSlack)
	took := time.Since(sigAt)
	if !exited || code != 0 {
		t.Fatalf("after SIGTERM: exited %v (waited %s), code %d; want exit 0", exited, grace+exitSlack, code)
	}
	out := p.out.String()
	for _, want := range []string{`"draining"`, `"worker stopped"`} {
		if !strings.Contains(out, want) {
			t.Errorf("worker log lacks %s: it did not go through the drain", want)
		}
	}
	if strings.Contains(out, graceOverLog) {
		t.Errorf("the drain ran out its %s grace (exit after %s): in-flight 30 ms calls did not finish by themselves", grace, took)
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

// TestWorkerDownstreamFaults: the simulator fails at once in every way
// Connect Cases can: 10 % 500s and 5 % dropped connections throughout, a 2 s
// latency spike, then a 10-second throttle storm. The worker rides it out and
// every message still ends in its one right place (no valid message is
// dead-lettered, not even as retries-exhausted).
func TestWorkerDownstreamFaults(t *testing.T) {
	w := newWorld(t, 5)
	base := casesim.Faults{ErrorRate: 0.10, DropRate: 0.05}
	spike := base
	spike.Latency = 2 * time.Second
	storm := base
	storm.Rate, storm.Burst = 1, 1
	w.sim.SetFaults(spike)
	msgs := mix(0, 100)
	w.send(msgs)
	p := w.startWorker()
	phase := func(name string, f casesim.Faults, d time.Duration) {
		w.sim.SetFaults(f)
		time.Sleep(d) // the phase's length is the fault itself, not a synchronisation
		t.Logf("after %s: %d applications", name, appliedCount(w.sim))
	}
	phase("2s latency spike", spike, 3*time.Second)
	phase("10s throttle storm", storm, 10*time.Second)
	w.sim.SetFaults(base)
	if appliedCount(w.sim) >= len(msgs)*7/10 {
		t.Fatalf("backlog drained during the faults' start: the storm hit an empty queue")
	}
	stormEnd := time.Now()
	t.Logf("after the storm: %s", metricLines(scrape(t, p.httpAddr), "casebridge_rate_limit_per_second"))
	w.waitEmpty(60 * time.Second)
	t.Logf("drained %s after the storm: %s", time.Since(stormEnd).Round(time.Second), metricLines(scrape(t, p.httpAddr), "casebridge_rate_limit_per_second"))
	if !p.running() {
		t.Fatalf("worker exited during the faults")
	}
	p.stop(t)
	st := w.sim.Stats()["UpdateCase"]
	for _, status := range []int{500, 429, 0} {
		if st[status] == 0 {
			t.Errorf("no UpdateCase answered %d: the fault was not exercised (stats %v)", status, st)
		}
	}
	dups := account(t, msgs, applied(w.sim), w.drainDLQ())
	t.Logf("UpdateCase stats %v; %d messages, %d duplicates", st, len(msgs), dups)
}

// cpuTime is the process's user+system CPU time, from /proc (Linux).
func cpuTime(t *testing.T, pid int) time.Duration {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		t.Fatal(err)
	}
	// Fields after the command name (which may hold spaces) start at ") ".
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+2:]))
	var ut, st int64
	fmt.Sscan(f[11], &ut)                           // utime: field 14 of stat(5)
	fmt.Sscan(f[12], &st)                           // stime: field 15
	return time.Duration(ut+st) * time.Second / 100 // USER_HZ is 100 on Linux
}

// TestWorkerSQSUnreachable: SQS cannot be reached for 10 s (connections reset
// by the TCP fault proxy; goaws keeps its queues). The worker stays up, backs
// off instead of spinning (connection attempts and CPU time are bounded), and
// recovers by itself: nothing is lost.
func TestWorkerSQSUnreachable(t *testing.T) {
	w := newWorld(t, 5)
	w.sim.SetFaults(casesim.Faults{Latency: 30 * time.Millisecond})
	msgs := mix(0, 150)
	w.send(msgs)
	p := w.startWorker()
	if !eventually(60*time.Second, func() bool { return appliedCount(w.sim) >= 30 }) {
		t.Fatalf("only %d applied before the outage", appliedCount(w.sim))
	}
	cpu0, att0 := cpuTime(t, p.cmd.Process.Pid), w.net.Attempts()
	w.net.Down(true)
	time.Sleep(10 * time.Second) // the outage's length is the fault itself
	cpu, att := cpuTime(t, p.cmd.Process.Pid)-cpu0, w.net.Attempts()-att0
	w.net.Down(false)
	if !p.running() {
		t.Fatalf("worker exited during the outage")
	}
	// Two receivers backing off from 200 ms to 10 s, with the SDK's 3 attempts
	// per call, heartbeats, deletes and DLQ sends of the 16 messages in flight:
	// a few hundred attempts at most. A spinning client makes thousands.
	if att > 400 {
		t.Errorf("%d connection attempts in the 10 s outage: the worker spins", att)
	}
	if cpu > 2*time.Second {
		t.Errorf("%s CPU in the 10 s outage: the worker spins", cpu)
	}
	w.waitEmpty(60 * time.Second)
	p.stop(t)
	dups := account(t, msgs, applied(w.sim), w.drainDLQ())
	t.Logf("outage: %d connection attempts, %s CPU; %d messages, %d duplicates", att, cpu, len(msgs), dups)
}

// TestWorkerDLQRefusing: the DLQ refuses every send for a while. Messages that
// should be dead-lettered are not deleted (they stay on the source queue), and
// reach the DLQ, with their reason, once it recovers.
func TestWorkerDLQRefusing(t *testing.T) {
	w := newWorld(t, 5)
	w.proxy.FailAction("SendMessage", "dlq", 500, "InternalError", -1)
	msgs := mix(0, 60)
	w.send(msgs)
	toDLQ := 0
	for _, m := range msgs {
		if m.kind != kValid {
			toDLQ++
		}
	}
	p := w.startWorker()
	if !eventually(60*time.Second, func() bool {
		return appliedCount(w.sim) >= len(msgs)-toDLQ && w.proxy.Calls("SendMessage") >= toDLQ
	}) {
		t.Fatalf("%d applied, %d DLQ sends tried", appliedCount(w.sim), w.proxy.Calls("SendMessage"))
	}
	// Deletes of the applied ones are batched: wait for them, then watch the
	// undeliverable ones stay through a few redeliveries (RetryLater is 1 s).
	held := func() bool { v, f := w.depth(); return v+f == toDLQ }
	if !eventually(30*time.Second, held) {
		v, f := w.depth()
		t.Fatalf("source queue holds %d visible + %d in flight while the DLQ refuses, want the %d undeliverable ones", v, f, toDLQ)
	}
	for end := time.Now().Add(3 * time.Second); time.Now().Before(end); time.Sleep(100 * time.Millisecond) {
		if v, f := w.depth(); v+f != toDLQ {
			t.Fatalf("source queue dropped to %d visible + %d in flight while the DLQ refuses: undeliverable messages were deleted", v, f)
		}
	}
	if d := w.drainDLQ(); len(d) != 0 {
		t.Fatalf("%d messages on the DLQ while it refuses sends", len(d))
	}
	w.proxy.ClearFaults()
	w.waitEmpty(30 * time.Second)
	p.stop(t)
	dups := account(t, msgs, applied(w.sim), w.drainDLQ())
	t.Logf("%d DLQ sends refused or made; %d messages, %d duplicates", w.proxy.Calls("SendMessage"), len(msgs), dups)
}
