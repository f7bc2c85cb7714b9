// Package jsonpool recycles jsontext decoders, as encoding/json recycles its
// own: a fresh decoder allocates its stacks of object names for every
// document, which costs more than decoding a small message. A recycled
// decoder carries nothing from one document to the next.
package jsonpool

import (
	"bytes"
	"sync"

	"github.com/go-json-experiment/json/jsontext"
)

// Decoder is a pooled jsontext decoder reading one document.
type Decoder struct {
	*jsontext.Decoder
	buf bytes.Buffer
}

var pool = sync.Pool{New: func() any {
	d := new(Decoder)
	d.Decoder = jsontext.NewDecoder(&d.buf)
	return d
}}

// Get returns a decoder reading data. Call Release when done with it.
func Get(data []byte) *Decoder {
	d := pool.Get().(*Decoder)
	d.buf = *bytes.NewBuffer(data)
	d.Reset(&d.buf)
	return d
}

// Release drops the reference to the caller's bytes and recycles d.
func (d *Decoder) Release() {
	d.buf = bytes.Buffer{}
	d.Reset(&d.buf)
	pool.Put(d)
}
