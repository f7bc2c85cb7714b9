// Package clients builds the AWS SDK clients casebridge uses, the same way for
// both binaries: region, credentials and endpoints by the SDK's own conventions
// (AWS_REGION, the credential chain, AWS_ENDPOINT_URL_SQS,
// AWS_ENDPOINT_URL_CONNECTCASES), and no SDK retries on UpdateCase, where
// casebridge's own retry policy is the only layer.
package clients

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/connectcases"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
)

// Clients are the SDK clients of one process.
type Clients struct {
	SQS   *sqs.Client
	Cases *connectcases.Client
}

// Load reads the AWS configuration (no network calls) and builds the clients.
// maxConns bounds idle connections kept per host, sized to the in-flight limit so
// a busy worker does not open and close connections per call.
func Load(ctx context.Context, maxConns int) (Clients, error) {
	httpClient := awshttp.NewBuildableClient().WithTransportOptions(func(t *http.Transport) {
		t.MaxIdleConns = maxConns * 2
		t.MaxIdleConnsPerHost = maxConns
		t.DialContext = (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext
	})
	cfg, err := config.LoadDefaultConfig(ctx, config.WithHTTPClient(httpClient))
	if err != nil {
		return Clients{}, fmt.Errorf("loading AWS configuration: %w", err)
	}
	if cfg.Region == "" {
		return Clients{}, fmt.Errorf("AWS_REGION is not set (and no region in the shared config)")
	}
	return New(cfg), nil
}

// New builds the clients from an aws.Config.
func New(cfg aws.Config) Clients {
	return Clients{
		SQS: sqs.NewFromConfig(cfg),
		Cases: connectcases.NewFromConfig(cfg, func(o *connectcases.Options) {
			// One retry layer only: ours. The SDK's standard retryer would multiply
			// attempts by 3 and spend its own token bucket on throttles.
			o.Retryer = aws.NopRetryer{}
		}),
	}
}
