// Package gatewayapi is the router that splits a service's traffic with a Gateway API
// HTTPRoute.
//
// For a service it keeps one HTTPRoute, attached to the Gateway named in the
// environment, whose rule has a weighted backendRef to each slot's Service
// (<service>-green and <service>-blue, written by the Kubernetes platform). Ensure
// creates it with the owner annotation sluice.dev/owner and server-side applies it
// under the field manager "sluice", keeping the split in force; a route of that name
// sluice did not create is refused, never overwritten or deleted. SetWeights sends a
// JSON patch of the rule's backendRefs guarded by the resourceVersion read, computed
// again when another writer got in first, and reads the route back to verify the
// split the API server stored. Weights are written as percentages, so they always sum
// to 100; a route someone else edited to other relative weights reads as an error
// rather than as a guess.
//
// The router can instead adopt a user's HTTPRoute carrying the annotation
// sluice.dev/adopt: "true": it then changes only the backendRefs of the rule named in
// the environment, and Release leaves the route in place.
package gatewayapi
