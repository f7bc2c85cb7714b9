// Package checkcmd is the "casebridge check" subcommand (cmd/casebridge): it
// runs message bodies through the mapper, exactly as the consumer would, and
// prints one JSON verdict per file, so that people and scripts can test what
// they are about to publish without AWS.
package checkcmd

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/casebridge/casebridge/contract"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/connectcases"
	"github.com/aws/aws-sdk-go-v2/service/connectcases/types"

	"github.com/casebridge/casebridge/internal/config"
	"github.com/casebridge/casebridge/internal/mapper"
)

// Exit codes.
const (
	ExitAccepted = 0 // every file was accepted
	ExitRejected = 1 // at least one file was rejected
	ExitUsage    = 2 // bad arguments, or a file could not be read
)

const usage = `usage: casebridge check [--domain DOMAIN_ID] [--rules FILE [--lookup]] FILE...

Maps each FILE (one message body exactly as SQS delivers it; "-" is stdin)
to the UpdateCase request casebridge would send, and prints one JSON line per
file on stdout:
  {"file":"a.json","ok":true,"request":{"domainId":…,"caseId":…,"fields":[…]}}
  {"file":"b.json","ok":false,"reason":"invalid-message","error":"fields[2].value: …"}
With rules, a line also names the rule that matched, and for a rule that
finds its case by a lookup, the SearchCases request it would make:
  {"file":"c.json","ok":true,"rule":"invoice-paid","request":{…},"search":{"domainId":…,"filter":{…},"maxResults":2}}
  {"file":"d.json","ok":false,"reason":"invalid-message","code":"no-rule-matched","error":"…"}
Exit status: 0 all accepted, 1 any rejected, 2 usage error, unreadable file
or rules that do not compile.

  --domain DOMAIN_ID   default Cases domain for messages without domainId
                       (default: $CASEBRIDGE_DOMAIN_ID)
  --rules FILE         mapping rules, as CASEBRIDGE_RULES (default: $CASEBRIDGE_RULES)
  --lookup             also run each lookup through SearchCases, against the
                       Cases endpoint of the AWS settings (AWS_REGION,
                       credentials, AWS_ENDPOINT_URL_CONNECTCASES); the
                       request then shows the case found
Bodies over $CASEBRIDGE_MAX_BODY_BYTES (default 1 MiB) are rejected, as in the worker.
`

// Run runs the check subcommand; args are what follows "check". It returns
// the exit code. ctx is checked between files.
func Run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer, getenv func(string) string) int {
	// The same settings as the deployment (default domain, body size limit),
	// so check judges a message exactly as the worker and the Lambda would.
	cfg, err := config.FromEnv(getenv)
	if err != nil {
		fmt.Fprintln(stderr, "check:", err)
		return ExitUsage
	}
	fs := flag.NewFlagSet("check", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, usage) }
	domain := fs.String("domain", cfg.DomainID, "default Cases domain id")
	rulesFile := fs.String("rules", cfg.Rules, "mapping rules file")
	runLookups := fs.Bool("lookup", false, "run lookups through SearchCases")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return ExitAccepted
		}
		return ExitUsage
	}
	files := fs.Args()
	if len(files) == 0 {
		fmt.Fprintln(stderr, "check: no FILE given")
		fs.Usage()
		return ExitUsage
	}
	set, err := compileRules(*rulesFile)
	if err != nil {
		fmt.Fprintln(stderr, "check:", err)
		return ExitUsage
	}
	var finder finder
	if *runLookups {
		if set == nil {
			fmt.Fprintln(stderr, "check: --lookup needs --rules")
			return ExitUsage
		}
		if finder, err = newFinder(ctx); err != nil {
			fmt.Fprintln(stderr, "check:", err)
			return ExitUsage
		}
	}
	m := mapper.New(mapper.Config{DefaultDomainID: *domain, MaxBodyBytes: cfg.MaxBodyBytes, Rules: set})
	enc := json.NewEncoder(stdout)
	enc.SetEscapeHTML(false) // people read this output
	code := ExitAccepted
	stdinUsed := false
	for _, file := range files {
		if err := ctx.Err(); err != nil {
			fmt.Fprintln(stderr, "check:", err)
			return ExitUsage
		}
		if file == "-" && stdinUsed {
			fmt.Fprintln(stderr, "check: stdin (-) given more than once")
			code = ExitUsage
			continue
		}
		body, err := read(file, stdin)
		stdinUsed = stdinUsed || file == "-"
		if err != nil {
			fmt.Fprintln(stderr, "check:", err)
			code = ExitUsage
			continue
		}
		v := check(ctx, m, finder, file, body)
		if !v.OK && code == ExitAccepted {
			code = ExitRejected
		}
		if err := enc.Encode(v); err != nil {
			fmt.Fprintln(stderr, "check: writing output:", err)
			return ExitUsage
		}
	}
	return code
}

func read(file string, stdin io.Reader) ([]byte, error) {
	if file != "-" {
		return os.ReadFile(file)
	}
	// One byte over the mapper's limit is enough for it to reject the body.
	b, err := io.ReadAll(io.LimitReader(stdin, mapper.DefaultMaxBodyBytes+1))
	if err != nil {
		return nil, fmt.Errorf("reading stdin: %w", err)
	}
	return b, nil
}

type verdict struct {
	File    string          `json:"file"`
	OK      bool            `json:"ok"`
	Rule    string          `json:"rule,omitempty"`
	Request *request        `json:"request,omitempty"`
	Search  *search         `json:"search,omitempty"`
	Reason  contract.Reason `json:"reason,omitempty"`
	Code    string          `json:"code,omitempty"`
	Error   string          `json:"error,omitempty"`
}

// request is UpdateCaseInput in the API's own JSON shape. caseId is left
// out while a lookup has not supplied it.
type request struct {
	DomainID    string       `json:"domainId"`
	CaseID      string       `json:"caseId,omitempty"`
	Fields      []field      `json:"fields"`
	PerformedBy *performedBy `json:"performedBy,omitempty"`
}

type field struct {
	ID    string `json:"id"`
	Value value  `json:"value"`
}

type value struct {
	StringValue  *string   `json:"stringValue,omitempty"`
	DoubleValue  *float64  `json:"doubleValue,omitempty"`
	BooleanValue *bool     `json:"booleanValue,omitempty"`
	EmptyValue   *struct{} `json:"emptyValue,omitempty"`
	UserArnValue *string   `json:"userArnValue,omitempty"`
}

type performedBy struct {
	UserArn      string `json:"userArn,omitempty"`
	CustomEntity string `json:"customEntity,omitempty"`
}

func render(in *connectcases.UpdateCaseInput) *request {
	r := &request{DomainID: aws.ToString(in.DomainId), CaseID: aws.ToString(in.CaseId), Fields: make([]field, len(in.Fields))}
	for i, f := range in.Fields {
		r.Fields[i].ID = *f.Id
		r.Fields[i].Value = renderValue(f.Value)
	}
	switch p := in.PerformedBy.(type) {
	case *types.UserUnionMemberUserArn:
		r.PerformedBy = &performedBy{UserArn: p.Value}
	case *types.UserUnionMemberCustomEntity:
		r.PerformedBy = &performedBy{CustomEntity: p.Value}
	}
	return r
}

func renderValue(fv types.FieldValueUnion) value {
	var v value
	switch u := fv.(type) {
	case *types.FieldValueUnionMemberStringValue:
		v.StringValue = &u.Value
	case *types.FieldValueUnionMemberDoubleValue:
		v.DoubleValue = &u.Value
	case *types.FieldValueUnionMemberBooleanValue:
		v.BooleanValue = &u.Value
	case *types.FieldValueUnionMemberEmptyValue:
		v.EmptyValue = &struct{}{}
	case *types.FieldValueUnionMemberUserArnValue:
		v.UserArnValue = &u.Value
	}
	return v
}
