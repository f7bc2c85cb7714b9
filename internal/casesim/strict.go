package casesim

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"reflect"
	"strings"
	"sync"
)

// Go's encoding/json matches member names case-insensitively, so
// {"Fields":[…]} would be read as fields. The service (Smithy restJson1) is
// case-sensitive: "Fields" is an unknown member and is ignored, and then
// the request usually lacks a required member. A simulator that accepted
// it would hide a hand-written client's bug, so decode drops every member
// whose name matches a known one only up to case before Go sees it.

// memberNames caches, per request type, every member name in its tree.
var memberNames sync.Map // reflect.Type → map[string]bool

func namesOf(t reflect.Type) map[string]bool {
	if v, ok := memberNames.Load(t); ok {
		return v.(map[string]bool)
	}
	names := map[string]bool{}
	collectNames(t, names, map[reflect.Type]bool{})
	memberNames.Store(t, names)
	return names
}

func collectNames(t reflect.Type, names map[string]bool, seen map[reflect.Type]bool) {
	for t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice || t.Kind() == reflect.Map {
		t = t.Elem()
	}
	if t.Kind() != reflect.Struct || seen[t] {
		return
	}
	seen[t] = true
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if name := jsonName(f); name != "" {
			names[name] = true
			collectNames(f.Type, names, seen)
		}
	}
}

func jsonName(f reflect.StructField) string {
	name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
	if name == "-" || !f.IsExported() {
		return ""
	}
	if name == "" {
		return f.Name
	}
	return name
}

// suspectKeys reports whether the body has an object key that equals a
// member name only up to case, or has escapes (which Go would decode before
// matching). It scans bytes without allocating, so well-formed requests pay
// one pass; only suspects take the slow path, stripCaseMismatches.
func suspectKeys(body []byte, names map[string]bool) bool {
	for i := 0; i < len(body); i++ {
		if body[i] != '"' {
			continue
		}
		start, esc := i+1, false
		for i++; i < len(body) && body[i] != '"'; i++ {
			if body[i] == '\\' {
				esc = true
				i++
			}
		}
		key := body[start:min(i, len(body))]
		j := i + 1
		for j < len(body) && (body[j] == ' ' || body[j] == '\t' || body[j] == '\n' || body[j] == '\r') {
			j++
		}
		if j >= len(body) || body[j] != ':' {
			continue // a string value, not a key
		}
		if esc {
			return true
		}
		if !names[string(key)] { // no allocation: the compiler special-cases map[string(b)]
			for n := range names {
				if strings.EqualFold(n, string(key)) {
					return true
				}
			}
		}
	}
	return false
}

// stripCaseMismatches rewrites raw (the JSON for a value of type t) without
// the members whose names match one of t's only up to case, recursing into
// known members, lists and maps (map keys are data, never stripped).
func stripCaseMismatches(raw json.RawMessage, t reflect.Type) json.RawMessage {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.Struct:
		var obj map[string]json.RawMessage
		if json.Unmarshal(raw, &obj) != nil || obj == nil {
			return raw // not an object: json.Unmarshal will say so
		}
		for k, v := range obj {
			if f, ok := exactField(t, k); ok {
				obj[k] = stripCaseMismatches(v, f.Type)
			} else if foldField(t, k) {
				delete(obj, k)
			}
		}
		b, _ := json.Marshal(obj)
		return b
	case reflect.Slice:
		var xs []json.RawMessage
		if json.Unmarshal(raw, &xs) != nil {
			return raw
		}
		for i := range xs {
			xs[i] = stripCaseMismatches(xs[i], t.Elem())
		}
		b, _ := json.Marshal(xs)
		return b
	case reflect.Map:
		var m map[string]json.RawMessage
		if json.Unmarshal(raw, &m) != nil {
			return raw
		}
		for k, v := range m {
			m[k] = stripCaseMismatches(v, t.Elem())
		}
		b, _ := json.Marshal(m)
		return b
	}
	return raw
}

func exactField(t reflect.Type, key string) (reflect.StructField, bool) {
	for i := 0; i < t.NumField(); i++ {
		if f := t.Field(i); jsonName(f) == key {
			return f, true
		}
	}
	return reflect.StructField{}, false
}

// foldField: a key Go would bind to a member, though the service would not.
// Escaped keys are compared after unescaping, as Go does.
func foldField(t reflect.Type, key string) bool {
	for i := 0; i < t.NumField(); i++ {
		if n := jsonName(t.Field(i)); n != "" && strings.EqualFold(n, key) {
			return true
		}
	}
	return false
}

// decode unmarshals a JSON request body as the service does: an empty body
// is an empty object, member names are case-sensitive, and a body that is
// not JSON, or not the operation's shape (a string where a list belongs),
// is a 400 SerializationException, as restJson1 services answer, not a
// ValidationException.
func decode(body []byte, v any) *apiError {
	if len(bytes.TrimSpace(body)) == 0 {
		return nil
	}
	t := reflect.TypeOf(v)
	if suspectKeys(body, namesOf(t)) {
		body = stripCaseMismatches(body, t)
	}
	if err := json.Unmarshal(body, v); err != nil {
		return serializationf(err)
	}
	return nil
}

func serializationf(err error) *apiError {
	var se *json.SyntaxError
	msg := "request body is not valid JSON for this operation: " + err.Error()
	if errors.As(err, &se) {
		msg = "request body is not valid JSON: " + err.Error()
	}
	return &apiError{status: http.StatusBadRequest, code: "SerializationException", message: msg}
}
