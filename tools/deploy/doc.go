// Package deploy holds the tests of sluice's Kubernetes manifests and Helm chart
// (deploy/). It has no code of its own; scripts/test.sh runs its tests.
package deploy
