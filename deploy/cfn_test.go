package deploy

import "testing"

func TestParseTemplateShortForms(t *testing.T) {
	t.Parallel()
	src := `
Conditions:
  On: !Equals [!Ref P, "yes"]
  Off: !Not [!Condition On]
Resources:
  R:
    Type: X
    Properties:
      A: !Ref Queue
      B: !GetAtt Queue.Arn
      C: !GetAtt [Queue, QueueName]
      D: !Sub "arn:${AWS::Partition}:x"
      E: !If [On, !Ref AWS::NoValue, 3]
      F: !FindInMap [M, !Ref P, K]
      G: !Join ["/", [a, !Ref P]]
      H: 42
      I: "42"
`
	tmpl, err := ParseTemplate([]byte(src))
	if err != nil {
		t.Fatal(err)
	}
	props := Dig(tmpl, "Resources", "R", "Properties")
	tests := []struct {
		key, want string
	}{
		{"A", `{"Ref":"Queue"}`},
		{"B", `{"Fn::GetAtt":["Queue","Arn"]}`},
		{"C", `{"Fn::GetAtt":["Queue","QueueName"]}`},
		{"D", `{"Fn::Sub":"arn:${AWS::Partition}:x"}`},
		{"E", `{"Fn::If":["On",{"Ref":"AWS::NoValue"},3]}`},
		{"F", `{"Fn::FindInMap":["M",{"Ref":"P"},"K"]}`},
		{"G", `{"Fn::Join":["/",["a",{"Ref":"P"}]]}`},
		{"H", `42`},
		{"I", `"42"`},
	}
	for _, tt := range tests {
		if got := Canonical(Dig(props, tt.key)); got != tt.want {
			t.Errorf("%s = %s, want %s", tt.key, got, tt.want)
		}
	}
	if got := Canonical(Dig(tmpl, "Conditions", "Off")); got != `{"Fn::Not":[{"Condition":"On"}]}` {
		t.Errorf("Off = %s", got)
	}
}

func TestParseTemplateErrors(t *testing.T) {
	t.Parallel()
	for _, src := range []string{"- a\n- b\n", "A: !GetAtt NoDot\n", "A: [unclosed\n"} {
		if _, err := ParseTemplate([]byte(src)); err == nil {
			t.Errorf("ParseTemplate(%q) succeeded", src)
		}
	}
}

func TestResolve(t *testing.T) {
	t.Parallel()
	src := `
Parameters:
  P: {Type: String, Default: "no"}
  N: {Type: Number, Default: 30}
  Req: {Type: String}
Mappings:
  M:
    "30": {K: 25s}
    "60": {K: 50s}
Conditions:
  On: !Equals [!Ref P, "yes"]
  Off: !Not [!Condition On]
  Both: !And [!Condition On, !Equals [!Ref N, 60]]
Resources:
  Always:
    Type: X
    Properties:
      Grace: !FindInMap [M, !Ref N, K]
      Maybe: !If [On, 1, !Ref AWS::NoValue]
      List: [a, !If [Off, b, !Ref AWS::NoValue], !Ref Always2]
  OnlyOn:
    Type: X
    Condition: On
`
	tmpl, err := ParseTemplate([]byte(src))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tmpl.Resolve(nil); err == nil {
		t.Error("Resolve without the required parameter succeeded")
	}
	if _, err := tmpl.Resolve(map[string]string{"Req": "x", "Nope": "1"}); err == nil {
		t.Error("Resolve with an undeclared parameter succeeded")
	}
	tests := []struct {
		name   string
		params map[string]string
		want   string
		onlyOn bool
		both   bool
	}{
		{"defaults", map[string]string{"Req": "x"}, `{"Grace":"25s","List":["a","b",{"Ref":"Always2"}]}`, false, false},
		{"on", map[string]string{"Req": "x", "P": "yes", "N": "60"}, `{"Grace":"50s","List":["a",{"Ref":"Always2"}],"Maybe":1}`, true, true},
	}
	for _, tt := range tests {
		r, err := tmpl.Resolve(tt.params)
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		if got := Canonical(Dig(r.Template, "Resources", "Always", "Properties")); got != tt.want {
			t.Errorf("%s: Always = %s, want %s", tt.name, got, tt.want)
		}
		if (r.Resource("OnlyOn") != nil) != tt.onlyOn {
			t.Errorf("%s: OnlyOn present = %v, want %v", tt.name, r.Resource("OnlyOn") != nil, tt.onlyOn)
		}
		if r.Conditions["Both"] != tt.both {
			t.Errorf("%s: Both = %v, want %v", tt.name, r.Conditions["Both"], tt.both)
		}
	}
	if _, err := tmpl.Resolve(map[string]string{"Req": "x", "N": "90"}); err == nil {
		t.Error("Resolve with no mapping row for N=90 succeeded")
	}
}
