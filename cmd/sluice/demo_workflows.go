package main

import (
	"encoding/json"
	"fmt"
)

// demoEnv and demoService name what the demo releases.
const (
	demoEnv     = "demo"
	demoService = "shop"
	demoUser    = "demo"
)

// demoSetup is what the demo's documents need to know.
type demoSetup struct {
	exe    string // this very binary (or a copy its instances' user can run): the command the environment allows
	listen string // the builtin router's listen address
	admin  string // its admin address
	// interactive says a person answers the approval at the prompt: it then waits a
	// day instead of rolling back after five minutes.
	interactive bool
}

// approvalTimeout is how long the canary's approval waits for an answer.
func (d demoSetup) approvalTimeout() string {
	if d.interactive {
		return "24h"
	}
	return "5m"
}

// yamlString returns s as a YAML double-quoted scalar.
func yamlString(s string) string {
	b, _ := json.Marshal(s) // a JSON string is a valid YAML double-quoted scalar
	return string(b)
}

// documents returns the environment and the two workflows of the demo.
func (d demoSetup) documents() string {
	// The environment allows one command, this binary's sample app; the workflows'
	// artifact only picks its version.
	artifact := "sample-app:${version}"
	return fmt.Sprintf(`apiVersion: sluice.dev/v1alpha1
kind: Environment
metadata:
  name: %[1]s
  description: sluice demo - local processes behind the builtin router
spec:
  platform:
    type: local
    local:
      stopGrace: 2s
      commands:
        - name: sample-app
          executable: %[7]s
          args: [sample-app, --port, "${PORT}", --version, "${VERSION}"]
  router:
    type: builtin
    builtin:
      listen: %[2]s
      admin: %[3]s
  providers:
    - name: router
      type: builtin
---
apiVersion: sluice.dev/v1alpha1
kind: Workflow
metadata:
  name: demo-first-release
  description: Release the first version of the demo service with all traffic.
spec:
%[4]s
  phases:
    - name: first-release
      steps:
        - name: service-setup
          service: {}
        - name: deploy
          deploy:
            instances: 2
        - name: all-traffic
          traffic: 100%%
        - name: make-live
          promote: {}
---
apiVersion: sluice.dev/v1alpha1
kind: Workflow
metadata:
  name: demo-canary
  description: The seed workflow - blue/green with a canary phase, verification and approval.
spec:
%[4]s
  onFailure: rollback
  phases:
    - name: setup-new
      steps:
        - name: service-setup
          service: {}
        - name: upgrade-containers
          deploy:
            instances: 100%%
        - name: traffic-stays-live
          traffic: 0%%
    - name: canary
      steps:
        - name: shift-canary
          traffic: 10%%
%[5]s        - name: approve-promotion
          approval:
            message: "Canary of ${version} at 10%% looks healthy. Promote to 100%%?"
            approvers: [%[6]s]
            timeout: %[8]s
            onTimeout: rollback
    - name: promote
      steps:
        - name: all-traffic-to-new
          traffic: 100%%
        - name: make-new-live
          promote: {}
        - name: retire-old
          scaledown:
            slot: old
            delay: 3s
`, demoEnv, d.listen, d.admin, d.serviceBlock(artifact), d.checkSteps(), demoUser, yamlString(d.exe), d.approvalTimeout())
}

// serviceBlock is the variables, environment and service shared by both workflows.
func (d demoSetup) serviceBlock(artifact string) string {
	return fmt.Sprintf(`  variables:
    - name: version
      type: string
      default: v1
    - name: error_rate
      type: string
      default: "0"
  environment: %s
  service:
    name: %s
    port: 8080
    artifact: %s
    instances: 2
    env:
      SAMPLE_APP_ERROR_RATE: "${error_rate}"
    health:
      path: /healthz
      timeout: 1s`, demoEnv, demoService, yamlString(artifact))
}

// checkSteps are the canary's checks: a load test and verification of the builtin
// router's metrics.
func (d demoSetup) checkSteps() string {
	return `        - name: load-test
          loadtest:
            target: new
            rate: 40
            concurrency: 4
            duration: 3s
            maxErrorRate: 5%
            maxP99: 500ms
        - name: verify-canary
          verify:
            initialDelay: 1s
            interval: 1s
            count: 3
            duration: 2s
            window: 5s
            metrics:
              - name: error-rate
                provider: router
                query: error_rate
                minRequests: 3
                failureCondition: result > 0.05
                failureLimit: 0
`
}
