package casesim

import (
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/aws/aws-sdk-go-v2/service/connectcases/types"
)

// timeFormat is the ISO-8601 form rest-json uses for timestamps in bodies.
const timeFormat = "2006-01-02T15:04:05.000Z"

func checkName(path, name string) *apiError {
	if e := checkLen(path, name, 1, maxNameLen); e != nil {
		return e
	}
	if last := []rune(name); unicode.IsSpace(last[len(last)-1]) {
		return validationf("%s: must not end with white space", path)
	}
	// The model's pattern is .*[\S]; in its (Java) regex dialect '.' does
	// not match line terminators, so a name with a line break fails it.
	if strings.ContainsAny(name, "\n\r\u0085\u2028\u2029") {
		return validationf("%s: must not contain line breaks (pattern .*[\\S])", path)
	}
	return nil
}

func (s *Server) createDomain(r *http.Request, body []byte) ([]byte, *apiError) {
	var in struct {
		Name *string `json:"name"`
	}
	if e := decode(body, &in); e != nil {
		return nil, e
	}
	if e := requireName("name", in.Name); e != nil {
		return nil, e
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, d := range s.domains {
		if d.name == *in.Name {
			return nil, conflictf("a domain named %q already exists", *in.Name)
		}
	}
	if e := s.checkDomainLimit(); e != nil {
		return nil, e
	}
	id := s.newID()
	d := newDomain(id, *in.Name, s.arn(id), time.Now())
	s.addSystemFields(d, d.created)
	s.domains[id] = d
	return marshal(map[string]string{"domainArn": d.arn, "domainId": d.id, "domainStatus": string(types.DomainStatusActive)})
}

// requireName checks a required name member: present, and a valid name.
func requireName(path string, name *string) *apiError {
	if name == nil {
		return validationf("%s: required", path)
	}
	return checkName(path, *name)
}

func validFieldType(t types.FieldType) bool {
	for _, v := range t.Values() {
		if v == t {
			return true
		}
	}
	return false
}

func (s *Server) createField(r *http.Request, body []byte) ([]byte, *apiError) {
	var in struct {
		Name        *string         `json:"name"`
		Type        string          `json:"type"`
		Description *string         `json:"description"`
		Attributes  *wireAttributes `json:"attributes"`
	}
	if e := decode(body, &in); e != nil {
		return nil, e
	}
	if e := requireName("name", in.Name); e != nil {
		return nil, e
	}
	if !validFieldType(types.FieldType(in.Type)) {
		return nil, validationf("type: %q is not one of %v", in.Type, types.FieldType("").Values())
	}
	if in.Description != nil {
		if e := checkLen("description", *in.Description, 0, maxDescriptionLen); e != nil {
			return nil, e
		}
	}
	if e := in.Attributes.check(types.FieldType(in.Type)); e != nil {
		return nil, e
	}
	d, e := s.pathDomain(r)
	if e != nil {
		return nil, e
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if id, ok := d.fieldByName[*in.Name]; ok && !d.fields[id].deleted {
		return nil, conflictf("a field named %q already exists in domain %s", *in.Name, d.id)
	}
	if e := s.checkFieldLimit(d); e != nil {
		return nil, e
	}
	now := time.Now()
	f := &field{id: s.newID(), name: *in.Name, typ: types.FieldType(in.Type), namespace: types.FieldNamespaceCustom, created: now, modified: now}
	if in.Description != nil {
		f.description = *in.Description
	}
	f.attributes = in.Attributes
	f.arn = s.arn(d.id, "field", f.id)
	d.addField(f)
	return marshal(map[string]string{"fieldId": f.id, "fieldArn": f.arn})
}

// page reads maxResults/nextToken query members; tokens are offsets.
func page(r *http.Request, total int) (start, end int, next *string, e *apiError) {
	q := r.URL.Query()
	limit := 100
	if v := q.Get("maxResults"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 100 {
			return 0, 0, nil, validationf("maxResults: %q is outside 1..100", v)
		}
		limit = n
	}
	if v := q.Get("nextToken"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 || n > total {
			return 0, 0, nil, validationf("nextToken: invalid")
		}
		start = n
	}
	end = min(start+limit, total)
	if end < total {
		t := strconv.Itoa(end)
		next = &t
	}
	return start, end, next, nil
}

type fieldSummary struct {
	FieldArn   string          `json:"fieldArn"`
	FieldID    string          `json:"fieldId"`
	Name       string          `json:"name"`
	Namespace  string          `json:"namespace"`
	Type       string          `json:"type"`
	Attributes *wireAttributes `json:"attributes,omitempty"`
}

func (f *field) summary() fieldSummary {
	return fieldSummary{FieldArn: f.arn, FieldID: f.id, Name: f.name, Namespace: string(f.namespace), Type: string(f.typ), Attributes: f.attributes}
}

func (s *Server) listFields(r *http.Request, _ []byte) ([]byte, *apiError) {
	d, e := s.pathDomain(r)
	if e != nil {
		return nil, e
	}
	d.mu.RLock()
	live := make([]*field, 0, len(d.fieldOrder))
	for _, id := range d.fieldOrder {
		if f := d.fields[id]; !f.deleted {
			live = append(live, f)
		}
	}
	d.mu.RUnlock()
	start, end, next, e := page(r, len(live))
	if e != nil {
		return nil, e
	}
	out := struct {
		Fields    []fieldSummary `json:"fields"`
		NextToken *string        `json:"nextToken,omitempty"`
	}{Fields: make([]fieldSummary, 0, end-start), NextToken: next}
	for _, f := range live[start:end] {
		out.Fields = append(out.Fields, f.summary())
	}
	return marshal(out)
}

func (s *Server) batchGetField(r *http.Request, body []byte) ([]byte, *apiError) {
	var in struct {
		Fields []wireFieldID `json:"fields"`
	}
	if e := decode(body, &in); e != nil {
		return nil, e
	}
	if len(in.Fields) < 1 || len(in.Fields) > maxBatchGetFields {
		return nil, validationf("fields: %d entries are outside 1..%d", len(in.Fields), maxBatchGetFields)
	}
	d, e := s.pathDomain(r)
	if e != nil {
		return nil, e
	}
	type getField struct {
		fieldSummary
		Description      string `json:"description,omitempty"`
		Deleted          bool   `json:"deleted"`
		CreatedTime      string `json:"createdTime"`
		LastModifiedTime string `json:"lastModifiedTime"`
	}
	type fieldError struct {
		ID        string `json:"id"`
		ErrorCode string `json:"errorCode"`
		Message   string `json:"message"`
	}
	out := struct {
		Fields []getField   `json:"fields"`
		Errors []fieldError `json:"errors"`
	}{Fields: []getField{}, Errors: []fieldError{}}
	d.mu.RLock()
	defer d.mu.RUnlock()
	for i, fid := range in.Fields {
		if fid.ID == nil {
			return nil, validationf("fields[%d].id: required", i)
		}
		f := d.fields[*fid.ID]
		if f == nil {
			out.Errors = append(out.Errors, fieldError{ID: *fid.ID, ErrorCode: "ResourceNotFoundException", Message: "Field " + *fid.ID + " not found"})
			continue
		}
		out.Fields = append(out.Fields, getField{fieldSummary: f.summary(), Description: f.description, Deleted: f.deleted,
			CreatedTime: f.created.UTC().Format(timeFormat), LastModifiedTime: f.modified.UTC().Format(timeFormat)})
	}
	return marshal(out)
}

func (s *Server) pathField(r *http.Request) (*domain, *field, *apiError) {
	d, e := s.pathDomain(r)
	if e != nil {
		return nil, nil, e
	}
	id := r.PathValue("fieldId")
	d.mu.RLock()
	f := d.fields[id]
	d.mu.RUnlock()
	if f == nil {
		return nil, nil, notFound("Field", id)
	}
	return d, f, nil
}

func (s *Server) deleteField(r *http.Request, _ []byte) ([]byte, *apiError) {
	d, f, e := s.pathField(r)
	if e != nil {
		return nil, e
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	f.deleted, f.modified = true, time.Now()
	return emptyObject, nil
}

func (s *Server) createTemplate(r *http.Request, body []byte) ([]byte, *apiError) {
	var in struct {
		Name           *string `json:"name"`
		Description    *string `json:"description"`
		RequiredFields []struct {
			FieldID *string `json:"fieldId"`
		} `json:"requiredFields"`
		Status string `json:"status"`
	}
	if e := decode(body, &in); e != nil {
		return nil, e
	}
	if e := requireName("name", in.Name); e != nil {
		return nil, e
	}
	if in.Description != nil {
		if e := checkLen("description", *in.Description, 0, maxDescriptionLen); e != nil {
			return nil, e
		}
	}
	if len(in.RequiredFields) > maxRequiredFields {
		return nil, validationf("requiredFields: %d entries exceed the maximum of %d", len(in.RequiredFields), maxRequiredFields)
	}
	status := types.TemplateStatus(in.Status)
	switch status {
	case "":
		status = types.TemplateStatusActive
	case types.TemplateStatusActive, types.TemplateStatusInactive:
	default:
		return nil, validationf("status: %q is not one of Active, Inactive", in.Status)
	}
	d, e := s.pathDomain(r)
	if e != nil {
		return nil, e
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if _, ok := d.tmplByName[*in.Name]; ok {
		return nil, conflictf("a template named %q already exists in domain %s", *in.Name, d.id)
	}
	if e := s.checkTemplateLimit(d); e != nil {
		return nil, e
	}
	t := &template{id: s.newID(), name: *in.Name, status: status, required: map[string]bool{}}
	for i, rf := range in.RequiredFields {
		if rf.FieldID == nil || d.fields[*rf.FieldID] == nil || d.fields[*rf.FieldID].deleted {
			return nil, validationf("requiredFields[%d].fieldId: no such field in domain %s", i, d.id)
		}
		// The service refuses the same field twice in one template.
		if t.required[*rf.FieldID] {
			return nil, validationf("requiredFields[%d].fieldId: field %s is listed twice", i, *rf.FieldID)
		}
		t.required[*rf.FieldID] = true
	}
	t.arn = s.arn(d.id, "template", t.id)
	d.templates[t.id], d.tmplByName[t.name] = t, t.id
	return marshal(map[string]string{"templateId": t.id, "templateArn": t.arn})
}
