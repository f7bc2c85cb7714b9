package casesim_test

import (
	"bytes"
	"context"
	"errors"
	"regexp"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/service/connectcases"
	"github.com/aws/aws-sdk-go-v2/service/connectcases/types"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/middleware"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/casebridge/casebridge/internal/casesim"
)

// withBody makes the SDK send body instead of what it serialized, so a
// test can put a hand-written client's mistakes on the wire and still read
// the answer through the SDK's own deserializers.
func withBody(body string) func(*connectcases.Options) {
	return func(o *connectcases.Options) {
		o.APIOptions = append(o.APIOptions, func(st *middleware.Stack) error {
			return st.Build.Add(middleware.BuildMiddlewareFunc("rawBody", func(ctx context.Context, in middleware.BuildInput, next middleware.BuildHandler) (middleware.BuildOutput, middleware.Metadata, error) {
				req := in.Request.(*smithyhttp.Request)
				r, err := req.SetStream(bytes.NewReader([]byte(body)))
				if err != nil {
					return middleware.BuildOutput{}, middleware.Metadata{}, err
				}
				r.ContentLength = int64(len(body))
				in.Request = r
				return next.HandleBuild(ctx, in)
			}), middleware.After)
		})
	}
}

// withoutErrorTypeHeader removes X-Amzn-ErrorType from answers, so the SDK
// has to read the error code from the body's __type.
func withoutErrorTypeHeader(o *connectcases.Options) {
	o.APIOptions = append(o.APIOptions, func(st *middleware.Stack) error {
		return st.Deserialize.Add(middleware.DeserializeMiddlewareFunc("stripErrorType", func(ctx context.Context, in middleware.DeserializeInput, next middleware.DeserializeHandler) (middleware.DeserializeOutput, middleware.Metadata, error) {
			out, md, err := next.HandleDeserialize(ctx, in)
			if resp, ok := out.RawResponse.(*smithyhttp.Response); ok {
				resp.Header.Del("X-Amzn-ErrorType")
			}
			return out, md, err
		}), middleware.After)
	})
}

func update(fields ...types.FieldValue) *connectcases.UpdateCaseInput {
	return &connectcases.UpdateCaseInput{DomainId: aws.String(demoDomain), CaseId: aws.String(demoCase1), Fields: fields}
}

// TestErrorBodyCarriesType: with the X-Amzn-ErrorType header gone, the SDK
// still finds the code in the body's __type.
func TestErrorBodyCarriesType(t *testing.T) {
	h := newHarness(t, casesim.Options{}, true)
	_, err := h.client.UpdateCase(context.Background(), update(fv("priority", str("high"))), withoutErrorTypeHeader)
	var ve *types.ValidationException
	if !errors.As(err, &ve) {
		t.Fatalf("err = %T %v, want *types.ValidationException from __type", err, err)
	}
	_, err = h.client.GetCase(context.Background(), &connectcases.GetCaseInput{DomainId: aws.String(demoDomain), CaseId: aws.String(noSuchCase),
		Fields: []types.FieldIdentifier{{Id: aws.String("status")}}}, withoutErrorTypeHeader)
	var nf *types.ResourceNotFoundException
	if !errors.As(err, &nf) || aws.ToString(nf.ResourceType) != "Case" {
		t.Fatalf("err = %T %v, want *types.ResourceNotFoundException with resourceType", err, err)
	}
}

// TestMalformedJSONIsSerializationException: a body that is not JSON, or
// not the operation's shape, is 400 SerializationException, as restJson1
// services answer; nothing is applied.
func TestMalformedJSONIsSerializationException(t *testing.T) {
	h := newHarness(t, casesim.Options{}, true)
	for _, body := range []string{`{"fields":[`, `{"fields":"status"}`, `[1,2]`, `{"fields":[{"id":"priority","value":{"doubleValue":"high"}}]}`} {
		_, err := h.client.UpdateCase(context.Background(), update(fv("status", str("closed"))), withBody(body))
		var ae smithy.APIError
		if !errors.As(err, &ae) || ae.ErrorCode() != "SerializationException" {
			t.Errorf("body %s: err = %v, want SerializationException", body, err)
		}
	}
	if got := h.sim.Stats()["UpdateCase"][400]; got != 4 {
		t.Errorf("UpdateCase 400s = %d, want 4", got)
	}
	if len(h.sim.AppliedUpdates()) != 0 {
		t.Error("a malformed request was applied")
	}
}

// TestMemberNamesAreCaseSensitive: "Fields" is not "fields" (Go's
// encoding/json would have matched it), so the request lacks fields;
// "PerformedBy" is an unknown member and ignored; map keys (tags) are data
// and keep their case.
func TestMemberNamesAreCaseSensitive(t *testing.T) {
	h := newHarness(t, casesim.Options{}, true)
	ctx := context.Background()
	_, err := h.client.UpdateCase(ctx, update(fv("status", str("open"))), withBody(`{"Fields":[{"id":"status","value":{"stringValue":"closed"}}]}`))
	var ve *types.ValidationException
	if !errors.As(err, &ve) {
		t.Errorf(`"Fields": err = %v, want ValidationException (fields missing)`, err)
	}
	_, err = h.client.UpdateCase(ctx, update(fv("status", str("open"))), withBody(`{"fields":[{"ID":"status","value":{"stringValue":"closed"}}]}`))
	if !errors.As(err, &ve) {
		t.Errorf(`"ID": err = %v, want ValidationException (id missing)`, err)
	}
	_, err = h.client.UpdateCase(ctx, update(fv("status", str("open"))), withBody(`{"fields":[{"id":"status","value":{"StringValue":"closed"}}]}`))
	if !errors.As(err, &ve) {
		t.Errorf(`"StringValue": err = %v, want ValidationException (empty union)`, err)
	}
	_, err = h.client.UpdateCase(ctx, update(fv("status", str("open"))), withBody(`{"fields":[{"id":"status","value":{"stringValue":"closed"}}],"PerformedBy":{"customEntity":"x"}}`))
	if err != nil {
		t.Fatalf(`"PerformedBy" (unknown, ignored): %v`, err)
	}
	if u := h.sim.AppliedUpdates(); len(u) != 1 || u[0].PerformedBy != nil {
		t.Errorf("applied = %+v, want one update with no performedBy", u)
	}
}

var uuidPattern = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

// TestRequestIDIsUUID: X-Amzn-RequestId is a version-4 UUID, different
// each time, on answers and on errors, as the SDK reports it.
func TestRequestIDIsUUID(t *testing.T) {
	h := newHarness(t, casesim.Options{}, true)
	ctx := context.Background()
	out, err := h.client.UpdateCase(ctx, update(fv("status", str("closed"))))
	if err != nil {
		t.Fatal(err)
	}
	id1, _ := awsmiddleware.GetRequestIDMetadata(out.ResultMetadata)
	_, err = h.client.UpdateCase(ctx, update(fv("priority", str("high"))))
	var re interface{ ServiceRequestID() string }
	if !errors.As(err, &re) {
		t.Fatalf("err = %T, want a response error with a request id", err)
	}
	id2 := re.ServiceRequestID()
	for _, id := range []string{id1, id2} {
		if !uuidPattern.MatchString(id) {
			t.Errorf("request id %q is not a UUID", id)
		}
	}
	if id1 == id2 {
		t.Error("two answers share a request id")
	}
}
