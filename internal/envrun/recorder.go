package envrun

import (
	"context"
	"errors"

	"github.com/sluicehq/sluice/internal/platform"
	"github.com/sluicehq/sluice/internal/spec"
	"github.com/sluicehq/sluice/internal/traffic"
)

// validatePlatformRecorder checks that the recorder platform names its file.
func validatePlatformRecorder(env *spec.Environment) error {
	return validateRecorder("platform.recorder", env.Spec.Platform.Recorder)
}

// validateRouterRecorder checks that the recorder router names its file.
func validateRouterRecorder(env *spec.Environment) error {
	return validateRecorder("router.recorder", env.Spec.Router.Recorder)
}

func validateRecorder(block string, cfg *spec.RecorderSpec) error {
	if cfg == nil || cfg.File == "" {
		return errors.New("recorder: " + block + ".file is required")
	}
	return nil
}

func (w *Runtimes) recorderPlatform(_ context.Context, _ string, env *spec.Environment) (platform.Platform, error) {
	return w.recorder(env.Spec.Platform.Recorder)
}

func (w *Runtimes) recorderRouter(_ context.Context, _ string, env *spec.Environment) (traffic.Router, error) {
	return w.recorder(env.Spec.Router.Recorder)
}
