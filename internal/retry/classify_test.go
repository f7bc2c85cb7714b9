package retry

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/connectcases"
	"github.com/aws/aws-sdk-go-v2/service/connectcases/types"
)

// updateCase makes one real UpdateCase call through the SDK (its retryer
// off, as in production) against url.
func updateCase(ctx context.Context, t *testing.T, url string) error {
	t.Helper()
	client := connectcases.New(connectcases.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(url),
		Credentials:  aws.AnonymousCredentials{},
		Retryer:      aws.NopRetryer{},
	})
	_, err := client.UpdateCase(ctx, &connectcases.UpdateCaseInput{
		DomainId: aws.String("d-1"),
		CaseId:   aws.String("c-1"),
		Fields: []types.FieldValue{{
			Id:    aws.String("status"),
			Value: &types.FieldValueUnionMemberStringValue{Value: "closed"},
		}},
	})
	return err
}

func TestClassifyServiceErrors(t *testing.T) {
	tests := []struct {
		name       string
		status     int
		header     map[string]string
		body       string
		want       Class
		wantCode   string
		retryAfter time.Duration
	}{
		{"throttling", 429, map[string]string{"X-Amzn-ErrorType": "ThrottlingException"},
			`{"message":"Rate exceeded"}`, ClassThrottle, "ThrottlingException", 0},
		{"validation", 400, map[string]string{"X-Amzn-ErrorType": "ValidationException"},
			`{"message":"bad field"}`, ClassValidation, "ValidationException", 0},
		{"not found, code in body", 404, nil,
			`{"__type":"com.amazonaws.cases#ResourceNotFoundException","message":"no case","resourceId":"c-1","resourceType":"Case"}`,
			ClassNotFound, "ResourceNotFoundException", 0},
		{"access denied", 403, map[string]string{"X-Amzn-ErrorType": "AccessDeniedException:http://internal.amazon.com/"},
			`{"message":"no"}`, ClassForbidden, "AccessDeniedException", 0},
		{"internal with retry-after", 500, map[string]string{"X-Amzn-ErrorType": "InternalServerException", "Retry-After": "3"},
			`{"message":"oops"}`, ClassTransient, "InternalServerException", 3 * time.Second},
		{"internal without retry-after", 500, map[string]string{"X-Amzn-ErrorType": "InternalServerException"},
			`{"message":"oops"}`, ClassTransient, "InternalServerException", 0},
		{"unknown 503 code", 503, map[string]string{"X-Amzn-ErrorType": "ServiceUnavailableException"},
			`{"message":"later"}`, ClassTransient, "ServiceUnavailableException", 0},
		{"generic throttle code", 400, map[string]string{"X-Amzn-ErrorType": "TooManyRequestsException"},
			`{"message":"slow down"}`, ClassThrottle, "TooManyRequestsException", 0},
		{"bad credentials", 403, map[string]string{"X-Amzn-ErrorType": "UnrecognizedClientException"},
			`{"message":"who?"}`, ClassForbidden, "UnrecognizedClientException", 0},
		{"unknown 4xx code stays retryable", 409, map[string]string{"X-Amzn-ErrorType": "ConflictException"},
			`{"message":"conflict"}`, ClassTransient, "ConflictException", 0},
		{"429 with html body", 429, nil, `<html>slow down</html>`, ClassThrottle, "", 0},
		{"403 with html body", 403, nil, `<html>forbidden</html>`, ClassForbidden, "", 0},
		{"404 with html body is not a missing case", 404, nil, `<html>no such path</html>`, ClassTransient, "", 0},
		{"502 with html body", 502, nil, `<html>bad gateway</html>`, ClassTransient, "", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				for k, v := range tt.header {
					w.Header().Set(k, v)
				}
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(tt.status)
				_, _ = w.Write([]byte(tt.body))
			}))
			defer srv.Close()

			ctx := context.Background()
			err := updateCase(ctx, t, srv.URL)
			if err == nil {
				t.Fatal("call succeeded")
			}
			got := Classify(ctx, err)
			if got.Class != tt.want || got.Code != tt.wantCode || got.RetryAfter != tt.retryAfter {
				t.Errorf("Classify = {%q %q %v}, want {%q %q %v}; err: %v",
					got.Class, got.Code, got.RetryAfter, tt.want, tt.wantCode, tt.retryAfter, err)
			}
			if !errors.Is(got, err) {
				t.Error("Classified does not unwrap to the original error")
			}
		})
	}
}

func TestClassifyTransportAndContext(t *testing.T) {
	// A server that answers only once the request gives up (or the test ends).
	release := make(chan struct{})
	hang := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}))
	defer hang.Close()
	defer close(release)
	closed := httptest.NewServer(http.NotFoundHandler())
	closedURL := closed.URL
	closed.Close()

	t.Run("connection refused is transient", func(t *testing.T) {
		ctx := context.Background()
		if got := Classify(ctx, updateCase(ctx, t, closedURL)); got.Class != ClassTransient {
			t.Errorf("class %q, want transient", got.Class)
		}
	})
	t.Run("per-attempt timeout is transient", func(t *testing.T) {
		parent := context.Background()
		attempt, cancel := context.WithTimeout(parent, 50*time.Millisecond)
		defer cancel()
		err := updateCase(attempt, t, hang.URL)
		if got := Classify(parent, err); got.Class != ClassTransient {
			t.Errorf("class %q, want transient; err: %v", got.Class, err)
		}
	})
	t.Run("our own context ending is canceled", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		errc := make(chan error, 1)
		go func() { errc <- updateCase(ctx, t, hang.URL) }()
		cancel()
		err := <-errc
		if got := Classify(ctx, err); got.Class != ClassCanceled {
			t.Errorf("class %q, want canceled; err: %v", got.Class, err)
		}
	})
	t.Run("nil is success", func(t *testing.T) {
		if got := Classify(context.Background(), nil); got.Class != "" || got.Err != nil {
			t.Errorf("Classify(nil) = %+v", got)
		}
	})
	t.Run("a typed error beats a canceled context", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		err := &types.ValidationException{Message: aws.String("bad")}
		if got := Classify(ctx, err); got.Class != ClassValidation {
			t.Errorf("class %q, want validation", got.Class)
		}
	})
}

func TestClassPermanent(t *testing.T) {
	for c, want := range map[Class]bool{
		ClassThrottle: false, ClassTransient: false, ClassValidation: true,
		ClassNotFound: true, ClassForbidden: false, ClassCanceled: false, "": false,
	} {
		if got := c.Permanent(); got != want {
			t.Errorf("%q.Permanent() = %v, want %v", c, got, want)
		}
	}
}
