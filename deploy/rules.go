package deploy

import (
	"errors"
	"fmt"
)

// ErrRule marks parameter values a template's Rules refuse: CloudFormation
// rejects such a stack before creating anything.
var ErrRule = errors.New("template rule refuses the parameters")

// checkRules evaluates the template's Rules section for s's parameters, as
// CloudFormation does before creating the stack: a rule whose
// RuleCondition holds (or that has none) must have every Assert true. The
// rule functions supported are Fn::And, Fn::Or, Fn::Not, Fn::Equals,
// Fn::Contains and Ref to a parameter; anything else is an error.
func (s *Stack) checkRules(rules any) error {
	m, _ := rules.(map[string]any)
	for name, r := range m {
		if cond := dig(r, "RuleCondition"); cond != nil {
			on, err := s.ruleValue(cond)
			if err != nil {
				return fmt.Errorf("load template: rule %s: %w", name, err)
			}
			if on != true {
				continue
			}
		}
		for i, a := range asAnyList(dig(r, "Assertions")) {
			ok, err := s.ruleValue(dig(a, "Assert"))
			if err != nil {
				return fmt.Errorf("load template: rule %s assertion %d: %w", name, i, err)
			}
			if ok != true {
				return fmt.Errorf("%w: %s: %v", ErrRule, name, dig(a, "AssertDescription"))
			}
		}
	}
	return nil
}

func asAnyList(v any) []any {
	l, _ := v.([]any)
	return l
}

func (s *Stack) ruleValue(v any) (any, error) {
	m, isMap := v.(map[string]any)
	if !isMap {
		if l, isList := v.([]any); isList {
			out := make([]any, len(l))
			for i, e := range l {
				x, err := s.ruleValue(e)
				if err != nil {
					return nil, err
				}
				out[i] = x
			}
			return out, nil
		}
		return fmt.Sprint(v), nil
	}
	if len(m) != 1 {
		return nil, fmt.Errorf("rule function %v: want one key", m)
	}
	for fn, arg := range m {
		if fn == "Ref" {
			v, ok := s.Params[fmt.Sprint(arg)]
			if !ok {
				return nil, fmt.Errorf("Ref %v: rules may only refer to parameters", arg)
			}
			return v, nil
		}
		args, err := s.ruleValue(arg)
		if err != nil {
			return nil, err
		}
		l, _ := args.([]any)
		switch fn {
		case "Fn::Not":
			if len(l) != 1 {
				return nil, errors.New("Fn::Not wants one argument")
			}
			return l[0] != true, nil
		case "Fn::And", "Fn::Or":
			acc := fn == "Fn::And"
			for _, e := range l {
				if fn == "Fn::And" {
					acc = acc && e == true
				} else {
					acc = acc || e == true
				}
			}
			return acc, nil
		case "Fn::Equals":
			if len(l) != 2 {
				return nil, errors.New("Fn::Equals wants two arguments")
			}
			return fmt.Sprint(l[0]) == fmt.Sprint(l[1]), nil
		case "Fn::Contains":
			if len(l) != 2 {
				return nil, errors.New("Fn::Contains wants a list and a value")
			}
			list, _ := l[0].([]any)
			for _, e := range list {
				if fmt.Sprint(e) == fmt.Sprint(l[1]) {
					return true, nil
				}
			}
			return false, nil
		}
		return nil, fmt.Errorf("rule function %s is not supported", fn)
	}
	return nil, nil
}
