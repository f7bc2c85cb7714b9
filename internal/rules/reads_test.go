package rules

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"sort"
	"strings"
	"testing"

	"cel.dev/cel-go/cel"
	"cel.dev/cel-go/common/types/ref"
	jsonv2 "github.com/go-json-experiment/json"
)

// TestReadsSameResults: an expression sees the same thing on the part of
// an event its reads decode as on the whole event, whatever it does with
// it (select, test for presence, count, compare, iterate, index by a
// computed key), on events of every shape.
func TestReadsSameResults(t *testing.T) {
	exprs := []string{
		"event.a.b",
		"has(event.a.b)",
		"has(event.a)",
		"has(event.a.b.c)",
		"has(event.a) && has(event.a.b) && event.a.b == 1.0",
		"event.?a.?b.orValue('none')",
		"event[?'a'].orValue({}).size()",
		"event.a['b']",
		"event['a'].b.c",
		"size(event.a)",
		"'b' in event.a",
		"event.a == {'b': 1.0, 'c': 2.0}",
		"event.a.all(k, k != 'x')",
		"event.xs.exists(x, x.y == 1.0)",
		"event[event.k]",
		"size(event)",
		"[1].exists(event, event == 1) || has(event.z)",
		"event.a.b.c + event['d-e']",
		"event.a.exists_one(k, k == 'b')",
		"dyn(event).a.c",
		"event.a",
		"event.z",
		"event['d-e']",
		"event.a['c']",
		"event.xs",
		"event.?source.orValue('') == 'billing' && event[?'detail-type'].orValue('') == 'Invoice Paid'",
		"has(event.a) && event.k == 'a'",
		"has(event.a.b) && event.k != 'z'",
		"event.?a.?b.orValue('none') == 'none'",
		"event.a.?b.orValue(true) == true",
		"'a' == event.k",
		"event.k == 'a' && event.missing == 'x'",
		"event.missing == 'x' && event.k == 'zz'",
		"event['d-e'] == '!' && event.z != true",
		"event.?a.orValue('') == 'str'",
		"has(event.source) && event.source == 'billing' && event.a.c == 2.0",
	}
	events := []string{
		`{"a":{"b":1,"c":2},"k":"a","xs":[{"y":1}],"z":1,"d-e":"x"}`,
		`{"a":{"c":2},"k":"z","z":null}`,
		`{"a":"str","k":"k"}`,
		`{"a":{"b":{"c":"deep"},"x":1},"d\u002de":"!","k":"a"}`,
		`{"a":{"b":{"c":"deep"}},"d-e":"!","xs":[1]}`,
		`[1,2]`,
		`"a"`,
		`{}`,
		`{"a":null,"xs":[]}`,
		`{"a":{"b":true,"c":"s"}}`,
		`{"a":{"b":[1,{"c":null}],"c":-0.5e3}}`,
		`{"source":"billing","detail-type":"Invoice Paid","k":"a","a":{"b":true}}`,
		`{"source":"billing","detail-type":7,"a":{"c":2}}`,
		`{"source":null,"detail-type":"Invoice Paid","z":true,"d-e":"!"}`,
	}
	env, err := newEnv()
	if err != nil {
		t.Fatal(err)
	}
	for _, src := range exprs {
		rd := newReads()
		e, err := compileExpr(env, rd, "when", src, nil)
		if err != nil {
			t.Fatalf("%s: %v", src, err)
		}
		for _, event := range events {
			var whole any
			if err := jsonv2.Unmarshal([]byte(event), &whole); err != nil {
				t.Fatal(err)
			}
			part, err := rd.decodeEvent([]byte(event))
			if err != nil {
				t.Fatalf("%s on %s: %v", src, event, err)
			}
			want := result(e.prg.Eval(map[string]any{"event": whole}))
			got := result(e.prg.Eval(map[string]any{"event": part}))
			if got != want {
				t.Errorf("%s on %s:\n got %s\nwant %s (reads %s)", src, event, got, want, rd)
			}
			// And as Map evaluates it: a path is read without CEL.
			v, err := e.eval(context.Background(), "r", map[string]any{"event": part})
			var me *MapError
			if errors.As(err, &me) {
				err = me.Err
			}
			if got := result(v, nil, err); got != want {
				t.Errorf("%s on %s, as Map evaluates it:\n got %s\nwant %s", src, event, got, want)
			}
		}
	}
}

func result(v ref.Val, _ *cel.EvalDetails, err error) string {
	if err != nil {
		return "error: " + err.Error()
	}
	return fmt.Sprintf("%s %v", v.Type(), v.Value())
}

// String shows what r reads, for test failures: a.b, c(whole).
func (r *reads) String() string {
	if r.whole {
		return "(whole)"
	}
	var parts []string
	for name, child := range r.members {
		parts = append(parts, name+child.String())
	}
	sort.Strings(parts)
	return "{" + strings.Join(parts, " ") + "}"
}

func TestReadsOf(t *testing.T) {
	for _, tc := range []struct{ exprs, want string }{
		{"event.a.b", "{a{b(whole)}}"},
		{"has(event.a.b) && event.?c.orValue(1) == 1 && event['d-e'][?'f'].hasValue()", "{a{b{}} c(whole) d-e{f(whole)}}"},
		{"has(event.a) ? event.a.b : 1", "{a{b(whole)}}"},
		{"has(event.a.b) && event.a.b.c == 1", "{a{b{c(whole)}}}"},
		{"event.a.b; has(event.a.b.c)", "{a{b(whole)}}"},
		{"event.a.b; size(event.a)", "{a(whole)}"},
		{"event.a.b; event.a.c.d", "{a{b(whole) c{d(whole)}}}"},
		{"event.xs.exists(x, x.y == 1)", "{xs(whole)}"},
		{"event[event.k]", "(whole)"},
		{"event.a[0]", "{a(whole)}"},
		{"'ok'", "{}"},
	} {
		env, err := newEnv()
		if err != nil {
			t.Fatal(err)
		}
		rd := newReads()
		for _, src := range strings.Split(tc.exprs, "; ") {
			if _, err := compileExpr(env, rd, "set.f", src, nil); err != nil {
				t.Fatalf("%s: %v", src, err)
			}
		}
		if got := rd.String(); got != tc.want {
			t.Errorf("%s: reads %s, want %s", tc.exprs, got, tc.want)
		}
	}
}

// TestDecodeEventStrict: the parts of an event no rule reads are skipped,
// not trusted: the event is refused as before when they are not JSON.
func TestDecodeEventStrict(t *testing.T) {
	env, err := newEnv()
	if err != nil {
		t.Fatal(err)
	}
	rd := newReads()
	if _, err := compileExpr(env, rd, "when", "event.a.b == 1", nil); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, event string
		ok          bool
	}{
		{"read part only", `{"a":{"b":1}}`, true},
		{"escaped names", `{"\u0061":{"\u0062":1},"z\n":2}`, true},
		{"duplicate in a skipped object", `{"a":{"b":1},"z":{"q":1,"q":2}}`, false},
		{"duplicate skipped member", `{"z":1,"a":{"b":1},"z":2}`, false},
		{"duplicate read member, one escaped", `{"a":{"b":1,"\u0062":2}}`, false},
		{"invalid UTF-8 in a skipped string", "{\"a\":{\"b\":1},\"z\":\"\xff\"}", false},
		{"invalid UTF-8 in a skipped name", "{\"a\":{\"b\":1},\"\xff\":1}", false},
		{"bad escape in a skipped string", `{"a":{"b":1},"z":"\q"}`, false},
		{"data after the value", `{"a":{"b":1}} {}`, false},
		{"truncated in a skipped value", `{"a":{"b":1},"z":[1,`, false},
		{"number too large where read", `{"a":{"b":1e400}}`, false},
		{"number too large where skipped", `{"a":{"b":1},"z":1e400}`, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v, err := rd.decodeEvent([]byte(tc.event))
			if (err == nil) != tc.ok {
				t.Fatalf("decodeEvent = %v, %v; want ok %v", v, err, tc.ok)
			}
			if tc.ok && !reflect.DeepEqual(v, map[string]any{"a": map[string]any{"b": 1.0}}) {
				t.Errorf("decoded %#v", v)
			}
		})
	}
}

// TestGuardShapes: the conditions rules are usually written with are
// decided without CEL; others are left to it.
func TestGuardShapes(t *testing.T) {
	env, err := newEnv()
	if err != nil {
		t.Fatal(err)
	}
	for src, want := range map[string]bool{
		"event.?source.orValue('') == 'billing' && event[?'detail-type'].orValue('') == 'Invoice Paid'": true,
		"has(event.crm) && event.crm.kind == 'change'":                                                  true,
		"event.a.?b.?c.orValue(false) == true && 'x' != event['d-e']":                                   true,
		"event.n == 1.0":                       false, // numbers: CEL's equality
		"event.?a.orValue(1) == 'x'":           false, // default of another kind
		"event.?a.b.orValue('') == 'x'":        false, // a plain member after an optional one
		"has(event.a) || event.k == 'a'":       false,
		"event.a.startsWith('x')":              false,
		"has(event.?a.b)":                      false,
		"event.k == 'a' && size(event.xs) > 0": false,
	} {
		e, err := compileExpr(env, newReads(), "when", src, nil)
		if err != nil {
			t.Fatalf("%s: %v", src, err)
		}
		if got := e.guard != nil; got != want {
			t.Errorf("%s: guard %v, want %v", src, got, want)
		}
	}
}
