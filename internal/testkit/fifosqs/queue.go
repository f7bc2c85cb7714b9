package fifosqs

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

const (
	dedupWindow    = 5 * time.Minute
	maxMessageSize = 1 << 20 // SQS's limit since 2025, body and attributes together
	maxVisibility  = 12 * time.Hour
)

// queue is one FIFO queue. All fields are guarded by Server.mu.
type queue struct {
	name         string
	attrs        map[string]string // as created, returned by GetQueueAttributes
	created      time.Time
	visibility   time.Duration
	contentDedup bool

	groups  map[string]*group
	byID    map[string]*message
	dedup   map[string]dedupEntry
	changed chan struct{} // closed (and replaced) when a receive might now succeed
}

// group is one message group: its messages in send order. Messages are only
// ever received from the front, so those received at least once form a
// prefix, which bounds every scan below.
type group struct {
	id   string
	msgs []*message
}

type message struct {
	id, body, group, dedupID, seq string
	attrs                         map[string]attributeValue
	md5Body, md5Attrs             string
	sent                          time.Time

	receives       int
	firstReceive   time.Time
	invisibleUntil time.Time // zero until first received
	receipt        string    // of the latest receive
}

type dedupEntry struct {
	at       time.Time
	id, seq  string
	md5Attrs string
}

func newQueue(name string, attrs map[string]string) (*queue, error) {
	q := &queue{name: name, attrs: map[string]string{}, created: time.Now(), visibility: 30 * time.Second,
		groups: map[string]*group{}, byID: map[string]*message{}, dedup: map[string]dedupEntry{}, changed: make(chan struct{})}
	for k, v := range attrs {
		q.attrs[k] = v
	}
	if v, ok := attrs["VisibilityTimeout"]; ok {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 || time.Duration(n)*time.Second > maxVisibility {
			return nil, badRequest("InvalidAttributeValue", "Invalid value for the parameter VisibilityTimeout.")
		}
		q.visibility = time.Duration(n) * time.Second
	}
	q.attrs["VisibilityTimeout"] = strconv.Itoa(int(q.visibility / time.Second))
	q.contentDedup = attrs["ContentBasedDeduplication"] == "true"
	q.attrs["ContentBasedDeduplication"] = strconv.FormatBool(q.contentDedup)
	return q, nil
}

// notify wakes every long poll on the queue.
func (q *queue) notify() {
	close(q.changed)
	q.changed = make(chan struct{})
}

// inFlight reports whether any message of g is invisible at now, and when
// the earliest of those becomes visible again.
func (g *group) inFlight(now time.Time) (bool, time.Time) {
	var next time.Time
	for _, m := range g.msgs {
		if m.receives == 0 {
			break
		}
		if m.invisibleUntil.After(now) && (next.IsZero() || m.invisibleUntil.Before(next)) {
			next = m.invisibleUntil
		}
	}
	return !next.IsZero(), next
}

type sendInput struct {
	Id                     string // batch entries only
	QueueUrl               string
	MessageBody            string
	DelaySeconds           int64
	MessageAttributes      map[string]attributeValue
	MessageDeduplicationId string
	MessageGroupId         string
}

func (s *Server) send(url string, in sendInput) (map[string]string, error) {
	if in.MessageBody == "" {
		return nil, badRequest("MissingParameter", "The request must contain the parameter MessageBody.")
	}
	if in.MessageGroupId == "" {
		return nil, badRequest("MissingParameter", "The request must contain the parameter MessageGroupId.")
	}
	if in.DelaySeconds != 0 {
		return nil, badRequest("InvalidParameterValue", "Value %d for parameter DelaySeconds is invalid. Reason: The request include parameter that is not valid for this queue type.", in.DelaySeconds)
	}
	if len(in.MessageAttributes) > 10 {
		return nil, badRequest("InvalidParameterValue", "Number of message attributes [%d] exceeds the allowed maximum [10].", len(in.MessageAttributes))
	}
	size := len(in.MessageBody)
	for name, a := range in.MessageAttributes {
		if err := a.validate(name); err != nil {
			return nil, err
		}
		size += len(name) + len(a.DataType) + len(a.StringValue) + len(a.BinaryValue)
	}
	if size > maxMessageSize {
		return nil, badRequest("InvalidParameterValue", "One or more parameters are invalid. Reason: Message must be shorter than %d bytes.", maxMessageSize)
	}
	md5Attrs := attributesMD5(in.MessageAttributes)

	s.mu.Lock()
	defer s.mu.Unlock()
	q, err := s.queue(url)
	if err != nil {
		return nil, err
	}
	dedupID := in.MessageDeduplicationId
	if dedupID == "" {
		if !q.contentDedup {
			return nil, badRequest("InvalidParameterValue", "The queue should either have ContentBasedDeduplication enabled or MessageDeduplicationId provided explicitly")
		}
		sum := sha256.Sum256([]byte(in.MessageBody))
		dedupID = hex.EncodeToString(sum[:])
	}
	now := time.Now()
	out := map[string]string{"MD5OfMessageBody": md5Hex(in.MessageBody)}
	if e, ok := q.dedup[dedupID]; ok && now.Sub(e.at) < dedupWindow {
		// Accepted, not enqueued again: SQS answers as for the first send.
		out["MessageId"], out["SequenceNumber"] = e.id, e.seq
		if e.md5Attrs != "" {
			out["MD5OfMessageAttributes"] = e.md5Attrs
		}
		return out, nil
	}
	s.seq++
	m := &message{id: newID(), body: in.MessageBody, group: in.MessageGroupId, dedupID: in.MessageDeduplicationId,
		seq: fmt.Sprintf("%020d", s.seq), attrs: in.MessageAttributes, md5Body: out["MD5OfMessageBody"], md5Attrs: md5Attrs, sent: now}
	g := q.groups[m.group]
	if g == nil {
		g = &group{id: m.group}
		q.groups[m.group] = g
	}
	g.msgs = append(g.msgs, m)
	q.byID[m.id] = m
	for k, e := range q.dedup {
		if now.Sub(e.at) >= dedupWindow {
			delete(q.dedup, k)
		}
	}
	q.dedup[dedupID] = dedupEntry{at: now, id: m.id, seq: m.seq, md5Attrs: md5Attrs}
	q.notify()
	out["MessageId"], out["SequenceNumber"] = m.id, m.seq
	if md5Attrs != "" {
		out["MD5OfMessageAttributes"] = md5Attrs
	}
	return out, nil
}

// sendBatch sends the entries one by one, in order, so a batch keeps the
// order of its entries within each group.
func (s *Server) sendBatch(url string, entries []sendInput) (any, error) {
	ids := make([]string, len(entries))
	for i, e := range entries {
		ids[i] = e.Id
	}
	if err := checkBatch(ids); err != nil {
		return nil, err
	}
	ok, failed := []map[string]string{}, []batchFailure{}
	for _, e := range entries {
		out, err := s.send(url, e)
		if err != nil {
			// A missing queue fails the call, not its entries, as on SQS.
			var ae *apiError
			if errors.As(err, &ae) && ae.code == "QueueDoesNotExist" {
				return nil, err
			}
			failed = append(failed, entryFailure(e.Id, err))
			continue
		}
		out["Id"] = e.Id
		ok = append(ok, out)
	}
	return map[string]any{"Successful": ok, "Failed": failed}, nil
}

// lookup finds the message a receipt handle names; current is false when the
// message has been received again since that handle was given out.
func (q *queue) lookup(receipt string) (m *message, current bool, err error) {
	id, _, found := strings.Cut(receipt, "#")
	if !found {
		return nil, false, badRequest("ReceiptHandleIsInvalid", "The input receipt handle %q is not a valid receipt handle.", receipt)
	}
	m = q.byID[id]
	return m, m != nil && m.receipt == receipt, nil
}

func (s *Server) deleteMessage(url, receipt string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	q, err := s.queue(url)
	if err != nil {
		return err
	}
	m, current, err := q.lookup(receipt)
	if err != nil || !current {
		// SQS: a stale handle "succeeds, but the message will not be deleted";
		// a message already deleted succeeds too.
		return err
	}
	g := q.groups[m.group]
	if i := slices.Index(g.msgs, m); i >= 0 {
		g.msgs = slices.Delete(g.msgs, i, i+1)
	}
	if len(g.msgs) == 0 {
		delete(q.groups, m.group)
	}
	delete(q.byID, m.id)
	q.notify() // the group may be free now
	return nil
}

func (s *Server) changeVisibility(url, receipt string, seconds int64) error {
	if seconds < 0 || time.Duration(seconds)*time.Second > maxVisibility {
		return badRequest("InvalidParameterValue", "Value %d for parameter VisibilityTimeout is invalid. Reason: Must be between 0 and 43200.", seconds)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	q, err := s.queue(url)
	if err != nil {
		return err
	}
	m, current, err := q.lookup(receipt)
	switch {
	case err != nil:
		return err
	case m == nil:
		return badRequest("ReceiptHandleIsInvalid", "The receipt handle %q does not name a message on the queue.", receipt)
	case !current || !m.invisibleUntil.After(time.Now()):
		return badRequest("MessageNotInflight", "Message does not exist or is not available for visibility timeout change.")
	}
	m.invisibleUntil = time.Now().Add(time.Duration(seconds) * time.Second)
	q.notify()
	return nil
}

func (s *Server) purge(url string) (any, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	q, err := s.queue(url)
	if err != nil {
		return nil, err
	}
	q.groups, q.byID = map[string]*group{}, map[string]*message{}
	return struct{}{}, nil
}

func (s *Server) queueAttributes(url string, names []string) (any, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	q, err := s.queue(url)
	if err != nil {
		return nil, err
	}
	now := time.Now()
	visible, hidden := 0, 0
	for _, m := range q.byID {
		if m.invisibleUntil.After(now) {
			hidden++
		} else {
			visible++
		}
	}
	all := map[string]string{
		"ApproximateNumberOfMessages":           strconv.Itoa(visible),
		"ApproximateNumberOfMessagesNotVisible": strconv.Itoa(hidden),
		"ApproximateNumberOfMessagesDelayed":    "0",
		"CreatedTimestamp":                      strconv.FormatInt(q.created.Unix(), 10),
		"LastModifiedTimestamp":                 strconv.FormatInt(q.created.Unix(), 10),
		"QueueArn":                              "arn:aws:sqs:us-east-1:" + accountID + ":" + q.name,
		"FifoQueue":                             "true",
		"DelaySeconds":                          "0",
		"MaximumMessageSize":                    strconv.Itoa(maxMessageSize),
		"MessageRetentionPeriod":                "345600",
		"ReceiveMessageWaitTimeSeconds":         "0",
	}
	for k, v := range q.attrs {
		all[k] = v
	}
	out := map[string]string{}
	for _, n := range names {
		if n == "All" {
			out = all
			break
		}
		if v, ok := all[n]; ok {
			out[n] = v
		} else {
			return nil, badRequest("InvalidAttributeName", "Unknown Attribute %s.", n)
		}
	}
	return map[string]any{"Attributes": out}, nil
}

// newID returns a random id in the shape of SQS's message ids (a UUID).
func newID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	h := hex.EncodeToString(b[:])
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}
