package testbed

import (
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/connectcases"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
)

// DefaultRegion is the region the local servers are configured with.
const DefaultRegion = "us-east-1"

// AWSConfig returns an SDK configuration for local servers: static credentials
// "test"/"test" and the given region. It is built by hand rather than with
// config.LoadDefaultConfig so that no shared config file, profile, environment
// credential or IMDS lookup can leak a developer's real account into a test.
func AWSConfig(region string) aws.Config {
	if region == "" {
		region = DefaultRegion
	}
	return aws.Config{
		Region:      region,
		Credentials: credentials.NewStaticCredentialsProvider("test", "test", ""),
	}
}

// NewSQSClient returns an SQS client that sends every call to endpoint
// (e.g. a goaws or sqsproxy URL), whatever host the queue URLs name.
func NewSQSClient(endpoint string, optFns ...func(*sqs.Options)) *sqs.Client {
	fns := append([]func(*sqs.Options){func(o *sqs.Options) {
		o.BaseEndpoint = aws.String(endpoint)
	}}, optFns...)
	return sqs.NewFromConfig(AWSConfig(DefaultRegion), fns...)
}

// NewCasesClient returns a Connect Cases client that sends every call to
// endpoint (e.g. the project's Cases simulator).
func NewCasesClient(endpoint string, optFns ...func(*connectcases.Options)) *connectcases.Client {
	fns := append([]func(*connectcases.Options){func(o *connectcases.Options) {
		o.BaseEndpoint = aws.String(endpoint)
	}}, optFns...)
	return connectcases.NewFromConfig(AWSConfig(DefaultRegion), fns...)
}
