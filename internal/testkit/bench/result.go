package bench

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"strings"
	"text/tabwriter"
)

// Result is one row of the report: one measured figure against its target.
type Result struct {
	Scenario string `json:"scenario"`
	Metric   string `json:"metric"`
	// Target and Measured are in Unit; Higher says which way is better.
	Target   float64 `json:"target"`
	Measured float64 `json:"measured"`
	Unit     string  `json:"unit"`
	Higher   bool    `json:"higherIsBetter"`
	// Ratio is how much of the target was achieved: measured/target when
	// higher is better, target/measured otherwise; ≥ 1 means met.
	Ratio float64 `json:"ratio"`
	Pass  bool    `json:"pass"`
	// Info marks a figure reported for context, with no target of its own.
	Info bool `json:"info,omitempty"`
	// Err is set when the scenario did not run or lost messages: the run fails.
	Err     string         `json:"error,omitempty"`
	Note    string         `json:"note,omitempty"`
	Details map[string]any `json:"details,omitempty"`
}

// atLeast and atMost build a row with a target; info builds one without.
func atLeast(scenario, metric string, measured, target float64, unit string) Result {
	return score(Result{Scenario: scenario, Metric: metric, Measured: measured, Target: target, Unit: unit, Higher: true})
}

func atMost(scenario, metric string, measured, target float64, unit string) Result {
	return score(Result{Scenario: scenario, Metric: metric, Measured: measured, Target: target, Unit: unit})
}

func info(scenario, metric string, measured float64, unit string) Result {
	return Result{Scenario: scenario, Metric: metric, Measured: measured, Unit: unit, Info: true, Pass: true}
}

func failed(scenario string, err error) Result {
	return Result{Scenario: scenario, Metric: "run", Err: err.Error()}
}

func score(r Result) Result {
	switch {
	case r.Higher && r.Target > 0:
		r.Ratio = r.Measured / r.Target
	case !r.Higher && r.Measured > 0:
		r.Ratio = r.Target / r.Measured
	case !r.Higher: // measured 0 against an upper bound: met by any margin
		r.Ratio = math.Inf(1)
	}
	r.Pass = r.Ratio >= 1
	return r
}

// Report is what the harness prints and writes with --json.
type Report struct {
	Command string         `json:"command"`
	Machine map[string]any `json:"machine"`
	Started string         `json:"started"`
	Seconds float64        `json:"seconds"`
	Results []Result       `json:"results"`
}

// Failed reports whether any scenario failed to run or lost messages.
func (r Report) Failed() bool {
	for _, x := range r.Results {
		if x.Err != "" {
			return true
		}
	}
	return false
}

// WriteJSON writes the report as indented JSON. Infinite ratios (an upper bound
// met with a zero measurement) become null, which JSON can carry.
func (r Report) WriteJSON(w io.Writer) error {
	type row struct {
		Result
		Ratio *float64 `json:"ratio"`
	}
	out := struct {
		Report
		Results []row `json:"results"`
	}{Report: r}
	for _, x := range r.Results {
		rr := row{Result: x}
		if !math.IsInf(x.Ratio, 0) && !math.IsNaN(x.Ratio) {
			v := x.Ratio
			rr.Ratio = &v
		}
		out.Results = append(out.Results, rr)
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}

// WriteTable prints the rows as an aligned table (Markdown-compatible when
// markdown is true, for docs/benchmarks.md).
func (r Report) WriteTable(w io.Writer, markdown bool) error {
	head := []string{"scenario", "metric", "target", "measured", "ratio", "result"}
	var rows [][]string
	for _, x := range r.Results {
		rows = append(rows, x.cells())
	}
	if markdown {
		fmt.Fprintf(w, "| %s |\n|%s\n", strings.Join(head, " | "), strings.Repeat("---|", len(head)))
		for _, c := range rows {
			fmt.Fprintf(w, "| %s |\n", strings.Join(c, " | "))
		}
		return nil
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, strings.Join(head, "\t"))
	for _, c := range rows {
		fmt.Fprintln(tw, strings.Join(c, "\t"))
	}
	return tw.Flush()
}

func (x Result) cells() []string {
	if x.Err != "" {
		return []string{x.Scenario, x.Metric, "", "", "", "FAILED: " + x.Err}
	}
	m := num(x.Measured) + " " + x.Unit
	if x.Note != "" {
		m += " (" + x.Note + ")"
	}
	if x.Info {
		return []string{x.Scenario, x.Metric, "—", m, "", "info"}
	}
	op := "≤ "
	if x.Higher {
		op = "≥ "
	}
	ratio := "∞"
	if !math.IsInf(x.Ratio, 0) {
		ratio = fmt.Sprintf("%.2f", x.Ratio)
	}
	verdict := "pass"
	if !x.Pass {
		verdict = "MISS"
	}
	return []string{x.Scenario, x.Metric, op + num(x.Target) + " " + x.Unit, m, ratio, verdict}
}

// num prints a figure with as many digits as it deserves.
func num(v float64) string {
	switch a := math.Abs(v); {
	case a == 0 || a >= 100:
		return fmt.Sprintf("%.0f", v)
	case a >= 10:
		return fmt.Sprintf("%.1f", v)
	default:
		return fmt.Sprintf("%.2f", v)
	}
}
