package sqsproxy

import (
	"encoding/json"
	"slices"
	"strconv"
)

// goaws counts in-flight messages in ApproximateNumberOfMessages; SQS counts
// only visible ones. goaws's ApproximateNumberOfMessagesNotVisible is exactly
// the in-flight (and delayed) part, so the proxy asks for it too and subtracts.

const (
	attrVisible    = "ApproximateNumberOfMessages"
	attrNotVisible = "ApproximateNumberOfMessagesNotVisible"
)

func attributeNames(req map[string]json.RawMessage) []string {
	var names []string
	if raw := req["AttributeNames"]; len(raw) > 0 {
		_ = json.Unmarshal(raw, &names)
	}
	return names
}

// askNotVisible adds ApproximateNumberOfMessagesNotVisible to a request that
// wants ApproximateNumberOfMessages without it.
func askNotVisible(req map[string]json.RawMessage) (map[string]json.RawMessage, bool) {
	names := attributeNames(req)
	if !slices.Contains(names, attrVisible) || slices.Contains(names, attrNotVisible) || slices.Contains(names, "All") {
		return req, false
	}
	fixed := make(map[string]json.RawMessage, len(req))
	for k, v := range req {
		fixed[k] = v
	}
	fixed["AttributeNames"], _ = json.Marshal(append(names, attrNotVisible))
	return fixed, true
}

func rewriteQueueAttributes(c *call, body []byte) ([]byte, error) {
	var out struct {
		Attributes map[string]string
	}
	if err := json.Unmarshal(body, &out); err != nil {
		return nil, err
	}
	total, err1 := strconv.Atoi(out.Attributes[attrVisible])
	hidden, err2 := strconv.Atoi(out.Attributes[attrNotVisible])
	if err1 != nil || err2 != nil {
		return body, nil
	}
	out.Attributes[attrVisible] = strconv.Itoa(max(total-hidden, 0))
	names := attributeNames(c.req)
	if !slices.Contains(names, attrNotVisible) && !slices.Contains(names, "All") {
		delete(out.Attributes, attrNotVisible)
	}
	return marshal(out)
}
