package kubernetes

import (
	"context"
	"fmt"
	"slices"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/sluicehq/sluice/internal/platform"
)

// revisionAnnotation is where the deployment controller numbers ReplicaSets.
const revisionAnnotation = "deployment.kubernetes.io/revision"

// Status reports the slot's desired count, its ready pods of the newest revision
// (counted from the pods themselves, the way `kubectl rollout status` waits for
// updated and available replicas), and why others are not ready. While a slot scales
// down, Ready counts the pods still running, so Ready == Desired means it has settled.
func (p *Platform) Status(ctx context.Context, ref platform.SlotRef) (platform.SlotStatus, error) {
	st, err := p.status(ctx, ref)
	if err != nil {
		return platform.SlotStatus{}, fmt.Errorf("kubernetes: status %s: %w", ref, err)
	}
	return st, nil
}

func (p *Platform) status(ctx context.Context, ref platform.SlotRef) (platform.SlotStatus, error) {
	if err := ctx.Err(); err != nil {
		return platform.SlotStatus{}, err
	}
	d, err := p.get(ctx, ref)
	if err != nil || d == nil {
		return platform.SlotStatus{}, err
	}
	st := platform.SlotStatus{Artifact: artifact(d), Desired: int(replicas(d))}
	pods, err := p.currentPods(ctx, ref, d)
	if err != nil {
		return platform.SlotStatus{}, err
	}
	for i := range pods {
		if podReady(&pods[i]) {
			st.Ready++
			continue
		}
		for _, r := range podReasons(&pods[i]) {
			if !slices.Contains(st.Reasons, r) {
				st.Reasons = append(st.Reasons, r)
			}
		}
	}
	st.Details = p.details(ctx, pods)
	if len(pods) > st.Desired {
		// Scaling down: the slot has not settled while more instances run than desired.
		st.Ready = len(pods)
	}
	for _, c := range d.Status.Conditions {
		if c.Type == appsv1.DeploymentReplicaFailure && c.Status == corev1.ConditionTrue {
			st.Reasons = append(st.Reasons, fmt.Sprintf("%s: %s", c.Reason, c.Message))
		}
	}
	slices.Sort(st.Reasons)
	if failed, reason := deadlineExceeded(d); failed { // why it failed first, then what the pods say
		st.Failed = true
		st.Reasons = append([]string{reason}, st.Reasons...)
	}
	return st, nil
}

func replicas(d *appsv1.Deployment) int32 {
	if d.Spec.Replicas == nil {
		return 1
	}
	return *d.Spec.Replicas
}

// artifact is the image of the container that runs the artifact.
func artifact(d *appsv1.Deployment) string {
	name := d.Annotations[AnnotationContainer]
	if name == "" {
		name = ContainerName
	}
	for _, c := range d.Spec.Template.Spec.Containers {
		if c.Name == name {
			return c.Image
		}
	}
	return ""
}

func deadlineExceeded(d *appsv1.Deployment) (bool, string) {
	if d.Status.ObservedGeneration < d.Generation {
		return false, ""
	}
	for _, c := range d.Status.Conditions {
		if c.Type == appsv1.DeploymentProgressing && c.Reason == "ProgressDeadlineExceeded" {
			return true, "progress deadline exceeded: " + c.Message
		}
	}
	return false, ""
}

// currentPods lists the live pods of the Deployment's newest ReplicaSet. Until the
// controller has observed the newest generation that is none, except for a slot
// scaled to zero: then every pod still running counts, so the slot does not look
// settled while instances run.
func (p *Platform) currentPods(ctx context.Context, ref platform.SlotRef, d *appsv1.Deployment) ([]corev1.Pod, error) {
	sel := labels.SelectorFromSet(selector(ref)).String()
	if d.Status.ObservedGeneration < d.Generation {
		if replicas(d) > 0 {
			return nil, nil
		}
		return p.livePods(ctx, sel)
	}
	rsList, err := p.cs.AppsV1().ReplicaSets(p.opts.Namespace).List(ctx, metav1.ListOptions{LabelSelector: sel})
	if err != nil {
		return nil, fmt.Errorf("list replica sets: %w", err)
	}
	hash := ""
	for _, rs := range rsList.Items {
		if metav1.IsControlledBy(&rs, d) && rs.Annotations[revisionAnnotation] == d.Annotations[revisionAnnotation] {
			hash = rs.Labels[appsv1.DefaultDeploymentUniqueLabelKey]
		}
	}
	if hash == "" {
		return nil, nil
	}
	podSel := labels.SelectorFromSet(labels.Merge(selector(ref), map[string]string{appsv1.DefaultDeploymentUniqueLabelKey: hash}))
	return p.livePods(ctx, podSel.String())
}

// livePods lists the pods matching sel that are not terminating.
func (p *Platform) livePods(ctx context.Context, sel string) ([]corev1.Pod, error) {
	list, err := p.cs.CoreV1().Pods(p.opts.Namespace).List(ctx, metav1.ListOptions{LabelSelector: sel})
	if err != nil {
		return nil, fmt.Errorf("list pods: %w", err)
	}
	return slices.DeleteFunc(list.Items, func(pod corev1.Pod) bool { return pod.DeletionTimestamp != nil }), nil
}

func podReady(pod *corev1.Pod) bool {
	for _, c := range pod.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// podReasons says why a pod is not ready: an unschedulable pod, containers waiting
// (image pull errors, crash loops) or terminated with an error.
func podReasons(pod *corev1.Pod) []string {
	var out []string
	for _, c := range pod.Status.Conditions {
		if c.Type == corev1.PodScheduled && c.Status == corev1.ConditionFalse && c.Reason != "" {
			out = append(out, fmt.Sprintf("%s: %s", c.Reason, c.Message))
		}
	}
	for _, cs := range pod.Status.ContainerStatuses {
		switch {
		case cs.State.Waiting != nil && cs.State.Waiting.Reason != "" && cs.State.Waiting.Reason != "ContainerCreating":
			out = append(out, fmt.Sprintf("container %s: %s: %s", cs.Name, cs.State.Waiting.Reason, cs.State.Waiting.Message))
		case cs.State.Terminated != nil && cs.State.Terminated.ExitCode != 0:
			t := cs.State.Terminated
			out = append(out, fmt.Sprintf("container %s: %s (exit code %d): %s", cs.Name, t.Reason, t.ExitCode, t.Message))
		case cs.LastTerminationState.Terminated != nil && cs.RestartCount > 0:
			t := cs.LastTerminationState.Terminated
			out = append(out, fmt.Sprintf("container %s restarted %d times, last %s (exit code %d)", cs.Name, cs.RestartCount, t.Reason, t.ExitCode))
		}
	}
	return out
}
