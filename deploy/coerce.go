package deploy

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strconv"
	"strings"

	"github.com/awslabs/goformation/v7/cloudformation"
	"github.com/awslabs/goformation/v7/cloudformation/serverless"
)

var unmarshalerType = reflect.TypeFor[json.Unmarshaler]()

// coerceResource converts props in place to the scalar types goformation's
// struct res (of type typ) declares. CloudFormation does this itself (a Ref to a Number
// parameter is a string, and "60" is a fine Timeout), goformation's strict
// decoding does not. Only scalars are converted; a wrong shape (a list where
// a string belongs, an unknown property) is left for goformation to reject.
func coerceResource(typ string, res cloudformation.Resource, props map[string]any) error {
	if res == nil || props == nil {
		return nil // a custom resource: untyped properties
	}
	t := reflect.TypeOf(res)
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if typ == "AWS::Serverless::Function" {
		events, _ := props["Events"].(map[string]any)
		for name, e := range events {
			member, known := samEventTypes[fmt.Sprint(dig(e, "Type"))]
			ep, _ := dig(e, "Properties").(map[string]any)
			if !known || ep == nil {
				continue
			}
			if err := coerceFields(ep, member); err != nil {
				return fmt.Errorf("Events.%s.Properties.%w", name, err)
			}
		}
	}
	// The resource struct's own UnmarshalJSON reads the envelope; its fields
	// are the properties, so walk them directly.
	return coerceFields(props, t)
}

// samEventTypes names the struct goformation decodes a SAM event source's
// Properties into, by event Type: its Properties union picks a member by
// trial decoding, so coercion has to be told which member applies.
var samEventTypes = map[string]reflect.Type{
	"SQS": reflect.TypeFor[serverless.Function_SQSEvent](),
}

func coerceFields(m map[string]any, t reflect.Type) error {
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "" || name == "-" {
			continue
		}
		v, ok := m[name]
		if !ok {
			continue
		}
		c, err := coerce(v, f.Type)
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		m[name] = c
	}
	return nil
}

func coerce(v any, t reflect.Type) (any, error) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if reflect.PointerTo(t).Implements(unmarshalerType) {
		return v, nil // a union type (String or list, …) that decodes itself
	}
	switch t.Kind() {
	case reflect.String:
		switch x := v.(type) {
		case float64:
			return strconv.FormatFloat(x, 'f', -1, 64), nil
		case bool:
			return strconv.FormatBool(x), nil
		}
	case reflect.Int, reflect.Int64, reflect.Int32, reflect.Float64, reflect.Float32:
		if s, ok := v.(string); ok {
			n, err := strconv.ParseFloat(s, 64)
			if err != nil {
				return nil, fmt.Errorf("%q is not a number", s)
			}
			return n, nil
		}
	case reflect.Bool:
		if s, ok := v.(string); ok {
			b, err := strconv.ParseBool(s)
			if err != nil {
				return nil, fmt.Errorf("%q is not a boolean", s)
			}
			return b, nil
		}
	case reflect.Struct:
		if m, ok := v.(map[string]any); ok {
			return m, coerceFields(m, t)
		}
	case reflect.Slice:
		if s, ok := v.([]any); ok {
			for i, e := range s {
				c, err := coerce(e, t.Elem())
				if err != nil {
					return nil, fmt.Errorf("[%d]: %w", i, err)
				}
				s[i] = c
			}
		}
	case reflect.Map:
		if m, ok := v.(map[string]any); ok {
			for k, e := range m {
				c, err := coerce(e, t.Elem())
				if err != nil {
					return nil, fmt.Errorf("%s: %w", k, err)
				}
				m[k] = c
			}
		}
	}
	return v, nil
}
