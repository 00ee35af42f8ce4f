// Package kubetest connects tests to the throwaway control plane that scripts/kube.sh
// starts, and gives each test a namespace of its own.
package kubetest
