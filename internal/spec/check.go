package spec

import (
	"fmt"
	"strings"
)

// CheckEnvironment reports what the workflow needs from env but env lacks: providers
// named by verify steps, and router-specific settings such as Istio hosts.
func (w *Workflow) CheckEnvironment(env *Environment) Problems {
	var probs Problems
	add := func(pos Pos, path, format string, args ...any) {
		probs = append(probs, Problem{Pos: pos, Path: path, Message: fmt.Sprintf(format, args...)})
	}
	if w.Spec.Environment != "" && w.Spec.Environment != env.Metadata.Name {
		add(Pos{File: w.file}, "spec.environment", "workflow names environment %q, but is checked against %q", w.Spec.Environment, env.Metadata.Name)
	}
	providers := map[string]bool{}
	var names []string
	for _, p := range env.Spec.Providers {
		providers[p.Name] = true
		names = append(names, p.Name)
	}
	missing := func(pos Pos, path, what, name, provider string) {
		if !providers[provider] {
			add(pos, path, "%s %s uses provider %q, which environment %s does not define (it defines: %s)",
				what, name, provider, env.Metadata.Name, listOrNone(names))
		}
	}
	hosts := 0
	if env.Spec.Router.Istio != nil {
		hosts = len(env.Spec.Router.Istio.Hosts)
	}
	w.eachStep(func(path string, s *Step) {
		if s.Service != nil && len(s.Service.Hosts) > 0 {
			hosts++
		}
		if s.Service != nil && s.Service.Routing != nil {
			probs = append(probs, routingProblems(env, s.Pos, path+".service.routing", s.Service.Routing)...)
		}
		probs = append(probs, reachProblems(env, path, s)...)
		if s.Verify == nil {
			return
		}
		for i, m := range s.Verify.Metrics {
			missing(m.Pos, fmt.Sprintf("%s.verify.metrics[%d].provider", path, i), "metric", m.Name, m.Provider)
		}
		for i, l := range s.Verify.Logs {
			missing(l.Pos, fmt.Sprintf("%s.verify.logs[%d].provider", path, i), "log check", l.Name, l.Provider)
		}
	})
	w.eachAnalysis(func(path string, a *Analysis) {
		for i := range a.Metrics {
			m := &a.Metrics[i]
			missing(m.Pos, fmt.Sprintf("%s.metrics[%d].provider", path, i), "metric", m.Name, m.Provider)
			if msg := sequentialCounts(env, m); msg != "" {
				add(m.Pos, fmt.Sprintf("%s.metrics[%d]", path, i), "%s", msg)
			}
		}
		for i, l := range a.Logs {
			missing(l.Pos, fmt.Sprintf("%s.logs[%d].provider", path, i), "log check", l.Name, l.Provider)
		}
	})
	if msg := localArtifactProblem(w.Spec.Service.Artifact, env); msg != "" && !w.templated {
		add(Pos{File: w.file}, "spec.service.artifact", "%s", msg)
	}
	if env.Spec.Router.Type == "istio" && hosts == 0 {
		add(Pos{File: w.file}, "spec.phases", "router istio needs hosts: set hosts on a service step or router.istio.hosts in environment %s", env.Metadata.Name)
	}
	probs.Sort()
	return probs.dedupe()
}

// routingProblems reports routing rules the environment's router cannot apply: sticky
// sessions outside the builtin router, cookie rules on the Gateway API (which matches
// headers, paths and query parameters, not cookies), and rules on Istio routes that are
// not sluice's own generated HTTP route.
func routingProblems(env *Environment, pos Pos, path string, r *Routing) []Problem {
	var out []Problem
	add := func(path, format string, args ...any) {
		out = append(out, Problem{Pos: pos, Path: path, Message: fmt.Sprintf(format, args...)})
	}
	router := env.Spec.Router
	if r.Sticky && router.Type != "builtin" && router.Type != "recorder" {
		add(path+".sticky", "sticky sessions are a feature of the builtin router; router %s of environment %s splits by weight only", router.Type, env.Metadata.Name)
	}
	if len(r.Match) == 0 {
		return out
	}
	switch {
	case router.Type == "gatewayapi":
		for i, m := range r.Match {
			if m.Cookie != "" {
				pos = m.Pos
				add(fmt.Sprintf("%s.match[%d].cookie", path, i), "the Gateway API cannot match cookies (HTTPRoute matches headers, paths and query parameters); match a header instead")
			}
		}
	case router.Type == "istio" && router.Istio != nil && router.Istio.VirtualService != "":
		add(path+".match", "routing rules need the virtual service sluice generates; environment %s adopts %s, so add the match rules to it yourself", env.Metadata.Name, router.Istio.VirtualService)
	case router.Type == "istio" && router.Istio != nil && router.Istio.Protocol != "" && router.Istio.Protocol != "http":
		add(path+".match", "routing rules match HTTP requests; environment %s routes %s", env.Metadata.Name, router.Istio.Protocol)
	}
	return out
}

// eachStep calls fn for every step of every phase and of the rollback, with its path.
func (w *Workflow) eachStep(fn func(path string, s *Step)) {
	for i := range w.Spec.Phases {
		for j := range w.Spec.Phases[i].Steps {
			fn(fmt.Sprintf("spec.phases[%d].steps[%d]", i, j), &w.Spec.Phases[i].Steps[j])
		}
	}
	for i := range w.Spec.Rollback {
		fn(fmt.Sprintf("spec.rollback[%d]", i), &w.Spec.Rollback[i])
	}
}

// eachAnalysis calls fn for the workflow's background analysis and each
// phase's, with its path.
func (w *Workflow) eachAnalysis(fn func(path string, a *Analysis)) {
	if w.Spec.Analysis != nil {
		fn("spec.analysis", w.Spec.Analysis)
	}
	for i := range w.Spec.Phases {
		if a := w.Spec.Phases[i].Analysis; a != nil {
			fn(fmt.Sprintf("spec.phases[%d].analysis", i), a)
		}
	}
}

// CheckDocuments runs CheckEnvironment for every workflow among docs whose environment
// is also among them, so that `sluice validate workflow.yaml env.yaml` can check both
// together. A template is checked with its defaults.
func CheckDocuments(docs []Document) Problems {
	envs := map[string]*Environment{}
	for _, d := range docs {
		if d.Environment != nil {
			envs[d.Environment.Metadata.Name] = d.Environment
		}
	}
	var probs Problems
	for _, d := range docs {
		if d.Workflow == nil {
			continue
		}
		if env := envs[d.Workflow.Spec.Environment]; env != nil {
			probs = append(probs, d.Workflow.CheckEnvironment(env)...)
		}
	}
	probs.Sort()
	return probs.dedupe()
}

// localArtifactProblem says why a literal artifact (no ${...}) names no command of a
// local environment; the platform refuses it at deploy time anyway, this says so at
// apply time. Absolute paths, matched against globs, are left to the platform.
func localArtifactProblem(artifact string, env *Environment) string {
	l := env.Spec.Platform.Local
	if env.Spec.Platform.Type != "local" || strings.Contains(artifact, "${") || strings.HasPrefix(artifact, "/") || artifact == "" {
		return ""
	}
	name, _, _ := strings.Cut(artifact, ":")
	var names []string
	if l != nil {
		for _, c := range l.Commands {
			if c.Name == name {
				return ""
			}
			names = append(names, c.Name)
		}
	}
	return fmt.Sprintf("artifact %q names no command of environment %s's local.commands (it has: %s); on the local platform an artifact is NAME or NAME:VERSION of one, never a command line",
		artifact, env.Metadata.Name, listOrNone(names))
}
