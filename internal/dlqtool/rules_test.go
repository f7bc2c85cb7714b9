package dlqtool

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"strconv"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/connectcases"

	"github.com/casebridge/casebridge/internal/casesim"
	"github.com/casebridge/casebridge/internal/consumer"
	"github.com/casebridge/casebridge/internal/lookup"
	"github.com/casebridge/casebridge/internal/mapper"
	"github.com/casebridge/casebridge/internal/rules"
	"github.com/casebridge/casebridge/internal/testkit/rulecases"
	"github.com/casebridge/casebridge/internal/testkit/testbed"
)

// TestStatsGroupsRuleOutcomes: the events a rules deployment dead-letters
// (through the real core, the rules and SearchCases on the simulator) are
// counted by class and by their own codes.
func TestStatsGroupsRuleOutcomes(t *testing.T) {
	s := testbed.StartSQST(t, testbed.GoawsConfig{Queues: []testbed.Queue{{Name: "dlq"}}})
	b := &bed{sqs: s, client: testbed.NewSQSClient(s.Endpoint)}
	b.dlq = s.Goaws.QueueURLT(t, "dlq")
	sim := casesim.New(casesim.Options{})
	if err := rulecases.Seed(sim); err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(sim)
	t.Cleanup(hs.Close)
	cases := testbed.NewCasesClient(hs.URL, func(o *connectcases.Options) { o.Retryer = aws.NopRetryer{} })
	set, err := rules.Compile([]byte(rulecases.Rules))
	if err != nil {
		t.Fatal(err)
	}
	core, err := consumer.New(consumer.Options{Cases: cases, DLQ: b.client, DLQURL: b.dlq,
		Mapper: mapper.New(mapper.Config{Rules: set}), Finder: lookup.New(cases, lookup.Options{})})
	if err != nil {
		t.Fatal(err)
	}
	dead := 0
	for i, ev := range rulecases.Events() {
		out := core.Handle(context.Background(), consumer.Message{ID: "src-" + strconv.Itoa(i), Body: ev.Body, SourceQueue: "src"})
		if ev.Case == "" {
			dead++
			if out.Kind != consumer.DeadLettered {
				t.Fatalf("%s: outcome %v %s %v", ev.Name, out.Kind, out.Reason, out.Err)
			}
		}
	}
	st, err := b.tool().Stats(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	got, _ := json.Marshal(st.ByCode)
	want := `[{"class":"invalid-message","code":"expression-failed","count":1},{"class":"invalid-message","code":"no-rule-matched","count":1},` +
		`{"class":"not-found","code":"lookup-no-match","count":1},{"class":"validation","code":"ambiguous-lookup","count":1}]`
	if st.Total != dead || string(got) != want {
		t.Errorf("stats = %d %s, want %d %s", st.Total, got, dead, want)
	}
}
