package spec

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const pipelineHead = `apiVersion: sluice.dev/v1alpha1
kind: Pipeline
metadata: {name: release}
spec:
`

// TestPipelineProblems: every mistake is reported at its file:line:col.
func TestPipelineProblems(t *testing.T) {
	tests := []struct {
		name, body string
		want       []string // each a substring of one problem, position first
	}{
		{"no stages", "  stages: []\n", []string{"p.yaml:5:11: a pipeline needs at least one stage"}},
		{"missing stages", "  onFailure: rollback-all\n", []string{`p.yaml:5:3: missing required field "stages" in pipeline`}},
		{"cycle", `  stages:
    - {name: a, workflow: w, environment: e, after: [c]}
    - {name: b, workflow: w, environment: e, after: [a]}
    - {name: c, workflow: w, environment: e, after: [b]}
`, []string{"p.yaml:6:53: stages wait for each other in a cycle: a after c after b after a"}},
		{"after itself and unknown", `  stages:
    - {name: a, workflow: w, environment: e}
    - {name: b, workflow: w, environment: e, after: [b, staging]}
`, []string{"p.yaml:7:54: stage b cannot come after itself", `p.yaml:7:57: stage b comes after "staging", which is no stage of this pipeline`}},
		{"duplicate stage", `  stages:
    - {name: a, workflow: w, environment: e}
    - {name: a, workflow: w, environment: e}
`, []string{"p.yaml:7:14: stage a is named twice (first at line 6)"}},
		{"bad gates", `  stages:
    - {name: a, workflow: w, environment: e}
    - name: b
      workflow: w
      environment: e
      gates:
        - {}
        - {soak: 0s}
        - {approval: {approvers: []}}
        - {soak: 5m, approval: {approvers: [carol]}}
        - {soke: 5m}
`, []string{"p.yaml:11:11: a gate needs one of approval, soak or verify", "p.yaml:12:18: soak must be a positive duration",
			"p.yaml:13:34: approval has no approvers", "p.yaml:14:11: a gate holds one of approval, soak or verify",
			`p.yaml:15:12: unknown field "soke" in gate`}},
		{"bad references", `  variables:
    - {name: artifact, type: string, required: true}
  stages:
    - {name: a, workflow: w, environment: e, variables: {x: "${pipeline.artefact}"}}
    - {name: b, workflow: w, environment: e, after: [], variables: {x: "${stages.a.artifact}", y: "${env}"}}
`, []string{`p.yaml:8:61: ${pipeline.artefact} names no variable of the pipeline`,
			"p.yaml:9:72: ${stages.a.artifact}: stage a does not run before stage b",
			"p.yaml:9:99: ${env} is not a pipeline reference"}},
		{"bad onFailure", "  onFailure: rollback-everything\n  stages: [{name: a, workflow: w, environment: e}]\n",
			[]string{`p.yaml:5:14: unknown onFailure "rollback-everything"`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParsePipeline("p.yaml", []byte(pipelineHead+tc.body))
			if err == nil {
				t.Fatal("accepted")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("problems lack %q:\n%v", w, err)
				}
			}
		})
	}
}

// TestPipelineNeeds: a stage without after comes after the one before it; after: []
// starts at once; several stages after one run in parallel.
func TestPipelineNeeds(t *testing.T) {
	p, err := ParsePipeline("p.yaml", []byte(pipelineHead+`  stages:
    - {name: staging, workflow: w, environment: staging}
    - {name: eu, workflow: w, environment: eu}
    - {name: us, workflow: w, environment: us, after: [staging]}
    - {name: global, workflow: w, environment: prod, after: [eu, us]}
    - {name: docs, workflow: w, environment: docs, after: []}
`))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"staging": "", "eu": "staging", "us": "staging", "global": "eu,us", "docs": ""}
	for name, w := range want {
		if got := strings.Join(p.Stage(name).Needs, ","); got != w {
			t.Errorf("%s needs %q, want %q", name, got, w)
		}
	}
	if up := p.Upstream("global"); !up["staging"] || !up["eu"] || !up["us"] || up["docs"] {
		t.Errorf("upstream of global: %v", up)
	}
}

// TestPipelineReferences: unknown workflows and environments, a workflow bound to
// another environment and variables it does not declare are reported where the
// pipeline names them.
func TestPipelineReferences(t *testing.T) {
	p, err := ParsePipeline("p.yaml", []byte(pipelineHead+`  stages:
    - {name: a, workflow: shop, environment: staging, variables: {colour: blue}}
    - {name: b, workflow: shopp, environment: production}
    - {name: c, workflow: fixed, environment: production}
    - {name: d, workflow: shop, environment: prod}
`))
	if err != nil {
		t.Fatal(err)
	}
	shop, err := ParseWorkflow("shop.yaml", []byte(`apiVersion: sluice.dev/v1alpha1
kind: Workflow
metadata: {name: shop}
spec:
  environment: ${env}
  variables: [{name: env, type: string, required: true}, {name: artifact, type: string, default: "x:1"}]
  service: {name: shop, port: 8080, artifact: "${artifact}"}
  phases: [{name: p, steps: [{deploy: {instances: 1}}, {traffic: 100%}, {promote: {}}]}]
`))
	if err != nil {
		t.Fatal(err)
	}
	fixed, err := ParseWorkflow("fixed.yaml", []byte(strings.Replace(string(shop.Source()), "${env}", "staging", 1)))
	if err != nil {
		t.Fatal(err)
	}
	probs := CheckPipelineReferences(p, map[string]*Workflow{"shop": shop, "fixed": fixed}, map[string]bool{"staging": true, "production": true})
	got := probs.Error()
	for _, w := range []string{
		`p.yaml:6:75: stage a: workflow shop declares no variable "colour"`,
		`p.yaml:7:27: stage b: no workflow named "shopp"; apply it first (did you mean "shop"?)`,
		"p.yaml:8:47: stage c: workflow fixed always deploys to staging, not production",
		`p.yaml:9:46: stage d: no environment named "prod"`,
	} {
		if !strings.Contains(got, w) {
			t.Errorf("problems lack %q:\n%s", w, got)
		}
	}
	if len(probs) != 4 {
		t.Errorf("%d problems, want 4:\n%s", len(probs), got)
	}
}

// TestPipelineExample: examples/pipeline.yaml names only workflows and environments
// of the examples, with variables they declare.
func TestPipelineExample(t *testing.T) {
	wfs, envs := map[string]*Workflow{}, map[string]bool{}
	var p *Pipeline
	for _, f := range exampleFiles(t) {
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		docs, err := ParseDocuments(f, src)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range docs {
			switch {
			case d.Workflow != nil:
				wfs[d.Name] = d.Workflow
			case d.Environment != nil:
				envs[d.Name] = true
			case d.Pipeline != nil && filepath.Base(f) == "pipeline.yaml":
				p = d.Pipeline
			}
		}
	}
	if p == nil {
		t.Fatal("examples/pipeline.yaml holds no Pipeline")
	}
	if probs := CheckPipelineReferences(p, wfs, envs); len(probs) > 0 {
		t.Fatal(probs)
	}
}
