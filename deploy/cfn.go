// Package deploy holds casebridge's deployment artefacts (the ECS template
// and the Dockerfile; the SAM template lives at the repository root) and
// loads CloudFormation templates with goformation, as CloudFormation would
// see them for one set of parameter values, so tests can hold them to their
// invariants.
package deploy

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"regexp"
	"strings"
	"sync"

	"github.com/awslabs/goformation/v7"
	"github.com/awslabs/goformation/v7/cloudformation"
	"github.com/awslabs/goformation/v7/intrinsics"
)

// Stack is a template as CloudFormation would create it for one set of
// parameter values, read into goformation's typed resources: conditions
// decided, resources whose condition is false left out, Fn::If branches
// picked, AWS::NoValue removed, parameter Refs and Fn::FindInMap replaced by
// values. What only exists once the stack does stays symbolic, in
// goformation's own encoding, so checks compare it with cloudformation.Ref,
// cloudformation.GetAtt and cloudformation.Sub: Refs to resources and pseudo
// parameters, Fn::GetAtt, and Fn::Sub (with parameters substituted).
type Stack struct {
	*cloudformation.Template
	Params     map[string]string // every parameter's value, given or default
	Conditions map[string]bool
	// Untyped holds the properties goformation's types do not know (see
	// untypedProps), by resource and dotted path, after evaluation.
	Untyped map[string]map[string]any
}

// untypedProps lists, by resource type, the properties CloudFormation and
// SAM accept but goformation v7.14.9's generated types lack. They are lifted
// out before typed decoding (which rejects unknown properties) and kept in
// Stack.Untyped for the checks; any property not listed here that
// goformation does not know still fails Load. "*" matches any map key.
var untypedProps = map[string][]string{
	"AWS::Serverless::Function": {
		"LoggingConfig", // SAM 1.82
		// Without these the SQS event source decodes as no event type at all.
		"Events.*.Properties.FunctionResponseTypes",
		"Events.*.Properties.ScalingConfig",
		"Events.*.Properties.MaximumBatchingWindowInSeconds",
	},
}

// goformationMu serialises goformation's YAML parsing: it registers its tag
// resolvers in a package-level map on every call, a data race when tests
// load templates in parallel.
var goformationMu sync.Mutex

// LoadFile reads the template at path and loads it for params.
func LoadFile(path string, params map[string]string) (*Stack, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	s, err := Load(data, params)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return s, nil
}

// Load evaluates a YAML or JSON template for params; parameters not in
// params take their Default, and one with neither is an error, as is a
// param the template does not declare.
func Load(data []byte, params map[string]string) (*Stack, error) {
	goformationMu.Lock()
	longForm, err := intrinsics.ProcessYAML(data, &intrinsics.ProcessorOptions{NoProcess: true})
	goformationMu.Unlock()
	if err != nil {
		return nil, fmt.Errorf("load template: %w", err)
	}
	var doc map[string]any
	if err := json.Unmarshal(longForm, &doc); err != nil {
		return nil, fmt.Errorf("load template: top level: %w", err)
	}
	s := &Stack{Params: map[string]string{}, Conditions: map[string]bool{}, Untyped: map[string]map[string]any{}}
	decl, _ := doc["Parameters"].(map[string]any)
	if err := s.bindParams(decl, params); err != nil {
		return nil, err
	}
	if err := s.checkRules(doc["Rules"]); err != nil {
		return nil, err
	}
	delete(doc, "Rules")
	var evalErrs []error
	opts := &intrinsics.ProcessorOptions{
		EvaluateConditions:        true,
		IntrinsicHandlerOverrides: s.handlers(decl, &evalErrs),
	}

	// goformation replaces any map with a "Condition" key by the condition's
	// value, resources included, so decide conditions first, drop the
	// resources they switch off and strip the key from the rest.
	condDoc, err := json.Marshal(map[string]any{"Parameters": decl, "Mappings": doc["Mappings"], "Conditions": doc["Conditions"]})
	if err != nil {
		return nil, fmt.Errorf("load template: %w", err)
	}
	condOut, err := intrinsics.ProcessJSON(condDoc, opts)
	if err != nil {
		return nil, fmt.Errorf("load template: conditions: %w", err)
	}
	var decided struct{ Conditions map[string]any }
	if err := json.Unmarshal(condOut, &decided); err != nil {
		return nil, fmt.Errorf("load template: conditions: %w", err)
	}
	for name, v := range decided.Conditions {
		b, ok := v.(bool)
		if !ok {
			return nil, fmt.Errorf("load template: condition %s does not evaluate to a boolean (%v)", name, v)
		}
		s.Conditions[name] = b
	}
	for _, section := range []string{"Resources", "Outputs"} {
		entries, _ := doc[section].(map[string]any)
		for name, e := range entries {
			m, _ := e.(map[string]any)
			c, has := m["Condition"].(string)
			if !has {
				continue
			}
			on, known := s.Conditions[c]
			if !known {
				return nil, fmt.Errorf("load template: %s %s: condition %s is not declared", section, name, c)
			}
			if !on {
				delete(entries, name)
			}
			delete(m, "Condition")
		}
	}

	evaluated, err := intrinsics.ProcessJSON(mustJSON(doc), opts)
	if err != nil {
		return nil, fmt.Errorf("load template: %w", err)
	}
	if err := errors.Join(evalErrs...); err != nil {
		return nil, fmt.Errorf("load template: %w", err)
	}
	var out map[string]any
	if err := json.Unmarshal(evaluated, &out); err != nil {
		return nil, fmt.Errorf("load template: %w", err)
	}
	out["Resources"] = dropNoValue(out["Resources"])
	if err := s.prepareResources(out); err != nil {
		return nil, err
	}
	tmpl, err := goformation.ParseJSONWithOptions(mustJSON(out), &intrinsics.ProcessorOptions{NoProcess: true})
	if err != nil {
		return nil, fmt.Errorf("load template: %w", err)
	}
	s.Template = tmpl
	return s, nil
}

func (s *Stack) bindParams(decl map[string]any, params map[string]string) error {
	for name := range params {
		if _, ok := decl[name]; !ok {
			return fmt.Errorf("load template: parameter %s is not declared", name)
		}
	}
	for name, p := range decl {
		pm, _ := p.(map[string]any)
		v, given := params[name]
		if !given {
			def, has := pm["Default"]
			if !has || def == nil {
				return fmt.Errorf("load template: parameter %s has no default and no value", name)
			}
			v = fmt.Sprint(def)
		}
		s.Params[name] = v
		pm["Default"] = v // goformation's condition and mapping handlers read it here
	}
	return nil
}

var subVar = regexp.MustCompile(`\$\{([^}!]+)\}`)

// handlers are the intrinsic handlers that differ from goformation's
// defaults, which resolve Refs to resources and Fn::GetAtt to nil and
// substitute made-up pseudo parameters: checks need to see which resource a
// property points at.
func (s *Stack) handlers(decl map[string]any, errs *[]error) map[string]intrinsics.IntrinsicHandler {
	return map[string]intrinsics.IntrinsicHandler{
		"Ref": func(_ string, in, _ any) any {
			name, _ := in.(string)
			if name == "AWS::NoValue" {
				return nil
			}
			v, isParam := s.Params[name]
			if !isParam {
				return cloudformation.Ref(name)
			}
			// CloudFormation passes parameter values as strings, lists split.
			if typ, _ := dig(decl, name, "Type").(string); strings.HasPrefix(typ, "List<") || typ == "CommaDelimitedList" {
				parts := []any{}
				for _, p := range strings.Split(v, ",") {
					parts = append(parts, strings.TrimSpace(p))
				}
				return parts
			}
			return v
		},
		"Fn::GetAtt": func(_ string, in, _ any) any {
			switch x := in.(type) {
			case string:
				res, attr, ok := strings.Cut(x, ".")
				if ok {
					return cloudformation.GetAtt(res, attr)
				}
			case []any:
				if len(x) == 2 {
					return cloudformation.GetAtt(fmt.Sprint(x[0]), fmt.Sprint(x[1]))
				}
			}
			*errs = append(*errs, fmt.Errorf("Fn::GetAtt %v: want Resource.Attribute", in))
			return nil
		},
		"Fn::Sub": func(_ string, in, _ any) any {
			str, ok := in.(string)
			if !ok {
				return cloudformation.Sub(in) // the [string, vars] form stays as written
			}
			left := false
			str = subVar.ReplaceAllStringFunc(str, func(m string) string {
				if v, isParam := s.Params[m[2:len(m)-1]]; isParam {
					return v
				}
				left = true
				return m
			})
			if !left {
				return str
			}
			return cloudformation.Sub(str)
		},
		"Fn::FindInMap": func(name string, in, tmpl any) any {
			v := intrinsics.FnFindInMap(name, in, tmpl)
			if v == nil {
				*errs = append(*errs, fmt.Errorf("Fn::FindInMap %v: no such entry", in))
			}
			return v
		},
	}
}

// dropNoValue removes the nils AWS::NoValue left in lists and maps, as
// CloudFormation removes the property or element.
func dropNoValue(v any) any {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			if e == nil {
				delete(x, k)
				continue
			}
			x[k] = dropNoValue(e)
		}
	case []any:
		out := x[:0]
		for _, e := range x {
			if e != nil {
				out = append(out, dropNoValue(e))
			}
		}
		return out
	}
	return v
}

// prepareResources lifts untyped properties out and converts values to the
// types goformation's structs declare.
func (s *Stack) prepareResources(doc map[string]any) error {
	resources, _ := doc["Resources"].(map[string]any)
	known := cloudformation.AllResources() // builds a value of every type: once per Load
	for name, r := range resources {
		res, _ := r.(map[string]any)
		typ, _ := res["Type"].(string)
		typed, isKnown := known[typ]
		if !isKnown && !strings.HasPrefix(typ, "Custom::") {
			// goformation itself only says "json: Unmarshal(nil)".
			return fmt.Errorf("load template: resource %s: %s is not a type goformation knows", name, typ)
		}
		props, _ := res["Properties"].(map[string]any)
		for _, path := range untypedProps[typ] {
			lift(props, strings.Split(path, "."), "", func(at string, v any) {
				if s.Untyped[name] == nil {
					s.Untyped[name] = map[string]any{}
				}
				s.Untyped[name][at] = v
			})
		}
		if err := coerceResource(typ, typed, props); err != nil {
			return fmt.Errorf("load template: resource %s: %w", name, err)
		}
	}
	return nil
}

// lift deletes what path names under m, reporting each value it removes with
// its concrete dotted path.
func lift(m map[string]any, path []string, prefix string, found func(string, any)) {
	if m == nil || len(path) == 0 {
		return
	}
	keys := []string{path[0]}
	if path[0] == "*" {
		keys = keys[:0]
		for k := range m {
			keys = append(keys, k)
		}
	}
	for _, k := range keys {
		at := prefix + k
		if len(path) == 1 {
			if v, ok := m[k]; ok {
				found(at, v)
				delete(m, k)
			}
			continue
		}
		next, _ := m[k].(map[string]any)
		lift(next, path[1:], at+".", found)
	}
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("re-encoding decoded JSON: %v", err)) // cannot happen: v came from json.Unmarshal
	}
	return b
}

func dig(v any, path ...string) any {
	for _, k := range path {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[k]
	}
	return v
}
