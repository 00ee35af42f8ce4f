package spec

import (
	"errors"
	"strings"
	"testing"
)

// wfHead is a valid workflow up to its first step; steps appended to it start at line 11.
const wfHead = `apiVersion: sluice.dev/v1alpha1
kind: Workflow
metadata: {name: wf}
spec:
  environment: local
  service: {name: shop, port: 80, artifact: shop}
  phases:
    - name: p1
      steps:
        - deploy: {instances: 1}
`

// wfBare is wfHead without the deploy step; steps appended to it start at line 10.
const wfBare = `apiVersion: sluice.dev/v1alpha1
kind: Workflow
metadata: {name: wf}
spec:
  environment: local
  service: {name: shop, port: 80, artifact: shop}
  phases:
    - name: p1
      steps:
`

// envHead is the start of an environment; what follows starts at line 5.
const envHead = `apiVersion: sluice.dev/v1alpha1
kind: Environment
metadata: {name: env}
spec:
`

// problemsOf parses src and returns its problems ("line:col: message" each).
func problemsOf(t *testing.T, src string) []string {
	t.Helper()
	_, err := ParseDocuments("f.yaml", []byte(src))
	if err == nil {
		return nil
	}
	var ps Problems
	if !errors.As(err, &ps) {
		t.Fatalf("error is %T, not Problems: %v", err, err)
	}
	out := make([]string, len(ps))
	for i, p := range ps {
		if p.Pos.File != "f.yaml" {
			t.Errorf("problem without the file name: %v", p)
		}
		out[i] = strings.TrimPrefix(p.Pos.String(), "f.yaml:") + ": " + p.Message
	}
	return out
}

// problemCases has one case per kind of mistake. want is "line:col: message"; the
// message may be a prefix of the full message.
var problemCases = []struct {
	name, src, want string
}{
	{"unknown field with suggestion", wfHead + "        - traffic: {weigth: 10}\n",
		`11:21: unknown field "weigth" in traffic step; did you mean "weight"?`},
	{"unknown field lists known fields", wfHead + "        - wait: {duration: 1s, colour: red}\n",
		`11:32: unknown field "colour" in wait step; known fields: duration`},
	{"unknown step type", wfHead + "        - canary: 10%\n",
		`11:11: unknown field "canary" in step; known fields: name, onFailure`},
	{"wrong type integer", wfHead + "        - loadtest: {duration: 1m, rate: ten}\n",
		`11:42: expected an integer, got "ten"`},
	{"wrong type mapping", wfHead + "        - approval: [alice]\n",
		`11:21: expected a mapping (approval step), got a list`},
	{"wrong type list", wfHead + "        - approval: {approvers: alice}\n",
		`11:33: expected a list, got "alice"`},
	{"missing required field", wfHead + "        - loadtest: {target: new}\n",
		`11:21: missing required field "duration" in load test step`},
	{"bad duration", wfHead + "        - wait: 30 seconds\n",
		`11:17: expected a duration like 30s or 5m, got "30 seconds"`},
	{"percent out of range", wfHead + "        - traffic: 150%\n",
		`11:20: percentage 150 is out of range 0-100`},
	{"percent not a number", wfHead + "        - traffic: lots\n",
		`11:20: expected a percentage like 10 or 10%, got "lots"`},
	{"bad quantity", wfHead + "        - deploy: {instances: many}\n",
		`11:31: expected an instance count like 3 or a percentage like 100%, got "many"`},
	{"zero instances", wfHead + "        - deploy: {instances: 0%}\n",
		`11:31: deploy needs at least 1 instance`},
	{"step without type", wfHead + "        - name: nothing\n",
		`11:11: step has no type; give it one of: deploy, service, traffic`},
	{"step with two types", wfHead + "        - wait: 1s\n          promote: {}\n",
		`11:11: step has 2 type blocks (wait, promote); a step does one thing`},
	{"duplicate step name", wfHead + "        - {name: a, wait: 1s}\n        - {name: a, wait: 2s}\n",
		`12:18: duplicate step name "a" in phase p1 (first at line 11)`},
	{"duplicate phase name", wfHead + "    - name: p1\n      steps: [{wait: 1s}]\n",
		`11:13: duplicate phase name "p1" (first at line 8)`},
	{"approval without approvers", wfHead + "        - approval: {approvers: []}\n",
		`11:33: approval has no approvers: list user names or group:<name>`},
	{"required more than approvers", wfHead + "        - approval: {approvers: [alice], required: 2}\n",
		`11:52: approval requires 2 approvals but lists only 1 approver`},
	{"bad onTimeout", wfHead + "        - approval: {approvers: [alice], onTimeout: later}\n",
		`11:53: unknown onTimeout action "later"; use one of: rollback, continue, fail`},
	{"retries without retry", wfHead + "        - wait: 1s\n          onFailure: {action: pause, retries: 3}\n",
		`12:47: retries is only used with action retry (the action is pause)`},
	{"retry without retries", wfHead + "        - wait: 1s\n          onFailure: retry\n",
		`12:22: action retry needs retries: 1 or more`},
	{"unknown failure action", wfHead + "        - wait: 1s\n          onFailure: rollbak\n",
		`12:22: unknown failure action "rollbak"; did you mean "rollback"?`},
	{"scaledown of the live slot", wfHead + "        - scaledown: {slot: live}\n",
		`11:29: scaling down the live slot would take the service down`},
	{"scaledown old before promote", wfHead + "        - scaledown: {delay: 1m}\n",
		`11:11: phase p1 scales down the old slot, but no earlier step promotes the new one`},
	{"webhook url", wfHead + "        - webhook: {url: \"ftp//x\"}\n",
		`11:26: webhook url "ftp//x" is not an absolute http:// or https:// URL`},
	{"metric without query", wfHead + "        - verify: {metrics: [{name: m, provider: p, failureCondition: result > 1}]}\n",
		`11:30: missing required field "query" in metric check`},
	{"metric with empty provider", wfHead + "        - verify: {metrics: [{name: m, provider: '', query: q, failureCondition: result > 1}]}\n",
		`11:50: metric m needs a provider (a provider name from the environment)`},
	{"verify without checks", wfHead + "        - verify: {duration: 1m}\n",
		`11:19: verify step has no metrics or logs to check`},
	{"traffic before deploy", wfBare + "        - traffic: 10%\n",
		`10:11: phase p1 sends traffic to the new slot, but no earlier step deploys it`},
	{"promote before deploy", wfBare + "        - promote:\n",
		`10:11: phase p1 promotes the new slot, but no earlier step deploys it`},
	{"loadtest before deploy", wfBare + "        - loadtest: {duration: 1m}\n",
		`10:11: phase p1 sends load to the new slot, but no earlier step deploys it`},
	{"verify before deploy", wfBare + "        - verify: {logs: [{name: l, provider: p, query: q}]}\n",
		`10:11: phase p1 verifies the new slot, but no earlier step deploys it`},
	{"traffic 0 before deploy is fine, traffic after promote is not", wfBare +
		"        - traffic: 0\n        - deploy: {instances: 1}\n        - promote: {}\n        - traffic: 50\n",
		`13:11: phase p1 sends traffic to the new slot, but no step since the last promote deploys a new slot`},
	{"duplicate key", wfHead + "        - wait: 1s\n          wait: 2s\n",
		`12:11: duplicate key "wait" (first at line 11)`},
	{"apiVersion", strings.Replace(wfHead, "v1alpha1", "v1", 1),
		`1:13: apiVersion must be sluice.dev/v1alpha1, got "sluice.dev/v1"`},
	{"unknown kind", strings.Replace(wfHead, "kind: Workflow", "kind: Workflo", 1),
		`2:7: unknown kind "Workflo"; did you mean "Workflow"?`},
	{"missing kind", strings.Replace(wfHead, "kind: Workflow\n", "", 1),
		`1:1: missing required field "kind"`},
	{"name not a DNS label", strings.Replace(wfHead, "{name: wf}", "{name: Web_Front}", 1),
		`3:18: metadata.name "Web_Front" is not a valid name`},
	{"port out of range", strings.Replace(wfHead, "port: 80", "port: 70000", 1),
		`6:31: service.port 70000 is not a port number 1-65535`},
	{"not a mapping", "- just\n- a list\n",
		`1:1: a document must be a mapping with apiVersion, kind, metadata and spec`},
	{"syntax error", wfHead + "        - wait: [1s\n",
		`10: invalid YAML: did not find expected ',' or ']'`}, // yaml.v3 gives a line only
	{"undefined variable", strings.Replace(wfHead, "environment: local", "environment: ${mdoe}", 1),
		`5:16: undefined variable ${mdoe}; the workflow declares no variables`},
	{"unterminated variable", strings.Replace(wfHead, "artifact: shop", `artifact: "${mode"`, 1),
		`6:46: unterminated ${ (missing }); write $${ for a literal ${`},
}

func TestProblemKinds(t *testing.T) {
	for _, tc := range problemCases {
		t.Run(tc.name, func(t *testing.T) {
			got := problemsOf(t, tc.src)
			if len(got) != 1 {
				t.Fatalf("want exactly one problem %q, got %d:\n%s", tc.want, len(got), strings.Join(got, "\n"))
			}
			if !strings.HasPrefix(got[0], tc.want) {
				t.Errorf("got  %s\nwant %s", got[0], tc.want)
			}
		})
	}
}
