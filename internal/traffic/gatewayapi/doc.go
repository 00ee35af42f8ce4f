// Package gatewayapi is the router that splits a service's traffic with a Gateway API
// HTTPRoute.
//
// For a service it keeps one HTTPRoute, attached to the Gateway named in the
// environment, whose rule has a weighted backendRef to each slot's Service
// (<service>-green and <service>-blue, written by the Kubernetes platform). Ensure
// writes it with server-side apply under the field manager "sluice" and keeps the split
// in force; SetWeights changes only the weights with an update guarded by
// resourceVersion, retried on conflicts, and reads the route back to verify the split
// the API server stored. Weights are written as percentages, so they always sum to
// 100; a route someone else edited to other relative weights reads as an error rather
// than as a guess.
package gatewayapi
