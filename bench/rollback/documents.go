package main

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// setup is what the benchmark's documents need to know.
type setup struct {
	exe          string        // this binary, which runs the sample app as the artifact
	listen       string        // the builtin router's listen address
	admin        string        // its admin address
	seqInterval  time.Duration // how often the sequential judge is evaluated
	fixedEvery   time.Duration // the fixed-interval judge's interval
	analysis     time.Duration // how long each verify step lasts at most
	maxErrorRate float64       // the fixed-interval judge's threshold
	judges       []string      // the judges measured, in the order of each round
	proms        []*promServer // Prometheus servers scraping the router, by interval
}

// promQueries are the query pair of the sequential judge on Prometheus: the
// router's running counts of failed and of all requests of a slot.
const (
	promEvents = `sum(sluice_proxy_requests_total{service="shop",slot="{{slot}}",class=~"5xx|error"})`
	promTotal  = `sum(sluice_proxy_requests_total{service="shop",slot="{{slot}}"})`
)

// workflowOf names the canary workflow of a judge.
func workflowOf(judge string) string {
	switch judge {
	case "sequential":
		return canarySeq
	case "fixed":
		return canaryFixed
	}
	return "bench-canary-" + judge
}

// promVerify is the verify step of the sequential judge on one Prometheus.
func (s setup) promVerify(p *promServer) string {
	return fmt.Sprintf(`verify:
            interval: %s
            duration: %s
            metrics:
              - name: errors-vs-live
                provider: %s
                judge: sequential
                counts: cumulative
                query: '%s'
                total: '%s'`, s.seqInterval, s.analysis, promJudge(p.interval), promEvents, promTotal)
}

// promProviders lists the environment's Prometheus providers.
func (s setup) promProviders() string {
	var b strings.Builder
	for _, p := range s.proms {
		fmt.Fprintf(&b, "    - {name: %s, type: prometheus, url: %s}\n", promJudge(p.interval), p.url)
	}
	return b.String()
}

// Workflow names.
const (
	envName       = "bench"
	firstRelease  = "bench-first-release"
	canarySeq     = "bench-canary-sequential"
	canaryFixed   = "bench-canary-fixed"
	serviceName   = "shop"
	benchUser     = "bench"
	routerMetrics = "router"
)

// documents returns the environment, the first release and the two canary workflows,
// which differ only in their verify step.
func (s setup) documents() string {
	// The environment allows this binary's sample app; the artifact picks its version
	// and the service's env sets the failure flags (the sample app reads SAMPLE_APP_*).
	artifact := "sample-app:${version}"
	svc := fmt.Sprintf(`  variables:
    - {name: version, type: string, default: v1}
    - {name: fail_rate, type: string, default: "0"}
    - {name: fail_from, type: string, default: "0"}
  environment: %s
  service:
    name: %s
    port: 8080
    artifact: %s
    instances: 1
    env: {SAMPLE_APP_FAIL_RATE: "${fail_rate}", SAMPLE_APP_FAIL_FROM: "${fail_from}"}
    health: {path: /healthz, timeout: 1s}`, envName, serviceName, yamlString(artifact))
	seq := fmt.Sprintf(`verify:
            interval: %s
            duration: %s
            metrics:
              - {name: errors-vs-live, provider: %s, query: error_rate, judge: sequential}`,
		s.seqInterval, s.analysis, routerMetrics)
	fixed := fmt.Sprintf(`verify:
            interval: %s
            duration: %s
            metrics:
              - {name: error-rate, provider: %s, query: error_rate, successCondition: "result <= %g"}`,
		s.fixedEvery, s.analysis, routerMetrics, s.maxErrorRate)
	return fmt.Sprintf(`apiVersion: sluice.dev/v1alpha1
kind: Environment
metadata: {name: %[1]s}
spec:
  platform:
    type: local
    local:
      stopGrace: 1s
      commands:
        - {name: sample-app, executable: %[10]s, args: [sample-app, --port, "${PORT}", --version, "${VERSION}"]}
  router: {type: builtin, builtin: {listen: %[2]s, admin: %[3]s}}
  providers:
    - {name: %[4]s, type: builtin}
%[9]s---
apiVersion: sluice.dev/v1alpha1
kind: Workflow
metadata: {name: %[5]s}
spec:
%[6]s
  phases:
    - name: first-release
      steps:
        - service: {}
        - deploy: {instances: 1}
        - traffic: 100%%
        - promote: {}
%[7]s%[8]s`, envName, s.listen, s.admin, routerMetrics, firstRelease, svc,
		canary(canarySeq, svc, seq), canary(canaryFixed, svc, fixed), s.promProviders(), yamlString(s.exe)) + s.promCanaries(svc)
}

// promCanaries are the canary workflows of the judges on Prometheus.
func (s setup) promCanaries(svc string) string {
	var b strings.Builder
	for _, p := range s.proms {
		b.WriteString(canary(workflowOf(promJudge(p.interval)), svc, s.promVerify(p)))
	}
	return b.String()
}

// canary is a workflow that sends 10% to a new slot and verifies it; a canary that
// passes is taken back down, so that every round starts from the same live slot.
func canary(name, svc, verify string) string {
	return fmt.Sprintf(`---
apiVersion: sluice.dev/v1alpha1
kind: Workflow
metadata: {name: %s}
spec:
%s
  onFailure: rollback
  phases:
    - name: canary
      steps:
        - deploy: {instances: 100%%}
        - traffic: 10%%
        - name: verify
          %s
        - traffic: 0%%
        - scaledown: {slot: new}
`, name, svc, verify)
}

// yamlString returns s as a YAML double-quoted scalar.
func yamlString(s string) string {
	b, _ := json.Marshal(s) // a JSON string is a valid YAML double-quoted scalar
	return string(b)
}
