// Package release runs sluice workflows from Release custom resources
// (releases.sluice.dev, deploy/crds): a Controller lists the Releases of a namespace,
// starts a run for each new generation of one, and writes the run's phase, weights,
// verdicts and conditions back to the Release's status, so `kubectl get releases`,
// Argo CD and GitOps tooling see a release as a Kubernetes object.
package release
