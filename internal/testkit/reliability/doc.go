// Package reliability proves casebridge's delivery guarantees by counting: it
// runs the real worker binary and the real Lambda bootstrap (under the Runtime
// Interface Emulator) against goaws and the Cases simulator, injects faults
// (kill -9, SIGTERM, downstream errors, SQS outages, DLQ refusals) and hostile
// bodies, and checks that every message ends in exactly one right place.
//
// Everything but the TCP fault proxy lives in _test.go files; see
// docs/testing.md for the guarantees and the test that proves each.
package reliability
