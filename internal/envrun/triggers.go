package envrun

import (
	"context"
	"fmt"

	"github.com/sluicehq/sluice/internal/spec"
)

// triggerSecret returns the API's resolver of trigger secrets: an env or file
// reference is read on this server; a Kubernetes Secret with the credentials of the
// environment the trigger's runs go to, in its namespace unless the reference names
// another.
func (w *Runtimes) TriggerSecret(st Definitions) func(ctx context.Context, environment string, ref spec.SecretRef) (string, error) {
	return func(ctx context.Context, environment string, ref spec.SecretRef) (string, error) {
		var env *spec.Environment
		if ref.Secret != nil {
			var err error
			if env, err = storedEnvironment(ctx, st, environment); err != nil {
				return "", err
			}
			if env == nil {
				return "", fmt.Errorf("trigger secret %s: environment %s does not exist", ref.Secret, environment)
			}
		}
		return w.ResolveSecret(ctx, environment, env, ref)
	}
}
