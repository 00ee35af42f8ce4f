package spec

import (
	"errors"
	"maps"
	"os"
	"strings"
	"testing"
)

// varsDoc is a workflow whose variables block is vars (starting at line 6) and whose
// traffic step's weight is weight (on line 6 + the lines of vars + 7).
func varsDoc(vars, weight string) string {
	return `apiVersion: sluice.dev/v1alpha1
kind: Workflow
metadata: {name: wf}
spec:
  variables:
` + vars + `  environment: local
  service: {name: shop, port: 80, artifact: ./shop}
  phases:
    - name: p1
      steps:
        - deploy: {instances: 1}
        - traffic: ` + weight + "\n"
}

func TestVariableProblems(t *testing.T) {
	cases := []struct{ name, vars, weight, want string }{
		{"undefined variable lists declared ones", "    - {name: pct, type: percent, default: '10'}\n", "${pcnt}",
			`13:20: undefined variable ${pcnt} (did you mean ${pct}?); declared: pct`},
		{"default of the wrong type", "    - {name: pct, type: percent, default: '150'}\n", "${pct}",
			`6:43: default of variable pct: "150" is not a percentage 0-100`},
		{"enum without values", "    - {name: e, type: enum, default: a}\n", "1",
			`6:7: enum variable e needs values`},
		{"neither required nor default", "    - {name: pct, type: percent}\n", "${pct}",
			`6:7: variable pct has no default and is not required`},
		{"required with default", "    - {name: pct, type: percent, required: true, default: '5'}\n", "${pct}",
			`6:59: variable pct is required and has a default; drop one of them`},
		{"unknown type", "    - {name: pct, type: percentage, default: '5'}\n", "${pct}",
			`6:25: unknown variable type "percentage"; did you mean "percent"?`},
		{"bad name", "    - {name: 2pct, type: percent, default: '5'}\n", "5",
			`6:14: variable name "2pct" is not valid`},
		{"declared twice", "    - {name: p, type: int, default: '1'}\n    - {name: p, type: int, default: '2'}\n", "${p}",
			`7:14: variable p is declared twice (first at line 6)`},
		{"values on a non-enum", "    - {name: p, type: int, default: '1', values: [a]}\n", "${p}",
			`6:50: values are only used by enum variables; p has type int`},
		{"default substituted into a typed field names the variable", "    - {name: pct, type: int, default: '150'}\n", "${pct}",
			`13:20: percentage 150 is out of range 0-100 (from ${pct}, default "150")`},
		{"required string checked with a placeholder", "    - {name: w, type: string, required: true}\n", "${w}",
			`13:20: expected a percentage like 10 or 10%, got "x" (from ${w}, checked with the placeholder "x")`},
		{"malformed reference", "    - {name: p, type: int, default: '1'}\n", "${p-1}",
			`13:20: invalid variable reference ${p-1}: names are letters, digits and _`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := problemsOf(t, varsDoc(tc.vars, tc.weight))
			if len(got) != 1 || !strings.HasPrefix(got[0], tc.want) {
				t.Fatalf("want one problem %q, got:\n%s", tc.want, strings.Join(got, "\n"))
			}
		})
	}
}

func TestEscapedReference(t *testing.T) {
	src := varsDoc("    - {name: p, type: int, default: '1'}\n", "${p}") +
		"        - approval: {approvers: [bob], message: \"costs $${p} and $$ and ${p}\"}\n"
	w, err := ParseWorkflow("f.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	c, _, err := w.Instantiate(map[string]string{"p": "7"})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := c.Spec.Phases[0].Steps[2].Approval.Message, "costs ${p} and $$ and 7"; got != want {
		t.Errorf("message = %q, want %q", got, want)
	}
	if got := c.Spec.Phases[0].Steps[1].Traffic.Weight; got != 7 {
		t.Errorf("weight = %d, want 7", got)
	}
}

func TestInstantiateTeamTemplate(t *testing.T) {
	src, err := os.ReadFile("../../examples/team-template.yaml")
	if err != nil {
		t.Fatal(err)
	}
	tmpl, err := ParseWorkflow("team-template.yaml", src)
	if err != nil {
		t.Fatal(err)
	}
	if string(tmpl.Source()) != string(src) || !tmpl.Templated() {
		t.Fatal("template does not keep its source")
	}
	cases := []struct {
		name    string
		values  map[string]string
		service string
		port    int
		first   Percent
		env     string
	}{
		{"payments", map[string]string{"team": "payments", "artifact": "registry.example.com/payments:2.1.0",
			"port": "8443", "first_percent": "5%", "second_percent": "20"}, "payments", 8443, 5, "istio"},
		{"search", map[string]string{"team": "search", "artifact": "registry.example.com/search:7.0.3",
			"environment": "local", "first_percent": "25"}, "search", 8080, 25, "local"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			w, values, err := tmpl.Instantiate(tc.values)
			if err != nil {
				t.Fatal(err)
			}
			s := w.Spec
			if s.Service.Name != tc.service || s.Service.Port != tc.port || s.Environment != tc.env {
				t.Errorf("service %s:%d env %s", s.Service.Name, s.Service.Port, s.Environment)
			}
			if got := s.Phases[1].Steps[0].Traffic.Weight; got != tc.first {
				t.Errorf("first canary weight = %d, want %d", got, tc.first)
			}
			if got := s.Phases[0].Steps[0].Service.Hosts[0]; got != tc.values["team"]+".example.com" {
				t.Errorf("host = %q", got)
			}
			if len(values) != len(s.Variables) || values["bake"] != "5m" {
				t.Errorf("resolved values = %v", values)
			}
			if values["first_percent"] != strings.TrimSuffix(tc.values["first_percent"], "%") {
				t.Errorf("percent not canonical: %q", values["first_percent"])
			}
			again, values2, err := w.Instantiate(values)
			if err != nil || !maps.Equal(values, values2) || again.Spec.Service.Name != tc.service {
				t.Errorf("instantiating the result again: %v", err)
			}
		})
	}
}

func TestInstantiateErrors(t *testing.T) {
	src, err := os.ReadFile("../../examples/blue-green-canary.yaml")
	if err != nil {
		t.Fatal(err)
	}
	tmpl, err := ParseWorkflow("blue-green-canary.yaml", src)
	if err != nil {
		t.Fatal(err)
	}
	ok := map[string]string{"artifact": "shop:1"}
	with := func(k, v string) map[string]string {
		m := maps.Clone(ok)
		m[k] = v
		return m
	}
	cases := []struct {
		name   string
		values map[string]string
		want   string
	}{
		{"missing required", map[string]string{}, "variable artifact is required; set it with --set artifact=VALUE"},
		{"unknown name", with("canary_percnt", "5"), `unknown variable "canary_percnt" (did you mean "canary_percent"?); declared: artifact, environment, canary_percent`},
		{"percent out of range", with("canary_percent", "150"), `variable canary_percent: "150" is not a percentage 0-100`},
		{"not in enum", with("environment", "qa"), `variable environment: "qa" is not one of istio, local`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := tmpl.Instantiate(tc.values)
			var ps Problems
			if !errors.As(err, &ps) || len(ps) != 1 || ps[0].Message != tc.want {
				t.Fatalf("got %v\nwant %s", err, tc.want)
			}
		})
	}
	w, values, err := tmpl.Instantiate(ok)
	if err != nil {
		t.Fatal(err)
	}
	if w.Spec.Environment != "istio" || values["canary_percent"] != "10" || w.Spec.Service.Artifact != "shop:1" {
		t.Errorf("defaults not applied: env %q values %v", w.Spec.Environment, values)
	}
}

func TestInstantiateReportsBadValueInPlace(t *testing.T) {
	src := varsDoc("    - {name: w, type: string, default: '5'}\n", "${w}")
	tmpl, err := ParseWorkflow("f.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = tmpl.Instantiate(map[string]string{"w": "half"})
	want := `f.yaml:13:20: expected a percentage like 10 or 10%, got "half" (from ${w}="half") (at spec.phases[0].steps[1].traffic)`
	if err == nil || err.Error() != want {
		t.Fatalf("got  %v\nwant %s", err, want)
	}
}

func TestNullDefaultIsNoDefault(t *testing.T) {
	got := problemsOf(t, varsDoc("    - {name: p, type: int, default: ~, required: true}\n", "${p}"))
	if len(got) != 0 {
		t.Errorf("problems: %v", got)
	}
}
