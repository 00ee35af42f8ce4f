package server

import (
	"fmt"
	"os"
	"testing"
)

// recorderEnvironment is the environment name on the recorder platform and router,
// both recording into the file effects (relative to the server's data directory, or
// absolute); more is the rest of its spec, indented by two spaces.
func recorderEnvironment(name, effects, more string) string {
	return `apiVersion: sluice.dev/v1alpha1
kind: Environment
metadata: {name: ` + name + `}
spec:
  platform: {type: recorder, recorder: {file: "` + effects + `"}}
  router: {type: recorder, recorder: {file: "` + effects + `"}}
` + more
}

// prodRecorder is the environment prod on the recorder platform and router, both
// recording into effects.jsonl in the server's data directory.
var prodRecorder = recorderEnvironment("prod", "effects.jsonl", "")

// probeProvider is the spec lines of a generic HTTP/JSON provider named probe that
// reads the field value at url/metric.
func probeProvider(url string) string {
	return `  providers:
    - name: probe
      type: http
      url: ` + url + `/metric
      settings: {path: value}
`
}

// shopCanary is the workflow shop in prod, a canary release of shop:v2: phase
// setup-blue sets up the service and blue at full size; phase canary sends 10% of
// traffic to blue, then runs the steps canary; phase promote promotes, then runs
// the steps promote. Steps are YAML list items indented by eight spaces.
func shopCanary(canary, promote string) string {
	return `apiVersion: sluice.dev/v1alpha1
kind: Workflow
metadata: {name: shop}
spec:
  environment: prod
  service: {name: shop, port: 8080, artifact: "shop:v2"}
  phases:
    - name: setup-blue
      steps:
        - service: {hosts: [shop.example.com]}
        - deploy: {instances: 100%}
    - name: canary
      steps:
        - traffic: 10%
` + canary + `    - name: promote
      steps:
        - promote: {}
` + promote
}

// perServiceRelease is the environment prod recording into effects and a workflow
// named name that releases app:v2 with two instances as the service named by its
// variable svc, in the phases given (YAML list items indented by four spaces).
func perServiceRelease(effects, name, phases string) string {
	return recorderEnvironment("prod", effects, "") + `---
apiVersion: sluice.dev/v1alpha1
kind: Workflow
metadata: {name: ` + name + `}
spec:
  environment: prod
  variables:
    - {name: svc, type: string, required: true}
  service: {name: "${svc}", port: 8080, artifact: "app:v2", instances: 2}
  phases:
` + phases
}

// verifyProbe is a verify step of two measurements of the probe provider, every
// 10ms, that succeed while the value is at least 0.9.
const verifyProbe = `        - verify:
            count: 2
            interval: 10ms
            window: 1m
            metrics:
              - {name: success, provider: probe, query: up, successCondition: "result >= 0.9"}
`

// localProbeEnvironment is the environment name on the local platform, which may
// run only the probe executable exe, with the builtin router listening on listen.
func localProbeEnvironment(name, exe, listen string) string {
	return fmt.Sprintf(`apiVersion: sluice.dev/v1alpha1
kind: Environment
metadata: {name: %s}
spec:
  platform:
    type: local
    local:
      stopGrace: 1s
      commands:
        - {name: probe, executable: %q, args: [--port, "${PORT}", --version, "${VERSION}"]}
  router: {type: builtin, builtin: {listen: %q}}
`, name, exe, listen)
}

// rootBaseDir skips the test unless it runs as root (under CI=true it fails), since
// the local platform runs instances as another user only when sluice is root. It
// returns a new directory outside the test's temporary directory, open to all (so
// only the modes of what is created in it keep an instance out), removed at cleanup.
func rootBaseDir(t *testing.T, pattern string) string {
	t.Helper()
	if os.Geteuid() != 0 {
		if os.Getenv("CI") == "true" {
			t.Fatal("this test needs root, to run instances as another user")
		}
		t.Skip("needs root: the local platform runs instances as another user only when sluice is root")
	}
	base, err := os.MkdirTemp("", pattern)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(base) })
	if err := os.Chmod(base, 0o755); err != nil {
		t.Fatal(err)
	}
	return base
}
