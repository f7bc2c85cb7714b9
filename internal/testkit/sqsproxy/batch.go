package sqsproxy

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strings"
)

// The batch calls are served by the proxy itself as a sequence of single
// calls upstream: goaws answers SendMessageBatch with an empty Successful list
// and does not implement ChangeMessageVisibilityBatch at all. Entries go in
// order, one at a time, so a FIFO batch keeps its order.

// batchFailure is one entry of a batch response's Failed list.
type batchFailure struct {
	Id          string
	Code        string
	Message     string
	SenderFault bool
}

var batchEntryID = regexp.MustCompile(`^[A-Za-z0-9_-]{1,80}$`)

func (p *Proxy) sendMessageBatch(ctx context.Context, w http.ResponseWriter, req map[string]json.RawMessage) {
	entries, ok := batchEntries(w, req)
	if !ok {
		return
	}
	successful := []map[string]json.RawMessage{}
	failed := []batchFailure{}
	for _, e := range entries {
		id := str(e["Id"])
		single := map[string]json.RawMessage{"QueueUrl": req["QueueUrl"]}
		for k, v := range e {
			if k != "Id" {
				single[k] = v
			}
		}
		out, fail := p.sendOne(ctx, single)
		if cancelled(ctx) {
			refuse(w)
			return
		}
		if fail != nil {
			fail.Id = id
			failed = append(failed, *fail)
			continue
		}
		res := map[string]json.RawMessage{"Id": e["Id"]}
		for _, k := range []string{"MessageId", "MD5OfMessageBody", "MD5OfMessageAttributes", "MD5OfMessageSystemAttributes", "SequenceNumber"} {
			if v, ok := out[k]; ok && string(v) != `""` {
				res[k] = v
			}
		}
		successful = append(successful, res)
	}
	writeJSON(w, map[string]any{"Successful": successful, "Failed": failed})
}

func (p *Proxy) sendOne(ctx context.Context, req map[string]json.RawMessage) (map[string]json.RawMessage, *batchFailure) {
	if out, dup := p.duplicate(req); dup {
		return out, nil
	}
	body, fail := p.post(ctx, "SendMessage", req)
	if fail != nil {
		return nil, fail
	}
	var out map[string]json.RawMessage
	if err := json.Unmarshal(body, &out); err != nil {
		return nil, &batchFailure{Code: "InternalError", Message: "sqsproxy: upstream answer: " + err.Error()}
	}
	return p.afterSend(req, out), nil
}

func (p *Proxy) changeVisibilityBatch(ctx context.Context, w http.ResponseWriter, req map[string]json.RawMessage) {
	entries, ok := batchEntries(w, req)
	if !ok {
		return
	}
	successful := []map[string]json.RawMessage{}
	failed := []batchFailure{}
	for _, e := range entries {
		single, _ := fifoVisibilityZero(map[string]json.RawMessage{
			"QueueUrl":          req["QueueUrl"],
			"ReceiptHandle":     e["ReceiptHandle"],
			"VisibilityTimeout": e["VisibilityTimeout"],
		})
		if len(single["VisibilityTimeout"]) == 0 {
			single["VisibilityTimeout"] = json.RawMessage("0")
		}
		_, fail := p.post(ctx, "ChangeMessageVisibility", single)
		if cancelled(ctx) {
			refuse(w)
			return
		}
		if fail != nil {
			fail.Id = str(e["Id"])
			failed = append(failed, *fail)
			continue
		}
		successful = append(successful, map[string]json.RawMessage{"Id": e["Id"]})
	}
	writeJSON(w, map[string]any{"Successful": successful, "Failed": failed})
}

// batchEntries decodes and checks a batch the way SQS does before touching
// any entry; on a bad batch it has already answered the client.
func batchEntries(w http.ResponseWriter, req map[string]json.RawMessage) ([]map[string]json.RawMessage, bool) {
	var entries []map[string]json.RawMessage
	if raw := req["Entries"]; len(raw) > 0 {
		if err := json.Unmarshal(raw, &entries); err != nil {
			writeError(w, http.StatusBadRequest, "InvalidParameterValue", "sqsproxy: Entries: "+err.Error())
			return nil, false
		}
	}
	switch {
	case len(entries) == 0:
		writeError(w, http.StatusBadRequest, "EmptyBatchRequest", "There should be at least one entry in the request.")
		return nil, false
	case len(entries) > 10:
		writeError(w, http.StatusBadRequest, "TooManyEntriesInBatchRequest", fmt.Sprintf("Maximum number of entries per request are 10. You have sent %d.", len(entries)))
		return nil, false
	}
	seen := map[string]bool{}
	for _, e := range entries {
		id := str(e["Id"])
		if !batchEntryID.MatchString(id) {
			writeError(w, http.StatusBadRequest, "InvalidBatchEntryId", fmt.Sprintf("A batch entry id %q can only contain alphanumeric characters, hyphens and underscores, up to 80.", id))
			return nil, false
		}
		if seen[id] {
			writeError(w, http.StatusBadRequest, "BatchEntryIdsNotDistinct", fmt.Sprintf("Id %s repeated.", id))
			return nil, false
		}
		seen[id] = true
	}
	return entries, true
}

// post makes one SQS JSON call upstream and returns the 200 body, or the
// failure as a batch entry would report it.
func (p *Proxy) post(ctx context.Context, action string, req map[string]json.RawMessage) ([]byte, *batchFailure) {
	body, err := marshal(req)
	if err != nil {
		return nil, &batchFailure{Code: "InternalError", Message: err.Error()}
	}
	hr, err := http.NewRequestWithContext(ctx, http.MethodPost, p.upstream.JoinPath("/").String(), bytes.NewReader(body))
	if err != nil {
		return nil, &batchFailure{Code: "InternalError", Message: err.Error()}
	}
	hr.Header.Set("X-Amz-Target", targetPrefix+action)
	hr.Header.Set("Content-Type", "application/x-amz-json-1.0")
	resp, err := p.client.Do(hr)
	if err != nil {
		return nil, &batchFailure{Code: "InternalError", Message: "sqsproxy: upstream: " + err.Error()}
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, &batchFailure{Code: "InternalError", Message: "sqsproxy: upstream: " + err.Error()}
	}
	if resp.StatusCode != http.StatusOK {
		code, msg := upstreamErrorInfo(out)
		return nil, &batchFailure{Code: code, Message: msg, SenderFault: resp.StatusCode < 500}
	}
	return out, nil
}

// upstreamErrorInfo reads an error body in SQS's shape ({"__type","message"})
// or goaws's ({"Code","Message"}).
func upstreamErrorInfo(body []byte) (code, msg string) {
	var e struct {
		Type    string `json:"__type"`
		Code    string `json:"Code"`
		Message string `json:"message"`
		Msg     string `json:"Message"`
	}
	if json.Unmarshal(body, &e) != nil {
		return "InternalError", strings.TrimSpace(string(body))
	}
	code = e.Code
	if e.Type != "" {
		code = e.Type[strings.LastIndexByte(e.Type, '#')+1:]
	}
	if code == "" {
		code = "InternalError"
	}
	msg = e.Message
	if msg == "" {
		msg = e.Msg
	}
	return code, msg
}
