package casesim

import (
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"strconv"

	"github.com/aws/aws-sdk-go-v2/service/connectcases/types"
)

// apiError is an answer in the service's rest-json error format: the status
// code, the X-Amzn-ErrorType header and a JSON body with message (and, for
// ResourceNotFoundException, resourceId and resourceType).
type apiError struct {
	status       int
	code         string
	message      string
	resourceID   string
	resourceType string
	retryAfter   int // seconds; >0 adds Retry-After (InternalServerException)
}

func (e *apiError) Error() string { return e.code + ": " + e.message }

func validationf(format string, args ...any) *apiError {
	return &apiError{status: http.StatusBadRequest, code: "ValidationException", message: fmt.Sprintf(format, args...)}
}

func conflictf(format string, args ...any) *apiError {
	return &apiError{status: http.StatusConflict, code: "ConflictException", message: fmt.Sprintf(format, args...)}
}

// notFound mirrors the service: the message names the resource, and the
// resourceId/resourceType members let callers tell a missing domain from a
// missing case without parsing text.
func notFound(resourceType, id string) *apiError {
	return &apiError{
		status:       http.StatusNotFound,
		code:         "ResourceNotFoundException",
		message:      resourceType + " " + id + " not found",
		resourceID:   id,
		resourceType: resourceType,
	}
}

// body carries __type as well as message: restJson1 services send both, and
// a client that reads the code from the body (no X-Amzn-ErrorType header
// through some proxies) must find it there.
func (e *apiError) body() []byte {
	m := map[string]any{"__type": e.code, "message": e.message}
	if e.code == "ResourceNotFoundException" {
		m["resourceId"] = e.resourceID
		m["resourceType"] = e.resourceType
	}
	b, _ := json.Marshal(m)
	return b
}

// wireDouble decodes a rest-json double, which the SDK sends as a JSON number
// or, for non-finite values, as the strings "NaN", "Infinity", "-Infinity".
type wireDouble float64

func (d *wireDouble) UnmarshalJSON(b []byte) error {
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		switch s {
		case "NaN":
			*d = wireDouble(math.NaN())
		case "Infinity":
			*d = wireDouble(math.Inf(1))
		case "-Infinity":
			*d = wireDouble(math.Inf(-1))
		default:
			return fmt.Errorf("invalid double %q", s)
		}
		return nil
	}
	f, err := strconv.ParseFloat(string(b), 64)
	if err != nil {
		return fmt.Errorf("invalid double %s", b)
	}
	*d = wireDouble(f)
	return nil
}

// wireUnion is the FieldValueUnion as it travels: exactly one member is set.
type wireUnion struct {
	StringValue  *string     `json:"stringValue,omitempty"`
	DoubleValue  *wireDouble `json:"doubleValue,omitempty"`
	BooleanValue *bool       `json:"booleanValue,omitempty"`
	EmptyValue   *struct{}   `json:"emptyValue,omitempty"`
	UserArnValue *string     `json:"userArnValue,omitempty"`
}

// member returns the name of the set member and how many are set.
func (u *wireUnion) member() (string, int) {
	name, n := "", 0
	if u.StringValue != nil {
		name, n = "stringValue", n+1
	}
	if u.DoubleValue != nil {
		name, n = "doubleValue", n+1
	}
	if u.BooleanValue != nil {
		name, n = "booleanValue", n+1
	}
	if u.EmptyValue != nil {
		name, n = "emptyValue", n+1
	}
	if u.UserArnValue != nil {
		name, n = "userArnValue", n+1
	}
	return name, n
}

func (u *wireUnion) toSDK() types.FieldValueUnion {
	switch {
	case u.StringValue != nil:
		return &types.FieldValueUnionMemberStringValue{Value: *u.StringValue}
	case u.DoubleValue != nil:
		return &types.FieldValueUnionMemberDoubleValue{Value: float64(*u.DoubleValue)}
	case u.BooleanValue != nil:
		return &types.FieldValueUnionMemberBooleanValue{Value: *u.BooleanValue}
	case u.UserArnValue != nil:
		return &types.FieldValueUnionMemberUserArnValue{Value: *u.UserArnValue}
	default:
		return &types.FieldValueUnionMemberEmptyValue{}
	}
}

func unionFromSDK(v types.FieldValueUnion) wireUnion {
	switch m := v.(type) {
	case *types.FieldValueUnionMemberStringValue:
		return wireUnion{StringValue: &m.Value}
	case *types.FieldValueUnionMemberDoubleValue:
		d := wireDouble(m.Value)
		return wireUnion{DoubleValue: &d}
	case *types.FieldValueUnionMemberBooleanValue:
		return wireUnion{BooleanValue: &m.Value}
	case *types.FieldValueUnionMemberUserArnValue:
		return wireUnion{UserArnValue: &m.Value}
	default:
		return wireUnion{EmptyValue: &struct{}{}}
	}
}

// cloneUnion copies a stored value so callers of the Go API cannot change
// the simulator's state through the returned pointers.
func cloneUnion(v types.FieldValueUnion) types.FieldValueUnion {
	u := unionFromSDK(v)
	return u.toSDK()
}

type wireFieldValue struct {
	ID    *string    `json:"id"`
	Value *wireUnion `json:"value"`
}

type wireUser struct {
	UserArn      *string `json:"userArn,omitempty"`
	CustomEntity *string `json:"customEntity,omitempty"`
}

func (u *wireUser) toSDK() types.UserUnion {
	if u == nil {
		return nil
	}
	if u.UserArn != nil {
		return &types.UserUnionMemberUserArn{Value: *u.UserArn}
	}
	return &types.UserUnionMemberCustomEntity{Value: *u.CustomEntity}
}

func userFromSDK(v types.UserUnion) *wireUser {
	switch m := v.(type) {
	case *types.UserUnionMemberUserArn:
		return &wireUser{UserArn: &m.Value}
	case *types.UserUnionMemberCustomEntity:
		return &wireUser{CustomEntity: &m.Value}
	default:
		return nil
	}
}

type wireFieldID struct {
	ID *string `json:"id"`
}

// wireAttributes is the FieldAttributes union; its one member today is
// text (TextAttributes, isMultiline required, since 2026-02). It is stored
// as given and returned by ListFields and BatchGetField.
type wireAttributes struct {
	Text *struct {
		IsMultiline *bool `json:"isMultiline"`
	} `json:"text,omitempty"`
}

// check validates the union for a field of type t. Text attributes on a
// field of another type are refused: the model does not say, and the
// stricter reading keeps a caller from relying on an attribute the service
// may ignore or refuse.
func (a *wireAttributes) check(t types.FieldType) *apiError {
	if a == nil {
		return nil
	}
	if a.Text == nil {
		return validationf("attributes: union must set exactly one member (text)")
	}
	if a.Text.IsMultiline == nil {
		return validationf("attributes.text.isMultiline: required")
	}
	if t != types.FieldTypeText {
		return validationf("attributes.text: only Text fields take text attributes, not %s", t)
	}
	return nil
}
