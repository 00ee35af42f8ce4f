package spec

import (
	"strings"
	"testing"
)

// timedStep is wfHead plus one step with a step-level timeout whose value is at line
// 12, column 20.
func timedStep(block string) string {
	return wfHead + "        - name: s\n          timeout: 5m\n          " + block + "\n"
}

// TestStepTimeoutHonouredOrRefused: every step type either honours a step-level
// timeout (deploy: readiness deadline; webhook: call deadline; verify: analysis
// deadline) or refuses it at its
// position, saying what sets that step's length instead.
func TestStepTimeoutHonouredOrRefused(t *testing.T) {
	for _, tc := range []struct {
		typ, block, want string // want "" means the timeout is accepted
	}{
		{"deploy", "deploy: {instances: 1, slot: new}", ""},
		{"webhook", "webhook: {url: \"https://hooks.example.com/x\"}", ""},
		{"approval", "approval: {approvers: [alice]}", "move the timeout into the approval block"},
		{"verify", "verify: {metrics: [{name: m, provider: p, query: q, successCondition: result < 1}]}", ""},
		{"loadtest", "loadtest: {duration: 30s}", "loadtest.duration"},
		{"wait", "wait: {duration: 30s}", "its own duration"},
		{"service", "service: {hosts: [shop.example.com]}", "service and ingress objects"},
		{"traffic", "traffic: {weight: 10}", "writes weights"},
		{"promote", "promote: {}", "moves all traffic"},
		{"scaledown", "scaledown: {slot: new}", "scaledown.delay"},
	} {
		t.Run(tc.typ, func(t *testing.T) {
			got := problemsOf(t, timedStep(tc.block))
			if tc.want == "" {
				if len(got) != 0 {
					t.Fatalf("a %s step honours timeout, want no problem; got:\n%s", tc.typ, strings.Join(got, "\n"))
				}
				return
			}
			an := "a "
			if tc.typ == "approval" {
				an = "an "
			}
			if len(got) != 1 || !strings.HasPrefix(got[0], "12:20: "+an+tc.typ+" step does not use a step-level timeout") ||
				!strings.Contains(got[0], tc.want) {
				t.Fatalf("got:\n%s\nwant one problem at 12:20 refusing the timeout of a %s step, mentioning %q", strings.Join(got, "\n"), tc.typ, tc.want)
			}
		})
	}
}

// TestWebhookConditionRefused: a webhook condition, which nothing evaluates, is a
// problem at its position rather than a failure when the step runs.
func TestWebhookConditionRefused(t *testing.T) {
	src := wfHead + "        - webhook:\n            url: https://hooks.example.com/x\n            condition: status == 200\n"
	got := problemsOf(t, src)
	if len(got) != 1 || !strings.HasPrefix(got[0], "13:24: webhook conditions are not evaluated yet") {
		t.Fatalf("got:\n%s\nwant one problem at 13:24", strings.Join(got, "\n"))
	}
}
