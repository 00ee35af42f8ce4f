package envrun

import (
	"errors"
	"fmt"

	"github.com/sluicehq/sluice/internal/spec"
	"github.com/sluicehq/sluice/internal/verify"
)

// Check asks the kind of each platform, router and provider an Environment
// document names to check its settings, as Resolve and the providers'
// constructors do before a release, and returns every problem at the place it
// was written (a provider's field, such as spec.providers[1].settings.accountId,
// where the kind names one). It reads no credential and makes no request, so
// `sluice validate` and apply run it on any machine. A Workflow has nothing to check.
func (r *Registry) Check(doc spec.Document) spec.Problems {
	env := doc.Environment
	if env == nil {
		return nil
	}
	var probs spec.Problems
	add := func(path string, err error) {
		var fe *verify.FieldError
		if errors.As(err, &fe) {
			path += "." + fe.Field
		}
		probs = append(probs, spec.Problem{Pos: doc.PosOf(path), Path: path, Message: err.Error()})
	}
	if _, err := r.platform(env); err != nil {
		add("spec.platform", err)
	}
	if _, err := r.router(env); err != nil {
		add("spec.router", err)
	}
	for i, ps := range env.Spec.Providers {
		if err := r.Providers.Validate(ps); err != nil {
			add(fmt.Sprintf("spec.providers[%d]", i), fmt.Errorf("provider %s: %w", ps.Name, err))
		}
	}
	return probs
}

// CheckDocuments runs Check on every document and returns the problems sorted,
// or nil.
func (r *Registry) CheckDocuments(docs []spec.Document) spec.Problems {
	var probs spec.Problems
	for _, d := range docs {
		probs = append(probs, r.Check(d)...)
	}
	if len(probs) == 0 {
		return nil
	}
	probs.Sort()
	return probs
}
