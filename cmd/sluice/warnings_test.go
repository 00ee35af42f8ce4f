package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// nrEnvironment is an environment whose New Relic url is the old /graphql form.
const nrEnvironment = `apiVersion: sluice.dev/v1alpha1
kind: Environment
metadata: {name: prod}
spec:
  platform: {type: recorder, recorder: {file: x.jsonl}}
  router: {type: recorder, recorder: {file: x.jsonl}}
  providers:
    - name: nr
      type: newrelic
      url: https://api.newrelic.com/graphql
      credentials: {apiKey: {env: NR_KEY}}
      settings: {accountId: "42"}
`

// TestOldNewRelicURLWarns checks that sluice validate and apply accept a New
// Relic url naming the /graphql endpoint and warn about it with its position.
func TestOldNewRelicURLWarns(t *testing.T) {
	file := filepath.Join(t.TempDir(), "env.yaml")
	if err := os.WriteFile(file, []byte(nrEnvironment), 0o644); err != nil {
		t.Fatal(err)
	}
	c := newCLI(t)
	want := file + ":8:7: warning: provider nr: url https://api.newrelic.com/graphql names NerdGraph's /graphql endpoint"
	code, out, errb := c.sluice("", "validate", file)
	if code != 0 || !strings.Contains(out, "Environment prod is valid") || !strings.Contains(out, want) {
		t.Fatalf("validate: exit %d\n%s\n%s", code, out, errb)
	}
	code, out, errb = c.sluice("", "apply", "-f", file)
	if code != 0 || !strings.Contains(out, "Environment prod created") || !strings.Contains(errb, want) {
		t.Fatalf("apply: exit %d\n%s\n%s", code, out, errb)
	}
}
