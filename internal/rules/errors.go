package rules

import (
	"fmt"
	"strings"
)

// Code classifies why an event could not be mapped; mapper.FailureReason
// turns each into a dead-letter class and code (contract.Code…).
type Code string

const (
	// CodeInvalidEvent: the body is not JSON.
	CodeInvalidEvent Code = "invalid-event"
	// CodeNoRuleMatched: every rule's condition was false.
	CodeNoRuleMatched Code = "no-rule-matched"
	// CodeExpressionFailed: an expression raised an error on this event
	// (a missing key, a wrong type, its cost limit).
	CodeExpressionFailed Code = "expression-failed"
	// CodeUnconvertibleValue: an expression's result is not a Cases value
	// (a list, a map, bytes, a number too large for a double's integers).
	CodeUnconvertibleValue Code = "unconvertible-value"
)

// MapError is why Map could not map one event. Rule and Expr are empty
// when no rule was involved (CodeInvalidEvent, CodeNoRuleMatched).
type MapError struct {
	Code Code
	Rule string // the rule's name
	Expr string // which expression: "when", "caseId", "lookup.value", "set.<field>"
	Err  error
}

func (e *MapError) Error() string {
	var b strings.Builder
	b.WriteString("rules: " + string(e.Code))
	if e.Rule != "" {
		fmt.Fprintf(&b, ": rule %q", e.Rule)
	}
	if e.Expr != "" {
		b.WriteString(" " + e.Expr)
	}
	if e.Err != nil {
		b.WriteString(": " + e.Err.Error())
	}
	return b.String()
}

func (e *MapError) Unwrap() error { return e.Err }

// CompileError is why a rules file was refused. It names the rule (its
// index, and its name when it has one), where the rule starts in the file,
// and for an expression, which one and the position inside it.
type CompileError struct {
	Index    int    // the rule's index in "rules"; -1 for the file itself
	Rule     string // the rule's name, if it has one
	Line     int    // 1-based line of the rule (or of the syntax error) in the file; 0 if unknown
	Column   int
	Expr     string // "when", "caseId", "lookup.value", "set.<field>"; empty for the rule's shape
	ExprLine int    // 1-based position inside the expression; 0 if none
	ExprCol  int
	Err      error
}

func (e *CompileError) Error() string {
	var b strings.Builder
	b.WriteString("rules: ")
	if e.Index >= 0 {
		fmt.Fprintf(&b, "rule %d", e.Index)
		if e.Rule != "" {
			fmt.Fprintf(&b, " %q", e.Rule)
		}
		b.WriteString(" ")
	}
	if e.Line > 0 {
		fmt.Fprintf(&b, "(line %d, column %d)", e.Line, e.Column)
	}
	if e.Expr != "" {
		fmt.Fprintf(&b, " %s", e.Expr)
		if e.ExprLine > 0 {
			fmt.Fprintf(&b, " at %d:%d", e.ExprLine, e.ExprCol)
		}
	}
	b.WriteString(": " + e.Err.Error())
	return b.String()
}

func (e *CompileError) Unwrap() error { return e.Err }

// lineCol turns a byte offset into a 1-based line and column (in bytes).
func lineCol(data []byte, off int64) (int, int) {
	off = min(max(off, 0), int64(len(data)))
	line, col := 1, 1
	for _, c := range data[:off] {
		if c == '\n' {
			line, col = line+1, 1
		} else {
			col++
		}
	}
	return line, col
}
