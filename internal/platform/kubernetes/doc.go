// Package kubernetes is the platform that runs slots as Kubernetes Deployments.
//
// Each slot of a service is one Deployment named <service>-<slot> with a Service of
// the same name selecting its pods; a stable Service named <service> selects the pods
// of both slots (Istio's DestinationRule subsets split it by the sluice.dev/slot
// label; Gateway API routes use the per-slot Services). Every object is written with
// server-side apply under the field manager "sluice" (Scale uses "sluice-scale" so it
// touches nothing but the replica count), so labels, annotations and fields that other
// managers own are left alone.
//
// Idempotency keys are kept on the Deployment, in the sluice.dev/deploy-keys and
// sluice.dev/scale-keys annotations (the most recent keys of each), written in the same
// request as the change they record: a replayed key is a no-op. Remove deletes the
// Deployment in the foreground and waits until it is gone, so its pods are gone too.
//
// Status reads readiness the way `kubectl rollout status` does: a rollout counts only
// once the controller has observed the newest generation, and only ready pods of the
// newest ReplicaSet count as ready. A Deployment whose Progressing condition says
// ProgressDeadlineExceeded is Failed; the reasons name what the pods report (image pull
// errors, crash loops, unschedulable pods).
//
// A HorizontalPodAutoscaler that targets a slot's Deployment competes with sluice for
// spec.replicas: sluice sets the count on every Deploy and Scale and the autoscaler
// changes it afterwards. Point autoscalers at the live slot only, and expect sluice's
// Deploy of the new slot to start from the count the engine computed.
package kubernetes
