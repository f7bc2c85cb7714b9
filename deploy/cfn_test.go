package deploy

import (
	"os"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/awslabs/goformation/v7/cloudformation"
)

const loadSrc = `
Parameters:
  Mode: {Type: String, Default: "off", AllowedValues: ["off", "on"]}
  Timeout: {Type: Number, Default: 30}
  Domain: {Type: String}
  Subnets: {Type: "List<AWS::EC2::Subnet::Id>", Default: "subnet-a,subnet-b"}
Mappings:
  Retention:
    "30": {Seconds: 1209600}
    "60": {Seconds: 345600}
Conditions:
  On: !Equals [!Ref Mode, "on"]
  Off: !Not [!Equals [!Ref Mode, "on"]]
Resources:
  Dlq:
    Type: AWS::SQS::Queue
    Properties:
      MessageRetentionPeriod: !FindInMap [Retention, !Ref Timeout, Seconds]
      VisibilityTimeout: !Ref Timeout
      FifoQueue: !If [On, true, !Ref AWS::NoValue]
      KmsMasterKeyId: !Sub "key-${Domain}"
      RedrivePolicy:
        deadLetterTargetArn: !GetAtt Other.Arn
        maxReceiveCount: 10
  OnlyOn:
    Type: AWS::SQS::Queue
    Condition: On
  OnlyOff:
    Type: AWS::SQS::Queue
    Condition: Off
  Alarm:
    Type: AWS::CloudWatch::Alarm
    Properties:
      ComparisonOperator: GreaterThanThreshold
      EvaluationPeriods: "1"
      Threshold: !Ref Timeout
      Namespace: !Sub "${AWS::StackName}/${Domain}"
      AlarmActions: [!Ref Dlq, !If [On, !GetAtt [Dlq, Arn], !Ref AWS::NoValue]]
      AlarmDescription: !Join ["/", [!Ref Domain, !Ref Timeout]]
      Dimensions:
        - {Name: QueueName, Value: !Ref Timeout}
        - {Name: Subnets, Value: !Select [0, !Ref Subnets]}
`

func TestLoadEvaluates(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		params      map[string]string
		retention   int
		fifo        bool
		onlyOn      bool
		alarmAction []string
	}{
		{"defaults", map[string]string{"Domain": "d1"}, 1209600, false, false, []string{cloudformation.Ref("Dlq")}},
		{"on, 60 s", map[string]string{"Domain": "d1", "Mode": "on", "Timeout": "60"}, 345600, true, true,
			[]string{cloudformation.Ref("Dlq"), cloudformation.GetAtt("Dlq", "Arn")}},
	}
	for _, tt := range tests {
		s, err := Load([]byte(loadSrc), tt.params)
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		q, err := s.GetSQSQueueWithName("Dlq")
		if err != nil {
			t.Fatal(err)
		}
		if got := val(q.MessageRetentionPeriod); got != tt.retention {
			t.Errorf("%s: retention %d, want %d (Fn::FindInMap)", tt.name, got, tt.retention)
		}
		if got, want := val(q.VisibilityTimeout), tt.params["Timeout"]; want != "" && got != 60 || want == "" && got != 30 {
			t.Errorf("%s: visibility %d (a Number parameter into an int)", tt.name, got)
		}
		if val(q.FifoQueue) != tt.fifo || (q.FifoQueue == nil) == tt.fifo {
			t.Errorf("%s: FifoQueue %v, want %v or absent (Fn::If, AWS::NoValue)", tt.name, q.FifoQueue, tt.fifo)
		}
		if got := val(q.KmsMasterKeyId); got != "key-d1" {
			t.Errorf("%s: Fn::Sub of a parameter = %q, want key-d1", tt.name, got)
		}
		if got := dig(q.RedrivePolicy, "deadLetterTargetArn"); got != cloudformation.GetAtt("Other", "Arn") {
			t.Errorf("%s: !GetAtt Other.Arn = %v", tt.name, got)
		}
		if _, err := s.GetSQSQueueWithName("OnlyOn"); (err == nil) != tt.onlyOn {
			t.Errorf("%s: OnlyOn present = %v, want %v", tt.name, err == nil, tt.onlyOn)
		}
		if _, err := s.GetSQSQueueWithName("OnlyOff"); (err == nil) == tt.onlyOn {
			t.Errorf("%s: OnlyOff present = %v, want %v", tt.name, err == nil, !tt.onlyOn)
		}
		if s.Conditions["On"] != tt.onlyOn {
			t.Errorf("%s: condition On = %v", tt.name, s.Conditions["On"])
		}
		a := s.GetAllCloudWatchAlarmResources()["Alarm"]
		if a == nil {
			t.Fatalf("%s: no alarm", tt.name)
		}
		if !slices.Equal(a.AlarmActions, tt.alarmAction) {
			t.Errorf("%s: AlarmActions %v, want %v (AWS::NoValue dropped from a list)", tt.name, a.AlarmActions, tt.alarmAction)
		}
		if timeout, _ := num(s.Params["Timeout"]); a.EvaluationPeriods != 1 || val(a.Threshold) != timeout {
			t.Errorf("%s: EvaluationPeriods %d, Threshold %v", tt.name, a.EvaluationPeriods, val(a.Threshold))
		}
		if want := cloudformation.Sub("${AWS::StackName}/d1"); val(a.Namespace) != want {
			t.Errorf("%s: Fn::Sub with a pseudo parameter = %s, want %s", tt.name, show(val(a.Namespace)), show(want))
		}
		if want := "d1/" + s.Params["Timeout"]; val(a.AlarmDescription) != want {
			t.Errorf("%s: Fn::Join = %q, want %q", tt.name, val(a.AlarmDescription), want)
		}
		if a.Dimensions[0].Value != s.Params["Timeout"] || a.Dimensions[1].Value != "subnet-a" {
			t.Errorf("%s: dimensions %+v (a Number into a string; a List parameter)", tt.name, a.Dimensions)
		}
	}
}

func TestLoadRejects(t *testing.T) {
	t.Parallel()
	sam, err := os.ReadFile(samPath)
	if err != nil {
		t.Fatal(err)
	}
	ecsSrc, err := os.ReadFile(ecsPath)
	if err != nil {
		t.Fatal(err)
	}
	ecsParams := paramsFor(declared(t, ecsPath), nil)
	samParams := paramsFor(declared(t, samPath), nil)
	tests := []struct {
		name     string
		src      string
		params   map[string]string
		old, new string // a one-place edit of src; empty for src as is
		want     string // in the error
	}{
		{"undeclared parameter", loadSrc, map[string]string{"Domain": "d", "Nope": "1"}, "", "", "Nope is not declared"},
		{"required parameter missing", loadSrc, nil, "", "", "Domain has no default"},
		{"no mapping row", loadSrc, map[string]string{"Domain": "d", "Timeout": "90"}, "", "", "Fn::FindInMap"},
		{"not a number", loadSrc, map[string]string{"Domain": "d"}, "VisibilityTimeout: !Ref Timeout", `VisibilityTimeout: "soon"`, "VisibilityTimeout"},
		{"invalid YAML", "Resources: [unclosed\n", nil, "", "", "YAML"},
		{"ECS: unknown resource type", string(ecsSrc), ecsParams,
			"Type: AWS::ECS::TaskDefinition", "Type: AWS::ECS::TaskDefinitions", "AWS::ECS::TaskDefinitions is not a type goformation knows"},
		{"ECS: misspelt property", string(ecsSrc), ecsParams,
			"ReceiveMessageWaitTimeSeconds: 20", "ReceiveMessageWaitTimeSecs: 20", "unknown field"},
		{"ECS: nested property misspelt", string(ecsSrc), ecsParams,
			"StartPeriod: 15", "StartPeriodSeconds: 15", "unknown field"},
		{"ECS: a string where a list belongs", string(ecsSrc), ecsParams,
			"RequiresCompatibilities: [FARGATE]", "RequiresCompatibilities: FARGATE", "RequiresCompatibilities"},
		{"ECS: a list where a string belongs", string(ecsSrc), ecsParams,
			"ScalableDimension: ecs:service:DesiredCount", "ScalableDimension: [ecs:service:DesiredCount]", "ScalableDimension"},
		{"SAM: misspelt function property", string(sam), samParams,
			"Runtime: provided.al2023", "Runtme: provided.al2023", "unknown field"},
		{"undeclared condition on a resource", loadSrc, map[string]string{"Domain": "d"},
			"Condition: Off", "Condition: Of", "condition Of is not declared"},
	}
	for _, tt := range tests {
		src := tt.src
		if tt.old != "" {
			if !strings.Contains(src, tt.old) {
				t.Fatalf("%s: %q not in the template", tt.name, tt.old)
			}
			src = strings.Replace(src, tt.old, tt.new, 1)
		}
		_, err := Load([]byte(src), tt.params)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: Load error %v, want one mentioning %q", tt.name, err, tt.want)
		}
	}
}

// TestLoadConcurrently: goformation's YAML parsing keeps package state;
// Load must be safe to call from parallel tests (run with -race).
func TestLoadConcurrently(t *testing.T) {
	t.Parallel()
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 8 {
		wg.Go(func() {
			if _, err := Load([]byte(loadSrc), map[string]string{"Domain": "d"}); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}
