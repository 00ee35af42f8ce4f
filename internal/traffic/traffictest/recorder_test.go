package traffictest_test

import (
	"testing"

	"github.com/sluicehq/sluice/internal/platform"
	"github.com/sluicehq/sluice/internal/recorder"
	"github.com/sluicehq/sluice/internal/traffic"
	"github.com/sluicehq/sluice/internal/traffic/traffictest"
)

// TestRecorder holds the recording router used by engine tests to the same contract
// as real routers; it reads an unknown service as all green.
func TestRecorder(t *testing.T) {
	green := traffic.All(platform.Green)
	traffictest.Run(t, func(t *testing.T) traffic.Router {
		r := recorder.New()
		t.Cleanup(func() { r.Close() })
		return r
	}, traffictest.Config{UnknownDefault: &green})
}
