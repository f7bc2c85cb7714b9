package retry

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsretry "github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/service/connectcases/types"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// Class is what kind of failure an UpdateCase error is, and so what the
// consumer does next (the outcomes table in docs/architecture.md).
type Class string

// The classes. The empty Class means success.
const (
	ClassThrottle   Class = "throttle"   // ThrottlingException / 429
	ClassTransient  Class = "transient"  // InternalServerException, other 5xx, timeouts, connection errors, unknown
	ClassValidation Class = "validation" // ValidationException (400) – permanent
	ClassNotFound   Class = "not-found"  // ResourceNotFoundException (404) – permanent
	ClassForbidden  Class = "forbidden"  // AccessDeniedException (403) – config, not the message's fault
	ClassCanceled   Class = "canceled"   // our own context ended (shutdown / deadline): not the service's fault
)

// Permanent reports whether retrying can never help, so the message belongs
// on the dead-letter queue at once. Forbidden is not permanent: the
// deployment is at fault and fixing it makes the same message succeed.
func (c Class) Permanent() bool {
	return c == ClassValidation || c == ClassNotFound
}

// Classified is an error together with its class and the facts the retry
// policy needs from it.
type Classified struct {
	Class      Class
	Code       string        // the API error code if any ("ThrottlingException"), else ""
	RetryAfter time.Duration // from InternalServerException.RetryAfterSeconds, else 0
	Err        error
}

// Error makes a Classified usable as an error that keeps its cause.
func (c Classified) Error() string {
	if c.Err == nil {
		return string(c.Class)
	}
	return string(c.Class) + ": " + c.Err.Error()
}

// Unwrap returns the classified error.
func (c Classified) Unwrap() error { return c.Err }

// Codes that mean "the caller's identity or permissions are wrong". They
// come back as generic API errors when the SDK has no type for them.
var forbiddenCodes = map[string]bool{
	"accessdeniedexception":       true,
	"accessdenied":                true,
	"unrecognizedclientexception": true,
	"invalidsignatureexception":   true,
	"expiredtokenexception":       true,
	"incompletesignature":         true,
	"missingauthenticationtoken":  true,
	"invalidclienttokenid":        true,
}

// Classify sorts err, returned by a call made under ctx, into a Class. The
// typed Connect Cases errors decide first; then generic API error codes;
// then, if ctx itself has ended, ClassCanceled (a timeout of the attempt
// alone is transient: the service was slow, we are not shutting down); then
// the HTTP status of the response. Whatever is left is transient, so an
// unknown failure is retried and finally dead-lettered as
// retries-exhausted rather than lost or dropped at once.
//
// A 400 or 404 without a recognised error code stays transient on purpose:
// a wrong endpoint or a proxy answers like that, and dead-lettering every
// message for a deployment mistake would be wrong.
func Classify(ctx context.Context, err error) Classified {
	if err == nil {
		return Classified{}
	}
	c := Classified{Class: ClassTransient, Err: err}
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) {
		c.Code = apiErr.ErrorCode()
	}

	var (
		throttling *types.ThrottlingException
		validation *types.ValidationException
		notFound   *types.ResourceNotFoundException
		denied     *types.AccessDeniedException
		internal   *types.InternalServerException
	)
	switch {
	case errors.As(err, &throttling):
		c.Class = ClassThrottle
		return c
	case errors.As(err, &validation):
		c.Class = ClassValidation
		return c
	case errors.As(err, &notFound):
		c.Class = ClassNotFound
		return c
	case errors.As(err, &denied):
		c.Class = ClassForbidden
		return c
	case errors.As(err, &internal):
		if s := internal.RetryAfterSeconds; s != nil && *s > 0 {
			c.RetryAfter = time.Duration(*s) * time.Second
		}
		return c
	}

	if c.Code != "" {
		switch code := strings.ToLower(c.Code); {
		case strings.EqualFold(code, "ValidationException"):
			c.Class = ClassValidation
			return c
		case strings.EqualFold(code, "ResourceNotFoundException"):
			c.Class = ClassNotFound
			return c
		case forbiddenCodes[code]:
			c.Class = ClassForbidden
			return c
		}
	}
	// The SDK's own list of throttle codes (ThrottlingException,
	// TooManyRequestsException, RequestLimitExceeded, SlowDown, …).
	if awsretry.IsErrorThrottles(awsretry.DefaultThrottles).IsErrorThrottle(err) == aws.TrueTernary {
		c.Class = ClassThrottle
		return c
	}

	if ctx != nil && ctx.Err() != nil {
		c.Class = ClassCanceled
		return c
	}

	var respErr *smithyhttp.ResponseError
	if errors.As(err, &respErr) {
		switch status := respErr.HTTPStatusCode(); {
		case status == http.StatusTooManyRequests:
			c.Class = ClassThrottle
		case status == http.StatusForbidden || status == http.StatusUnauthorized:
			c.Class = ClassForbidden
		}
	}
	return c
}
