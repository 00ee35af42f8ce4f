package spec

import (
	"strings"
	"testing"
)

// TestNewRelicGraphQLURLWarns checks that a New Relic url naming the /graphql
// endpoint is valid but warned about at the provider's position, and that the
// base URL is not.
func TestNewRelicGraphQLURLWarns(t *testing.T) {
	env := func(url string) string {
		return `apiVersion: sluice.dev/v1alpha1
kind: Environment
metadata: {name: prod}
spec:
  platform: {type: recorder, recorder: {file: x.jsonl}}
  router: {type: recorder, recorder: {file: x.jsonl}}
  providers:
    - name: nr
      type: newrelic
      url: ` + url + `
      settings: {accountId: "42"}
`
	}
	docs, err := ParseDocuments("env.yaml", []byte(env("https://api.eu.newrelic.com/graphql")))
	if err != nil {
		t.Fatal(err)
	}
	ws := Warnings(docs[0])
	if len(ws) != 1 || !strings.HasPrefix(ws[0].String(), "env.yaml:8:") || !strings.Contains(ws[0].Message, "write https://api.eu.newrelic.com") {
		t.Fatalf("warnings %v", ws)
	}
	docs, err = ParseDocuments("env.yaml", []byte(env("https://api.eu.newrelic.com")))
	if err != nil {
		t.Fatal(err)
	}
	if ws := Warnings(docs[0]); len(ws) != 0 {
		t.Fatalf("the base URL warned: %v", ws)
	}
}
