// Package bench is casebridge's benchmark harness: it measures the worker and
// the Lambda against the physical limit of the same machine, in one run.
//
// Its one job is to start the real pieces as separate processes (goaws, the
// Cases simulator, the worker binary, the Lambda bootstrap under the Runtime
// Interface Emulator), drive each scenario of docs/benchmarks.md through them
// with the ordinary AWS SDK, and turn what it observes into Results. Figures
// are only comparable within one run: the machines are shared and noisy, so
// every target that depends on the machine is stated relative to a ceiling
// measured in the same run.
package bench
