// Package kube holds what sluice's Kubernetes writers share: the ownership marker set
// on objects sluice creates, the idempotency-key annotations that make a repeated
// write a no-op, and a JSON-patch write that is guarded by the object's
// resourceVersion and retried when someone else wrote first.
//
// Ownership is decided by a marker written at creation (the annotation
// sluice.dev/owner naming the service), never by labels, which anyone can add later.
// An object without the marker is someone else's: sluice neither rewrites nor deletes
// it, and changes at most the entries it was told to adopt.
//
// Writes to objects someone else owns are JSON patches (RFC 6902) whose first
// operation tests metadata.resourceVersion, so they change exactly the paths they name
// and never overwrite a concurrent edit; when the object changed in between, the patch
// is computed again from the new object.
package kube
