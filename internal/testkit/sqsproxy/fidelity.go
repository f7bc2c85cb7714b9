package sqsproxy

import (
	"bytes"
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// dedupWindow is SQS's FIFO deduplication interval.
const dedupWindow = 5 * time.Minute

// messageState is what SQS knows about a message and goaws forgets.
type messageState struct {
	group, dedupID, seq string
	sent                time.Time // zero when not sent through the proxy
	receives            int
	firstReceive        time.Time
}

type dedupEntry struct {
	at  time.Time
	out map[string]json.RawMessage // the first send's response
}

// duplicate returns the first send's answer for a FIFO send whose
// MessageDeduplicationId was seen on the same queue within five minutes, so
// the message is not enqueued twice. Only explicit ids count: content-based
// deduplication is not emulated.
func (p *Proxy) duplicate(req map[string]json.RawMessage) (map[string]json.RawMessage, bool) {
	queue, id := str(req["QueueUrl"]), str(req["MessageDeduplicationId"])
	if !isFIFO(queue) || id == "" {
		return nil, false
	}
	p.mu.Lock()
	e, ok := p.dedup[queueName(queue)+"\x00"+id]
	p.mu.Unlock()
	if !ok || time.Since(e.at) > dedupWindow {
		return nil, false
	}
	out := make(map[string]json.RawMessage, len(e.out))
	for k, v := range e.out {
		out[k] = v
	}
	// The SDK checks the body MD5 against what it just sent.
	sum := md5.Sum([]byte(str(req["MessageBody"])))
	out["MD5OfMessageBody"], _ = json.Marshal(hex.EncodeToString(sum[:]))
	return out, true
}

// afterSend remembers what goaws drops from a successful send (group,
// deduplication id, send time) and gives FIFO messages an SQS-style sequence
// number. It returns the response to give the client.
func (p *Proxy) afterSend(req, out map[string]json.RawMessage) map[string]json.RawMessage {
	id := str(out["MessageId"])
	if id == "" {
		return out
	}
	queue := str(req["QueueUrl"])
	st := &messageState{
		group:   str(req["MessageGroupId"]),
		dedupID: str(req["MessageDeduplicationId"]),
		sent:    time.Now(),
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if isFIFO(queue) {
		p.seq++
		st.seq = fmt.Sprintf("%020d", p.seq)
		out["SequenceNumber"], _ = json.Marshal(st.seq)
	}
	p.messages[id] = st
	if isFIFO(queue) && st.dedupID != "" {
		now := time.Now()
		for k, e := range p.dedup { // tests are short; a sweep per send is cheap
			if now.Sub(e.at) > dedupWindow {
				delete(p.dedup, k)
			}
		}
		p.dedup[queueName(queue)+"\x00"+st.dedupID] = dedupEntry{at: now, out: out}
	}
	return out
}

func (p *Proxy) rewriteSend(c *call, body []byte) ([]byte, error) {
	var out map[string]json.RawMessage
	if err := json.Unmarshal(body, &out); err != nil {
		return nil, err
	}
	return marshal(p.afterSend(c.req, out))
}

// rewriteReceive counts each delivery and puts back the system attributes SQS
// would return, limited to those the receiver asked for. Body, MD5s and
// message attributes pass through untouched.
func (p *Proxy) rewriteReceive(c *call, body []byte) ([]byte, error) {
	var out map[string]json.RawMessage
	if err := json.Unmarshal(body, &out); err != nil {
		return nil, err
	}
	var msgs []map[string]json.RawMessage
	if raw := out["Messages"]; len(raw) > 0 {
		if err := json.Unmarshal(raw, &msgs); err != nil {
			return nil, fmt.Errorf("messages: %w", err)
		}
	}
	all, wanted := requestedAttributes(c.req)
	now := time.Now()
	for _, m := range msgs {
		attrs := map[string]string{}
		if raw := m["Attributes"]; len(raw) > 0 {
			if err := json.Unmarshal(raw, &attrs); err != nil {
				return nil, fmt.Errorf("attributes: %w", err)
			}
		}
		p.mu.Lock()
		st := p.messages[str(m["MessageId"])]
		if st == nil {
			st = &messageState{}
			p.messages[str(m["MessageId"])] = st
		}
		st.receives++
		if st.firstReceive.IsZero() {
			st.firstReceive = now
		}
		attrs["ApproximateReceiveCount"] = strconv.Itoa(st.receives)
		attrs["ApproximateFirstReceiveTimestamp"] = millis(st.firstReceive)
		if !st.sent.IsZero() {
			attrs["SentTimestamp"] = millis(st.sent)
		}
		for k, v := range map[string]string{"MessageGroupId": st.group, "MessageDeduplicationId": st.dedupID, "SequenceNumber": st.seq} {
			if v != "" {
				attrs[k] = v
			}
		}
		p.mu.Unlock()

		if !all {
			for k := range attrs {
				if !slices.Contains(wanted, k) {
					delete(attrs, k)
				}
			}
		}
		if len(attrs) == 0 {
			delete(m, "Attributes")
			continue
		}
		m["Attributes"], _ = json.Marshal(attrs)
	}
	if msgs != nil {
		raw, err := marshal(msgs)
		if err != nil {
			return nil, err
		}
		out["Messages"] = raw
	}
	return marshal(out)
}

// requestedAttributes returns the system attribute names a ReceiveMessage
// asked for, from both the current and the deprecated parameter.
func requestedAttributes(req map[string]json.RawMessage) (all bool, names []string) {
	for _, k := range []string{"MessageSystemAttributeNames", "AttributeNames"} {
		var ns []string
		if raw := req[k]; len(raw) > 0 && json.Unmarshal(raw, &ns) == nil {
			names = append(names, ns...)
		}
	}
	return slices.Contains(names, "All"), names
}

// forget drops the state of a deleted message. goaws's receipt handles are
// "<MessageId>#<random>"; other handles are left alone (their state is small).
func (p *Proxy) forget(receiptHandle string) {
	id, _, ok := strings.Cut(receiptHandle, "#")
	if !ok {
		return
	}
	p.mu.Lock()
	delete(p.messages, id)
	p.mu.Unlock()
}

// rewriteDelete forgets deleted messages; the response passes unchanged.
func (p *Proxy) rewriteDelete(c *call, body []byte) ([]byte, error) {
	if c.action == "DeleteMessage" {
		p.forget(str(c.req["ReceiptHandle"]))
		return body, nil
	}
	var in struct {
		Entries []struct{ Id, ReceiptHandle string }
	}
	var out struct{ Successful []struct{ Id string } }
	if json.Unmarshal(mustMarshal(c.req), &in) != nil || json.Unmarshal(body, &out) != nil {
		return body, nil
	}
	for _, s := range out.Successful {
		for _, e := range in.Entries {
			if e.Id == s.Id {
				p.forget(e.ReceiptHandle)
			}
		}
	}
	return body, nil
}

// fifoVisibilityZero turns ChangeMessageVisibility(0) on a FIFO queue into 1 s:
// goaws makes the message visible but keeps its group locked, so with one
// group nothing is ever received again; a 1 s timeout expires through goaws's
// periodic task, which does unlock the group.
func fifoVisibilityZero(req map[string]json.RawMessage) (map[string]json.RawMessage, bool) {
	if !isFIFO(str(req["QueueUrl"])) || !isZero(req["VisibilityTimeout"]) {
		return req, false
	}
	fixed := make(map[string]json.RawMessage, len(req))
	for k, v := range req {
		fixed[k] = v
	}
	fixed["VisibilityTimeout"] = json.RawMessage("1")
	return fixed, true
}

// isZero treats a missing VisibilityTimeout as 0: the member is required, and
// a serializer may leave out a zero value.
func isZero(raw json.RawMessage) bool {
	var n float64
	return len(raw) == 0 || (json.Unmarshal(raw, &n) == nil && n == 0)
}

func millis(t time.Time) string { return strconv.FormatInt(t.UnixMilli(), 10) }

// marshal encodes without HTML escaping so message bodies keep their bytes.
func marshal(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimRight(b.Bytes(), "\n"), nil
}

func mustMarshal(v any) []byte {
	b, _ := json.Marshal(v)
	return b
}
