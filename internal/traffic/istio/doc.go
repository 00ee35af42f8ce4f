// Package istio is the router that splits a service's traffic with Istio objects.
//
// For a service it keeps a VirtualService whose route sends a weighted share to each
// slot and, when the environment names hosts, a Gateway for them. By default (split:
// host) a slot's destination is the slot's own Service, <service>-<slot>, written by
// the Kubernetes platform, so no DestinationRule is needed; with split: subset it is a
// subset of the stable Service, and the router keeps the DestinationRule's subsets
// green and blue (selected by the sluice.dev/slot label).
//
// Objects sluice creates carry the annotation sluice.dev/owner and are written with
// server-side apply under the field manager "sluice"; only they are ever re-applied or
// deleted. Ensure reads everything first and writes only when nothing refuses it, so
// a refused adoption leaves every object as it was. SetWeights sends a JSON patch of
// the weighted route's destinations guarded by the resourceVersion read, computed
// again when another writer got in first, and reads the object back to verify the
// split the API server stored.
//
// Instead of generating the VirtualService, the router can adopt one the user owns:
// the VirtualService must carry the annotation sluice.dev/adopt: "true", and sluice
// changes only the destinations of the route named in the environment, leaving its
// matches, retries, timeouts and every other route alone. A user's DestinationRule
// gets at most the two slot subsets added (split: subset), and Release removes only
// those.
//
// istiod's validating webhook is not there to stop a bad object when sluice runs
// against a bare API server, so before every write sluice checks what it would:
// weights within 0-100 summing to 100, subsets that exist in the DestinationRule, and
// valid hosts.
package istio
