package casesim

import (
	"net/http"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/connectcases/types"
)

// batchPutFieldOptions adds options and replaces those with the same value.
// The model's constraints (at most 50 options, name and value 1–100
// characters matching .*[\S]) fail the whole call, as the service's model
// validation would. Within a valid batch, an option whose value an earlier
// option of the same batch already set is not applied and comes back in
// errors (a guess at what the per-option errors member is for; see
// docs/casesim.md).
func (s *Server) batchPutFieldOptions(r *http.Request, body []byte) ([]byte, *apiError) {
	var in struct {
		Options []option `json:"options"`
	}
	if e := decode(body, &in); e != nil {
		return nil, e
	}
	if len(in.Options) > 50 {
		return nil, validationf("options: %d entries exceed the maximum of 50", len(in.Options))
	}
	for i, o := range in.Options {
		if e := checkName("options["+strconv.Itoa(i)+"].value", o.Value); e != nil {
			return nil, e
		}
		if e := checkName("options["+strconv.Itoa(i)+"].name", o.Name); e != nil {
			return nil, e
		}
	}
	d, f, e := s.pathField(r)
	if e != nil {
		return nil, e
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if f.deleted {
		return nil, validationf("field %q is deleted", f.id)
	}
	if f.typ != types.FieldTypeSingleSelect {
		return nil, validationf("field %q has type %s; only SingleSelect fields have options", f.id, f.typ)
	}
	type optionError struct {
		ErrorCode string `json:"errorCode"`
		Message   string `json:"message"`
		Value     string `json:"value"`
	}
	errs := []optionError{}
	inBatch := map[string]bool{}
	opts := append([]option(nil), f.options...)
	for _, o := range in.Options {
		if inBatch[o.Value] {
			errs = append(errs, optionError{ErrorCode: "ValidationException", Value: o.Value,
				Message: "value " + o.Value + " appears more than once in the request"})
			continue
		}
		inBatch[o.Value] = true
		replaced := false
		for i := range opts {
			if opts[i].Value == o.Value {
				opts[i], replaced = o, true
			}
		}
		if !replaced {
			opts = append(opts, o)
		}
	}
	if e := s.checkOptionLimit(f, len(opts)); e != nil {
		return nil, e
	}
	f.setOptions(opts)
	f.modified = time.Now()
	return marshal(struct {
		Errors []optionError `json:"errors"`
	}{errs})
}

func (s *Server) listFieldOptions(r *http.Request, _ []byte) ([]byte, *apiError) {
	d, f, e := s.pathField(r)
	if e != nil {
		return nil, e
	}
	want := r.URL.Query()["values"]
	if len(want) > 1 {
		return nil, validationf("values: %d entries exceed the maximum of 1", len(want))
	}
	for _, v := range want {
		if e := checkLen("values[0]", v, 0, 100); e != nil {
			return nil, e
		}
	}
	d.mu.RLock()
	opts := make([]option, 0, len(f.options))
	for _, o := range f.options {
		if len(want) == 0 || contains(want, o.Value) {
			opts = append(opts, o)
		}
	}
	d.mu.RUnlock()
	start, end, next, e := page(r, len(opts))
	if e != nil {
		return nil, e
	}
	return marshal(struct {
		Options   []option `json:"options"`
		NextToken *string  `json:"nextToken,omitempty"`
	}{opts[start:end], next})
}

func contains(xs []string, x string) bool {
	for _, v := range xs {
		if v == x {
			return true
		}
	}
	return false
}
