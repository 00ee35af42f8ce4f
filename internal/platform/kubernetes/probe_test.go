package kubernetes

import (
	"testing"
	"time"

	"github.com/sluicehq/sluice/internal/platform"
)

// TestProbeTimeout: a service's health.timeout becomes the readiness probe's
// timeoutSeconds, rounded up to whole seconds; none keeps Kubernetes' default.
func TestProbeTimeout(t *testing.T) {
	for _, tc := range []struct {
		timeout time.Duration
		want    int32 // 0: not set
	}{{0, 0}, {2500 * time.Millisecond, 3}, {200 * time.Millisecond, 1}, {5 * time.Second, 5}} {
		c := container(platform.Deployment{Ref: platform.SlotRef{Service: "shop", Slot: platform.Blue}, Artifact: "shop:1",
			Port: 8080, Health: platform.HealthCheck{Path: "/healthz", Timeout: tc.timeout}})
		got := c.ReadinessProbe.TimeoutSeconds
		switch {
		case tc.want == 0 && got != nil:
			t.Errorf("timeout %v: timeoutSeconds %d, want unset", tc.timeout, *got)
		case tc.want != 0 && (got == nil || *got != tc.want):
			t.Errorf("timeout %v: timeoutSeconds %v, want %d", tc.timeout, got, tc.want)
		}
	}
}
