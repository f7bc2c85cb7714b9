// Package casesim simulates the Amazon Connect Cases REST API closely enough
// that the real AWS SDK cannot tell it from the service, so integration
// tests, benchmarks and demos can run without AWS.
//
// It speaks rest-json as the service does (paths, methods, shapes, error
// status codes, X-Amzn-ErrorType headers and bodies), accepts any SigV4
// signature without checking it, validates UpdateCase like the service, and
// injects faults (token-bucket throttling, latency, 500s, 403s, dropped
// connections) that can be changed while it runs. See docs/casesim.md.
package casesim

import (
	"encoding/json"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/connectcases/types"
	"go.uber.org/zap"
	"golang.org/x/time/rate"
)

// Options configures a Server.
type Options struct {
	Faults   Faults
	RandSeed int64 // seeds fault draws and generated ids; 0 = from the clock
	Logger   *zap.Logger

	Region         string // for ARNs; default us-east-1
	AccountID      string // for ARNs; default 123456789012
	UpdateLogLimit int    // keep only the newest N applied updates; 0 = keep all

	// Quotas throttle operations by name ("ListFieldOptions"), a token
	// bucket each, as AWS's per-account quotas do; they apply before Faults
	// and are fixed for the Server's life.
	Quotas map[string]Quota

	// DenyUserArn answers UpdateCase and CreateCase calls whose performedBy
	// names a userArn with 403 AccessDeniedException, as the service does
	// when the caller lacks connect:DescribeUser on that user, so a
	// deployment's choice to allow or forbid userArn can be tested end to
	// end. customEntity is unaffected.
	DenyUserArn bool

	// Limits are the resource quotas (domains, fields, options, templates);
	// zero members take AWS's defaults.
	Limits Limits
}

// AppliedUpdate is one UpdateCase call that succeeded, as applied.
type AppliedUpdate struct {
	DomainID    string
	CaseID      string
	Fields      []types.FieldValue
	PerformedBy types.UserUnion // nil when the call named none
	At          time.Time
}

// Server is the simulator; it implements http.Handler.
type Server struct {
	log         *zap.Logger
	region      string
	account     string
	logLimit    int
	mux         *http.ServeMux
	faults      atomic.Pointer[faultState]
	faultsMu    sync.Mutex // serialises SetFaults so limiter reuse sees the latest state
	quotas      map[string]*rate.Limiter
	limits      Limits
	denyUserArn bool

	rngMu sync.Mutex
	rng   *rand.Rand

	mu      sync.RWMutex
	domains map[string]*domain

	logMu   sync.Mutex
	applied []AppliedUpdate

	statsMu sync.Mutex
	stats   map[statKey]int
}

type statKey struct {
	op   string
	code int
}

// Status codes recorded in Stats for calls that got no HTTP answer.
const (
	StatusDropped        = 0   // connection closed by DropRate
	StatusClientCanceled = 499 // the caller went away during injected latency
)

// New returns a Server with no domains; Options.Faults are applied as by
// SetFaults.
func New(opts Options) *Server {
	log := opts.Logger
	if log == nil {
		log = zap.NewNop()
	}
	seed := opts.RandSeed
	if seed == 0 {
		seed = time.Now().UnixNano()
	}
	s := &Server{
		log:         log,
		region:      opts.Region,
		account:     opts.AccountID,
		logLimit:    opts.UpdateLogLimit,
		rng:         rand.New(rand.NewPCG(uint64(seed), uint64(seed)^0x9e3779b97f4a7c15)),
		domains:     map[string]*domain{},
		stats:       map[statKey]int{},
		quotas:      newQuotaLimiters(opts.Quotas),
		limits:      opts.Limits.withDefaults(),
		denyUserArn: opts.DenyUserArn,
	}
	if s.region == "" {
		s.region = "us-east-1"
	}
	if s.account == "" {
		s.account = "123456789012"
	}
	s.SetFaults(opts.Faults)
	s.routes()
	return s
}

// ServeHTTP answers Cases API calls and the /casesim/ control endpoints.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

// SetFaults replaces the fault configuration; calls already past the fault
// stage are not affected. Safe for concurrent use. Settings that fail
// Faults.Validate are clamped into range (and logged); validate first to
// reject them instead, as the HTTP endpoint and cmd/casesim do.
func (s *Server) SetFaults(f Faults) {
	if err := f.Validate(); err != nil {
		s.log.Warn("clamping invalid faults", zap.Error(err))
		f = f.clamped()
	}
	s.faultsMu.Lock()
	defer s.faultsMu.Unlock()
	s.faults.Store(newFaultState(f, s.faults.Load()))
	s.log.Info("faults set", zap.Float64("rate", f.Rate), zap.Int("burst", f.Burst),
		zap.Duration("latency", f.Latency), zap.Duration("latencyJitter", f.LatencyJitter),
		zap.Float64("errorRate", f.ErrorRate), zap.Float64("denyRate", f.DenyRate),
		zap.Float64("dropRate", f.DropRate), zap.Bool("allOperations", f.AllOperations))
}

// Faults returns the current fault configuration.
func (s *Server) Faults() Faults { return s.faults.Load().f }

// CaseFields returns copies of a case's current values, keyed by field id.
func (s *Server) CaseFields(domainID, caseID string) (map[string]types.FieldValueUnion, bool) {
	d := s.domain(domainID)
	if d == nil {
		return nil, false
	}
	d.mu.RLock()
	c := d.cases[caseID]
	d.mu.RUnlock()
	if c == nil {
		return nil, false
	}
	return c.snapshot(), true
}

// AppliedUpdates returns the successful UpdateCase calls in the order they
// were applied (per case, the order of application; across cases, the
// order of the log lock).
func (s *Server) AppliedUpdates() []AppliedUpdate {
	s.logMu.Lock()
	defer s.logMu.Unlock()
	return append([]AppliedUpdate(nil), s.applied...)
}

// Stats returns call counts by operation and status code; dropped
// connections count under StatusDropped (0).
func (s *Server) Stats() map[string]map[int]int {
	s.statsMu.Lock()
	defer s.statsMu.Unlock()
	out := map[string]map[int]int{}
	for k, n := range s.stats {
		if out[k.op] == nil {
			out[k.op] = map[int]int{}
		}
		out[k.op][k.code] = n
	}
	return out
}

// ResetStats zeroes the call counts, e.g. between benchmark phases.
func (s *Server) ResetStats() {
	s.statsMu.Lock()
	defer s.statsMu.Unlock()
	clear(s.stats)
}

func (s *Server) count(op string, code int) {
	s.statsMu.Lock()
	s.stats[statKey{op, code}]++
	s.statsMu.Unlock()
}

func (s *Server) record(u AppliedUpdate) {
	s.logMu.Lock()
	s.applied = append(s.applied, u)
	if s.logLimit > 0 && len(s.applied) > 2*s.logLimit {
		// Trim in bulk so the amortised cost per update stays constant.
		s.applied = append(s.applied[:0:0], s.applied[len(s.applied)-s.logLimit:]...)
	}
	s.logMu.Unlock()
}

func (s *Server) domain(id string) *domain {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.domains[id]
}

func (s *Server) float64() float64 {
	s.rngMu.Lock()
	defer s.rngMu.Unlock()
	return s.rng.Float64()
}

func (s *Server) int64n(n int64) int64 {
	s.rngMu.Lock()
	defer s.rngMu.Unlock()
	return s.rng.Int64N(n)
}

// newID returns a random version-4 UUID, as the service uses for ids.
func (s *Server) newID() string {
	s.rngMu.Lock()
	hi, lo := s.rng.Uint64(), s.rng.Uint64()
	s.rngMu.Unlock()
	return formatUUID(hi, lo)
}

// requestID is the X-Amzn-RequestId of an answer: a version-4 UUID like the
// service's, which callers log and quote to AWS support. It draws from the
// global generator, not s.rng, so answering does not shift the ids a
// RandSeed reproduces, and takes no lock on the hot path.
func requestID() string { return formatUUID(rand.Uint64(), rand.Uint64()) }

func formatUUID(hi, lo uint64) string {
	var b [16]byte
	for i := 0; i < 8; i++ {
		b[i], b[8+i] = byte(hi>>(8*i)), byte(lo>>(8*i))
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	const hexd = "0123456789abcdef"
	out := make([]byte, 0, 36)
	for i, c := range b {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			out = append(out, '-')
		}
		out = append(out, hexd[c>>4], hexd[c&0xf])
	}
	return string(out)
}

func (s *Server) arn(parts ...string) string {
	a := "arn:aws:cases:" + s.region + ":" + s.account + ":domain/" + parts[0]
	for i := 1; i+1 < len(parts); i += 2 {
		a += "/" + parts[i] + "/" + parts[i+1]
	}
	return a
}

var emptyObject = []byte("{}")

func (s *Server) writeJSON(w http.ResponseWriter, status int, body []byte) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("X-Amzn-RequestId", requestID())
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

func (s *Server) writeError(w http.ResponseWriter, e *apiError) {
	w.Header().Set("X-Amzn-ErrorType", e.code)
	if e.retryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(e.retryAfter))
	}
	s.writeJSON(w, e.status, e.body())
}

func writePlainJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}

// readBody reads a request body up to the service's payload limit.
func readBody(w http.ResponseWriter, r *http.Request) ([]byte, *apiError) {
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 6<<20))
	if err != nil {
		return nil, validationf("request body: %v", err)
	}
	return b, nil
}
