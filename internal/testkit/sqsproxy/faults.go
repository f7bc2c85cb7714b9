package sqsproxy

import (
	"context"
	"strings"
)

// failRule answers matching calls with an error instead of forwarding them.
type failRule struct {
	action   string
	queueSub string
	status   int
	code     string
	left     int // calls still to fail; negative: every call
}

// Down switches the simulated outage: while down, every new connection attempt
// or request is dropped without an answer and calls in flight (long polls
// included) are cut. Down(false) restores service; state (queues, receive
// counts) survives the outage, as SQS's would.
func (p *Proxy) Down(down bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.down = down
	if !down {
		return
	}
	for id, cancel := range p.active {
		cancel()
		delete(p.active, id)
	}
}

// FailAction makes the next n calls of action (e.g. "SendMessage") whose queue
// URL (or queue name) contains queueURLSubstring fail with status and the SQS
// error code (e.g. 500, "InternalError"; 400, "KmsThrottled"); n < 0 fails
// every matching call until ClearFaults. An empty substring matches every
// queue. Rules are checked in the order they were added. Failed calls never
// reach the upstream server, and count in Calls.
//
// It matches the action the client called: a fault on "SendMessage" does not
// affect "SendMessageBatch" entries.
func (p *Proxy) FailAction(action, queueURLSubstring string, status int, code string, n int) {
	if n == 0 {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.rules = append(p.rules, &failRule{action: action, queueSub: queueURLSubstring, status: status, code: code, left: n})
}

// ClearFaults removes every FailAction rule and ends an outage.
func (p *Proxy) ClearFaults() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.rules = nil
	p.down = false
}

// Calls returns how many SQS calls of action reached the proxy (failed by a
// FailAction rule or forwarded); calls dropped by Down are not counted, as a
// server that is unreachable never sees them.
func (p *Proxy) Calls(action string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.calls[action]
}

// fault counts the call and returns the rule that fails it, if any.
func (p *Proxy) fault(action, queue string) (failRule, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.calls[action]++
	for i, r := range p.rules {
		if r.action != action || !strings.Contains(queue, r.queueSub) {
			continue
		}
		hit := *r
		if r.left > 0 {
			r.left--
			if r.left == 0 {
				p.rules = append(p.rules[:i:i], p.rules[i+1:]...)
			}
		}
		return hit, true
	}
	return failRule{}, false
}

// cancelled reports whether ctx ended, for the proxy's own upstream calls.
func cancelled(ctx context.Context) bool { return ctx.Err() != nil }
