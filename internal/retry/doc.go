// Package retry decides what a failed Connect Cases call means and how long to
// wait before the next try: it classifies the error (throttle, transient,
// validation, not-found, forbidden, canceled) and produces full-jitter
// exponential backoff that honours the server's Retry-After.
//
// It makes no calls and keeps no shared state. Whether the process may call
// Cases now (the adaptive rate limiter, the access-denied circuit) is package
// quota's decision.
package retry
