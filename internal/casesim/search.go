package casesim

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"net/http"
	"sort"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/service/connectcases/types"
)

// SearchCases limits from the service model (connectcases 2022-10-03).
const (
	searchDefaultResults = 25 // also the maximum
	maxSearchFields      = 10
	maxFilterList        = 10 // andAll / orAll members
	maxSearchTerm        = 255
	maxNextToken         = 9000
	// maxFilterDepth bounds recursion through not/andAll/orAll. The model
	// sets no depth; a bound keeps a hostile body from costing a deep
	// stack per case (guess, stricter).
	maxFilterDepth = 10
)

type searchInput struct {
	Fields     []wireFieldID   `json:"fields"`
	Filter     *wireCaseFilter `json:"filter"`
	MaxResults *int            `json:"maxResults"`
	NextToken  *string         `json:"nextToken"`
	SearchTerm *string         `json:"searchTerm"`
	Sorts      []struct {
		FieldID   *string `json:"fieldId"`
		SortOrder *string `json:"sortOrder"`
	} `json:"sorts"`
}

// searchCases answers SearchCases: matching cases in case id order (the
// service orders by relevance; any fixed order pages the same way), with
// the requested fields that have values. sorts are checked but not applied.
func (s *Server) searchCases(r *http.Request, body []byte) ([]byte, *apiError) {
	var in searchInput
	if e := decode(body, &in); e != nil {
		return nil, e
	}
	if e := in.check(); e != nil {
		return nil, e
	}
	limit := searchDefaultResults
	if in.MaxResults != nil {
		limit = *in.MaxResults
	}
	d, e := s.pathDomain(r)
	if e != nil {
		return nil, e
	}
	d.mu.RLock()
	match := func(map[string]types.FieldValueUnion) bool { return true }
	if in.Filter != nil {
		match, e = d.compileFilter(in.Filter, "filter", 0)
	}
	for i := 0; e == nil && i < len(in.Sorts); i++ {
		if fd := d.fields[*in.Sorts[i].FieldID]; fd == nil || fd.deleted {
			e = validationf("sorts[%d].fieldId: field %q does not exist in the domain", i, *in.Sorts[i].FieldID)
		}
	}
	if e != nil {
		d.mu.RUnlock()
		return nil, e
	}
	term := ""
	if in.SearchTerm != nil {
		term = strings.ToLower(*in.SearchTerm)
	}
	var hits []searchHit
	for _, c := range d.cases {
		c.mu.Lock()
		if match(c.values) && matchesTerm(c.values, term) {
			// Copied under the same lock as the match, so a hit's values
			// are the ones that matched.
			vals := make(map[string]types.FieldValueUnion, len(c.values))
			for id, v := range c.values {
				vals[id] = cloneUnion(v)
			}
			hits = append(hits, searchHit{c: c, values: vals})
		}
		c.mu.Unlock()
	}
	d.mu.RUnlock()
	sort.Slice(hits, func(i, j int) bool { return hits[i].c.id < hits[j].c.id })

	digest := searchDigest(body)
	start := 0
	if in.NextToken != nil {
		if start, e = readSearchToken(*in.NextToken, digest, len(hits)); e != nil {
			return nil, e
		}
	}
	end := min(start+limit, len(hits))
	return marshal(searchOutput(in.Fields, hits[start:end], len(hits), end, digest))
}

type searchHit struct {
	c      *caseRec
	values map[string]types.FieldValueUnion
}

func (in *searchInput) check() *apiError {
	if in.MaxResults != nil && (*in.MaxResults < 1 || *in.MaxResults > searchDefaultResults) {
		return validationf("maxResults: %d is outside 1..%d", *in.MaxResults, searchDefaultResults)
	}
	if in.NextToken != nil {
		if e := checkLen("nextToken", *in.NextToken, 0, maxNextToken); e != nil {
			return e
		}
	}
	if in.SearchTerm != nil {
		if e := checkLen("searchTerm", *in.SearchTerm, 0, maxSearchTerm); e != nil {
			return e
		}
	}
	if len(in.Fields) > maxSearchFields {
		return validationf("fields: %d entries, at most %d", len(in.Fields), maxSearchFields)
	}
	for i, f := range in.Fields {
		if f.ID == nil {
			return validationf("fields[%d].id: required", i)
		}
		if e := checkLen("fields["+strconv.Itoa(i)+"].id", *f.ID, 1, maxIDLen); e != nil {
			return e
		}
	}
	for i, so := range in.Sorts {
		if so.FieldID == nil || so.SortOrder == nil || (*so.SortOrder != "Asc" && *so.SortOrder != "Desc") {
			return validationf("sorts[%d]: fieldId and sortOrder (Asc or Desc) are required", i)
		}
	}
	return nil
}

// matchesTerm is the quick search: the term, case-folded, in any string value.
func matchesTerm(values map[string]types.FieldValueUnion, term string) bool {
	if term == "" {
		return true
	}
	for _, v := range values {
		if s, ok := v.(*types.FieldValueUnionMemberStringValue); ok && strings.Contains(strings.ToLower(s.Value), term) {
			return true
		}
	}
	return false
}

func searchOutput(fields []wireFieldID, hits []searchHit, total, end int, digest [8]byte) any {
	type item struct {
		CaseID     string            `json:"caseId"`
		Fields     []wireFieldOut    `json:"fields"`
		TemplateID string            `json:"templateId"`
		Tags       map[string]string `json:"tags"`
	}
	out := struct {
		Cases      []item  `json:"cases"`
		NextToken  *string `json:"nextToken,omitempty"`
		TotalCount int     `json:"totalCount"`
	}{Cases: []item{}, TotalCount: total}
	for _, h := range hits {
		it := item{CaseID: h.c.id, Fields: []wireFieldOut{}, TemplateID: h.c.templateID, Tags: map[string]string{}}
		for _, f := range fields {
			if v, ok := h.values[*f.ID]; ok {
				it.Fields = append(it.Fields, wireFieldOut{ID: *f.ID, Value: unionFromSDK(v)})
			}
		}
		out.Cases = append(out.Cases, it)
	}
	if end < total {
		t := searchToken(end, digest)
		out.NextToken = &t
	}
	return out
}

type wireFieldOut struct {
	ID    string    `json:"id"`
	Value wireUnion `json:"value"`
}

// searchDigest identifies the query a token belongs to: the request body
// without nextToken, so the same search with another page size still
// pages, but a token reused with a different filter is refused, as the
// service refuses foreign tokens instead of returning a wrong page.
func searchDigest(body []byte) [8]byte {
	var m map[string]json.RawMessage
	_ = json.Unmarshal(body, &m)
	delete(m, "nextToken")
	delete(m, "maxResults")
	b, _ := json.Marshal(m) // map keys marshal sorted: a stable digest
	sum := sha256.Sum256(b)
	return [8]byte(sum[:8])
}

// searchToken is opaque to callers: an offset bound to the query's digest.
func searchToken(offset int, digest [8]byte) string {
	var b [16]byte
	copy(b[:8], digest[:])
	binary.BigEndian.PutUint64(b[8:], uint64(offset))
	return base64.RawURLEncoding.EncodeToString(b[:])
}

func readSearchToken(tok string, digest [8]byte, total int) (int, *apiError) {
	b, err := base64.RawURLEncoding.DecodeString(tok)
	if err != nil || len(b) != 16 || [8]byte(b[:8]) != digest {
		return 0, validationf("nextToken: invalid for this search")
	}
	off := binary.BigEndian.Uint64(b[8:])
	if off > uint64(total) {
		return 0, validationf("nextToken: invalid for this search")
	}
	return int(off), nil
}
