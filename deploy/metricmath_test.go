package deploy

import (
	"fmt"
	"strconv"
	"strings"
	"unicode"
)

// A small evaluator for the part of CloudWatch metric math the scaling
// policy uses, so tests can feed the policy's expressions one minute of
// metric values and see what target tracking would see: numbers, query ids,
// + - * /, comparisons (> >= < <= == !=, giving 1 or 0), AND/&& and OR/||,
// parentheses, IF(condition, then, else) and FILL(series, value). A value
// may be missing (a metric with no datapoint that minute): arithmetic,
// comparisons and IF's condition on a missing value give a missing value,
// FILL replaces it. That is CloudWatch's behaviour for one aligned
// datapoint; whether FILL also fills a series that has no datapoint at all
// in the query's range is an assumption (docs/deployment.md).

type mval struct {
	v  float64
	ok bool
}

func present(v float64) mval { return mval{v, true} }

var missing = mval{}

type mathEval struct {
	toks []string
	pos  int
	ids  func(string) (mval, error)
}

func tokenize(expr string) ([]string, error) {
	var toks []string
	for i := 0; i < len(expr); {
		c := rune(expr[i])
		switch {
		case unicode.IsSpace(c):
			i++
		case unicode.IsDigit(c) || c == '.':
			j := i
			for j < len(expr) && (unicode.IsDigit(rune(expr[j])) || expr[j] == '.') {
				j++
			}
			toks = append(toks, expr[i:j])
			i = j
		case unicode.IsLetter(c) || c == '_':
			j := i
			for j < len(expr) && (unicode.IsLetter(rune(expr[j])) || unicode.IsDigit(rune(expr[j])) || expr[j] == '_') {
				j++
			}
			toks = append(toks, expr[i:j])
			i = j
		default:
			two := ""
			if i+1 < len(expr) {
				two = expr[i : i+2]
			}
			switch two {
			case ">=", "<=", "==", "!=", "&&", "||":
				toks = append(toks, two)
				i += 2
				continue
			}
			if !strings.ContainsRune("+-*/(),<>", c) {
				return nil, fmt.Errorf("unexpected %q in %q", c, expr)
			}
			toks = append(toks, string(c))
			i++
		}
	}
	return toks, nil
}

// evalMath evaluates expr; ids resolves query ids.
func evalMath(expr string, ids func(string) (mval, error)) (mval, error) {
	toks, err := tokenize(expr)
	if err != nil {
		return missing, err
	}
	e := &mathEval{toks: toks, ids: ids}
	v, err := e.or()
	if err != nil {
		return missing, err
	}
	if e.pos != len(e.toks) {
		return missing, fmt.Errorf("%q: unexpected %q", expr, e.toks[e.pos])
	}
	return v, nil
}

func (e *mathEval) peek() string {
	if e.pos < len(e.toks) {
		return e.toks[e.pos]
	}
	return ""
}

func (e *mathEval) expect(tok string) error {
	if e.peek() != tok {
		return fmt.Errorf("want %q, got %q", tok, e.peek())
	}
	e.pos++
	return nil
}

func truth(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// binary applies op to two values, missing if either is.
func binary(a, b mval, op func(x, y float64) float64) mval {
	if !a.ok || !b.ok {
		return missing
	}
	return present(op(a.v, b.v))
}

func (e *mathEval) or() (mval, error) {
	l, err := e.and()
	for err == nil && (strings.EqualFold(e.peek(), "OR") || e.peek() == "||") {
		e.pos++
		var r mval
		if r, err = e.and(); err == nil {
			l = binary(l, r, func(x, y float64) float64 { return truth(x != 0 || y != 0) })
		}
	}
	return l, err
}

func (e *mathEval) and() (mval, error) {
	l, err := e.cmp()
	for err == nil && (strings.EqualFold(e.peek(), "AND") || e.peek() == "&&") {
		e.pos++
		var r mval
		if r, err = e.cmp(); err == nil {
			l = binary(l, r, func(x, y float64) float64 { return truth(x != 0 && y != 0) })
		}
	}
	return l, err
}

var comparisons = map[string]func(x, y float64) bool{
	">": func(x, y float64) bool { return x > y }, ">=": func(x, y float64) bool { return x >= y },
	"<": func(x, y float64) bool { return x < y }, "<=": func(x, y float64) bool { return x <= y },
	"==": func(x, y float64) bool { return x == y }, "!=": func(x, y float64) bool { return x != y },
}

func (e *mathEval) cmp() (mval, error) {
	l, err := e.sum()
	if err != nil {
		return l, err
	}
	if f, ok := comparisons[e.peek()]; ok {
		e.pos++
		r, err := e.sum()
		if err != nil {
			return r, err
		}
		return binary(l, r, func(x, y float64) float64 { return truth(f(x, y)) }), nil
	}
	return l, nil
}

func (e *mathEval) sum() (mval, error) {
	l, err := e.product()
	for err == nil && (e.peek() == "+" || e.peek() == "-") {
		op := e.toks[e.pos]
		e.pos++
		var r mval
		if r, err = e.product(); err == nil {
			l = binary(l, r, func(x, y float64) float64 {
				if op == "+" {
					return x + y
				}
				return x - y
			})
		}
	}
	return l, err
}

func (e *mathEval) product() (mval, error) {
	l, err := e.unary()
	for err == nil && (e.peek() == "*" || e.peek() == "/") {
		op := e.toks[e.pos]
		e.pos++
		var r mval
		if r, err = e.unary(); err == nil {
			if op == "/" && r.ok && r.v == 0 {
				l = missing // CloudWatch drops a datapoint divided by zero
				continue
			}
			l = binary(l, r, func(x, y float64) float64 {
				if op == "*" {
					return x * y
				}
				return x / y
			})
		}
	}
	return l, err
}

func (e *mathEval) unary() (mval, error) {
	if e.peek() == "-" {
		e.pos++
		v, err := e.unary()
		return binary(present(0), v, func(_, y float64) float64 { return -y }), err
	}
	return e.primary()
}

func (e *mathEval) args(n int) ([]mval, error) {
	if err := e.expect("("); err != nil {
		return nil, err
	}
	var out []mval
	for i := range n {
		if i > 0 {
			if err := e.expect(","); err != nil {
				return nil, err
			}
		}
		v, err := e.or()
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, e.expect(")")
}

func (e *mathEval) primary() (mval, error) {
	tok := e.peek()
	switch {
	case tok == "":
		return missing, fmt.Errorf("unexpected end of expression")
	case tok == "(":
		e.pos++
		v, err := e.or()
		if err != nil {
			return v, err
		}
		return v, e.expect(")")
	case unicode.IsDigit(rune(tok[0])) || tok[0] == '.':
		e.pos++
		n, err := strconv.ParseFloat(tok, 64)
		return present(n), err
	case strings.EqualFold(tok, "IF"):
		e.pos++
		a, err := e.args(3)
		if err != nil {
			return missing, err
		}
		if !a[0].ok {
			return missing, nil
		}
		if a[0].v != 0 {
			return a[1], nil
		}
		return a[2], nil
	case strings.EqualFold(tok, "FILL"):
		e.pos++
		a, err := e.args(2)
		if err != nil {
			return missing, err
		}
		if a[0].ok {
			return a[0], nil
		}
		return a[1], nil
	case unicode.IsLower(rune(tok[0])):
		e.pos++
		return e.ids(tok)
	}
	return missing, fmt.Errorf("unexpected %q", tok)
}
