// Package kuberoute is the weight-writing skeleton the Kubernetes routers (istio,
// gatewayapi) share: reading the split from the routing object the API server
// stores, writing it as a JSON patch of one entry's destinations under an
// idempotency key (internal/kube's conflict-retrying Patch), reading it back to
// verify, and checking and forgetting an adopted object.
//
// What differs between routers sits behind Routes: which entry of the object carries
// the split (an Istio route, an HTTPRoute rule) and how its destinations read and
// write. A Writer holds the rest: the object's kind and the router's name for error
// messages, the client, the field manager and the key annotation.
package kuberoute
