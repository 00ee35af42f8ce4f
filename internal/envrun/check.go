package envrun

import (
	"fmt"

	"github.com/sluicehq/sluice/internal/spec"
)

// Check asks the kind of each platform, router and provider an environment
// names to check its settings, as Resolve and the providers' constructors will
// before a release, and returns every problem at the place it was written: a
// provider at its entry in spec.providers, a platform or router at the
// environment. It reads no credential and makes no request, so `sluice
// validate` and apply run it on any machine.
func (r *Registry) Check(env *spec.Environment, pos spec.Pos) spec.Problems {
	var probs spec.Problems
	if _, err := r.platform(env); err != nil {
		probs = append(probs, spec.Problem{Pos: pos, Path: "spec.platform", Message: err.Error()})
	}
	if _, err := r.router(env); err != nil {
		probs = append(probs, spec.Problem{Pos: pos, Path: "spec.router", Message: err.Error()})
	}
	for i, ps := range env.Spec.Providers {
		if err := r.Providers.Validate(ps); err != nil {
			at := ps.Pos
			if at.Line == 0 {
				at = pos
			}
			probs = append(probs, spec.Problem{Pos: at, Path: fmt.Sprintf("spec.providers[%d]", i), Message: err.Error()})
		}
	}
	return probs
}

// CheckDocuments runs Check on every environment among docs and returns the
// problems sorted, or nil.
func (r *Registry) CheckDocuments(docs []spec.Document) spec.Problems {
	var probs spec.Problems
	for _, d := range docs {
		if d.Environment != nil {
			probs = append(probs, r.Check(d.Environment, d.Pos)...)
		}
	}
	probs.Sort()
	return probs
}
