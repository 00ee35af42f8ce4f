// Package platform defines where the instances of a service's slots run. Implementations
// live in sub-packages (local processes, Kubernetes) and, with internal/recorder (a
// recording platform for sluice's own tests), all pass the conformance suite in
// platformtest/.
package platform
