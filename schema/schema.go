// Package schema ships the JSON Schema of message contract v1 and compiles it,
// so Go code (tests, publishers) validates against the very file non-Go
// publishers are given.
package schema

import (
	"bytes"
	_ "embed"
	"fmt"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// ContractV1 is schema/contract-v1.schema.json.
//
//go:embed contract-v1.schema.json
var ContractV1 []byte

// Compile compiles ContractV1 with format assertions on (occurredAt's
// date-time), as publishers should run it.
func Compile() (*jsonschema.Schema, error) {
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(ContractV1))
	if err != nil {
		return nil, fmt.Errorf("schema: %w", err)
	}
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	const url = "contract-v1.schema.json"
	if err := c.AddResource(url, doc); err != nil {
		return nil, fmt.Errorf("schema: %w", err)
	}
	return c.Compile(url)
}
