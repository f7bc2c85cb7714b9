package casesim

import (
	"crypto/sha256"
	"encoding/json"
	"net/http"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/connectcases/types"
)

// opFunc handles one API operation once faults have been applied; it
// returns the JSON response body or the error to answer with.
type opFunc func(r *http.Request, body []byte) ([]byte, *apiError)

func (s *Server) routes() {
	s.mux = http.NewServeMux()
	s.handle("POST /domains", "CreateDomain", s.createDomain)
	s.handle("POST /domains/{domainId}/fields", "CreateField", s.createField)
	s.handle("POST /domains/{domainId}/fields-list", "ListFields", s.listFields)
	s.handle("POST /domains/{domainId}/fields-batch", "BatchGetField", s.batchGetField)
	s.handle("DELETE /domains/{domainId}/fields/{fieldId}", "DeleteField", s.deleteField)
	s.handle("PUT /domains/{domainId}/fields/{fieldId}/options", "BatchPutFieldOptions", s.batchPutFieldOptions)
	s.handle("POST /domains/{domainId}/fields/{fieldId}/options-list", "ListFieldOptions", s.listFieldOptions)
	s.handle("POST /domains/{domainId}/templates", "CreateTemplate", s.createTemplate)
	s.handle("POST /domains/{domainId}/cases", "CreateCase", s.createCase)
	s.handle("POST /domains/{domainId}/cases/{caseId}", "GetCase", s.getCase)
	s.handle("PUT /domains/{domainId}/cases/{caseId}", "UpdateCase", s.updateCase)
	s.handle("POST /domains/{domainId}/cases-search", "SearchCases", s.searchCases)
	s.controlRoutes()
	s.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		s.count("Unknown", http.StatusNotFound)
		s.writeError(w, &apiError{status: http.StatusNotFound, code: "UnknownOperationException",
			message: "casesim does not simulate " + r.Method + " " + r.URL.Path})
	})
}

func (s *Server) handle(pattern, op string, fn opFunc) {
	if !knownOperation(op) {
		// Operations is what --quota accepts and the docs list: keep them in step.
		panic("casesim: operation " + op + " missing from Operations")
	}
	s.mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		code := s.serveOp(op, fn, w, r)
		if code == StatusDropped {
			return // counted before the connection was dropped
		}
		s.count(op, code)
	})
}

func (s *Server) serveOp(op string, fn opFunc, w http.ResponseWriter, r *http.Request) int {
	st := s.faults.Load()
	isUpdate := op == "UpdateCase"
	if l := s.quotas[op]; (l != nil && !l.Allow()) || (isUpdate && st.limiter != nil && !st.limiter.Allow()) {
		s.writeError(w, &apiError{status: http.StatusTooManyRequests, code: "ThrottlingException", message: "Rate exceeded"})
		return http.StatusTooManyRequests
	}
	// Read the body first: only then does net/http watch the connection,
	// so a caller that gives up during the latency cancels r.Context().
	body, e := readBody(w, r)
	if f := st.f; e == nil && (isUpdate || f.AllOperations) {
		delay := f.Latency
		if f.LatencyJitter > 0 {
			delay += time.Duration(s.int64n(int64(f.LatencyJitter)))
		}
		if delay > 0 {
			// No lock is held here: latency must never serialise callers.
			t := time.NewTimer(delay)
			select {
			case <-t.C:
			case <-r.Context().Done():
				t.Stop()
				return StatusClientCanceled
			}
		}
		if f.DropRate+f.DenyRate+f.ErrorRate > 0 {
			switch u := s.float64(); {
			case u < f.DropRate:
				s.count(op, StatusDropped)
				drop(w)
				return StatusDropped
			case u < f.DropRate+f.DenyRate:
				s.writeError(w, &apiError{status: http.StatusForbidden, code: "AccessDeniedException",
					message: "User is not authorized to perform: cases:" + op})
				return http.StatusForbidden
			case u < f.DropRate+f.DenyRate+f.ErrorRate:
				s.writeError(w, &apiError{status: http.StatusInternalServerError, code: "InternalServerException",
					message: "Internal server error (injected by casesim)", retryAfter: f.retryAfterSeconds()})
				return http.StatusInternalServerError
			}
		}
	}
	var resp []byte
	if e == nil {
		resp, e = fn(r, body)
	}
	if e != nil {
		s.writeError(w, e)
		return e.status
	}
	s.writeJSON(w, http.StatusOK, resp)
	return http.StatusOK
}

// drop closes the connection without an answer, as a crashed or
// overloaded front end would.
func drop(w http.ResponseWriter) {
	if hj, ok := w.(http.Hijacker); ok {
		if conn, _, err := hj.Hijack(); err == nil {
			_ = conn.Close()
			return
		}
	}
	// HTTP/2 or a wrapped writer: the server resets the stream silently.
	panic(http.ErrAbortHandler)
}

func marshal(v any) ([]byte, *apiError) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, &apiError{status: http.StatusInternalServerError, code: "InternalServerException", message: err.Error()}
	}
	return b, nil
}

// pathIDs reads and length-checks path members.
func pathIDs(r *http.Request, names ...string) ([]string, *apiError) {
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = r.PathValue(n)
		if err := checkLen(n, out[i], 1, maxIDLen); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func (s *Server) pathDomain(r *http.Request) (*domain, *apiError) {
	ids, e := pathIDs(r, "domainId")
	if e != nil {
		return nil, e
	}
	d := s.domain(ids[0])
	if d == nil {
		return nil, notFound("Domain", ids[0])
	}
	return d, nil
}

func (s *Server) updateCase(r *http.Request, body []byte) ([]byte, *apiError) {
	ids, e := pathIDs(r, "domainId", "caseId")
	if e != nil {
		return nil, e
	}
	var in struct {
		Fields      []wireFieldValue `json:"fields"`
		PerformedBy *wireUser        `json:"performedBy"`
	}
	if e := decode(body, &in); e != nil {
		return nil, e
	}
	if in.Fields == nil {
		return nil, validationf("fields: required")
	}
	if e := checkFieldShapes(in.Fields); e != nil {
		return nil, e
	}
	if e := s.checkPerformedBy(in.PerformedBy); e != nil {
		return nil, e
	}
	d := s.domain(ids[0])
	if d == nil {
		return nil, notFound("Domain", ids[0])
	}
	d.mu.RLock()
	defer d.mu.RUnlock()
	c := d.cases[ids[1]]
	if c == nil {
		return nil, notFound("Case", ids[1])
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	has := func(id string) bool { _, ok := c.values[id]; return ok }
	vals, e := d.checkFieldValues(in.Fields, has, d.templates[c.templateID])
	if e != nil {
		return nil, e
	}
	// Applied and logged under the case lock: the update is atomic and the
	// log's order per case is the order of application.
	c.apply(vals)
	d.stamp(c, time.Now(), false)
	s.record(AppliedUpdate{DomainID: d.id, CaseID: c.id, Fields: vals, PerformedBy: in.PerformedBy.toSDK(), At: time.Now()})
	return emptyObject, nil
}

func (s *Server) getCase(r *http.Request, body []byte) ([]byte, *apiError) {
	ids, e := pathIDs(r, "domainId", "caseId")
	if e != nil {
		return nil, e
	}
	var in struct {
		Fields    []wireFieldID `json:"fields"`
		NextToken *string       `json:"nextToken"`
	}
	if e := decode(body, &in); e != nil {
		return nil, e
	}
	if len(in.Fields) < 1 || len(in.Fields) > maxFieldValues {
		return nil, validationf("fields: %d entries are outside 1..%d", len(in.Fields), maxFieldValues)
	}
	for i, f := range in.Fields {
		if f.ID == nil {
			return nil, validationf("fields[%d].id: required", i)
		}
	}
	d := s.domain(ids[0])
	if d == nil {
		return nil, notFound("Domain", ids[0])
	}
	d.mu.RLock()
	c := d.cases[ids[1]]
	d.mu.RUnlock()
	if c == nil {
		return nil, notFound("Case", ids[1])
	}
	type outField struct {
		ID    string    `json:"id"`
		Value wireUnion `json:"value"`
	}
	out := struct {
		Fields     []outField        `json:"fields"`
		TemplateID string            `json:"templateId"`
		Tags       map[string]string `json:"tags"`
	}{Fields: []outField{}, Tags: map[string]string{}}
	c.mu.Lock()
	out.TemplateID = c.templateID
	for _, f := range in.Fields {
		// Fields without a value are left out, as the service does.
		if v, ok := c.values[*f.ID]; ok {
			out.Fields = append(out.Fields, outField{ID: *f.ID, Value: unionFromSDK(v)})
		}
	}
	c.mu.Unlock()
	return marshal(out)
}

func (s *Server) createCase(r *http.Request, body []byte) ([]byte, *apiError) {
	var in struct {
		ClientToken *string           `json:"clientToken"`
		Fields      []wireFieldValue  `json:"fields"`
		PerformedBy *wireUser         `json:"performedBy"`
		Tags        map[string]string `json:"tags"`
		TemplateID  *string           `json:"templateId"`
	}
	if e := decode(body, &in); e != nil {
		return nil, e
	}
	if in.Fields == nil {
		return nil, validationf("fields: required")
	}
	if in.TemplateID == nil {
		return nil, validationf("templateId: required")
	}
	if e := checkLen("templateId", *in.TemplateID, 1, maxIDLen); e != nil {
		return nil, e
	}
	if in.ClientToken != nil {
		if e := checkLen("clientToken", *in.ClientToken, 0, 64); e != nil {
			return nil, e
		}
	}
	if e := checkFieldShapes(in.Fields); e != nil {
		return nil, e
	}
	if e := s.checkPerformedBy(in.PerformedBy); e != nil {
		return nil, e
	}
	d, e := s.pathDomain(r)
	if e != nil {
		return nil, e
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if in.ClientToken != nil && *in.ClientToken != "" {
		if use, ok := d.clientTokens[*in.ClientToken]; ok {
			// A retry of the same request gets the same case; the same token
			// on a different request is the caller's bug, not a retry, and
			// silently answering with the first case would hide it.
			if use.digest != sha256.Sum256(body) {
				return nil, conflictf("clientToken %q was already used with a different request", *in.ClientToken)
			}
			return marshal(map[string]string{"caseId": use.caseID, "caseArn": d.cases[use.caseID].arn})
		}
	}
	tmpl := d.templates[*in.TemplateID]
	if tmpl == nil {
		return nil, notFound("Template", *in.TemplateID)
	}
	if tmpl.status == types.TemplateStatusInactive {
		return nil, validationf("templateId: template %q is inactive", tmpl.name)
	}
	vals, e := d.checkFieldValues(in.Fields, nil, tmpl)
	if e != nil {
		return nil, e
	}
	for _, id := range sortedKeys(tmpl.required) {
		if !hasValue(vals, id) {
			return nil, validationf("fields: field %q is required by template %q", id, tmpl.name)
		}
	}
	for _, id := range requiredOnCreate {
		if d.isSystem(id) && !hasValue(vals, id) {
			return nil, validationf("fields: system field %q is required", id)
		}
	}
	c := &caseRec{id: s.newID(), templateID: tmpl.id, values: map[string]types.FieldValueUnion{}}
	c.arn = s.arn(d.id, "case", c.id)
	c.apply(vals)
	d.stamp(c, time.Now(), true)
	d.cases[c.id] = c
	if in.ClientToken != nil && *in.ClientToken != "" {
		d.clientTokens[*in.ClientToken] = tokenUse{caseID: c.id, digest: sha256.Sum256(body)}
	}
	return marshal(map[string]string{"caseId": c.id, "caseArn": c.arn})
}

// tokenUse is what a CreateCase clientToken was first used for: the case,
// and a digest of the request body (which the SDK serializes the same way
// on every retry).
type tokenUse struct {
	caseID string
	digest [sha256.Size]byte
}

func hasValue(vals []types.FieldValue, id string) bool {
	for _, v := range vals {
		if *v.Id == id {
			_, empty := v.Value.(*types.FieldValueUnionMemberEmptyValue)
			return !empty
		}
	}
	return false
}
