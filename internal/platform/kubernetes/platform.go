package kubernetes

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	appsv1ac "k8s.io/client-go/applyconfigurations/apps/v1"
	k8s "k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/sluicehq/sluice/internal/platform"
)

// FieldManager is the server-side apply field manager of everything Deploy writes.
const FieldManager = "sluice"

// scaleFieldManager owns only the replica count and the scale keys.
const scaleFieldManager = "sluice-scale"

// Options configures a Platform.
type Options struct {
	// Namespace holds every object of the platform; "default" when empty.
	Namespace string
	// ServiceType is the type of each service's stable Service when the deployment names
	// none (the workflow's service step names it); ClusterIP when empty.
	ServiceType corev1.ServiceType
	// ProgressDeadline is the Deployments' progressDeadlineSeconds; 10 minutes when zero.
	ProgressDeadline time.Duration
	// RemoveTimeout bounds how long Remove waits for a Deployment to be gone; 2 minutes when zero.
	RemoveTimeout time.Duration
	// Log receives what the platform does; discarded when nil.
	Log *slog.Logger
}

func (o Options) progressDeadline() time.Duration {
	if o.ProgressDeadline > 0 {
		return o.ProgressDeadline
	}
	return 10 * time.Minute
}

func (o Options) serviceType() corev1.ServiceType {
	if o.ServiceType != "" {
		return o.ServiceType
	}
	return corev1.ServiceTypeClusterIP
}

func (o Options) removeTimeout() time.Duration {
	if o.RemoveTimeout > 0 {
		return o.RemoveTimeout
	}
	return 2 * time.Minute
}

// Platform runs slots as Deployments in one namespace.
type Platform struct {
	cs   k8s.Interface
	opts Options
	log  *slog.Logger
}

var _ platform.Platform = (*Platform)(nil)

// New returns a platform that talks to the API server of cfg. It makes no request.
func New(cfg *rest.Config, opts Options) (*Platform, error) {
	cs, err := k8s.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("kubernetes: client: %w", err)
	}
	return NewForClient(cs, opts)
}

// NewForClient returns a platform over an existing clientset.
func NewForClient(cs k8s.Interface, opts Options) (*Platform, error) {
	if opts.Namespace == "" {
		opts.Namespace = "default"
	}
	if err := validServiceType(opts.serviceType()); err != nil {
		return nil, fmt.Errorf("kubernetes: %w", err)
	}
	log := opts.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Platform{cs: cs, opts: opts, log: log}, nil
}

// Namespace returns the namespace the platform writes to.
func (p *Platform) Namespace() string { return p.opts.Namespace }

// get returns the slot's Deployment, or nil when it does not exist.
func (p *Platform) get(ctx context.Context, ref platform.SlotRef) (*appsv1.Deployment, error) {
	d, err := p.cs.AppsV1().Deployments(p.opts.Namespace).Get(ctx, SlotName(ref), metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if d.DeletionTimestamp != nil {
		return nil, nil
	}
	return d, nil
}

// seen reports whether a Deploy or Scale with key already took effect on d.
func seen(d *appsv1.Deployment, key string) bool {
	if d == nil || key == "" {
		return false
	}
	return slices.Contains(splitKeys(d.Annotations[AnnotationDeployKeys]), key) ||
		slices.Contains(splitKeys(d.Annotations[AnnotationScaleKeys]), key)
}

// Deploy applies the slot's Deployment, its Service and the service's stable Service.
func (p *Platform) Deploy(ctx context.Context, d platform.Deployment) error {
	if err := p.deploy(ctx, d); err != nil {
		return fmt.Errorf("kubernetes: deploy %s: %w", d.Ref, err)
	}
	return nil
}

func (p *Platform) deploy(ctx context.Context, d platform.Deployment) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if !d.Ref.Slot.Valid() || d.Ref.Service == "" {
		return fmt.Errorf("invalid slot reference %q", d.Ref)
	}
	if d.Instances < 0 {
		return fmt.Errorf("instances %d: must not be negative", d.Instances)
	}
	if d.ServiceType != "" {
		if err := validServiceType(corev1.ServiceType(d.ServiceType)); err != nil {
			return err
		}
	}
	cur, err := p.get(ctx, d.Ref)
	if err != nil {
		return err
	}
	if seen(cur, d.Key) {
		return nil
	}
	var keys string
	if cur != nil {
		keys = cur.Annotations[AnnotationDeployKeys]
	}
	dep, err := p.deploymentApply(ctx, d, withKey(keys, d.Key))
	if err != nil {
		return err
	}
	apply := metav1.ApplyOptions{FieldManager: FieldManager, Force: true}
	if d.Port > 0 {
		// Services first: traffic objects may point at them as soon as Deploy returns.
		if _, err := p.cs.CoreV1().Services(p.opts.Namespace).Apply(ctx, p.slotService(d.Ref, d.Port), apply); err != nil {
			return fmt.Errorf("apply service %s: %w", SlotName(d.Ref), err)
		}
		if _, err := p.cs.CoreV1().Services(p.opts.Namespace).Apply(ctx, p.stableService(d), apply); err != nil {
			return fmt.Errorf("apply service %s: %w", d.Ref.Service, err)
		}
	}
	got, err := p.cs.AppsV1().Deployments(p.opts.Namespace).Apply(ctx, dep, apply)
	if err != nil {
		return fmt.Errorf("apply deployment: %w", err)
	}
	p.log.Info("deployment applied", "slot", d.Ref.String(), "artifact", d.Artifact, "instances", d.Instances, "namespace", p.opts.Namespace)
	p.event(ctx, target{got.Name, got.UID}, ReasonSlotDeployed, "Deploy", "slot %s deployed: %s with %d instances%s",
		d.Ref.Slot, d.Artifact, d.Instances, fromWorkload(got))
	return nil
}

// fromWorkload names where a Deployment's pod template came from, for an Event.
func fromWorkload(d *appsv1.Deployment) string {
	if src := d.Annotations[AnnotationWorkload]; src != "" {
		return ", pod template from " + src
	}
	return ""
}

// Scale sets the replica count of the slot's Deployment and nothing else.
func (p *Platform) Scale(ctx context.Context, ref platform.SlotRef, instances int, key string) error {
	if err := p.scale(ctx, ref, instances, key); err != nil {
		return fmt.Errorf("kubernetes: scale %s to %d: %w", ref, instances, err)
	}
	return nil
}

func (p *Platform) scale(ctx context.Context, ref platform.SlotRef, instances int, key string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if instances < 0 {
		return fmt.Errorf("instances must not be negative")
	}
	cur, err := p.get(ctx, ref)
	if err != nil {
		return err
	}
	if cur == nil {
		if instances == 0 {
			return nil
		}
		return errors.New("the slot is not deployed")
	}
	if seen(cur, key) {
		return nil
	}
	dep := appsv1ac.Deployment(SlotName(ref), p.opts.Namespace).
		WithAnnotations(map[string]string{AnnotationScaleKeys: withKey(cur.Annotations[AnnotationScaleKeys], key)}).
		WithSpec(appsv1ac.DeploymentSpec().WithReplicas(int32(instances)))
	got, err := p.cs.AppsV1().Deployments(p.opts.Namespace).Apply(ctx, dep, metav1.ApplyOptions{FieldManager: scaleFieldManager, Force: true})
	if err != nil {
		return err
	}
	p.log.Info("deployment scaled", "slot", ref.String(), "instances", instances, "namespace", p.opts.Namespace)
	p.event(ctx, target{got.Name, got.UID}, ReasonSlotScaled, "Scale", "slot %s scaled from %d to %d instances", ref.Slot, replicas(cur), instances)
	return nil
}

// Remove deletes the slot's Deployment (waiting until it and its pods are gone) and
// Service, and the stable Service once neither slot has a Deployment.
func (p *Platform) Remove(ctx context.Context, ref platform.SlotRef, key string) error {
	if err := p.remove(ctx, ref); err != nil {
		return fmt.Errorf("kubernetes: remove %s: %w", ref, err)
	}
	return nil
}

func (p *Platform) remove(ctx context.Context, ref platform.SlotRef) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	cur, err := p.get(ctx, ref)
	if err != nil {
		return err
	}
	fg := metav1.DeletePropagationForeground
	del := metav1.DeleteOptions{PropagationPolicy: &fg}
	err = p.cs.AppsV1().Deployments(p.opts.Namespace).Delete(ctx, SlotName(ref), del)
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("delete deployment: %w", err)
	}
	if cur != nil && err == nil {
		p.event(ctx, target{cur.Name, cur.UID}, ReasonSlotRemoved, "Remove", "slot %s removed (it ran %s)", ref.Slot, artifact(cur))
	}
	if err := p.waitGone(ctx, ref); err != nil {
		return err
	}
	if err := p.deleteService(ctx, SlotName(ref)); err != nil {
		return err
	}
	other, err := p.get(ctx, platform.SlotRef{Service: ref.Service, Slot: ref.Slot.Other()})
	if err != nil {
		return err
	}
	if other == nil {
		return p.deleteService(ctx, ref.Service)
	}
	return nil
}

func (p *Platform) deleteService(ctx context.Context, name string) error {
	err := p.cs.CoreV1().Services(p.opts.Namespace).Delete(ctx, name, metav1.DeleteOptions{})
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("delete service %s: %w", name, err)
	}
	return nil
}

// waitGone polls until the slot's Deployment no longer exists.
func (p *Platform) waitGone(ctx context.Context, ref platform.SlotRef) error {
	ctx, cancel := context.WithTimeout(ctx, p.opts.removeTimeout())
	defer cancel()
	for {
		_, err := p.cs.AppsV1().Deployments(p.opts.Namespace).Get(ctx, SlotName(ref), metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("wait for deployment deletion: %w", err)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("wait for deployment deletion: %w", ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}
