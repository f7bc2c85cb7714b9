// Package retry decides what to do after a failed Connect Cases call: it
// classifies the error, produces full-jitter exponential backoff, paces every
// call of the process through one adaptive rate limiter, and opens a circuit
// when access is denied again and again.
//
// The package holds policy only; it makes no calls itself. The consumer core
// asks [Limiter.Wait] before each UpdateCase, reports the result to the
// limiter and the [Circuit], and uses [Classify] and [NewBackoff] to choose
// between retrying in process, RetryLater and the dead-letter queue.
package retry
