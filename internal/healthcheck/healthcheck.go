// Package healthcheck probes a casebridge HTTP health endpoint from inside
// the container, because the runtime image has no shell and no curl for an
// ECS or Docker HEALTHCHECK to call.
package healthcheck

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"
)

// DefaultURL is what `worker healthcheck` probes when given no --url: the
// worker's default CASEBRIDGE_HTTP_ADDR (:8080) seen from inside the task.
const DefaultURL = "http://127.0.0.1:8080/healthz"

// StatusError reports a probe that got an answer, but not a 2xx one.
type StatusError struct {
	URL        string
	StatusCode int
}

func (e *StatusError) Error() string {
	return fmt.Sprintf("healthcheck: %s answered %d %s", e.URL, e.StatusCode, http.StatusText(e.StatusCode))
}

// Probe sends one GET to url and returns nil when it answers 2xx within
// timeout. Any other status yields a *StatusError; a transport failure or an
// expired deadline is returned wrapped. A timeout <= 0 means only ctx bounds
// the probe.
func Probe(ctx context.Context, url string, timeout time.Duration) error {
	if timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return fmt.Errorf("healthcheck: %w", err)
	}
	// A fresh client per probe: the probe runs once per process, so pooling
	// buys nothing, and keep-alives would only leave an idle socket behind.
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true, Proxy: nil}}
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("healthcheck: GET %s: %w", url, err)
	}
	defer resp.Body.Close()
	// Read a little of the body so a server that writes slowly still counts
	// against the timeout, but never an unbounded amount.
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return &StatusError{URL: url, StatusCode: resp.StatusCode}
	}
	return nil
}

// URLFromAddr turns a listen address such as CASEBRIDGE_HTTP_ADDR (":8080",
// "0.0.0.0:9090", "[::]:8080") into the /healthz URL a probe in the same
// network namespace should call: a wildcard or empty host becomes loopback.
func URLFromAddr(addr string) (string, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", fmt.Errorf("healthcheck: listen address %q: %w", addr, err)
	}
	if port == "" {
		return "", fmt.Errorf("healthcheck: listen address %q: %w", addr, errors.New("missing port"))
	}
	switch host {
	case "", "0.0.0.0":
		host = "127.0.0.1"
	case "::":
		host = "::1"
	}
	return "http://" + net.JoinHostPort(host, port) + "/healthz", nil
}
