// Package trigger authenticates the webhooks that start runs of a workflow — a
// generic signed webhook, GitHub's package event (GHCR pushes), Harbor's and Docker
// Hub's push events — and turns each into a Delivery: an id that makes a replay
// recognisable, the time the sender gives, and the payload's fields that become the
// run's variables. It does no I/O; the API stores deliveries and starts the runs.
package trigger
