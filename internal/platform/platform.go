package platform

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// ErrRefused is matched (errors.Is) by a platform's errors for a call that can never
// succeed as asked, such as an artifact the platform does not allow: retrying it with
// the same input is useless.
var ErrRefused = errors.New("refused by the platform")

// Slot is one of a service's two colours. Which one is live is the engine's knowledge,
// not the platform's.
type Slot string

// The two slots.
const (
	Blue  Slot = "blue"
	Green Slot = "green"
)

// Other returns the opposite slot.
func (s Slot) Other() Slot {
	if s == Blue {
		return Green
	}
	return Blue
}

// Valid reports whether s is blue or green.
func (s Slot) Valid() bool { return s == Blue || s == Green }

// SlotRef names one slot of one service.
type SlotRef struct {
	Service string
	Slot    Slot
}

func (r SlotRef) String() string { return fmt.Sprintf("%s-%s", r.Service, r.Slot) }

// Deployment is what a slot should run.
type Deployment struct {
	Ref       SlotRef
	Artifact  string
	Instances int
	Port      int
	Env       map[string]string
	// Secrets are values (of Env, for example) that the platform must mask in whatever
	// the instances print, before it leaves the platform.
	Secrets []string
	Health  HealthCheck
	Labels  map[string]string // e.g. the execution ID, for platforms that label objects
	Key     string            // idempotency key: the same key means the same effect
	// ServiceType is the type of the service's stable Service (ClusterIP, LoadBalancer,
	// NodePort) for platforms that have one: the workflow's service step's type. Empty
	// means the platform's own default.
	ServiceType string
	// Workload is the team's own definition of the instances, for platforms that can
	// run one (kubernetes); nil means the platform's minimal instance.
	Workload *Workload
}

// Workload names the team's workload whose pod template a slot runs, with the
// artifact as the image of one container. At most one of Ref, Template and Manifests
// is set.
type Workload struct {
	Ref       string // an existing Deployment in the platform's namespace
	Template  []byte // a pod template, as JSON
	Manifests string // a file or directory of manifests, or a kustomization, with one Deployment
	// Container names the container that runs the artifact; empty means the first.
	Container string
	// ScaleDownOnPromote asks the platform to scale the Ref's Deployment to zero once a
	// slot is live (see Promoter).
	ScaleDownOnPromote bool
}

// HealthCheck says when an instance is ready: an HTTP GET of Path answering Status, or
// a TCP connect when Path is empty.
type HealthCheck struct {
	Path   string
	Status int
	// Timeout is how long one check may take; the platform's default when zero.
	Timeout time.Duration
}

// SlotStatus is what a slot really has now.
type SlotStatus struct {
	Artifact string
	Desired  int
	Ready    int
	Reasons  []string // why instances are not ready: crash loops, pull errors, ...
	Failed   bool     // the platform gave up (progress deadline, process exits at once)
	// Details is what the platform itself says about instances that are not ready,
	// one line each: their events and the last lines of a failing container's log.
	Details []string
}

// Platform runs the instances of a slot. Every call is idempotent for the same key:
// repeating a call with a key that already took effect changes nothing.
type Platform interface {
	// Deploy makes the slot run the artifact with the given instance count. It returns
	// once the change is accepted, not when instances are ready: use Status for that.
	Deploy(ctx context.Context, d Deployment) error
	// Scale changes the slot's instance count (0 stops every instance).
	Scale(ctx context.Context, ref SlotRef, instances int, key string) error
	// Status reports the slot's desired and ready instances.
	Status(ctx context.Context, ref SlotRef) (SlotStatus, error)
	// Remove deletes everything the platform created for the slot.
	Remove(ctx context.Context, ref SlotRef, key string) error
}

// Promoter is implemented by platforms that act when a slot becomes live, such as
// scaling down the team's own workload once sluice's slot serves. Promoted is
// idempotent for the same key.
type Promoter interface {
	Promoted(ctx context.Context, ref SlotRef, key string) error
}
