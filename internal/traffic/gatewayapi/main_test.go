package gatewayapi_test

import (
	"testing"

	"k8s.io/client-go/rest"

	"github.com/sluicehq/sluice/internal/platform/kubernetes/kubetest"
)

// restConfig returns the test control plane's configuration (see kubetest.Config).
func restConfig(t *testing.T) *rest.Config { return kubetest.Config(t) }

// namespace creates a namespace for one test and deletes it afterwards.
func namespace(t *testing.T, cfg *rest.Config) string {
	return kubetest.Namespace(t, kubetest.Clientset(t, cfg), "sluice-gwapi-")
}
