package release

import (
	"context"
	"fmt"

	"github.com/sluicehq/sluice/internal/engine"
	"github.com/sluicehq/sluice/internal/spec"
	"github.com/sluicehq/sluice/internal/store"
)

// admit refuses a run that would land in an environment that does not take Releases
// from namespace ns, so that whoever may write Releases in one team's namespace cannot
// release into another team's environment. It pins req to the workflow version it
// checked.
func (c *Controller) admit(ctx context.Context, ns string, req *engine.StartRequest) error {
	def, err := c.Definitions.GetDefinition(ctx, store.KindWorkflow, req.Workflow, req.Version)
	if err != nil {
		return fmt.Errorf("workflow %s: %w", req.Workflow, err)
	}
	wf, err := spec.ParseWorkflow(def.Name, []byte(def.Source))
	if err != nil {
		return fmt.Errorf("workflow %s: %w", req.Workflow, err)
	}
	inst, _, err := wf.Instantiate(req.Variables)
	if err != nil {
		return fmt.Errorf("workflow %s: %w", req.Workflow, err)
	}
	envName := inst.Spec.Environment
	envDef, err := c.Definitions.GetDefinition(ctx, store.KindEnvironment, envName, 0)
	if err != nil {
		return fmt.Errorf("environment %s: %w", envName, err)
	}
	env, err := spec.ParseEnvironment(envDef.Name, []byte(envDef.Source))
	if err != nil {
		return fmt.Errorf("environment %s: %w", envName, err)
	}
	if !env.Spec.AcceptsReleasesFrom(ns) {
		return fmt.Errorf("a Release in namespace %s may not start runs in environment %s: %s", ns, envName, accepted(env))
	}
	req.Version = def.Version
	return nil
}

// accepted says which namespaces an environment takes Releases from.
func accepted(env *spec.Environment) string {
	switch {
	case len(env.Spec.ReleaseNamespaces) > 0:
		return fmt.Sprintf("it takes Releases from %v (spec.releaseNamespaces)", env.Spec.ReleaseNamespaces)
	case env.Spec.Platform.Kubernetes != nil:
		return fmt.Sprintf("it takes Releases from its own namespace %s only (or those listed in spec.releaseNamespaces)", env.Spec.Platform.Kubernetes.Namespace)
	default:
		return "it is not on kubernetes and lists no spec.releaseNamespaces"
	}
}
