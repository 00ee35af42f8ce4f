package spec

import (
	"strings"
	"testing"
	"time"
)

// analysisHead is a workflow whose phase p1 declares an analysis (its fields
// from line 10, indented at column 9) and then its steps.
func analysisPhase(fields, steps string) string {
	return `apiVersion: sluice.dev/v1alpha1
kind: Workflow
metadata: {name: wf}
spec:
  environment: local
  service: {name: shop, port: 80, artifact: shop}
  phases:
    - name: p1
      analysis:
` + fields + "      steps:\n" + steps
}

const (
	analysisMetric = "        metrics:\n          - {name: errors, provider: router, query: error_rate, judge: sequential}\n"
	trafficSteps   = "        - deploy: {instances: 1}\n        - traffic: 10%\n"
)

func TestAnalysisProblems(t *testing.T) {
	for _, tc := range []struct{ name, src, want string }{
		{"no metrics", analysisPhase("        interval: 10s\n", trafficSteps),
			"10:9: analysis of phase p1 has no metrics or logs to check"},
		{"never starts", analysisPhase(analysisMetric, "        - deploy: {instances: 1}\n"),
			"10:9: analysis of phase p1 would never start"},
		{"negative watch", analysisPhase("        afterPromotion: -1m\n"+analysisMetric, trafficSteps),
			"10:25: duration -1m must not be negative"},
		{"zero interval", analysisPhase("        interval: 0s\n"+analysisMetric, trafficSteps),
			"10:19: analysis interval must be longer than 0"},
		{"a metric's mistake", analysisPhase("        metrics:\n          - {name: errors, provider: router, query: q, judge: sequential, window: 5s}\n", trafficSteps),
			"11:83: metric errors: the sequential judge sums one window per evaluation"},
		{"unknown field", analysisPhase("        count: 3\n"+analysisMetric, trafficSteps),
			"10:9: unknown field"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := problemsOf(t, tc.src)
			if len(got) != 1 || !strings.HasPrefix(got[0], tc.want) {
				t.Fatalf("want one problem %q, got:\n%s", tc.want, strings.Join(got, "\n"))
			}
		})
	}
}

func TestAnalysisDecodes(t *testing.T) {
	src := analysisPhase("        interval: 10s\n        afterPromotion: 10m\n        alpha: 0.5%\n"+analysisMetric, trafficSteps)
	docs, err := ParseDocuments("wf.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	a := docs[0].Workflow.Spec.Phases[0].Analysis
	if a == nil || a.Interval.Std() != 10*time.Second || a.AfterPromotion.Std() != 10*time.Minute || a.Alpha != 0.005 || len(a.Metrics) != 1 {
		t.Fatalf("analysis %+v", a)
	}
	vs := a.VerifyStep()
	if vs.Duration != AnalysisSpan || vs.Alpha != a.Alpha || vs.Metrics[0].Name != "errors" {
		t.Fatalf("as a verify step: %+v", vs)
	}
}
