package spec

import (
	"fmt"
	"strings"
	"testing"
)

const notifyEnv = `apiVersion: sluice.dev/v1alpha1
kind: Environment
metadata: {name: prod}
spec:
  platform: {type: recorder, recorder: {file: e.jsonl}}
  router: {type: recorder, recorder: {file: e.jsonl}}
  notifications:
    baseURL: https://sluice.example.com
    notifiers:
%s
`

func TestNotifications(t *testing.T) {
	for _, tc := range []struct {
		name, notifiers, want string
	}{
		{"slack", `      - {type: slack, on: [approval, rolled_back], slack: {url: {env: SLACK_URL}}}`, ""},
		{"webhook", `      - {name: audit, type: webhook, webhook: {url: "https://hooks.example.com/x", secret: {file: /etc/sluice/hook}}}`, ""},
		{"email", `      - {type: email, email: {host: smtp.example.com, from: sluice@example.com, to: [ops@example.com], username: u, password: {env: SMTP_PASSWORD}}}`, ""},
		{"unknown type", `      - {type: pager}`, `notifier type "pager"`},
		{"unknown trigger", `      - {type: slack, on: [deployed], slack: {url: {env: S}}}`, `trigger "deployed"`},
		{"missing block", `      - {type: webhook}`, "needs a webhook block"},
		{"wrong block", `      - {type: slack, slack: {url: {env: S}}, email: {host: h, from: a@b.c, to: [d@e.f]}}`, `block "email" does not match`},
		{"relative webhook", `      - {type: webhook, webhook: {url: /hook, secret: {env: S}}}`, "want an http or https URL"},
		{"bad address", `      - {type: email, email: {host: h, from: nobody, to: []}}`, "email.from \"nobody\""},
		{"password without user", `      - {type: email, email: {host: h, from: a@b.c, to: [d@e.f], password: {env: P}}}`, "without a username"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src := fmt.Sprintf(notifyEnv, tc.notifiers)
			e, err := ParseEnvironment("env.yaml", []byte(src))
			if err != nil {
				if tc.want != "" && strings.Contains(err.Error(), tc.want) {
					return
				}
				t.Fatalf("parse: %v", err)
			}
			v := &validator{d: newDecoder("env.yaml", nil)}
			v.notifications(e.Spec.Notifications)
			got := fmt.Sprint(v.problems)
			if tc.want == "" && len(v.problems) > 0 || !strings.Contains(got, tc.want) {
				t.Fatalf("problems %s, want %q", got, tc.want)
			}
		})
	}
}

func TestInlineWebhookSecretIsRefused(t *testing.T) {
	src := fmt.Sprintf(notifyEnv, `      - {type: slack, slack: {url: "https://hooks.slack.com/services/T/B/x"}}`)
	if _, err := ParseEnvironment("env.yaml", []byte(src)); err == nil {
		t.Fatal("a Slack webhook URL written inline was accepted")
	}
}

func TestWants(t *testing.T) {
	all := NotifierSpec{Type: "slack"}
	some := NotifierSpec{Type: "slack", On: []string{TriggerApproval}}
	if !all.Wants(TriggerSucceeded) || some.Wants(TriggerSucceeded) || !some.Wants(TriggerApproval) {
		t.Fatal("Wants does not follow on")
	}
	if all.Label() != "slack" || (NotifierSpec{Name: "ops", Type: "email"}).Label() != "ops" {
		t.Fatal("Label")
	}
}
