package bench

import (
	"bytes"
	"encoding/json"
	"math"
	"strings"
	"testing"
)

func TestParseGoBench(t *testing.T) {
	out := `goos: linux
BenchmarkMap/raw-2    	    2000	      3693 ns/op	 122.95 MB/s	    1513 B/op	      17 allocs/op
BenchmarkBaseline/encoding-json-unmarshal-raw-2         	    2000	      6011 ns/op	    1647 B/op	      31 allocs/op
BenchmarkNoMem-16 	 100	 12.5 ns/op
PASS
ok  	github.com/casebridge/casebridge/internal/mapper	0.039s`
	got := parseGoBench(out)
	want := []goBench{
		{Name: "BenchmarkMap/raw", NsPerOp: 3693, BytesPerOp: 1513, AllocsPerOp: 17},
		{Name: "BenchmarkBaseline/encoding-json-unmarshal-raw", NsPerOp: 6011, BytesPerOp: 1647, AllocsPerOp: 31},
		{Name: "BenchmarkNoMem", NsPerOp: 12.5},
	}
	if len(got) != len(want) {
		t.Fatalf("got %d results %+v, want %d", len(got), got, len(want))
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("line %d: got %+v, want %+v", i, got[i], want[i])
		}
	}
}

func TestScore(t *testing.T) {
	tests := []struct {
		name  string
		r     Result
		pass  bool
		ratio float64
	}{
		{"at least, met", atLeast("s", "m", 95, 90, "x"), true, 95.0 / 90},
		{"at least, missed", atLeast("s", "m", 45, 90, "x"), false, 0.5},
		{"at most, met", atMost("s", "m", 20, 40, "x"), true, 2},
		{"at most, missed", atMost("s", "m", 80, 40, "x"), false, 0.5},
		{"at most zero, zero measured", atMost("s", "m", 0, 0, "x"), true, math.Inf(1)},
		{"at most zero, one measured", atMost("s", "m", 1, 0, "x"), false, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.r.Pass != tt.pass || math.Abs(tt.r.Ratio-tt.ratio) > 1e-9 && !math.IsInf(tt.ratio, 1) {
				t.Errorf("pass %v ratio %v, want %v %v", tt.r.Pass, tt.r.Ratio, tt.pass, tt.ratio)
			}
		})
	}
}

// A report with an infinite ratio must still be valid JSON, and a failed row
// must fail the run while a miss must not.
func TestReport(t *testing.T) {
	rep := Report{Results: []Result{atMost("s", "dead-lettered", 0, 0, "msgs"), atLeast("s", "rate", 1, 2, "msg/s")}}
	if rep.Failed() {
		t.Error("a miss failed the run")
	}
	var buf bytes.Buffer
	if err := rep.WriteJSON(&buf); err != nil {
		t.Fatal(err)
	}
	var back struct{ Results []struct{ Ratio *float64 } }
	if err := json.Unmarshal(buf.Bytes(), &back); err != nil {
		t.Fatalf("invalid JSON: %v\n%s", err, buf.String())
	}
	if back.Results[0].Ratio != nil || back.Results[1].Ratio == nil || *back.Results[1].Ratio != 0.5 {
		t.Errorf("ratios: %s", buf.String())
	}
	buf.Reset()
	if err := rep.WriteTable(&buf, true); err != nil || !strings.Contains(buf.String(), "| MISS |") {
		t.Errorf("markdown table: %v\n%s", err, buf.String())
	}
	rep.Results = append(rep.Results, failed("x", errString("lost 3 messages")))
	if !rep.Failed() {
		t.Error("a failed scenario did not fail the run")
	}
}

type errString string

func (e errString) Error() string { return string(e) }

// The expected final values of the hot-case scenario are those of applying the
// events one by one: the last value of each field wins.
func TestHotEventsExpectation(t *testing.T) {
	entries, want := hotEvents(2*7, 2) // events 0..13; case 0 gets j = 0..6
	if len(entries) != 14 || len(want) != 2 {
		t.Fatalf("got %d entries, %d cases", len(entries), len(want))
	}
	c0 := want[caseID(0)]
	if c0["priority"]["doubleValue"] != 6.0 || c0["status"]["stringValue"] != "closed" || c0["reason"]["stringValue"] != "r-5" {
		t.Errorf("case 0 expectation: %v", c0)
	}
	for i, en := range entries {
		var m map[string]any
		if err := json.Unmarshal([]byte(*en.MessageBody), &m); err != nil {
			t.Fatalf("entry %d: %v", i, err)
		}
		if m["caseId"] != *en.MessageGroupId {
			t.Errorf("entry %d: group %s, case %v", i, *en.MessageGroupId, m["caseId"])
		}
	}
}

// The fleet scenario reads labelled series from the worker's exposition and
// the counters of the Lambda's EMF lines from the emulator's log.
func TestParseMetricsAndEMF(t *testing.T) {
	m, err := parseMetrics(strings.NewReader(`# HELP casebridge_deletes_total Messages deleted.
# TYPE casebridge_deletes_total counter
casebridge_deletes_total 42
casebridge_updatecase_attempts_total{class="ok"} 40
casebridge_updatecase_attempts_total{class="throttle"} 3
casebridge_rate_limit_per_second +Inf
`))
	if err != nil {
		t.Fatal(err)
	}
	if m[deletesSeries] != 42 || m[okSeries] != 40 || m[throttleSeries] != 3 || !math.IsInf(m["casebridge_rate_limit_per_second"], 1) {
		t.Errorf("parsed %v", m)
	}
	log := `START RequestId: 1
{"Applied":10,"Throttles":3,"DeadLettered":0,"_aws":{"Timestamp":1}}
END RequestId: 1
2026/12/02 INFO batch done
{"Applied":10,"Throttles":0,"_aws":{"Timestamp":2}}
`
	lines := emfLines(log)
	if len(lines) != 2 || lines[0]["Throttles"] != 3 || lines[1]["Applied"] != 10 {
		t.Errorf("EMF lines %v", lines)
	}
}

// Fairness is judged on the lowest instance against half its fair share.
func TestFleetRows(t *testing.T) {
	g := fleetGroup{r: 2, burst: 2, n: 3}
	f := fleetResult{counts: updateCounts{OK: 110, Throttled: 5, All: 115}, seconds: 60, goodput: 110.0 / 60,
		perOK: []float64{0.9, 0.6, 0.32}, perThr: []int{1, 2, 2}}
	rows := fleetRows(g, f)
	if len(rows) != 3 {
		t.Fatalf("%d rows", len(rows))
	}
	if !rows[0].Pass || !rows[1].Pass {
		t.Errorf("goodput %+v, throttled %+v: want pass", rows[0], rows[1])
	}
	if rows[2].Pass || rows[2].Target != 1.0/3 || rows[2].Measured != 0.32 {
		t.Errorf("fairness row %+v: want a miss of 0.32 against 1/3", rows[2])
	}
	if single := fleetRows(fleetGroup{r: 2, burst: 2, n: 1}, f); len(single) != 2 || single[0].Target != 1.9 {
		t.Errorf("single instance rows %+v", single)
	}
}
