package bench

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/casebridge/casebridge/internal/testkit/testbed"
)

// workerProc is one run of the real cmd/worker binary.
type workerProc struct {
	*proc
	base string // http://127.0.0.1:PORT of /healthz and /metrics
}

// startWorker runs the worker against url (SQS at sqsEndpoint) and waits for
// /healthz. extra holds more KEY=VALUE settings.
func (e *env) startWorker(ctx context.Context, name, sqsEndpoint, url, dlq string, extra ...string) (*workerProc, error) {
	return e.startWorkerAt(ctx, name, sqsEndpoint, e.simURL, url, dlq, extra...)
}

// startWorkerAt is startWorker against the simulator at simURL.
func (e *env) startWorkerAt(ctx context.Context, name, sqsEndpoint, simURL, url, dlq string, extra ...string) (*workerProc, error) {
	port, err := testbed.FreePort()
	if err != nil {
		return nil, err
	}
	envv := append(baseEnv(e.dir),
		"AWS_ENDPOINT_URL_SQS="+sqsEndpoint, "AWS_ENDPOINT_URL_CONNECTCASES="+simURL,
		"CASEBRIDGE_QUEUE_URL="+url, "CASEBRIDGE_DLQ_URL="+dlq, "CASEBRIDGE_DOMAIN_ID="+domainID,
		"CASEBRIDGE_HTTP_ADDR=127.0.0.1:"+strconv.Itoa(port), "CASEBRIDGE_SHUTDOWN_GRACE=5s")
	envv = append(append(envv, extra...), e.workerEnv...)
	p, err := startProc(e.dir, name, e.worker, []string{"run"}, envv)
	if err != nil {
		return nil, err
	}
	w := &workerProc{proc: p, base: "http://127.0.0.1:" + strconv.Itoa(port)}
	deadline := time.Now().Add(10 * time.Second)
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, w.base+"/healthz", nil)
		if resp, err := e.http.Do(req); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return w, nil
			}
		}
		select {
		case <-p.exited:
			return nil, fmt.Errorf("worker exited: %s", p.last(2000))
		case <-ctx.Done():
			w.stop(time.Second)
			return nil, ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			w.stop(time.Second)
			return nil, fmt.Errorf("worker not healthy after 10s: %s", p.last(2000))
		}
	}
}

// metric scrapes one unlabelled sample from the worker's /metrics.
func (w *workerProc) metric(ctx context.Context, hc *http.Client, name string) (float64, error) {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, w.base+"/metrics", nil)
	resp, err := hc.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), name+" "); ok {
			return strconv.ParseFloat(strings.TrimSpace(v), 64) // handles +Inf
		}
	}
	return 0, fmt.Errorf("metric %s not found", name)
}

// metrics scrapes every sample of the worker's /metrics, keyed by the
// sample's name with its labels as the exposition prints them, e.g.
// casebridge_updatecase_attempts_total{class="ok"}. A series the worker has
// not created yet (no call of that class so far) is absent, which callers
// read as 0.
func (w *workerProc) metrics(ctx context.Context, hc *http.Client) (map[string]float64, error) {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, w.base+"/metrics", nil)
	resp, err := hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET /metrics: %s", resp.Status)
	}
	return parseMetrics(resp.Body)
}

func parseMetrics(r io.Reader) (map[string]float64, error) {
	out := map[string]float64{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		if i < 0 {
			continue
		}
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			return nil, fmt.Errorf("metrics line %q: %w", line, err)
		}
		out[line[:i]] = v
	}
	return out, sc.Err()
}

// workerDrain is what one worker drain measured.
type workerDrain struct {
	rate    float64 // messages/s
	peakRSS int64   // bytes, VmHWM of the worker at the end
}

// drainWithWorker preloads n messages on a fresh queue and lets the worker
// drain them into the simulator.
func (e *env) drainWithWorker(ctx context.Context, name string, n int, extra ...string) (workerDrain, error) {
	url, dlq, err := e.preloadedQueue(ctx, name, n)
	if err != nil {
		return workerDrain{}, err
	}
	base, err := e.updates(ctx)
	if err != nil {
		return workerDrain{}, err
	}
	w, err := e.startWorker(ctx, name, e.goaws.Endpoint, url, dlq, extra...)
	if err != nil {
		return workerDrain{}, err
	}
	defer w.stop(10 * time.Second)
	d, err := e.observeDrain(ctx, url, base, n, true, time.Time{}, drainTimeout(n))
	if err != nil {
		return workerDrain{}, fmt.Errorf("%w; worker log: %s", err, w.last(1500))
	}
	rss, err := peakRSS(w.pid())
	if err != nil {
		return workerDrain{}, err
	}
	if dl, err := e.depth(ctx, dlq); err != nil || dl != 0 {
		return workerDrain{}, fmt.Errorf("%d messages dead-lettered (%v); worker log: %s", dl, err, w.last(1500))
	}
	return workerDrain{rate: d.rate(n), peakRSS: rss}, nil
}
