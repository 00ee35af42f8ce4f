package spec

import (
	"fmt"
	"strings"
)

// Warnings returns what is accepted in a valid document but should change: a
// form kept for compatibility. sluice validate and apply show them; they never
// stop a document from being stored.
func Warnings(d Document) Problems {
	var ws Problems
	if d.Environment == nil {
		return nil
	}
	for i, ps := range d.Environment.Spec.Providers {
		if ps.Type == "newrelic" && strings.HasSuffix(strings.TrimSuffix(ps.URL, "/"), "/graphql") {
			base := strings.TrimSuffix(strings.TrimSuffix(ps.URL, "/"), "/graphql")
			ws = append(ws, Problem{Pos: ps.Pos, Path: fmt.Sprintf("spec.providers[%d].url", i), Message: fmt.Sprintf(
				"warning: provider %s: url %s names NerdGraph's /graphql endpoint; url is the base URL for every provider, so write %s (the old form still works)",
				ps.Name, ps.URL, base)})
		}
	}
	return ws
}
