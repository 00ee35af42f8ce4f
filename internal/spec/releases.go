package spec

import "slices"

// AcceptsReleasesFrom reports whether a Release resource in namespace ns may start
// runs in the environment (see ReleaseNamespaces).
func (e *EnvironmentSpec) AcceptsReleasesFrom(ns string) bool {
	if len(e.ReleaseNamespaces) > 0 {
		return slices.Contains(e.ReleaseNamespaces, ns)
	}
	return e.Platform.Kubernetes != nil && e.Platform.Kubernetes.Namespace == ns
}
