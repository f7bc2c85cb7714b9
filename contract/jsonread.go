package contract

import (
	"bytes"
	"errors"
	"io"
	"strconv"
	"strings"

	"github.com/go-json-experiment/json/jsontext"
)

// This file holds the decoder's reading primitives and how it names paths;
// decode.go holds the shape of the contract.

// name reads an object member's name. The returned bytes are only valid
// until the next read; names without escapes are not copied.
func (d *decoder) name() ([]byte, *RejectionError) {
	val, err := d.dec.ReadValue()
	if err != nil {
		return nil, d.convert(err)
	}
	if bytes.IndexByte(val, '\\') < 0 {
		return val[1 : len(val)-1], nil
	}
	d.scratch, err = jsontext.AppendUnquote(d.scratch[:0], val)
	if err != nil {
		return nil, d.convert(err)
	}
	return d.scratch, nil
}

// str reads a JSON string. path may be empty when the caller fills it in.
func (d *decoder) str(path string) (string, *RejectionError) {
	if d.dec.PeekKind() != '"' {
		return "", d.typeError(path, "a string")
	}
	val, err := d.dec.ReadValue()
	if err != nil {
		return "", d.convert(err)
	}
	if bytes.IndexByte(val, '\\') < 0 {
		// Slice one shared copy of the input rather than allocate per string.
		if d.src == "" {
			d.src = string(d.data)
		}
		end := int(d.dec.InputOffset())
		return d.src[end-len(val)+1 : end-1], nil
	}
	d.scratch, err = jsontext.AppendUnquote(d.scratch[:0], val)
	if err != nil {
		return "", d.convert(err)
	}
	return string(d.scratch), nil
}

// num parses the number's own text, so the float64 is exact (the nearest
// double, as strconv rounds) and an overflow such as 1e400 is caught rather
// than turned into Inf.
func (d *decoder) num(path func() string) (float64, *RejectionError) {
	val, err := d.dec.ReadValue()
	if err != nil {
		return 0, d.convert(err)
	}
	f, err := strconv.ParseFloat(string(val), 64)
	if err != nil {
		return 0, reject(path(), "number %s is outside the float64 range", val)
	}
	return f, nil
}

// typeError reports a value of the wrong JSON type, unless the text is not
// JSON at all, which matters more.
func (d *decoder) typeError(path, want string) *RejectionError {
	if rej := d.syntax(); rej != nil {
		return rej
	}
	got := d.dec.PeekKind().String()
	if got == "null" {
		return reject(path, "must be %s, not null", want)
	}
	return reject(path, "must be %s, not %s", want, got)
}

// syntax returns the pending syntax error, if the next token is not JSON.
func (d *decoder) syntax() *RejectionError {
	if d.dec.PeekKind() != 0 {
		return nil
	}
	_, err := d.dec.ReadValue()
	if rej := d.convert(err); rej != nil {
		return rej
	}
	return reject("$", "invalid JSON")
}

// convert turns a jsontext error into a rejection that names the path.
func (d *decoder) convert(err error) *RejectionError {
	if err == nil {
		return nil
	}
	var se *jsontext.SyntacticError
	if errors.As(err, &se) {
		path := pointerPath(se.JSONPointer)
		if errors.Is(se.Err, jsontext.ErrDuplicateName) {
			return reject(path, "duplicate key")
		}
		return reject(path, "invalid JSON at byte %d: %v", se.ByteOffset, se.Err)
	}
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		return reject("$", "invalid JSON: unexpected end of input")
	}
	return reject("$", "invalid JSON: %v", err)
}

func unknownKey(parent string, key []byte, allowed string) *RejectionError {
	path := string(key)
	if parent != "" {
		path = keyPath(parent, path)
	}
	return reject(path, "unknown key (allowed here: %s)", allowed)
}

func isEmptyObject(v jsontext.Value) bool {
	inner := bytes.TrimSpace(v[1 : len(v)-1])
	return len(inner) == 0
}

// keyPath appends a member name to a path: parent.name, or parent["odd name"]
// when the name is not a plain identifier.
func keyPath(parent, name string) string {
	switch {
	case !isPlain(name):
		return parent + "[" + strconv.Quote(name) + "]"
	case parent == "":
		return name
	default:
		return parent + "." + name
	}
}

func isPlain(name string) bool {
	for _, r := range name {
		if !(r == '_' || r == '-' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') {
			return false
		}
	}
	return name != ""
}

// pointerPath turns a JSON Pointer (/fields/2/value) into the path notation
// of rejections (fields[2].value); all-digit tokens are taken as indexes.
func pointerPath(p jsontext.Pointer) string {
	if p == "" {
		return "$"
	}
	var b strings.Builder
	for tok := range p.Tokens() {
		if tok != "" && strings.Trim(tok, "0123456789") == "" {
			b.WriteString("[" + tok + "]")
			continue
		}
		if isPlain(tok) {
			b.WriteString("." + tok)
		} else {
			b.WriteString("[" + strconv.Quote(tok) + "]")
		}
	}
	return strings.TrimPrefix(b.String(), ".")
}
