package kubernetes_test

import (
	"testing"

	k8s "k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/sluicehq/sluice/internal/platform/kubernetes/kubetest"
)

// restConfig returns the test control plane's configuration (see kubetest.Config).
func restConfig(t *testing.T) *rest.Config { return kubetest.Config(t) }

// namespace creates a namespace for one test and deletes it afterwards.
func namespace(t *testing.T, cs k8s.Interface) string {
	return kubetest.Namespace(t, cs, "sluice-platform-")
}
