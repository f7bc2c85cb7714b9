package fifosqs

import (
	"crypto/md5"
	"encoding/binary"
	"encoding/hex"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
)

type receiveInput struct {
	QueueUrl                    string
	MaxNumberOfMessages         *int64
	WaitTimeSeconds             *int64
	VisibilityTimeout           *int64
	AttributeNames              []string
	MessageSystemAttributeNames []string
	MessageAttributeNames       []string
	ReceiveRequestAttemptId     string
}

type outMessage struct {
	MessageId, ReceiptHandle, MD5OfBody, Body string
	Attributes                                map[string]string         `json:",omitempty"`
	MD5OfMessageAttributes                    string                    `json:",omitempty"`
	MessageAttributes                         map[string]attributeValue `json:",omitempty"`
}

// receive takes messages, waiting up to WaitTimeSeconds for the first one.
// It returns as soon as anything can be taken, as an SQS long poll does.
func (s *Server) receive(r *http.Request, in receiveInput) (any, error) {
	max, wait, vis := int64(1), int64(0), int64(-1)
	if in.MaxNumberOfMessages != nil {
		max = *in.MaxNumberOfMessages
	}
	if in.WaitTimeSeconds != nil {
		wait = *in.WaitTimeSeconds
	}
	if in.VisibilityTimeout != nil {
		vis = *in.VisibilityTimeout
	}
	switch {
	case max < 1 || max > 10:
		return nil, badRequest("InvalidParameterValue", "Value %d for parameter MaxNumberOfMessages is invalid. Reason: Must be between 1 and 10, if provided.", max)
	case wait < 0 || wait > 20:
		return nil, badRequest("InvalidParameterValue", "Value %d for parameter WaitTimeSeconds is invalid. Reason: Must be >= 0 and <= 20, if provided.", wait)
	case vis > int64(maxVisibility/time.Second):
		return nil, badRequest("InvalidParameterValue", "Value %d for parameter VisibilityTimeout is invalid. Reason: Must be between 0 and 43200, if provided.", vis)
	}
	deadline := time.Now().Add(time.Duration(wait) * time.Second)
	for {
		s.mu.Lock()
		q, err := s.queue(in.QueueUrl)
		if err != nil {
			s.mu.Unlock()
			return nil, err
		}
		now := time.Now()
		taken, next := q.take(now, int(max), vis)
		out := make([]outMessage, len(taken))
		for i, m := range taken {
			out[i] = m.render(in)
		}
		changed := q.changed
		s.mu.Unlock()

		if len(out) > 0 || !now.Before(deadline) {
			return map[string]any{"Messages": out}, nil
		}
		wake := deadline
		if !next.IsZero() && next.Before(wake) {
			wake = next // an in-flight message becomes visible again
		}
		t := time.NewTimer(time.Until(wake))
		select {
		case <-changed:
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
			return nil, r.Context().Err()
		}
		t.Stop()
	}
}

// take marks up to max messages received and returns them. Like SQS it fills
// from one group as far as it can (in order) before moving on, and skips any
// group with a message in flight; groups are taken oldest head first. next is
// the earliest moment a skipped group's in-flight message becomes visible.
func (q *queue) take(now time.Time, max int, vis int64) (taken []*message, next time.Time) {
	free := make([]*group, 0, len(q.groups))
	for _, g := range q.groups {
		busy, until := g.inFlight(now)
		if !busy {
			free = append(free, g)
		} else if next.IsZero() || until.Before(next) {
			next = until
		}
	}
	sort.Slice(free, func(i, j int) bool { return free[i].msgs[0].seq < free[j].msgs[0].seq })
	hold := q.visibility
	if vis >= 0 {
		hold = time.Duration(vis) * time.Second
	}
	for _, g := range free {
		for _, m := range g.msgs {
			if len(taken) == max {
				return taken, next
			}
			m.receives++
			if m.firstReceive.IsZero() {
				m.firstReceive = now
			}
			m.invisibleUntil = now.Add(hold)
			m.receipt = m.id + "#" + strconv.Itoa(m.receives) + "-" + newID()
			taken = append(taken, m)
		}
	}
	return taken, next
}

// render is m as this receive returns it: only the system and message
// attributes asked for, MD5s over what is returned.
func (m *message) render(in receiveInput) outMessage {
	out := outMessage{MessageId: m.id, ReceiptHandle: m.receipt, MD5OfBody: m.md5Body, Body: m.body}
	names := append(slices.Clone(in.MessageSystemAttributeNames), in.AttributeNames...)
	all := slices.Contains(names, "All")
	system := map[string]string{
		"ApproximateReceiveCount":          strconv.Itoa(m.receives),
		"ApproximateFirstReceiveTimestamp": strconv.FormatInt(m.firstReceive.UnixMilli(), 10),
		"SentTimestamp":                    strconv.FormatInt(m.sent.UnixMilli(), 10),
		"SenderId":                         "AIDAFIFOSQSLOCALTEST",
		"MessageGroupId":                   m.group,
		"SequenceNumber":                   m.seq,
	}
	if m.dedupID != "" {
		system["MessageDeduplicationId"] = m.dedupID
	}
	for k, v := range system {
		if all || slices.Contains(names, k) {
			if out.Attributes == nil {
				out.Attributes = map[string]string{}
			}
			out.Attributes[k] = v
		}
	}
	for name, a := range m.attrs {
		if wantAttribute(in.MessageAttributeNames, name) {
			if out.MessageAttributes == nil {
				out.MessageAttributes = map[string]attributeValue{}
			}
			out.MessageAttributes[name] = a
		}
	}
	out.MD5OfMessageAttributes = attributesMD5(out.MessageAttributes)
	return out
}

// wantAttribute applies MessageAttributeNames: "All" or ".*", a name, or a
// prefix ending in ".*".
func wantAttribute(patterns []string, name string) bool {
	for _, p := range patterns {
		if p == "All" || p == ".*" || p == name || strings.HasSuffix(p, ".*") && strings.HasPrefix(name, strings.TrimSuffix(p, "*")) {
			return true
		}
	}
	return false
}

// attributeValue is a message attribute as the JSON protocol carries it;
// BinaryValue arrives base64-encoded, which encoding/json undoes.
type attributeValue struct {
	DataType         string
	StringValue      string   `json:",omitempty"`
	BinaryValue      []byte   `json:",omitempty"`
	StringListValues []string `json:",omitempty"`
	BinaryListValues [][]byte `json:",omitempty"`
}

func (a attributeValue) validate(name string) error {
	base, _, _ := strings.Cut(a.DataType, ".")
	switch {
	case name == "" || len(name) > 256:
		return badRequest("InvalidParameterValue", "Message attribute name %q is invalid.", name)
	case base != "String" && base != "Number" && base != "Binary":
		return badRequest("InvalidParameterValue", "The type of message (user) attribute '%s' is invalid. You must use only the following supported type prefixes: Binary, Number, String.", name)
	case base == "Binary" && len(a.BinaryValue) == 0, base != "Binary" && a.StringValue == "":
		return badRequest("InvalidParameterValue", "Message (user) attribute '%s' must contain a non-empty value of type '%s'.", name, base)
	}
	return nil
}

// attributesMD5 is SQS's digest of message attributes: for each name in
// byte order, the length-prefixed name and type, a transport byte (1 string,
// 2 binary), and the length-prefixed value. "" when there are none.
func attributesMD5(attrs map[string]attributeValue) string {
	if len(attrs) == 0 {
		return ""
	}
	names := make([]string, 0, len(attrs))
	for n := range attrs {
		names = append(names, n)
	}
	sort.Strings(names)
	h := md5.New()
	put := func(b []byte) {
		_ = binary.Write(h, binary.BigEndian, uint32(len(b)))
		h.Write(b)
	}
	for _, n := range names {
		a := attrs[n]
		put([]byte(n))
		put([]byte(a.DataType))
		if a.BinaryValue != nil {
			h.Write([]byte{2})
			put(a.BinaryValue)
		} else {
			h.Write([]byte{1})
			put([]byte(a.StringValue))
		}
	}
	return hex.EncodeToString(h.Sum(nil))
}

func md5Hex(s string) string {
	sum := md5.Sum([]byte(s))
	return hex.EncodeToString(sum[:])
}
