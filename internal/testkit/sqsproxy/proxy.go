package sqsproxy

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
)

// targetPrefix starts the X-Amz-Target header of every SQS JSON-protocol call.
const targetPrefix = "AmazonSQS."

// maxRequestBody bounds what the proxy buffers; SQS's own limit is 1 MiB per
// message, and a batch adds little on top.
const maxRequestBody = 12 << 20

// Proxy forwards SQS JSON-protocol calls to an upstream server (goaws) and
// rewrites them for fidelity; anything else (e.g. SNS query calls) passes
// through unchanged. It is safe for concurrent use; all fault switches take
// effect for the next call.
type Proxy struct {
	upstream *url.URL
	rp       *httputil.ReverseProxy
	client   *http.Client // for the calls the proxy makes itself

	mu       sync.Mutex
	down     bool
	active   map[uint64]context.CancelFunc // in-flight calls, cut when Down(true)
	nextID   uint64
	rules    []*failRule
	calls    map[string]int
	messages map[string]*messageState // by MessageId
	dedup    map[string]dedupEntry    // by queue name + dedup id
	seq      uint64

	srv *http.Server
}

type ctxKey struct{}

// call is what the response rewriter needs to know about the request.
type call struct {
	action string
	req    map[string]json.RawMessage
}

// New returns a proxy for upstream, an SQS endpoint such as goaws's
// http://127.0.0.1:PORT.
func New(upstream string) (*Proxy, error) {
	u, err := url.Parse(upstream)
	if err != nil {
		return nil, fmt.Errorf("sqsproxy: upstream %q: %w", upstream, err)
	}
	if u.Scheme == "" || u.Host == "" {
		return nil, fmt.Errorf("sqsproxy: upstream %q is not an absolute URL", upstream)
	}
	p := &Proxy{
		upstream: u,
		client:   &http.Client{Timeout: 30 * time.Second},
		active:   map[uint64]context.CancelFunc{},
		calls:    map[string]int{},
		messages: map[string]*messageState{},
		dedup:    map[string]dedupEntry{},
	}
	p.rp = &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(u)
			// Let the proxy's transport negotiate compression itself so the
			// rewriter always sees plain JSON.
			pr.Out.Header.Del("Accept-Encoding")
		},
		ModifyResponse: p.modifyResponse,
		ErrorHandler:   p.upstreamError,
	}
	return p, nil
}

// Start runs a new proxy for upstream on 127.0.0.1 at a free port and returns
// it with its endpoint (http://127.0.0.1:PORT). Stop it with Close.
func Start(upstream string) (*Proxy, string, error) {
	p, err := New(upstream)
	if err != nil {
		return nil, "", err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, "", fmt.Errorf("sqsproxy: listen: %w", err)
	}
	p.srv = &http.Server{Handler: p, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = p.srv.Serve(ln) }()
	return p, "http://" + ln.Addr().String(), nil
}

// Close stops a proxy made by Start, cutting open connections.
func (p *Proxy) Close() error {
	if p.srv == nil {
		return nil
	}
	if err := p.srv.Close(); err != nil {
		return fmt.Errorf("sqsproxy: close: %w", err)
	}
	return nil
}

// ServeHTTP handles one client call.
func (p *Proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	ctx, done, ok := p.begin(r.Context())
	if !ok {
		refuse(w)
		return
	}
	defer done()
	r = r.WithContext(ctx)

	target := r.Header.Get("X-Amz-Target")
	if !strings.HasPrefix(target, targetPrefix) {
		p.rp.ServeHTTP(w, r)
		return
	}
	action := strings.TrimPrefix(target, targetPrefix)
	body, err := io.ReadAll(io.LimitReader(r.Body, maxRequestBody))
	if err != nil {
		writeError(w, http.StatusBadRequest, "InvalidParameterValue", "sqsproxy: read request: "+err.Error())
		return
	}
	var req map[string]json.RawMessage
	if err := json.Unmarshal(body, &req); err != nil {
		writeError(w, http.StatusBadRequest, "InvalidParameterValue", "sqsproxy: request is not a JSON object: "+err.Error())
		return
	}

	if f, hit := p.fault(action, queueOf(req)); hit {
		writeError(w, f.status, f.code, fmt.Sprintf("sqsproxy: injected fault on %s", action))
		return
	}

	switch action {
	case "SendMessageBatch":
		p.sendMessageBatch(ctx, w, req)
		return
	case "ChangeMessageVisibilityBatch":
		p.changeVisibilityBatch(ctx, w, req)
		return
	case "SendMessage":
		if out, dup := p.duplicate(req); dup {
			writeJSON(w, out)
			return
		}
	case "ChangeMessageVisibility":
		if fixed, changed := fifoVisibilityZero(req); changed {
			body, _ = json.Marshal(fixed)
		}
	case "GetQueueAttributes":
		if fixed, changed := askNotVisible(req); changed {
			body, _ = json.Marshal(fixed)
		}
	}

	r.Body = io.NopCloser(bytes.NewReader(body))
	r.ContentLength = int64(len(body))
	r.Header.Set("Content-Length", strconv.Itoa(len(body)))
	r = r.WithContext(context.WithValue(ctx, ctxKey{}, &call{action: action, req: req}))
	p.rp.ServeHTTP(w, r)
}

// begin registers an in-flight call so Down can cut it; ok is false while the
// proxy is down. The call also counts toward Calls.
func (p *Proxy) begin(parent context.Context) (ctx context.Context, done func(), ok bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.down {
		return nil, nil, false
	}
	ctx, cancel := context.WithCancel(parent)
	p.nextID++
	id := p.nextID
	p.active[id] = cancel
	return ctx, func() {
		p.mu.Lock()
		delete(p.active, id)
		p.mu.Unlock()
		cancel()
	}, true
}

func (p *Proxy) modifyResponse(resp *http.Response) error {
	c, _ := resp.Request.Context().Value(ctxKey{}).(*call)
	if c == nil || resp.StatusCode != http.StatusOK {
		return nil
	}
	var rewrite func(*call, []byte) ([]byte, error)
	switch c.action {
	case "SendMessage":
		rewrite = p.rewriteSend
	case "ReceiveMessage":
		rewrite = p.rewriteReceive
	case "DeleteMessage", "DeleteMessageBatch":
		rewrite = p.rewriteDelete
	case "GetQueueAttributes":
		rewrite = rewriteQueueAttributes
	default:
		return nil
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return fmt.Errorf("sqsproxy: read upstream %s response: %w", c.action, err)
	}
	out, err := rewrite(c, body)
	if err != nil {
		return fmt.Errorf("sqsproxy: rewrite %s response: %w", c.action, err)
	}
	resp.Body = io.NopCloser(bytes.NewReader(out))
	resp.ContentLength = int64(len(out))
	resp.Header.Set("Content-Length", strconv.Itoa(len(out)))
	return nil
}

// upstreamError answers when the upstream call failed. While the proxy is down
// the client must see a dropped connection, not a tidy 502.
func (p *Proxy) upstreamError(w http.ResponseWriter, r *http.Request, err error) {
	if p.isDown() || errors.Is(err, context.Canceled) {
		refuse(w)
		return
	}
	writeError(w, http.StatusBadGateway, "ServiceUnavailable", "sqsproxy: upstream: "+err.Error())
}

func (p *Proxy) isDown() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.down
}

// refuse drops the client's connection without an answer, with a TCP reset
// where possible, the way an unreachable endpoint looks to the SDK.
func refuse(w http.ResponseWriter) {
	hj, ok := w.(http.Hijacker)
	if !ok {
		// HTTP/2 or a recorder: the closest thing is aborting the handler.
		panic(http.ErrAbortHandler)
	}
	conn, _, err := hj.Hijack()
	if err != nil {
		panic(http.ErrAbortHandler)
	}
	if tc, ok := conn.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
	_ = conn.Close()
}

// queueOf returns the queue a call addresses (QueueUrl, or QueueName for
// GetQueueUrl/CreateQueue), "" for calls such as ListQueues.
func queueOf(req map[string]json.RawMessage) string {
	for _, k := range []string{"QueueUrl", "QueueName"} {
		if s := str(req[k]); s != "" {
			return s
		}
	}
	return ""
}

// queueName is the last path segment of a queue URL, the identity goaws uses
// too (the URL's host varies with how a client resolved it).
func queueName(queueURL string) string {
	return queueURL[strings.LastIndexByte(queueURL, '/')+1:]
}

func isFIFO(queueURL string) bool { return strings.HasSuffix(queueURL, ".fifo") }

// str decodes a JSON string, "" when absent or not a string.
func str(raw json.RawMessage) string {
	var s string
	if len(raw) == 0 || json.Unmarshal(raw, &s) != nil {
		return ""
	}
	return s
}

func writeJSON(w http.ResponseWriter, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		writeError(w, http.StatusInternalServerError, "InternalError", "sqsproxy: encode response: "+err.Error())
		return
	}
	w.Header().Set("Content-Type", "application/x-amz-json-1.0")
	w.Header().Set("x-amzn-RequestId", "00000000-0000-0000-0000-00000000cafe")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(body)
}

// writeError answers with SQS's JSON error shape. The query-error header is
// what the SDK (SQS is "awsQueryCompatible") reports as the error code.
func writeError(w http.ResponseWriter, status int, code, msg string) {
	fault := "Sender"
	if status >= 500 {
		fault = "Receiver"
	}
	body, _ := json.Marshal(map[string]string{"__type": "com.amazonaws.sqs#" + code, "message": msg})
	w.Header().Set("Content-Type", "application/x-amz-json-1.0")
	w.Header().Set("x-amzn-query-error", code+";"+fault)
	w.Header().Set("x-amzn-RequestId", "00000000-0000-0000-0000-00000000fa17")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}
