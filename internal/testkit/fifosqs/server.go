// Package fifosqs is an in-memory SQS server for tests and benchmarks that
// serves FIFO queues with the ordering and group-locking rules of real SQS,
// over the same JSON protocol the AWS SDK for Go v2 speaks.
//
// It exists because goaws (the rest of the test bed) hands out one message per
// FIFO group per receive and keeps a single group lock, so it cannot show what
// a consumer does with several messages of one group at once. Standard queues
// are not served: use goaws (internal/testbed) for those.
//
// What is faithful: strict order within a message group; a receive returns up
// to ten messages, filling from one group before the next, as SQS does; no
// message of a group is returned while another of that group is in flight; a
// message whose visibility expires comes back first; receive counts; the
// five-minute deduplication window (explicit ids or content-based); MD5s of
// body and message attributes; long polls that return as soon as a message is
// available; SQS's error shapes, so the SDK decodes typed errors.
// What is not: delays, redrive policies, retention, permissions, tags and
// queue deletion.
package fifosqs

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"
)

const (
	targetPrefix   = "AmazonSQS."
	maxRequestBody = 12 << 20
	accountID      = "000000000000"
)

// Server holds the queues. It is safe for concurrent use.
type Server struct {
	mu     sync.Mutex
	queues map[string]*queue // by name
	seq    uint64            // last sequence number given out, over all queues

	srv *http.Server
}

// NewHandler returns a Server with no queues, to mount on any HTTP server.
// Queue URLs it returns name the Host the client called.
func NewHandler() http.Handler { return newServer() }

func newServer() *Server { return &Server{queues: map[string]*queue{}} }

// Start runs a new server on 127.0.0.1 at a free port and returns it with its
// endpoint (http://127.0.0.1:PORT), for AWS_ENDPOINT_URL_SQS or an SDK
// client's BaseEndpoint. Stop it with Close.
func Start() (*Server, string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, "", fmt.Errorf("fifosqs: listen: %w", err)
	}
	s := newServer()
	s.srv = &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = s.srv.Serve(ln) }()
	return s, "http://" + ln.Addr().String(), nil
}

// Close stops a server made by Start, cutting open connections (long polls
// included).
func (s *Server) Close() error {
	if s.srv == nil {
		return nil
	}
	if err := s.srv.Close(); err != nil {
		return fmt.Errorf("fifosqs: close: %w", err)
	}
	return nil
}

// apiError is an SQS error answer. code is the error shape's name (the JSON
// __type); queryCode, when set, is the older query-protocol code SQS still
// sends in x-amzn-query-error and the SDK reports as ErrorCode.
type apiError struct {
	status          int
	code, queryCode string
	msg             string
}

func (e *apiError) Error() string { return e.code + ": " + e.msg }

func badRequest(code, format string, args ...any) *apiError {
	return &apiError{status: http.StatusBadRequest, code: code, msg: fmt.Sprintf(format, args...)}
}

func noQueue() *apiError {
	return &apiError{status: http.StatusBadRequest, code: "QueueDoesNotExist",
		queryCode: "AWS.SimpleQueueService.NonExistentQueue", msg: "The specified queue does not exist."}
}

// ServeHTTP answers one SQS JSON-protocol call.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	target := r.Header.Get("X-Amz-Target")
	if r.Method != http.MethodPost || !strings.HasPrefix(target, targetPrefix) {
		writeError(w, badRequest("InvalidAction", "fifosqs serves only the SQS JSON protocol (POST with X-Amz-Target: AmazonSQS.<Action>)"))
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxRequestBody))
	if err != nil {
		writeError(w, badRequest("InvalidParameterValue", "read request: %v", err))
		return
	}
	out, err := s.call(r, strings.TrimPrefix(target, targetPrefix), body)
	if err != nil {
		var ae *apiError
		if !errors.As(err, &ae) {
			ae = &apiError{status: http.StatusInternalServerError, code: "InternalError", msg: err.Error()}
		}
		writeError(w, ae)
		return
	}
	writeJSON(w, out)
}

func (s *Server) call(r *http.Request, action string, body []byte) (any, error) {
	decode := func(v any) error {
		if err := json.Unmarshal(body, v); err != nil {
			return badRequest("InvalidParameterValue", "request is not valid JSON for %s: %v", action, err)
		}
		return nil
	}
	switch action {
	case "CreateQueue":
		var in struct {
			QueueName  string
			Attributes map[string]string
		}
		if err := decode(&in); err != nil {
			return nil, err
		}
		return s.createQueue(r.Host, in.QueueName, in.Attributes)
	case "GetQueueUrl":
		var in struct{ QueueName string }
		if err := decode(&in); err != nil {
			return nil, err
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		if s.queues[in.QueueName] == nil {
			return nil, noQueue()
		}
		return map[string]string{"QueueUrl": queueURL(r.Host, in.QueueName)}, nil
	case "GetQueueAttributes":
		var in struct {
			QueueUrl       string
			AttributeNames []string
		}
		if err := decode(&in); err != nil {
			return nil, err
		}
		return s.queueAttributes(in.QueueUrl, in.AttributeNames)
	case "PurgeQueue":
		var in struct{ QueueUrl string }
		if err := decode(&in); err != nil {
			return nil, err
		}
		return s.purge(in.QueueUrl)
	case "SendMessage":
		var in sendInput
		if err := decode(&in); err != nil {
			return nil, err
		}
		return s.send(in.QueueUrl, in)
	case "SendMessageBatch":
		var in struct {
			QueueUrl string
			Entries  []sendInput
		}
		if err := decode(&in); err != nil {
			return nil, err
		}
		return s.sendBatch(in.QueueUrl, in.Entries)
	case "ReceiveMessage":
		var in receiveInput
		if err := decode(&in); err != nil {
			return nil, err
		}
		return s.receive(r, in)
	case "DeleteMessage":
		var in struct{ QueueUrl, ReceiptHandle string }
		if err := decode(&in); err != nil {
			return nil, err
		}
		return struct{}{}, s.deleteMessage(in.QueueUrl, in.ReceiptHandle)
	case "DeleteMessageBatch":
		var in struct {
			QueueUrl string
			Entries  []batchHandle
		}
		if err := decode(&in); err != nil {
			return nil, err
		}
		return s.handleBatch(in.Entries, func(e batchHandle) error { return s.deleteMessage(in.QueueUrl, e.ReceiptHandle) })
	case "ChangeMessageVisibility":
		var in struct {
			QueueUrl, ReceiptHandle string
			VisibilityTimeout       int64
		}
		if err := decode(&in); err != nil {
			return nil, err
		}
		return struct{}{}, s.changeVisibility(in.QueueUrl, in.ReceiptHandle, in.VisibilityTimeout)
	case "ChangeMessageVisibilityBatch":
		var in struct {
			QueueUrl string
			Entries  []batchHandle
		}
		if err := decode(&in); err != nil {
			return nil, err
		}
		return s.handleBatch(in.Entries, func(e batchHandle) error {
			return s.changeVisibility(in.QueueUrl, e.ReceiptHandle, e.VisibilityTimeout)
		})
	}
	return nil, badRequest("UnsupportedOperation", "fifosqs does not implement %s", action)
}

func (s *Server) createQueue(host, name string, attrs map[string]string) (any, error) {
	if !strings.HasSuffix(name, ".fifo") || len(name) > 80 {
		return nil, badRequest("InvalidParameterValue", "fifosqs serves FIFO queues only: the name %q must end in .fifo (at most 80 characters)", name)
	}
	if v, ok := attrs["FifoQueue"]; !ok || v != "true" {
		return nil, badRequest("InvalidAttributeValue", "a queue named .fifo must be created with FifoQueue=true")
	}
	q, err := newQueue(name, attrs)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if old := s.queues[name]; old != nil {
		if old.visibility != q.visibility || old.contentDedup != q.contentDedup {
			return nil, badRequest("QueueNameExists", "A queue already exists with the same name and a different value for attribute(s) VisibilityTimeout or ContentBasedDeduplication")
		}
	} else {
		s.queues[name] = q
	}
	return map[string]string{"QueueUrl": queueURL(host, name)}, nil
}

// queueURL is what SQS's URLs look like; only the last path segment (the
// name) identifies the queue, as clients may reach one server by several
// host names.
func queueURL(host, name string) string { return "http://" + host + "/" + accountID + "/" + name }

// queue returns the queue a URL names. The caller holds s.mu.
func (s *Server) queue(url string) (*queue, error) {
	q := s.queues[url[strings.LastIndexByte(url, '/')+1:]]
	if q == nil {
		return nil, noQueue()
	}
	return q, nil
}

// batchHandle is one entry of DeleteMessageBatch or ChangeMessageVisibilityBatch.
type batchHandle struct {
	Id, ReceiptHandle string
	VisibilityTimeout int64
}

type batchFailure struct {
	Id, Code, Message string
	SenderFault       bool
}

func (s *Server) handleBatch(entries []batchHandle, do func(batchHandle) error) (any, error) {
	ids := make([]string, len(entries))
	for i, e := range entries {
		ids[i] = e.Id
	}
	if err := checkBatch(ids); err != nil {
		return nil, err
	}
	ok, failed := []map[string]string{}, []batchFailure{}
	for _, e := range entries {
		if err := do(e); err != nil {
			failed = append(failed, entryFailure(e.Id, err))
			continue
		}
		ok = append(ok, map[string]string{"Id": e.Id})
	}
	return map[string]any{"Successful": ok, "Failed": failed}, nil
}

func entryFailure(id string, err error) batchFailure {
	var ae *apiError
	if !errors.As(err, &ae) {
		return batchFailure{Id: id, Code: "InternalError", Message: err.Error()}
	}
	return batchFailure{Id: id, Code: ae.code, Message: ae.msg, SenderFault: ae.status < 500}
}

// checkBatch rejects a batch as a whole the way SQS does before it touches
// any entry.
func checkBatch(ids []string) error {
	switch {
	case len(ids) == 0:
		return badRequest("EmptyBatchRequest", "There should be at least one entry in the request.")
	case len(ids) > 10:
		return badRequest("TooManyEntriesInBatchRequest", "Maximum number of entries per request are 10. You have sent %d.", len(ids))
	}
	seen := make(map[string]bool, len(ids))
	for _, id := range ids {
		if !validEntryID(id) {
			return badRequest("InvalidBatchEntryId", "A batch entry id can only contain alphanumeric characters, hyphens and underscores. It can be at most 80 letters long.")
		}
		if seen[id] {
			return badRequest("BatchEntryIdsNotDistinct", "Id %s repeated.", id)
		}
		seen[id] = true
	}
	return nil
}

func validEntryID(id string) bool {
	if id == "" || len(id) > 80 {
		return false
	}
	for _, c := range id {
		if !(c == '-' || c == '_' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') {
			return false
		}
	}
	return true
}

func writeJSON(w http.ResponseWriter, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		writeError(w, &apiError{status: http.StatusInternalServerError, code: "InternalError", msg: "encode response: " + err.Error()})
		return
	}
	w.Header().Set("Content-Type", "application/x-amz-json-1.0")
	w.Header().Set("x-amzn-RequestId", newID())
	_, _ = w.Write(body)
}

// writeError answers in SQS's JSON error shape. The SDK picks the error type
// from __type and, SQS being "awsQueryCompatible", the code from the
// x-amzn-query-error header.
func writeError(w http.ResponseWriter, e *apiError) {
	fault := "Sender"
	if e.status >= 500 {
		fault = "Receiver"
	}
	code := e.queryCode
	if code == "" {
		code = e.code
	}
	body, _ := json.Marshal(map[string]string{"__type": "com.amazonaws.sqs#" + e.code, "message": e.msg})
	w.Header().Set("Content-Type", "application/x-amz-json-1.0")
	w.Header().Set("x-amzn-query-error", code+";"+fault)
	w.Header().Set("x-amzn-RequestId", newID())
	w.WriteHeader(e.status)
	_, _ = w.Write(body)
}
