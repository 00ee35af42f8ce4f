package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// settingsEnv is an environment on the local platform whose providers are
// given by the test, from line 16 on.
const settingsEnv = `apiVersion: sluice.dev/v1alpha1
kind: Environment
metadata:
  name: settings
spec:
  platform:
    type: local
    local:
      commands:
        - name: app
          executable: /bin/true
  router:
    type: builtin
    builtin: {listen: 127.0.0.1:18080}
  providers:
%s`

// kubeEnv is an environment on the kubernetes platform whose router is given by
// the test, from line 9 on.
const kubeEnv = `apiVersion: sluice.dev/v1alpha1
kind: Environment
metadata:
  name: settings
spec:
  platform:
    type: kubernetes
    kubernetes: {namespace: shop}
%s`

// TestBadSettingsBeforeARelease checks that bad platform, router and provider
// settings are caught by `sluice validate` and by the API's apply (dry run or
// not), each at the line and column where it was written, before anything is
// stored: what each kind's constructor would refuse mid-canary is refused here.
func TestBadSettingsBeforeARelease(t *testing.T) {
	tests := []struct {
		name string
		doc  string
		at   string // line:col of the problem
		want string // in its message
	}{
		{"prometheus with a malformed url", fmt.Sprintf(settingsEnv, `    - name: prom
      type: prometheus
      url: "http//prometheus:9090"
`), "18:12", "url"},
		{"prometheus step that is no duration", fmt.Sprintf(settingsEnv, `    - name: prom
      type: prometheus
      url: http://prometheus:9090
      settings: {step: fast}
`), "19:24", `prometheus: setting step "fast" is not a positive duration`},
		{"prometheus unknown setting", fmt.Sprintf(settingsEnv, `    - name: prom
      type: prometheus
      url: http://prometheus:9090
      settings:
        stepp: 15s
`), "20:16", `prometheus: unknown setting "stepp"`},
		{"newrelic without accountId", fmt.Sprintf(settingsEnv, `    - name: nr
      type: newrelic
      credentials: {apiKey: {env: NEW_RELIC_KEY}}
`), "16:7", "provider nr: newrelic: needs settings.accountId"},
		{"newrelic accountId that is no number", fmt.Sprintf(settingsEnv, `    - name: nr
      type: newrelic
      credentials: {apiKey: {env: NEW_RELIC_KEY}}
      settings:
        accountId: acme
`), "20:20", `newrelic: accountId "acme" is not an account number`},
		{"newrelic without apiKey", fmt.Sprintf(settingsEnv, `    - name: nr
      type: newrelic
      settings: {accountId: "42"}
`), "16:7", "newrelic: needs credentials.apiKey"},
		{"unknown provider type", fmt.Sprintf(settingsEnv, `    - name: g
      type: graphite
      url: http://graphite:8080
`), "17:13", "graphite"},
		{"secret reference that is no variable name", fmt.Sprintf(settingsEnv, `    - name: dd
      type: datadog
      credentials:
        apiKey: {env: DD-API-KEY}
        appKey: {env: DD_APP_KEY}
`), "19:23", "is not an environment variable name"},
		{"datadog without appKey", fmt.Sprintf(settingsEnv, `    - name: dd
      type: datadog
      credentials:
        apiKey: {env: DD_API_KEY}
`), "19:9", "datadog: needs credentials.appKey"},
		{"loki page larger than Loki serves", fmt.Sprintf(settingsEnv, `    - name: logs
      type: loki
      url: http://loki:3100
      settings: {pageSize: "9000"}
`), "19:28", "pageSize"},
		{"sumologic unknown deployment", fmt.Sprintf(settingsEnv, `    - name: sumo
      type: sumologic
      credentials: {accessId: {env: SUMO_ID}, accessKey: {env: SUMO_KEY}}
      settings: {deployment: mars}
`), "19:30", "unknown deployment"},
		{"victorialogs accountID that is no number", fmt.Sprintf(settingsEnv, `    - name: vl
      type: victorialogs
      url: http://victorialogs:9428
      settings: {accountID: team-a}
`), "19:29", "must be a whole number"},
		{"http provider without a path to its value", fmt.Sprintf(settingsEnv, `    - name: api
      type: http
      url: http://metrics.internal/v1/{{.Slot}}
`), "16:7", "http: needs settings.path"},
		{"builtin provider with settings it would ignore", fmt.Sprintf(settingsEnv, `    - name: router
      type: builtin
      settings: {window: 1m}
`), "18:17", "builtin provider has no settings"},
		{"istio adopting a tcp virtual service", fmt.Sprintf(kubeEnv, `  router:
    type: istio
    istio: {virtualService: shop, protocol: tcp, hosts: [shop.example.com]}
`), "10:5", "only http routes can be adopted"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			file := filepath.Join(t.TempDir(), "env.yaml")
			if err := os.WriteFile(file, []byte(tt.doc), 0o600); err != nil {
				t.Fatal(err)
			}
			wantLine := file + ":" + tt.at + ": "
			c := newCLI(t)
			code, out, errb := c.sluice("", "validate", file)
			if code != 1 || !hasProblem(out, wantLine, tt.want) {
				t.Fatalf("sluice validate: exit %d, want 1 and a line %q...%q\n%s%s", code, wantLine, tt.want, out, errb)
			}
			for _, args := range [][]string{{"apply", "--dry-run", "-f", file}, {"apply", "-f", file}} {
				code, out, errb := c.sluice("", args...)
				if code == 0 || !hasProblem(out+errb, tt.at+": ", tt.want) {
					t.Fatalf("sluice %s: exit %d, want a failure naming %s and %q\n%s%s", strings.Join(args, " "), code, tt.at, tt.want, out, errb)
				}
			}
			if code, out, _ := c.sluice("", "get", "environments"); code != 0 || strings.Contains(out, "settings") {
				t.Fatalf("after the failed applies: exit %d, environments %q; want none stored", code, out)
			}
		})
	}
}

// hasProblem says whether some line of out holds at and then want.
func hasProblem(out, at, want string) bool {
	for _, line := range strings.Split(out, "\n") {
		if i := strings.Index(line, at); i >= 0 && strings.Contains(line[i:], want) {
			return true
		}
	}
	return false
}
