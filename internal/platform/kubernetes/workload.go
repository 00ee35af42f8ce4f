package kubernetes

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	corev1ac "k8s.io/client-go/applyconfigurations/core/v1"

	"github.com/sluicehq/sluice/internal/platform"
)

// Annotations on a slot's Deployment that record where its pod template came from.
const (
	// AnnotationWorkload says where the pod template came from: deployment/<name>,
	// template, or manifests:<path>.
	AnnotationWorkload = "sluice.dev/workload"
	// AnnotationContainer names the container that runs the artifact.
	AnnotationContainer = "sluice.dev/container"
	// AnnotationScaleDownOnPromote names the team's Deployment that Promoted scales to zero.
	AnnotationScaleDownOnPromote = "sluice.dev/scale-down-on-promote"
)

// podTemplate is the pod template a slot runs, where it came from and the name of the
// container that runs the artifact.
type podTemplate struct {
	spec      *corev1ac.PodTemplateSpecApplyConfiguration
	source    string
	container string
}

// teamTemplate reads the team's pod template named by w.
func (p *Platform) teamTemplate(ctx context.Context, w *platform.Workload) (*corev1.PodTemplateSpec, string, error) {
	switch {
	case w.Ref != "":
		dep, err := p.cs.AppsV1().Deployments(p.opts.Namespace).Get(ctx, w.Ref, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return nil, "", fmt.Errorf("workloadRef: deployment %q not found in namespace %s", w.Ref, p.opts.Namespace)
		}
		if err != nil {
			return nil, "", fmt.Errorf("workloadRef: get deployment %q: %w", w.Ref, err)
		}
		return dep.Spec.Template.DeepCopy(), "deployment/" + w.Ref, nil
	case len(w.Template) > 0:
		var t corev1.PodTemplateSpec
		if err := strictJSON(w.Template, &t); err != nil {
			return nil, "", fmt.Errorf("template: %w", err)
		}
		return &t, "template", nil
	case w.Manifests != "":
		dep, err := manifestDeployment(w.Manifests)
		if err != nil {
			return nil, "", fmt.Errorf("manifests %s: %w", w.Manifests, err)
		}
		return &dep.Spec.Template, "manifests:" + w.Manifests, nil
	}
	return nil, "", fmt.Errorf("workload names no deployment, template or manifests")
}

// strictJSON decodes b into v, refusing fields v does not have.
func strictJSON(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	return dec.Decode(v)
}

// slotTemplate turns the team's pod template into a slot's: the artifact as the
// image of the chosen container, the service's env, port and readiness probe where
// the team has none, and the slot's labels added to the team's.
func slotTemplate(d platform.Deployment, team *corev1.PodTemplateSpec, labels map[string]string) (*corev1ac.PodTemplateSpecApplyConfiguration, string, error) {
	t := team.DeepCopy()
	i, err := containerIndex(t.Spec.Containers, d.Workload.Container)
	if err != nil {
		return nil, "", err
	}
	c := &t.Spec.Containers[i]
	c.Image = d.Artifact
	setEnv(c, d.Env)
	if d.Port > 0 {
		addPort(c, d.Port)
		if c.ReadinessProbe == nil {
			c.ReadinessProbe = readinessProbe(d)
		}
	}
	t.Labels = podLabels(t.Labels, labels)
	t.CreationTimestamp = metav1.Time{}
	b, err := json.Marshal(t)
	if err != nil {
		return nil, "", fmt.Errorf("encode pod template: %w", err)
	}
	ac := &corev1ac.PodTemplateSpecApplyConfiguration{}
	if err := json.Unmarshal(b, ac); err != nil {
		return nil, "", fmt.Errorf("decode pod template: %w", err)
	}
	return ac, c.Name, nil
}

// containerIndex finds the container named name, or the first when name is empty.
func containerIndex(cs []corev1.Container, name string) (int, error) {
	if len(cs) == 0 {
		return 0, fmt.Errorf("the pod template has no containers")
	}
	if name == "" {
		return 0, nil
	}
	names := make([]string, len(cs))
	for i, c := range cs {
		if c.Name == name {
			return i, nil
		}
		names[i] = c.Name
	}
	return 0, fmt.Errorf("the pod template has no container %q (it has %s)", name, strings.Join(names, ", "))
}

// setEnv sets the service's env on c, replacing variables of the same name.
func setEnv(c *corev1.Container, env map[string]string) {
	for _, k := range slices.Sorted(maps.Keys(env)) {
		v := corev1.EnvVar{Name: k, Value: env[k]}
		if i := slices.IndexFunc(c.Env, func(e corev1.EnvVar) bool { return e.Name == k }); i >= 0 {
			c.Env[i] = v
			continue
		}
		c.Env = append(c.Env, v)
	}
}

// addPort declares the service's port on c unless the team already does.
func addPort(c *corev1.Container, port int) {
	for _, p := range c.Ports {
		if int(p.ContainerPort) == port && (p.Protocol == "" || p.Protocol == corev1.ProtocolTCP) {
			return
		}
	}
	name := "http"
	if slices.ContainsFunc(c.Ports, func(p corev1.ContainerPort) bool { return p.Name == name }) {
		name = ""
	}
	c.Ports = append(c.Ports, corev1.ContainerPort{Name: name, ContainerPort: int32(port), Protocol: corev1.ProtocolTCP})
}

// readinessProbe is sluice's probe for a container the team gave none.
func readinessProbe(d platform.Deployment) *corev1.Probe {
	port := intstr.FromInt32(int32(d.Port))
	pr := &corev1.Probe{PeriodSeconds: 2, FailureThreshold: 3}
	if d.Health.Path != "" {
		pr.HTTPGet = &corev1.HTTPGetAction{Path: d.Health.Path, Port: port}
	} else {
		pr.TCPSocket = &corev1.TCPSocketAction{Port: port}
	}
	return pr
}

// podLabels adds sluice's labels to the team's; the team's labels stay, except the
// controller's pod-template-hash, which no template may carry.
func podLabels(team, sluice map[string]string) map[string]string {
	out := map[string]string{}
	for k, v := range team {
		if k != appsv1.DefaultDeploymentUniqueLabelKey {
			out[k] = v
		}
	}
	maps.Copy(out, sluice)
	return out
}

// template returns the pod template of d's slot: the team's workload when d names
// one, else sluice's minimal pod with one container.
func (p *Platform) template(ctx context.Context, d platform.Deployment, labels map[string]string) (podTemplate, error) {
	if d.Workload == nil {
		spec := corev1ac.PodTemplateSpec().WithLabels(labels).
			WithSpec(corev1ac.PodSpec().WithContainers(container(d)))
		return podTemplate{spec: spec, container: ContainerName}, nil
	}
	team, source, err := p.teamTemplate(ctx, d.Workload)
	if err != nil {
		return podTemplate{}, err
	}
	spec, name, err := slotTemplate(d, team, labels)
	if err != nil {
		return podTemplate{}, fmt.Errorf("%s: %w", source, err)
	}
	return podTemplate{spec: spec, source: source, container: name}, nil
}

// workloadAnnotations records on the slot's Deployment where its template came from.
func workloadAnnotations(d platform.Deployment, t podTemplate) map[string]string {
	out := map[string]string{AnnotationContainer: t.container}
	if t.source != "" {
		out[AnnotationWorkload] = t.source
	}
	if w := d.Workload; w != nil && w.Ref != "" && w.ScaleDownOnPromote {
		out[AnnotationScaleDownOnPromote] = w.Ref
	}
	return out
}

var _ platform.Promoter = (*Platform)(nil)

// Promoted scales the team's Deployment to zero when the slot's workloadRef asked
// for scaleDown: onPromote, and does nothing otherwise. It writes only the scale
// subresource, so nothing but the team's replica count changes; a count already at
// zero, or a Deployment the team has deleted, is left alone.
func (p *Platform) Promoted(ctx context.Context, ref platform.SlotRef, key string) error {
	if err := p.promoted(ctx, ref); err != nil {
		return fmt.Errorf("kubernetes: promoted %s: %w", ref, err)
	}
	return nil
}

func (p *Platform) promoted(ctx context.Context, ref platform.SlotRef) error {
	cur, err := p.get(ctx, ref)
	if err != nil || cur == nil {
		return err
	}
	name := cur.Annotations[AnnotationScaleDownOnPromote]
	if name == "" {
		return nil
	}
	deployments := p.cs.AppsV1().Deployments(p.opts.Namespace)
	sc, err := deployments.GetScale(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		p.log.Warn("the team's deployment to scale down is gone", "deployment", name, "namespace", p.opts.Namespace)
		return nil
	}
	if err != nil {
		return fmt.Errorf("get scale of deployment %s: %w", name, err)
	}
	if sc.Spec.Replicas == 0 {
		return nil
	}
	from := sc.Spec.Replicas
	sc.Spec.Replicas = 0
	if _, err := deployments.UpdateScale(ctx, name, sc, metav1.UpdateOptions{FieldManager: FieldManager}); err != nil {
		return fmt.Errorf("scale deployment %s to 0: %w", name, err)
	}
	p.log.Info("team's deployment scaled down", "deployment", name, "from", from, "live", ref.String())
	p.event(ctx, target{name, sc.UID}, ReasonWorkloadScaledTo, "ScaleDown",
		"scaled from %d to 0 instances: sluice's slot %s is live (scaleDown: onPromote)", from, SlotName(ref))
	return nil
}

// DryRun sends what Deploy would write for d to the API server as a server-side dry
// run: the API server validates and admits the Services and the Deployment (a pod
// template it rejects fails with its own message) and stores nothing.
func (p *Platform) DryRun(ctx context.Context, d platform.Deployment) error {
	if err := p.dryRun(ctx, d); err != nil {
		return fmt.Errorf("kubernetes: dry run of %s: %w", d.Ref, err)
	}
	return nil
}

func (p *Platform) dryRun(ctx context.Context, d platform.Deployment) error {
	dep, err := p.deploymentApply(ctx, d, withKey("", d.Key))
	if err != nil {
		return err
	}
	apply := metav1.ApplyOptions{FieldManager: FieldManager, Force: true, DryRun: []string{metav1.DryRunAll}}
	if d.Port > 0 {
		if _, err := p.cs.CoreV1().Services(p.opts.Namespace).Apply(ctx, p.slotService(d.Ref, d.Port), apply); err != nil {
			return fmt.Errorf("apply service %s: %w", SlotName(d.Ref), err)
		}
	}
	if _, err := p.cs.AppsV1().Deployments(p.opts.Namespace).Apply(ctx, dep, apply); err != nil {
		return fmt.Errorf("apply deployment: %w", err)
	}
	return nil
}
