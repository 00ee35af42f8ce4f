// Package istio is the router that splits a service's traffic with Istio objects.
//
// For a service it keeps a DestinationRule with one subset per slot (selected by the
// sluice.dev/slot label the Kubernetes platform puts on pods), a VirtualService whose
// route sends a weighted share to each subset, and, when the environment names hosts,
// a Gateway for them. Ensure writes these with server-side apply under the field
// manager "sluice" and keeps the split in force; SetWeights changes only the weights
// with an update guarded by resourceVersion, retried on conflicts, and reads the
// object back to verify the split the API server stored.
//
// Instead of generating the VirtualService, the router can adopt one the user owns:
// the VirtualService must carry the annotation sluice.dev/adopt: "true", and sluice
// rewrites only the destinations of the route named in the environment, leaving its
// matches, retries, timeouts and every other route alone.
//
// istiod's validating webhook is not there to stop a bad object when sluice runs
// against a bare API server, so before every write sluice checks what it would:
// weights within 0-100 summing to 100, subsets that exist in the DestinationRule, and
// valid hosts.
package istio
