package rules

import (
	"context"
	"errors"
	"strings"
	"testing"

	jsonv2 "github.com/go-json-experiment/json"
)

// FuzzMapSameAsWhole: on any input, every expression gives as Map runs it
// (only the members the rules read decoded, paths and conditions read
// without CEL where plain) what CEL gives on the whole decoded event, and
// an input refused whole is refused in part too (except a number too large
// for a double in a member no rule reads, which no rule could see).
func FuzzMapSameAsWhole(f *testing.F) {
	for _, seed := range []string{
		`{"source":"billing","detail-type":"Invoice Paid","detail":{"orderNumber":8842,"amount":99.5}}`,
		`{"crm":{"kind":"change","caseRef":"c-1","subject":"x","prio":1,"note":null}}`,
		`{"a":{"b":{"c":"deep"}},"k":"a","xs":[{"y":1}],"d-e":"!","z":true}`,
		`{"a":"str","source":null}`, `[1,{"a":2}]`, `"a"`, `{}`, `{"a":{"b":1,"b":2}}`,
	} {
		f.Add([]byte(seed))
	}
	env, err := newEnv()
	if err != nil {
		f.Fatal(err)
	}
	rd := newReads()
	srcs := []string{
		"event.?source.orValue('') == 'billing' && event[?'detail-type'].orValue('') == 'Invoice Paid'",
		"has(event.crm) && event.crm.kind == 'change'",
		"event.detail.amount", "string(int(event.detail.orderNumber))",
		"has(event.crm.note) ? event.crm.note : null",
		"event.a.b.c", "has(event.a.b) && event.k != 'z'", "event.?a.?b.orValue('none') == 'none'",
		"size(event.a)", "event.xs.exists(x, x.y == 1.0)", "event[event.k]", "event['d-e'] == '!' && event.z == true",
	}
	var exprs []*expr
	for _, src := range srcs {
		e, err := compileExpr(env, rd, "when", src, nil)
		if err != nil {
			f.Fatalf("%s: %v", src, err)
		}
		exprs = append(exprs, e)
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var whole any
		wholeErr := jsonv2.Unmarshal(body, &whole)
		part, partErr := rd.decodeEvent(body)
		switch {
		case wholeErr != nil && partErr == nil:
			if !strings.Contains(wholeErr.Error(), "out of range") {
				t.Fatalf("refused whole (%v), accepted in part", wholeErr)
			}
			return
		case wholeErr == nil && partErr != nil:
			t.Fatalf("accepted whole, refused in part: %v", partErr)
		case wholeErr != nil:
			return
		}
		for i, e := range exprs {
			want := result(e.prg.Eval(map[string]any{"event": whole}))
			v, err := e.eval(context.Background(), "r", map[string]any{"event": part})
			var me *MapError
			if errors.As(err, &me) {
				err = me.Err
			}
			if got := result(v, nil, err); got != want {
				t.Errorf("%s:\n got %s\nwant %s", srcs[i], got, want)
			}
		}
	})
}
