package kubernetes

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation"
	appsv1ac "k8s.io/client-go/applyconfigurations/apps/v1"
	corev1ac "k8s.io/client-go/applyconfigurations/core/v1"
	metav1ac "k8s.io/client-go/applyconfigurations/meta/v1"

	"github.com/sluicehq/sluice/internal/platform"
)

// Labels and annotations sluice puts on the objects it writes.
const (
	// LabelService names the service a Deployment, Service or pod belongs to.
	LabelService = "sluice.dev/service"
	// LabelSlot names the slot (blue or green) of a Deployment, Service or pod.
	LabelSlot = "sluice.dev/slot"
	// LabelManagedBy is the standard managed-by label, set to "sluice".
	LabelManagedBy = "app.kubernetes.io/managed-by"
	// AnnotationDeployKeys holds the most recent idempotency keys of Deploy.
	AnnotationDeployKeys = "sluice.dev/deploy-keys"
	// AnnotationScaleKeys holds the most recent idempotency keys of Scale.
	AnnotationScaleKeys = "sluice.dev/scale-keys"
	// ContainerName is the name of the one container of a slot's pods.
	ContainerName = "app"
)

// keepKeys is how many recent keys each annotation keeps.
const keepKeys = 16

// SlotName returns the name of a slot's Deployment and Service: <service>-<slot>.
func SlotName(ref platform.SlotRef) string { return ref.Service + "-" + string(ref.Slot) }

// selector returns the labels that pick a slot's pods.
func selector(ref platform.SlotRef) map[string]string {
	return map[string]string{LabelService: ref.Service, LabelSlot: string(ref.Slot)}
}

// objectLabels returns the labels of a slot's objects: the caller's (such as
// sluice.dev/execution), then sluice's own, which win.
func objectLabels(ref platform.SlotRef, extra map[string]string) (map[string]string, error) {
	out := map[string]string{}
	for k, v := range extra {
		if errs := validation.IsQualifiedName(k); len(errs) > 0 {
			return nil, fmt.Errorf("label %q: %s", k, strings.Join(errs, "; "))
		}
		if errs := validation.IsValidLabelValue(v); len(errs) > 0 {
			return nil, fmt.Errorf("label %s=%q: %s", k, v, strings.Join(errs, "; "))
		}
		out[k] = v
	}
	maps.Copy(out, selector(ref))
	out[LabelManagedBy] = "sluice"
	return out, nil
}

// withKey returns the key list annotation value with key appended, keeping the most
// recent keepKeys.
func withKey(list, key string) string {
	keys := splitKeys(list)
	keys = append(keys, key)
	if len(keys) > keepKeys {
		keys = keys[len(keys)-keepKeys:]
	}
	return strings.Join(keys, "\n")
}

func splitKeys(list string) []string {
	if list == "" {
		return nil
	}
	return strings.Split(list, "\n")
}

// deploymentApply builds the Deployment of a slot; keys is the new value of the
// deploy-keys annotation.
func (p *Platform) deploymentApply(ctx context.Context, d platform.Deployment, keys string) (*appsv1ac.DeploymentApplyConfiguration, error) {
	labels, err := objectLabels(d.Ref, d.Labels)
	if err != nil {
		return nil, err
	}
	t, err := p.template(ctx, d, labels)
	if err != nil {
		return nil, err
	}
	annotations := workloadAnnotations(d, t)
	annotations[AnnotationDeployKeys] = keys
	spec := appsv1ac.DeploymentSpec().
		WithReplicas(int32(d.Instances)).
		WithProgressDeadlineSeconds(int32(p.opts.progressDeadline().Seconds())).
		WithSelector(metav1ac.LabelSelector().WithMatchLabels(selector(d.Ref))).
		WithTemplate(t.spec)
	return appsv1ac.Deployment(SlotName(d.Ref), p.opts.Namespace).
		WithLabels(labels).
		WithAnnotations(annotations).
		WithSpec(spec), nil
}

func container(d platform.Deployment) *corev1ac.ContainerApplyConfiguration {
	c := corev1ac.Container().WithName(ContainerName).WithImage(d.Artifact)
	for _, k := range slices.Sorted(maps.Keys(d.Env)) {
		c.WithEnv(corev1ac.EnvVar().WithName(k).WithValue(d.Env[k]))
	}
	if d.Port <= 0 {
		return c
	}
	port := intstr.FromInt32(int32(d.Port))
	c.WithPorts(corev1ac.ContainerPort().WithName("http").WithContainerPort(int32(d.Port)).WithProtocol(corev1.ProtocolTCP))
	handler := corev1ac.Probe().WithPeriodSeconds(2).WithFailureThreshold(3)
	if t := d.Health.Timeout; t > 0 { // whole seconds, at least one: what a probe takes
		handler.WithTimeoutSeconds(int32(max(1, (t+time.Second-1)/time.Second)))
	}
	if d.Health.Path != "" {
		handler.WithHTTPGet(corev1ac.HTTPGetAction().WithPath(d.Health.Path).WithPort(port))
	} else {
		handler.WithTCPSocket(corev1ac.TCPSocketAction().WithPort(port))
	}
	return c.WithReadinessProbe(handler)
}

// serviceApply builds a Service named name selecting sel on port.
func (p *Platform) serviceApply(name string, typ corev1.ServiceType, sel, labels map[string]string, port int) *corev1ac.ServiceApplyConfiguration {
	return corev1ac.Service(name, p.opts.Namespace).
		WithLabels(labels).
		WithSpec(corev1ac.ServiceSpec().
			WithType(typ).
			WithSelector(sel).
			WithPorts(corev1ac.ServicePort().WithName("http").WithProtocol(corev1.ProtocolTCP).
				WithPort(int32(port)).WithTargetPort(intstr.FromInt32(int32(port)))))
}

// slotService builds the Service of one slot, always of type ClusterIP.
func (p *Platform) slotService(ref platform.SlotRef, port int) *corev1ac.ServiceApplyConfiguration {
	labels := selector(ref)
	labels[LabelManagedBy] = "sluice"
	return p.serviceApply(SlotName(ref), corev1.ServiceTypeClusterIP, selector(ref), labels, port)
}

// stableService builds the Service that selects both slots of a service, of the
// deployment's type (the workflow's service step) or else the environment's.
func (p *Platform) stableService(d platform.Deployment) *corev1ac.ServiceApplyConfiguration {
	service := d.Ref.Service
	sel := map[string]string{LabelService: service}
	labels := map[string]string{LabelService: service, LabelManagedBy: "sluice"}
	typ := p.opts.serviceType()
	if d.ServiceType != "" {
		typ = corev1.ServiceType(d.ServiceType)
	}
	return p.serviceApply(service, typ, sel, labels, d.Port)
}

// validServiceType reports a type the stable Service cannot have.
func validServiceType(t corev1.ServiceType) error {
	switch t {
	case corev1.ServiceTypeClusterIP, corev1.ServiceTypeLoadBalancer, corev1.ServiceTypeNodePort:
		return nil
	}
	return fmt.Errorf("service type %q: want ClusterIP, LoadBalancer or NodePort", t)
}

// Objects returns what Deploy applies for d, in order: the slot's Service, the stable
// Service (both only with a port) and the Deployment, as apply configurations. It
// exists for golden-file tests and for reviewing what sluice writes.
func Objects(opts Options, d platform.Deployment) ([]any, error) {
	p, err := NewForClient(nil, opts)
	if err != nil {
		return nil, err
	}
	if d.Workload != nil && d.Workload.Ref != "" {
		return nil, fmt.Errorf("kubernetes: objects of %s: a workloadRef is read from the API server; use Deploy", d.Ref)
	}
	dep, err := p.deploymentApply(context.Background(), d, withKey("", d.Key))
	if err != nil {
		return nil, err
	}
	if d.Port <= 0 {
		return []any{dep}, nil
	}
	if d.ServiceType != "" {
		if err := validServiceType(corev1.ServiceType(d.ServiceType)); err != nil {
			return nil, err
		}
	}
	return []any{p.slotService(d.Ref, d.Port), p.stableService(d), dep}, nil
}
