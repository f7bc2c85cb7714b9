package rules_test

import (
	"errors"
	"runtime"
	"strings"
	"testing"

	"github.com/casebridge/casebridge/internal/rules"
)

func TestCompileErrors(t *testing.T) {
	ok := `"when":"true","caseId":"'c'","set":{"f":{"value":1}}`
	for _, tc := range []struct {
		name, src string
		index     int    // -1: the file itself
		rule      string // the name the error must carry
		line      int    // the rule's (or syntax error's) line; 0: not checked
		expr      string
		exprPos   bool // a position inside the expression
		msg       string
	}{
		{name: "not JSON", src: "{\n\"rules\": [\n}", index: -1, line: 3, msg: "invalid character"},
		{name: "unknown key", src: `{"rules":[{"name":"a",` + ok + `,"whne":"x"}]}`, index: 0, rule: "a", msg: "unknown field"},
		{name: "no rules", src: `{"rules":[]}`, index: -1, msg: "empty"},
		{name: "syntax error names rule and position", src: "{\"rules\":[\n  {\"name\":\"a\"," + ok + "},\n  {\"name\":\"b\",\"when\":\"event.x ==\",\"caseId\":\"'c'\",\"set\":{\"f\":{\"value\":1}}}]}",
			index: 1, rule: "b", line: 3, expr: "when", exprPos: true, msg: "Syntax error"},
		{name: "unknown function", src: `{"rules":[{"name":"a","when":"nosuch(event)","caseId":"'c'","set":{"f":{"value":1}}}]}`, index: 0, rule: "a", expr: "when", exprPos: true, msg: "undeclared reference"},
		{name: "condition not bool", src: `{"rules":[{"name":"a","when":"'yes'","caseId":"'c'","set":{"f":{"value":1}}}]}`, index: 0, rule: "a", expr: "when", msg: "want bool"},
		{name: "case id not string", src: `{"rules":[{"name":"a","when":"true","caseId":"1","set":{"f":{"value":1}}}]}`, index: 0, rule: "a", expr: "caseId", msg: "want string"},
		{name: "both caseId and lookup", src: `{"rules":[{"name":"a",` + ok + `,"lookup":{"fieldId":"o","value":"'1'"}}]}`, index: 0, rule: "a", msg: "exactly one"},
		{name: "no name", src: `{"rules":[{` + ok + `}]}`, index: 0, msg: "name"},
		{name: "duplicate name", src: `{"rules":[{"name":"a",` + ok + `},{"name":"a",` + ok + `}]}`, index: 1, rule: "a", msg: "earlier rule"},
		{name: "set value and expr", src: `{"rules":[{"name":"a","when":"true","caseId":"'c'","set":{"f":{"value":1,"expr":"2"}}}]}`, index: 0, rule: "a", msg: "exactly one"},
		{name: "constant list", src: `{"rules":[{"name":"a","when":"true","caseId":"'c'","set":{"f":{"value":[1]}}}]}`, index: 0, rule: "a", msg: "string, number, bool or null"},
		{name: "performedBy both", src: `{"rules":[{"name":"a",` + ok + `,"performedBy":{"customEntity":"x","userArn":"y"}}]}`, index: 0, rule: "a", msg: "performedBy"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := rules.Compile([]byte(tc.src))
			var ce *rules.CompileError
			if !errors.As(err, &ce) {
				t.Fatalf("err = %v, want *CompileError", err)
			}
			if ce.Index != tc.index || ce.Rule != tc.rule || ce.Expr != tc.expr || (tc.line > 0 && ce.Line != tc.line) ||
				(tc.exprPos && ce.ExprLine == 0) || !strings.Contains(err.Error(), tc.msg) {
				t.Errorf("got %+v\n(%v)\nwant index %d rule %q line %d expr %q position %v message ~%q", *ce, err, tc.index, tc.rule, tc.line, tc.expr, tc.exprPos, tc.msg)
			}
		})
	}
}

// TestCompileHostile: each file is refused at compile time, and compiling
// it allocates a bounded amount, whatever the attacker made it ask for.
func TestCompileHostile(t *testing.T) {
	rule := func(when string) string {
		return `{"rules":[{"name":"evil","when":` + quote(when) + `,"caseId":"'c'","set":{"f":{"value":1}}}]}`
	}
	for _, tc := range []struct{ name, src, msg string }{
		{"deep CEL nesting", rule(strings.Repeat("(", 200) + "true" + strings.Repeat(")", 200)), "recursion"},
		{"deep CEL nesting in a list", rule(strings.Repeat("[", 100) + strings.Repeat("]", 100) + " == []"), "recursion"},
		{"huge expression", rule("true" + strings.Repeat(" && true", 1000)), "at most 4096"},
		{"unbounded cost: nested comprehensions", rule("event.xs.all(x, event.xs.all(y, event.xs.exists(z, x + y == z)))"), "exceeds"},
		{"unbounded cost: string blow-up", rule("event.xs.map(x, event.xs.map(y, event.s + event.s)).size() > 0"), "exceeds"},
		{"deep JSON nesting", `{"rules":[{"name":"evil","when":"true","caseId":"'c'","set":{"f":{"value":` +
			strings.Repeat("[", 100_000) + strings.Repeat("]", 100_000) + `}}}]}`, "exceeded max depth"},
		{"huge file", `{"rules":[` + strings.Repeat(" ", rules.MaxFileBytes) + `]}`, "at most"},
		{"too many rules", `{"rules":[` + strings.Repeat(`{},`, rules.MaxRules) + `{}]}`, "at most"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			_, err := rules.Compile([]byte(tc.src))
			runtime.ReadMemStats(&after)
			var ce *rules.CompileError
			if !errors.As(err, &ce) || !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("err = %v, want a *CompileError containing %q", err, tc.msg)
			}
			// Generous: the point is "bounded", not a tight figure.
			if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 64<<20 {
				t.Errorf("compiling allocated %d MiB", alloc>>20)
			}
		})
	}
}

func quote(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`)
	return `"` + r.Replace(s) + `"`
}
