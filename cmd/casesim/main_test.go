package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/connectcases"
	"github.com/aws/aws-sdk-go-v2/service/connectcases/types"
)

// TestRunServesSeed starts the command as a user would (free port, the
// shipped seed, a rate limit), waits for its ready line and talks to it
// with the SDK.
func TestRunServesSeed(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"--addr", "127.0.0.1:0", "--seed", "../../examples/casesim-seed.json", "--rate", "0.01", "--burst", "1", "--log-level", "warn"}, pw, io.Discard)
		pw.Close()
	}()
	line, err := bufio.NewReader(pr).ReadString('\n')
	if err != nil {
		t.Fatalf("no ready line: %v", err)
	}
	go func() { _, _ = io.Copy(io.Discard, pr) }()
	url, ok := strings.CutPrefix(strings.TrimSpace(line), "casesim listening on ")
	if !ok {
		t.Fatalf("ready line = %q", line)
	}

	client, in := closeCaseThree(url)
	if _, err := client.UpdateCase(ctx, in); err != nil {
		t.Fatal(err)
	}
	var te *types.ThrottlingException
	if _, err := client.UpdateCase(ctx, in); !errors.As(err, &te) {
		t.Errorf("second call with --rate 0.01 --burst 1: %v, want ThrottlingException", err)
	}
	got, err := client.GetCase(ctx, &connectcases.GetCaseInput{DomainId: in.DomainId, CaseId: in.CaseId,
		Fields: []types.FieldIdentifier{{Id: aws.String("status")}}})
	if err != nil {
		t.Fatal(err)
	}
	if v := got.Fields[0].Value.(*types.FieldValueUnionMemberStringValue).Value; v != "closed" {
		t.Errorf("status = %q, want closed", v)
	}

	cancel()
	if err := <-done; err != nil {
		t.Errorf("run returned %v after cancel", err)
	}
}

// TestRunQuotas starts the command with --quotas aws-default and a --quota
// override and checks through the SDK that UpdateCase gets AWS's burst of 2
// (shown in /casesim/faults, where it can still be changed) and that the
// override replaces GetCase's default.
func TestRunQuotas(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"--addr", "127.0.0.1:0", "--seed", "../../examples/casesim-seed.json", "--quotas", "aws-default",
			"--quota", "GetCase=0.01:1", "--log-level", "warn"}, pw, io.Discard)
		pw.Close()
	}()
	line, err := bufio.NewReader(pr).ReadString('\n')
	if err != nil {
		t.Fatalf("no ready line: %v", err)
	}
	go func() { _, _ = io.Copy(io.Discard, pr) }()
	url := strings.TrimPrefix(strings.TrimSpace(line), "casesim listening on ")
	client, in := closeCaseThree(url)
	var te *types.ThrottlingException
	for i := range 3 {
		_, err := client.UpdateCase(ctx, in)
		if throttled := errors.As(err, &te); throttled != (i == 2) {
			t.Errorf("UpdateCase call %d: %v (burst 2 wants only the third throttled)", i+1, err)
		}
	}
	get := &connectcases.GetCaseInput{DomainId: in.DomainId, CaseId: in.CaseId, Fields: []types.FieldIdentifier{{Id: aws.String("status")}}}
	if _, err := client.GetCase(ctx, get); err != nil {
		t.Fatal(err)
	}
	if _, err := client.GetCase(ctx, get); !errors.As(err, &te) {
		t.Errorf("second GetCase with --quota GetCase=0.01:1: %v, want ThrottlingException", err)
	}
	resp, err := http.Get(url + "/casesim/faults")
	if err != nil {
		t.Fatal(err)
	}
	var f struct {
		Rate  float64 `json:"rate"`
		Burst int     `json:"burst"`
	}
	err = json.NewDecoder(resp.Body).Decode(&f)
	resp.Body.Close()
	if err != nil || f.Rate != 2 || f.Burst != 2 {
		t.Errorf("/casesim/faults rate %v burst %d (%v), want UpdateCase's aws-default 2 and 2", f.Rate, f.Burst, err)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("run returned %v after cancel", err)
	}
}

// TestRunDenyUserArn: --deny-user-arn answers performedBy.userArn with 403
// AccessDeniedException through the SDK.
func TestRunDenyUserArn(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pr, pw := io.Pipe()
	go func() {
		_ = run(ctx, []string{"--addr", "127.0.0.1:0", "--seed", "../../examples/casesim-seed.json", "--deny-user-arn", "--log-level", "warn"}, pw, io.Discard)
		pw.Close()
	}()
	line, err := bufio.NewReader(pr).ReadString('\n')
	if err != nil {
		t.Fatalf("no ready line: %v", err)
	}
	go func() { _, _ = io.Copy(io.Discard, pr) }()
	client := connectcases.NewFromConfig(aws.Config{Region: "us-east-1", RetryMaxAttempts: 1,
		Credentials: credentials.NewStaticCredentialsProvider("AKID", "secret", "")},
		func(o *connectcases.Options) {
			o.BaseEndpoint = aws.String(strings.TrimPrefix(strings.TrimSpace(line), "casesim listening on "))
		})
	_, err = client.UpdateCase(ctx, &connectcases.UpdateCaseInput{
		DomainId:    aws.String("3f7c6a2e-0d4b-4c1e-9a55-2b8f1e6d7c01"),
		CaseId:      aws.String("7a1d6c3e-0000-4000-8000-000000000003"),
		Fields:      []types.FieldValue{{Id: aws.String("status"), Value: &types.FieldValueUnionMemberStringValue{Value: "closed"}}},
		PerformedBy: &types.UserUnionMemberUserArn{Value: "arn:aws:connect:us-east-1:123456789012:instance/i/agent/a"},
	})
	var ad *types.AccessDeniedException
	if !errors.As(err, &ad) {
		t.Errorf("userArn with --deny-user-arn: %v, want AccessDeniedException", err)
	}
}

func TestRunRejectsBadFlags(t *testing.T) {
	for _, args := range [][]string{
		{"--quotas", "aws"},
		{"--quota", "Nope=1"},
		{"--quota", "GetCase=fast"},
		{"--rate", "3", "--quota", "UpdateCase=1"},
		{"--error-rate", "1.5"},
		{"--seed", "does-not-exist.json", "--addr", "127.0.0.1:0"},
		{"extra"},
	} {
		if err := run(context.Background(), args, io.Discard, io.Discard); err == nil {
			t.Errorf("run(%q) succeeded", args)
		}
	}
}

// closeCaseThree is a Cases client for the simulator at url (no SDK retries)
// and a request that closes demo case 3.
func closeCaseThree(url string) (*connectcases.Client, *connectcases.UpdateCaseInput) {
	client := connectcases.NewFromConfig(aws.Config{Region: "us-east-1", RetryMaxAttempts: 1,
		Credentials: credentials.NewStaticCredentialsProvider("AKID", "secret", "")},
		func(o *connectcases.Options) { o.BaseEndpoint = aws.String(url) })
	return client, &connectcases.UpdateCaseInput{
		DomainId: aws.String("3f7c6a2e-0d4b-4c1e-9a55-2b8f1e6d7c01"),
		CaseId:   aws.String("7a1d6c3e-0000-4000-8000-000000000003"),
		Fields:   []types.FieldValue{{Id: aws.String("status"), Value: &types.FieldValueUnionMemberStringValue{Value: "closed"}}},
	}
}
