// Package deploy holds casebridge's deployment artefacts (the ECS template
// and the Dockerfile; the SAM template lives at the repository root) and
// reads CloudFormation templates so tests can hold them to their invariants.
package deploy

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"

	"gopkg.in/yaml.v3"
)

// Template is a CloudFormation template in long form: every short-form tag
// (!Ref, !Sub, !GetAtt, …) has become the map CloudFormation's JSON syntax
// uses ({"Ref": …}, {"Fn::Sub": …}, {"Fn::GetAtt": [res, attr]}).
type Template map[string]any

// ParseTemplate decodes YAML, rewriting short-form intrinsic tags, which
// plain yaml.v3 would otherwise decode as bare strings and lose.
func ParseTemplate(data []byte) (Template, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("parse template: %w", err)
	}
	v, err := longForm(&doc)
	if err != nil {
		return nil, fmt.Errorf("parse template: %w", err)
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("parse template: top level is %T, want a mapping", v)
	}
	return Template(m), nil
}

// ParseTemplateFile reads and parses the template at path.
func ParseTemplateFile(path string) (Template, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return ParseTemplate(data)
}

func longForm(n *yaml.Node) (any, error) {
	var v any
	switch n.Kind {
	case yaml.DocumentNode:
		if len(n.Content) == 0 {
			return nil, nil
		}
		return longForm(n.Content[0])
	case yaml.AliasNode:
		return longForm(n.Alias)
	case yaml.MappingNode:
		m := make(map[string]any, len(n.Content)/2)
		for i := 0; i+1 < len(n.Content); i += 2 {
			val, err := longForm(n.Content[i+1])
			if err != nil {
				return nil, err
			}
			m[n.Content[i].Value] = val
		}
		v = m
	case yaml.SequenceNode:
		s := make([]any, 0, len(n.Content))
		for _, c := range n.Content {
			val, err := longForm(c)
			if err != nil {
				return nil, err
			}
			s = append(s, val)
		}
		v = s
	case yaml.ScalarNode:
		if isIntrinsicTag(n.Tag) {
			v = n.Value // a tagged scalar is always the function's string argument
		} else if err := n.Decode(&v); err != nil {
			return nil, fmt.Errorf("line %d: %w", n.Line, err)
		}
	default:
		return nil, fmt.Errorf("line %d: unexpected YAML node kind %v", n.Line, n.Kind)
	}
	if !isIntrinsicTag(n.Tag) {
		return v, nil
	}
	name := strings.TrimPrefix(n.Tag, "!")
	switch name {
	case "Ref", "Condition":
		return map[string]any{name: v}, nil
	case "GetAtt":
		// !GetAtt Res.Attr is the scalar form of ["Res", "Attr"].
		if s, ok := v.(string); ok {
			res, attr, found := strings.Cut(s, ".")
			if !found {
				return nil, fmt.Errorf("line %d: !GetAtt %q has no attribute", n.Line, s)
			}
			v = []any{res, attr}
		}
	}
	return map[string]any{"Fn::" + name: v}, nil
}

func isIntrinsicTag(tag string) bool {
	return strings.HasPrefix(tag, "!") && !strings.HasPrefix(tag, "!!")
}

// Clone returns a deep copy, so a test can mutate it freely.
func (t Template) Clone() Template {
	return Template(deepCopy(map[string]any(t)).(map[string]any))
}

func deepCopy(v any) any {
	switch x := v.(type) {
	case map[string]any:
		m := make(map[string]any, len(x))
		for k, e := range x {
			m[k] = deepCopy(e)
		}
		return m
	case []any:
		s := make([]any, len(x))
		for i, e := range x {
			s[i] = deepCopy(e)
		}
		return s
	default:
		return v
	}
}

// Resource returns the named resource's properties, or nil.
func (t Template) Resource(name string) map[string]any {
	res, _ := Dig(map[string]any(t), "Resources", name).(map[string]any)
	return res
}

// ResourcesOfType returns the names of all resources of type typ.
func (t Template) ResourcesOfType(typ string) []string {
	var names []string
	resources, _ := t["Resources"].(map[string]any)
	for name, r := range resources {
		if Dig(r, "Type") == typ {
			names = append(names, name)
		}
	}
	return names
}

// Dig follows path (string keys into maps, int indices into lists) and
// returns what it finds there, or nil.
func Dig(v any, path ...any) any {
	if t, ok := v.(Template); ok {
		v = map[string]any(t)
	}
	for _, p := range path {
		switch k := p.(type) {
		case string:
			m, ok := v.(map[string]any)
			if !ok {
				return nil
			}
			v = m[k]
		case int:
			s, ok := v.([]any)
			if !ok || k < 0 || k >= len(s) {
				return nil
			}
			v = s[k]
		default:
			return nil
		}
	}
	return v
}

// Canonical renders v as JSON with sorted keys, so two template fragments
// can be compared as strings.
func Canonical(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprintf("%#v", v)
	}
	return string(b)
}
