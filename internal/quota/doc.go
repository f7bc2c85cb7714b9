// Package quota decides whether casebridge may call Connect Cases now. Its
// Limiter paces every call of the process to the rate the account's quota
// allows, finding that rate from throttles; its Circuit pauses everything
// while access is denied again and again.
//
// The consumer core asks [Limiter.Wait] before each call and reports each
// call's result to both; package retry says what the result was.
package quota
