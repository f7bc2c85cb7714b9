package casesim

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/connectcases/types"
	"go.uber.org/zap"
)

// Seed is the JSON document LoadSeed reads (see docs/casesim.md). Ids are
// fixed by the seed, so tests and demos can name them in advance.
type Seed struct {
	Domains []SeedDomain `json:"domains"`
}

// SeedDomain is one domain with its catalogue and cases.
type SeedDomain struct {
	ID        string         `json:"id"`
	Name      string         `json:"name"`
	Fields    []SeedField    `json:"fields"`
	Templates []SeedTemplate `json:"templates"`
	Cases     []SeedCase     `json:"cases"`
}

// SeedField is a field; ID defaults to Name, Namespace to Custom.
type SeedField struct {
	ID          string   `json:"id"`
	Name        string   `json:"name"`
	Type        string   `json:"type"`
	Namespace   string   `json:"namespace"`
	Description string   `json:"description"`
	Options     []string `json:"options"` // SingleSelect values (name = value, active)
	Deleted     bool     `json:"deleted"`
}

// SeedTemplate is a template; ID defaults to Name, Status to Active.
type SeedTemplate struct {
	ID             string   `json:"id"`
	Name           string   `json:"name"`
	RequiredFields []string `json:"requiredFields"`
	Status         string   `json:"status"`
}

// SeedCase is a case. Each field value is either a FieldValueUnion object
// ({"stringValue": "x"}) or a plain JSON value converted by the field's
// type: a string becomes userArnValue for User fields and stringValue
// otherwise, a number doubleValue, a boolean booleanValue, null no value.
type SeedCase struct {
	ID         string                     `json:"id"`
	TemplateID string                     `json:"templateId"`
	Fields     map[string]json.RawMessage `json:"fields"`
}

// LoadSeedFile loads a seed document from a file.
func (s *Server) LoadSeedFile(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("casesim: seed: %w", err)
	}
	defer f.Close()
	if err := s.LoadSeed(f); err != nil {
		return fmt.Errorf("%w (file %s)", err, path)
	}
	return nil
}

// LoadSeed adds the domains of a seed document. The document is decoded
// strictly and checked as the API would check the same calls; nothing is
// added unless all of it is valid and no domain id is taken.
func (s *Server) LoadSeed(r io.Reader) error {
	dec := json.NewDecoder(r)
	dec.DisallowUnknownFields()
	var seed Seed
	if err := dec.Decode(&seed); err != nil {
		return fmt.Errorf("casesim: seed: %w", err)
	}
	built := make([]*domain, 0, len(seed.Domains))
	for i, sd := range seed.Domains {
		d, err := s.buildDomain(sd)
		if err != nil {
			return fmt.Errorf("casesim: seed: domains[%d]: %w", i, err)
		}
		built = append(built, d)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, d := range built {
		if _, taken := s.domains[d.id]; taken {
			return fmt.Errorf("casesim: seed: domain %s already exists", d.id)
		}
	}
	for _, d := range built {
		s.domains[d.id] = d
		s.log.Info("seeded domain", zap.String("domainId", d.id), zap.Int("fields", len(d.fields)), zap.Int("cases", len(d.cases)))
	}
	return nil
}

func (s *Server) buildDomain(sd SeedDomain) (*domain, error) {
	if sd.ID == "" {
		sd.ID = s.newID()
	}
	if e := checkName("name", sd.Name); e != nil {
		return nil, e
	}
	now := time.Now()
	d := newDomain(sd.ID, sd.Name, s.arn(sd.ID), now)
	for i, sf := range sd.Fields {
		if sf.ID == "" {
			sf.ID = sf.Name
		}
		if e := checkName(fmt.Sprintf("fields[%d].name", i), sf.Name); e != nil {
			return nil, e
		}
		if _, dup := d.fields[sf.ID]; dup {
			return nil, fmt.Errorf("fields[%d]: duplicate field id %q", i, sf.ID)
		}
		typ := types.FieldType(sf.Type)
		if !validFieldType(typ) {
			return nil, fmt.Errorf("fields[%d].type: %q is not one of %v", i, sf.Type, typ.Values())
		}
		ns := types.FieldNamespace(sf.Namespace)
		switch ns {
		case "":
			ns = types.FieldNamespaceCustom
		case types.FieldNamespaceCustom, types.FieldNamespaceSystem:
		default:
			return nil, fmt.Errorf("fields[%d].namespace: %q is not System or Custom", i, sf.Namespace)
		}
		if len(sf.Options) > 0 && typ != types.FieldTypeSingleSelect {
			return nil, fmt.Errorf("fields[%d].options: only SingleSelect fields have options", i)
		}
		f := &field{id: sf.ID, name: sf.Name, typ: typ, namespace: ns, description: sf.Description,
			deleted: sf.Deleted, created: now, modified: now, arn: s.arn(d.id, "field", sf.ID)}
		opts := make([]option, len(sf.Options))
		for j, o := range sf.Options {
			opts[j] = option{Name: o, Value: o, Active: true}
		}
		f.setOptions(opts)
		d.addField(f)
	}
	for i, st := range sd.Templates {
		if st.ID == "" {
			st.ID = st.Name
		}
		if e := checkName(fmt.Sprintf("templates[%d].name", i), st.Name); e != nil {
			return nil, e
		}
		t := &template{id: st.ID, name: st.Name, status: types.TemplateStatus(st.Status), required: map[string]bool{},
			arn: s.arn(d.id, "template", st.ID)}
		if t.status == "" {
			t.status = types.TemplateStatusActive
		}
		for _, id := range st.RequiredFields {
			if d.fields[id] == nil {
				return nil, fmt.Errorf("templates[%d].requiredFields: no field %q", i, id)
			}
			t.required[id] = true
		}
		d.templates[t.id], d.tmplByName[t.name] = t, t.id
	}
	for i, sc := range sd.Cases {
		c, err := s.buildCase(d, sc)
		if err != nil {
			return nil, fmt.Errorf("cases[%d]: %w", i, err)
		}
		d.cases[c.id] = c
	}
	// After the cases: a seed describes cases that exist, so it may hold
	// values the API would not let a caller write.
	markReadOnly(d)
	return d, nil
}

func (s *Server) buildCase(d *domain, sc SeedCase) (*caseRec, error) {
	if e := checkLen("id", sc.ID, 1, maxIDLen); e != nil {
		return nil, e
	}
	if _, dup := d.cases[sc.ID]; dup {
		return nil, fmt.Errorf("duplicate case id %q", sc.ID)
	}
	tmpl := d.templates[sc.TemplateID]
	if tmpl == nil {
		return nil, fmt.Errorf("templateId: no template %q", sc.TemplateID)
	}
	wire := make([]wireFieldValue, 0, len(sc.Fields))
	for _, id := range sortedKeys(sc.Fields) {
		u, skip, err := seedValue(d.fields[id], sc.Fields[id])
		if err != nil {
			return nil, fmt.Errorf("fields.%s: %w", id, err)
		}
		if !skip {
			wire = append(wire, wireFieldValue{ID: &id, Value: u})
		}
	}
	if e := checkFieldShapes(wire); e != nil {
		return nil, e
	}
	vals, e := d.checkFieldValues(wire, nil, tmpl)
	if e != nil {
		return nil, e
	}
	for id := range tmpl.required {
		if !hasValue(vals, id) {
			return nil, fmt.Errorf("field %q is required by template %q", id, tmpl.name)
		}
	}
	c := &caseRec{id: sc.ID, templateID: tmpl.id, arn: s.arn(d.id, "case", sc.ID), values: map[string]types.FieldValueUnion{}}
	c.apply(vals)
	return c, nil
}

// seedValue turns one seed value into a union; f may be nil (the caller's
// validation then reports the unknown field).
func seedValue(f *field, raw json.RawMessage) (u *wireUnion, skip bool, err error) {
	raw = bytes.TrimSpace(raw)
	switch {
	case len(raw) == 0 || string(raw) == "null":
		return nil, true, nil
	case raw[0] == '{':
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.DisallowUnknownFields()
		u = &wireUnion{}
		return u, false, dec.Decode(u)
	case raw[0] == '"':
		var str string
		if err := json.Unmarshal(raw, &str); err != nil {
			return nil, false, err
		}
		if f != nil && f.typ == types.FieldTypeUser {
			return &wireUnion{UserArnValue: &str}, false, nil
		}
		return &wireUnion{StringValue: &str}, false, nil
	case raw[0] == 't' || raw[0] == 'f':
		var b bool
		if err := json.Unmarshal(raw, &b); err != nil {
			return nil, false, err
		}
		return &wireUnion{BooleanValue: &b}, false, nil
	default:
		var d wireDouble
		if err := d.UnmarshalJSON(raw); err != nil {
			return nil, false, err
		}
		return &wireUnion{DoubleValue: &d}, false, nil
	}
}
