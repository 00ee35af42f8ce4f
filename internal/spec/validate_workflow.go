package spec

import (
	"fmt"
	"strings"
)

// workflow checks a decoded Workflow.
func (v *validator) workflow(w *Workflow) {
	v.header(w.APIVersion, w.Metadata)
	s := &w.Spec
	if v.present("spec.environment") || s.Environment != "" {
		v.name("spec.environment", "spec.environment", s.Environment)
	}
	v.variables(s.Variables)
	v.service(&s.Service)
	v.failure("spec.onFailure", s.OnFailure)
	v.analysis("spec.analysis", s.Analysis, hasTraffic(s.Phases), "the workflow")
	v.phases(s.Phases)
	v.order(s.Phases)
	for i := range s.Rollback {
		path := fmt.Sprintf("spec.rollback[%d]", i)
		v.step(path, &s.Rollback[i])
		if s.Rollback[i].Promote != nil {
			v.report(path, "a rollback step cannot promote")
		}
	}
	v.triggers(w)
}

var varTypes = []string{"string", "int", "duration", "percent", "enum", "bool"}

// variables checks the declarations of template variables.
func (v *validator) variables(vars []Variable) {
	first := map[string]int{}
	for i := range vars {
		va := &vars[i]
		path := fmt.Sprintf("spec.variables[%d]", i)
		switch prev, dup := first[va.Name]; {
		case !varName.MatchString(va.Name):
			v.report(path+".name", "variable name %q is not valid: use letters, digits and _, not starting with a digit", va.Name)
		case dup:
			v.report(path+".name", "variable %s is declared twice (first at line %d)", va.Name, vars[prev].Pos.Line)
		default:
			first[va.Name] = i
		}
		v.oneOf(path+".type", "variable type", string(va.Type), varTypes...)
		v.variableValues(path, va)
		switch {
		case va.Required && va.Default != nil:
			v.report(path+".default", "variable %s is required and has a default; drop one of them", va.Name)
		case !va.Required && va.Default == nil:
			v.report(path, "variable %s has no default and is not required: give it a default or set required: true", va.Name)
		case va.Default != nil && (va.Type != VarEnum || len(va.Values) > 0):
			if err := checkValue(va, *va.Default); err != nil {
				v.report(path+".default", "default of variable %s: %v", va.Name, err)
			}
		}
	}
}

// variableValues checks the allowed values of an enum variable.
func (v *validator) variableValues(path string, va *Variable) {
	if va.Type != VarEnum {
		if len(va.Values) > 0 {
			v.report(path+".values", "values are only used by enum variables; %s has type %s", va.Name, va.Type)
		}
		return
	}
	if len(va.Values) == 0 {
		v.report(path, "enum variable %s needs values: the list of allowed values", va.Name)
	}
	seen := map[string]bool{}
	for j, val := range va.Values {
		if seen[val] {
			v.report(fmt.Sprintf("%s.values[%d]", path, j), "value %q is listed twice", val)
		}
		seen[val] = true
	}
}

// service checks the released application.
func (v *validator) service(s *Service) {
	v.name("spec.service.name", "service.name", s.Name)
	if s.Port < 1 || s.Port > 65535 {
		v.report("spec.service.port", "service.port %d is not a port number 1-65535", s.Port)
	}
	if strings.TrimSpace(s.Artifact) == "" {
		v.report("spec.service.artifact", "service.artifact must not be empty")
	}
	if s.Instances < 0 {
		v.report("spec.service.instances", "service.instances must not be negative")
	}
	for _, k := range sortedKeys(s.Env) {
		if !envVarName.MatchString(k) {
			v.report("spec.service.env."+k, "service env %q is not an environment variable name", k)
		}
	}
	v.workload(s)
	if h := s.Health; h != nil {
		if h.Path != "" && !strings.HasPrefix(h.Path, "/") {
			v.report("spec.service.health.path", "health path %q must start with /", h.Path)
		}
		if h.Status != 0 && (h.Status < 100 || h.Status > 599) {
			v.report("spec.service.health.status", "health status %d is not an HTTP status 100-599", h.Status)
		}
	}
}

var failureActions = []string{"rollback", "pause", "retry", "ignore", "fail"}

// failure checks a failure strategy.
func (v *validator) failure(path string, f *Failure) {
	if f == nil {
		return
	}
	if f.Action == "" {
		v.report(path+".action", "a failure strategy needs an action: one of %s", strings.Join(failureActions, ", "))
		return
	}
	v.oneOf(path+".action", "failure action", string(f.Action), failureActions...)
	if f.Action != ActionRetry {
		if f.Retries != 0 {
			v.report(path+".retries", "retries is only used with action retry (the action is %s)", f.Action)
		}
		if f.Backoff != 0 {
			v.report(path+".backoff", "backoff is only used with action retry (the action is %s)", f.Action)
		}
		if f.Then != "" {
			v.report(path+".then", "then is only used with action retry (the action is %s)", f.Action)
		}
		return
	}
	switch {
	case f.Retries < 1:
		v.report(path+".retries", "action retry needs retries: 1 or more")
	case f.Retries > 100:
		v.report(path+".retries", "retries %d is more than 100", f.Retries)
	}
	v.oneOf(path+".then", "action after the last retry", string(f.Then), "rollback", "pause", "ignore", "fail")
}

// phases checks phase names and each phase's steps.
func (v *validator) phases(phases []Phase) {
	if len(phases) == 0 && v.present("spec.phases") {
		v.report("spec.phases", "a workflow needs at least one phase")
	}
	first := map[string]int{}
	for i := range phases {
		p := &phases[i]
		path := fmt.Sprintf("spec.phases[%d]", i)
		v.name(path+".name", "phase name", p.Name)
		if prev, dup := first[p.Name]; dup && p.Name != "" {
			v.report(path+".name", "duplicate phase name %q (first at line %d)", p.Name, phases[prev].Pos.Line)
		} else {
			first[p.Name] = i
		}
		v.failure(path+".onFailure", p.OnFailure)
		v.analysis(path+".analysis", p.Analysis, hasTraffic(phases[:i+1]), "phase "+p.Name)
		if len(p.Steps) == 0 && v.present(path+".steps") {
			v.report(path+".steps", "phase %s has no steps", p.Name)
		}
		names := map[string]int{}
		for j := range p.Steps {
			s := &p.Steps[j]
			spath := fmt.Sprintf("%s.steps[%d]", path, j)
			v.step(spath, s)
			if prev, dup := names[s.Name]; dup && s.Name != "" {
				v.report(spath+".name", "duplicate step name %q in phase %s (first at line %d)", s.Name, p.Name, p.Steps[prev].Pos.Line)
			} else {
				names[s.Name] = j
			}
		}
	}
}

// analysis checks a background analysis: its metrics as a verify step's, and
// that the new slot gets traffic by the end of its scope (otherwise there would
// be nothing to watch).
func (v *validator) analysis(path string, a *Analysis, traffic bool, scope string) {
	if a == nil {
		return
	}
	if len(a.Metrics) == 0 && len(a.Logs) == 0 {
		if !v.badUnder(path) {
			v.report(path, "analysis of %s has no metrics or logs to check", scope)
		}
		return
	}
	if !traffic {
		v.report(path, "analysis of %s would never start: it watches the new slot from its first traffic or promote step, and %s has none", scope, scope)
	}
	if v.present(path+".interval") && a.Interval <= 0 {
		v.report(path+".interval", "analysis interval must be longer than 0, e.g. 30s")
	}
	if a.AfterPromotion < 0 {
		v.report(path+".afterPromotion", "afterPromotion must not be negative")
	}
	v.verify(path, a.VerifyStep())
}

// hasTraffic reports whether any of the phases sends the new slot traffic.
func hasTraffic(phases []Phase) bool {
	for _, p := range phases {
		for _, s := range p.Steps {
			if s.Traffic != nil || s.Promote != nil {
				return true
			}
		}
	}
	return false
}
