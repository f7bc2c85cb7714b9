package casesim_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/connectcases"
	"github.com/aws/aws-sdk-go-v2/service/connectcases/types"
	"github.com/aws/smithy-go"

	"github.com/casebridge/casebridge/internal/casesim"
	"github.com/casebridge/casebridge/internal/testkit/poll"
)

func (h *harness) update(ctx context.Context) error {
	_, err := h.client.UpdateCase(ctx, &connectcases.UpdateCaseInput{DomainId: aws.String(demoDomain), CaseId: aws.String(demoCase1),
		Fields: []types.FieldValue{fv("status", str("pending"))}})
	return err
}

func TestThrottleBurst(t *testing.T) {
	// One token per 20 s: the four calls cannot outlast a refill, however loaded the machine.
	h := newHarness(t, casesim.Options{Faults: casesim.Faults{Rate: 0.05, Burst: 3}}, true)
	ctx := context.Background()
	for i := range 3 {
		if err := h.update(ctx); err != nil {
			t.Fatalf("call %d within burst: %v", i, err)
		}
	}
	var te *types.ThrottlingException
	if err := h.update(ctx); !errors.As(err, &te) {
		t.Fatalf("call past burst: err = %T %v, want *types.ThrottlingException", err, err)
	}
	if st := h.sim.Stats()["UpdateCase"]; st[200] != 3 || st[429] != 1 {
		t.Errorf("stats = %v", st)
	}
	// GetCase is not rate limited.
	for range 5 {
		if _, err := h.client.GetCase(ctx, &connectcases.GetCaseInput{DomainId: aws.String(demoDomain), CaseId: aws.String(demoCase1),
			Fields: []types.FieldIdentifier{{Id: aws.String("status")}}}); err != nil {
			t.Fatal(err)
		}
	}
}

// TestThrottleRate drives the bucket from several goroutines and checks the
// admitted count matches rate × time + burst.
func TestThrottleRate(t *testing.T) {
	const rate, burst = 40.0, 2
	h := newHarness(t, casesim.Options{Faults: casesim.Faults{Rate: rate, Burst: burst}}, true)
	ctx := context.Background()
	var ok, throttled, other atomic.Int64
	// A full second of demand: a scheduling stall of a loaded machine costs
	// the admitted count only what the bucket (burst 2) cannot store meanwhile.
	const window = time.Second
	start := time.Now()
	deadline := start.Add(window)
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(deadline) {
				var te *types.ThrottlingException
				switch err := h.update(ctx); {
				case err == nil:
					ok.Add(1)
				case errors.As(err, &te):
					throttled.Add(1)
				default:
					other.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start).Seconds()
	maxOK := burst + rate*elapsed + 1
	minOK := rate * window.Seconds() * 0.6 // most of the window's share: a bucket refilling at half the rate fails
	if n := float64(ok.Load()); n > maxOK || n < minOK {
		t.Errorf("admitted %v calls in %.2fs at rate %v burst %d; want within [%.0f, %.0f]", n, elapsed, rate, burst, minOK, maxOK)
	}
	if throttled.Load() == 0 || other.Load() != 0 {
		t.Errorf("throttled %d, other errors %d", throttled.Load(), other.Load())
	}
}

// TestThrottleStormMidRun turns throttling on and off while a client runs,
// as the worker's adaptive-limiter tests do.
func TestThrottleStormMidRun(t *testing.T) {
	h := newHarness(t, casesim.Options{}, true)
	ctx := context.Background()
	if err := h.update(ctx); err != nil {
		t.Fatal(err)
	}
	h.sim.SetFaults(casesim.Faults{Rate: 0.001, Burst: 1})
	var te *types.ThrottlingException
	_ = h.update(ctx) // the one token
	if err := h.update(ctx); !errors.As(err, &te) {
		t.Fatalf("during storm: %v, want ThrottlingException", err)
	}
	h.sim.SetFaults(casesim.Faults{})
	if err := h.update(ctx); err != nil {
		t.Fatalf("after storm: %v", err)
	}
	if err := (casesim.Faults{ErrorRate: 0.7, DenyRate: 0.7}).Validate(); err == nil {
		t.Error("Validate accepted fractions summing above 1")
	}
	h.sim.SetFaults(casesim.Faults{ErrorRate: 2, Latency: -time.Second})
	if got := h.sim.Faults(); got.ErrorRate != 1 || got.Latency != 0 {
		t.Errorf("invalid faults not clamped: %+v", got)
	}
}

func TestFaults(t *testing.T) {
	tests := []struct {
		name   string
		faults casesim.Faults
		status int
		check  func(t *testing.T, err error)
	}{
		{"error", casesim.Faults{ErrorRate: 1, RetryAfter: 1500 * time.Millisecond}, 500, func(t *testing.T, err error) {
			var ie *types.InternalServerException
			if !errors.As(err, &ie) {
				t.Fatalf("err = %T %v, want *types.InternalServerException", err, err)
			}
			if aws.ToInt32(ie.RetryAfterSeconds) != 2 {
				t.Errorf("RetryAfterSeconds = %v, want 2 (rounded up)", ie.RetryAfterSeconds)
			}
		}},
		{"error without retry-after", casesim.Faults{ErrorRate: 1}, 500, func(t *testing.T, err error) {
			var ie *types.InternalServerException
			if !errors.As(err, &ie) || ie.RetryAfterSeconds != nil {
				t.Fatalf("err = %v, want InternalServerException without RetryAfterSeconds", err)
			}
		}},
		{"deny", casesim.Faults{DenyRate: 1}, 403, func(t *testing.T, err error) {
			var ae *types.AccessDeniedException
			if !errors.As(err, &ae) {
				t.Fatalf("err = %T %v, want *types.AccessDeniedException", err, err)
			}
		}},
		{"drop", casesim.Faults{DropRate: 1}, casesim.StatusDropped, func(t *testing.T, err error) {
			var api smithy.APIError
			if err == nil || errors.As(err, &api) {
				t.Fatalf("err = %v, want a connection error without an API error", err)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, casesim.Options{Faults: tt.faults}, true)
			tt.check(t, h.update(context.Background()))
			if st := h.sim.Stats()["UpdateCase"]; st[tt.status] != 1 || len(st) != 1 {
				t.Errorf("stats = %v, want one call with status %d", st, tt.status)
			}
			if n := len(h.sim.AppliedUpdates()); n != 0 {
				t.Errorf("faulted call applied %d updates", n)
			}
			// Setup and read calls are spared unless AllOperations is set.
			if _, err := h.client.GetCase(context.Background(), &connectcases.GetCaseInput{DomainId: aws.String(demoDomain), CaseId: aws.String(demoCase1),
				Fields: []types.FieldIdentifier{{Id: aws.String("status")}}}); err != nil {
				t.Errorf("GetCase hit by an UpdateCase fault: %v", err)
			}
		})
	}
}

func TestFaultFractions(t *testing.T) {
	h := newHarness(t, casesim.Options{Faults: casesim.Faults{ErrorRate: 0.3, DenyRate: 0.2}}, true)
	const n = 300
	for range n {
		_ = h.update(context.Background())
	}
	st := h.sim.Stats()["UpdateCase"]
	for code, want := range map[int]float64{500: 0.3, 403: 0.2, 200: 0.5} {
		if got := float64(st[code]) / n; got < want-0.1 || got > want+0.1 {
			t.Errorf("status %d: fraction %.2f, want about %.2f (stats %v)", code, got, want, st)
		}
	}
}

func TestAllOperations(t *testing.T) {
	h := newHarness(t, casesim.Options{Faults: casesim.Faults{DenyRate: 1, AllOperations: true}}, true)
	_, err := h.client.GetCase(context.Background(), &connectcases.GetCaseInput{DomainId: aws.String(demoDomain), CaseId: aws.String(demoCase1),
		Fields: []types.FieldIdentifier{{Id: aws.String("status")}}})
	var ae *types.AccessDeniedException
	if !errors.As(err, &ae) {
		t.Fatalf("GetCase with AllOperations: %v, want AccessDeniedException", err)
	}
}

func TestLatency(t *testing.T) {
	const lat = 60 * time.Millisecond
	h := newHarness(t, casesim.Options{Faults: casesim.Faults{Latency: lat, LatencyJitter: 20 * time.Millisecond}}, true)
	start := time.Now()
	if err := h.update(context.Background()); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d < lat {
		t.Errorf("UpdateCase took %v, want at least %v", d, lat)
	}
	// A caller that gives up during the latency gets nothing applied.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	if err := h.update(ctx); err == nil {
		t.Fatal("call with a 10ms deadline succeeded despite 60ms latency")
	}
	poll.WaitFor(t, 30*time.Second, "the simulator to record the canceled call", func() bool {
		return h.sim.Stats()["UpdateCase"][casesim.StatusClientCanceled] == 1
	})
	if n := len(h.sim.AppliedUpdates()); n != 1 {
		t.Errorf("%d updates applied, want 1", n)
	}
}

func httpDo(t *testing.T, method, url, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestControlEndpoints(t *testing.T) {
	h := newHarness(t, casesim.Options{}, true)
	code, body := httpDo(t, http.MethodPut, h.url+"/casesim/faults", `{"rate": 0.001, "burst": 1, "latency": "5ms", "retryAfter": "2s"}`)
	if code != 200 {
		t.Fatalf("PUT faults: %d %s", code, body)
	}
	want := casesim.Faults{Rate: 0.001, Burst: 1, Latency: 5 * time.Millisecond, RetryAfter: 2 * time.Second}
	if got := h.sim.Faults(); got != want {
		t.Fatalf("Faults() = %+v, want %+v", got, want)
	}
	var echoed casesim.Faults
	_, body = httpDo(t, http.MethodGet, h.url+"/casesim/faults", "")
	if err := json.Unmarshal([]byte(body), &echoed); err != nil || echoed != want || !strings.Contains(body, `"5ms"`) {
		t.Fatalf("GET faults = %s (%v)", body, err)
	}
	if code, _ := httpDo(t, http.MethodPut, h.url+"/casesim/faults", `{"latency": "soon"}`); code != 400 {
		t.Errorf("bad duration accepted: %d", code)
	}

	_ = h.update(context.Background())
	_ = h.update(context.Background())
	_, body = httpDo(t, http.MethodGet, h.url+"/casesim/stats", "")
	var stats map[string]map[string]int
	if err := json.Unmarshal([]byte(body), &stats); err != nil || stats["UpdateCase"]["200"] != 1 || stats["UpdateCase"]["429"] != 1 {
		t.Errorf("GET stats = %s (%v)", body, err)
	}

	_, body = httpDo(t, http.MethodGet, h.url+"/casesim/updates", "")
	var ups []struct {
		CaseID string `json:"caseId"`
		Fields []struct {
			ID    string         `json:"id"`
			Value map[string]any `json:"value"`
		} `json:"fields"`
	}
	if err := json.Unmarshal([]byte(body), &ups); err != nil || len(ups) != 1 || ups[0].CaseID != demoCase1 || ups[0].Fields[0].Value["stringValue"] != "pending" {
		t.Errorf("GET updates = %s (%v)", body, err)
	}

	code, body = httpDo(t, http.MethodGet, h.url+"/casesim/domains/"+demoDomain+"/cases/"+demoCase1, "")
	if code != 200 || !strings.Contains(body, `"status": {`) || !strings.Contains(body, `"stringValue": "pending"`) {
		t.Errorf("GET case = %d %s", code, body)
	}
	if code, _ := httpDo(t, http.MethodGet, h.url+"/casesim/domains/"+demoDomain+"/cases/"+noSuchCase, ""); code != 404 {
		t.Errorf("GET unknown case = %d", code)
	}
}

// TestQuotas throttles a catalog operation as AWS's per-account quota does:
// past the burst, 429 ThrottlingException, counted per operation; other
// operations are not limited.
func TestQuotas(t *testing.T) {
	h := newHarness(t, casesim.Options{Quotas: map[string]casesim.Quota{"ListFields": {Rate: 0.01, Burst: 2}}}, true)
	ctx := context.Background()
	list := func() error {
		_, err := h.client.ListFields(ctx, &connectcases.ListFieldsInput{DomainId: aws.String(demoDomain)})
		return err
	}
	for i := range 2 {
		if err := list(); err != nil {
			t.Fatalf("call %d within burst: %v", i, err)
		}
	}
	var te *types.ThrottlingException
	if err := list(); !errors.As(err, &te) {
		t.Fatalf("call past burst: err = %T %v, want *types.ThrottlingException", err, err)
	}
	for range 3 {
		if _, err := h.client.BatchGetField(ctx, &connectcases.BatchGetFieldInput{DomainId: aws.String(demoDomain),
			Fields: []types.FieldIdentifier{{Id: aws.String("status")}}}); err != nil {
			t.Fatalf("BatchGetField has no quota: %v", err)
		}
	}
	st := h.sim.Stats()
	if st["ListFields"][200] != 2 || st["ListFields"][429] != 1 || st["BatchGetField"][429] != 0 {
		t.Errorf("stats = %v", st)
	}
}
