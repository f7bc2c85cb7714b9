package deploy

import (
	"fmt"
	"sort"
)

// Resolved is a template as CloudFormation would see it for one set of
// parameter values: conditions decided, Fn::If branches picked, AWS::NoValue
// and resources whose condition is false removed, and parameter Refs and
// Fn::FindInMap lookups replaced by values. Refs to resources, Fn::GetAtt,
// Fn::Sub and Fn::Join stay as written: the checks compare them literally.
type Resolved struct {
	Template
	Params     map[string]string
	Conditions map[string]bool
}

// Resolve evaluates t for params; parameters not in params take their
// Default, and a parameter with neither is an error.
func (t Template) Resolve(params map[string]string) (*Resolved, error) {
	r := &Resolved{Params: map[string]string{}, Conditions: map[string]bool{}}
	decl, _ := t["Parameters"].(map[string]any)
	for name, p := range decl {
		if v, ok := params[name]; ok {
			r.Params[name] = v
			continue
		}
		def, ok := Dig(p, "Default").(any)
		if !ok || def == nil {
			return nil, fmt.Errorf("parameter %s has no default and no value", name)
		}
		r.Params[name] = fmt.Sprint(def)
	}
	for name := range params {
		if _, ok := decl[name]; !ok {
			return nil, fmt.Errorf("parameter %s is not declared", name)
		}
	}
	conds, _ := t["Conditions"].(map[string]any)
	for _, name := range sortedKeys(conds) {
		if _, err := r.condition(t, name, map[string]bool{}); err != nil {
			return nil, err
		}
	}
	out := map[string]any{}
	for k, v := range t {
		if k == "Resources" {
			continue
		}
		out[k] = v
	}
	resources := map[string]any{}
	src, _ := t["Resources"].(map[string]any)
	for name, res := range src {
		if c, ok := Dig(res, "Condition").(string); ok {
			on, err := r.condition(t, c, map[string]bool{})
			if err != nil {
				return nil, fmt.Errorf("resource %s: %w", name, err)
			}
			if !on {
				continue
			}
		}
		v, keep, err := r.eval(t, deepCopy(res))
		if err != nil {
			return nil, fmt.Errorf("resource %s: %w", name, err)
		}
		if keep {
			resources[name] = v
		}
	}
	out["Resources"] = resources
	r.Template = Template(out)
	return r, nil
}

func (r *Resolved) condition(t Template, name string, visiting map[string]bool) (bool, error) {
	if v, ok := r.Conditions[name]; ok {
		return v, nil
	}
	if visiting[name] {
		return false, fmt.Errorf("condition %s refers to itself", name)
	}
	visiting[name] = true
	expr := Dig(map[string]any(t), "Conditions", name)
	if expr == nil {
		return false, fmt.Errorf("condition %s is not declared", name)
	}
	v, err := r.boolean(t, expr, visiting)
	if err != nil {
		return false, fmt.Errorf("condition %s: %w", name, err)
	}
	r.Conditions[name] = v
	return v, nil
}

func (r *Resolved) boolean(t Template, expr any, visiting map[string]bool) (bool, error) {
	fn, arg, ok := intrinsic(expr)
	if !ok {
		return false, fmt.Errorf("%s is not a condition function", Canonical(expr))
	}
	switch fn {
	case "Condition":
		name, _ := arg.(string)
		return r.condition(t, name, visiting)
	case "Fn::Equals":
		args, _ := arg.([]any)
		if len(args) != 2 {
			return false, fmt.Errorf("Fn::Equals wants 2 arguments, has %d", len(args))
		}
		a, _, err := r.eval(t, args[0])
		if err != nil {
			return false, err
		}
		b, _, err := r.eval(t, args[1])
		if err != nil {
			return false, err
		}
		return fmt.Sprint(a) == fmt.Sprint(b), nil
	case "Fn::Not", "Fn::And", "Fn::Or":
		args, _ := arg.([]any)
		vals := make([]bool, 0, len(args))
		for _, a := range args {
			v, err := r.boolean(t, a, visiting)
			if err != nil {
				return false, err
			}
			vals = append(vals, v)
		}
		switch {
		case fn == "Fn::Not" && len(vals) == 1:
			return !vals[0], nil
		case fn == "Fn::And" && len(vals) > 0:
			for _, v := range vals {
				if !v {
					return false, nil
				}
			}
			return true, nil
		case fn == "Fn::Or" && len(vals) > 0:
			for _, v := range vals {
				if v {
					return true, nil
				}
			}
			return false, nil
		}
		return false, fmt.Errorf("%s with %d arguments", fn, len(vals))
	}
	return false, fmt.Errorf("%s cannot appear in a condition", fn)
}

// eval resolves v; keep is false where v is AWS::NoValue.
func (r *Resolved) eval(t Template, v any) (out any, keep bool, err error) {
	if fn, arg, ok := intrinsic(v); ok {
		switch fn {
		case "Ref":
			name, _ := arg.(string)
			if name == "AWS::NoValue" {
				return nil, false, nil
			}
			if p, ok := r.Params[name]; ok {
				return p, true, nil
			}
			return v, true, nil
		case "Fn::If":
			args, _ := arg.([]any)
			if len(args) != 3 {
				return nil, false, fmt.Errorf("Fn::If wants 3 arguments, has %d", len(args))
			}
			name, _ := args[0].(string)
			on, err := r.condition(t, name, map[string]bool{})
			if err != nil {
				return nil, false, err
			}
			if on {
				return r.eval(t, args[1])
			}
			return r.eval(t, args[2])
		case "Fn::FindInMap":
			args, _ := arg.([]any)
			if len(args) != 3 {
				return nil, false, fmt.Errorf("Fn::FindInMap wants 3 arguments, has %d", len(args))
			}
			keys := make([]string, 3)
			for i, a := range args {
				k, _, err := r.eval(t, a)
				if err != nil {
					return nil, false, err
				}
				keys[i] = fmt.Sprint(k)
			}
			found := Dig(map[string]any(t), "Mappings", keys[0], keys[1], keys[2])
			if found == nil {
				return nil, false, fmt.Errorf("Fn::FindInMap %v: no such entry", keys)
			}
			return found, true, nil
		}
	}
	switch x := v.(type) {
	case map[string]any:
		m := make(map[string]any, len(x))
		for k, e := range x {
			ev, keep, err := r.eval(t, e)
			if err != nil {
				return nil, false, err
			}
			if keep {
				m[k] = ev
			}
		}
		return m, true, nil
	case []any:
		s := make([]any, 0, len(x))
		for _, e := range x {
			ev, keep, err := r.eval(t, e)
			if err != nil {
				return nil, false, err
			}
			if keep {
				s = append(s, ev)
			}
		}
		return s, true, nil
	}
	return v, true, nil
}

// intrinsic reports whether v is a one-key map naming an intrinsic function.
func intrinsic(v any) (fn string, arg any, ok bool) {
	m, isMap := v.(map[string]any)
	if !isMap || len(m) != 1 {
		return "", nil, false
	}
	for k, a := range m {
		if k == "Ref" || k == "Condition" || len(k) > 4 && k[:4] == "Fn::" {
			return k, a, true
		}
	}
	return "", nil, false
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
