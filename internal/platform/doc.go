// Package platform defines where the instances of a service's slots run. Implementations
// live in sub-packages (local processes, Kubernetes, and a recorder for tests) and all
// pass the conformance suite in platformtest/.
package platform
