package kubernetes

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
)

// Limits on what Status reports about pods that are not ready, so a slot of many
// failing pods does not flood the console.
const (
	detailPods   = 3  // pods whose events and logs are read
	detailEvents = 8  // most recent events per pod
	detailLines  = 20 // last lines of a failing container's log
)

// details reads what the cluster says about pods that are not ready: each pod's most
// recent events and the last lines of the log of a container that terminated or
// restarts. Logs the API server cannot give (no kubelet, as on simulated nodes) are
// left out; events that cannot be listed are a line saying so.
func (p *Platform) details(ctx context.Context, pods []corev1.Pod) []string {
	var out []string
	n := 0
	for i := range pods {
		if podReady(&pods[i]) {
			continue
		}
		if n++; n > detailPods {
			break
		}
		out = append(out, p.podEvents(ctx, &pods[i])...)
		out = append(out, p.podLogs(ctx, &pods[i])...)
	}
	return out
}

// podEvents formats the pod's most recent events, oldest first.
func (p *Platform) podEvents(ctx context.Context, pod *corev1.Pod) []string {
	sel := fields.Set{"involvedObject.kind": "Pod", "involvedObject.name": pod.Name, "involvedObject.uid": string(pod.UID)}
	list, err := p.cs.CoreV1().Events(p.opts.Namespace).List(ctx, metav1.ListOptions{FieldSelector: sel.String()})
	if err != nil {
		return []string{fmt.Sprintf("pod %s: events unavailable: %v", pod.Name, err)}
	}
	evs := list.Items
	slices.SortStableFunc(evs, func(a, b corev1.Event) int { return eventTime(a).Compare(eventTime(b)) })
	if len(evs) > detailEvents {
		evs = evs[len(evs)-detailEvents:]
	}
	out := make([]string, 0, len(evs))
	for _, e := range evs {
		line := fmt.Sprintf("pod %s: event %s %s: %s", pod.Name, e.Type, e.Reason, strings.TrimSpace(e.Message))
		if c := eventCount(e); c > 1 {
			line += fmt.Sprintf(" (x%d)", c)
		}
		out = append(out, line)
	}
	return out
}

// eventTime is when an event last happened, whichever API wrote it.
func eventTime(e corev1.Event) time.Time {
	switch {
	case e.Series != nil:
		return e.Series.LastObservedTime.Time
	case !e.LastTimestamp.IsZero():
		return e.LastTimestamp.Time
	case !e.EventTime.IsZero():
		return e.EventTime.Time
	}
	return e.CreationTimestamp.Time
}

func eventCount(e corev1.Event) int32 {
	if e.Series != nil {
		return e.Series.Count
	}
	return e.Count
}

// podLogs returns the last lines of each container that terminated with an error or
// restarts (from its previous run), prefixed with pod and container.
func (p *Platform) podLogs(ctx context.Context, pod *corev1.Pod) []string {
	var out []string
	for _, cs := range pod.Status.ContainerStatuses {
		failed := cs.State.Terminated != nil && cs.State.Terminated.ExitCode != 0
		if !failed && cs.RestartCount == 0 {
			continue
		}
		tail := int64(detailLines)
		opts := &corev1.PodLogOptions{Container: cs.Name, TailLines: &tail, Previous: !failed}
		b, err := p.cs.CoreV1().Pods(p.opts.Namespace).GetLogs(pod.Name, opts).DoRaw(ctx)
		if err != nil {
			p.log.Debug("no container log", "pod", pod.Name, "container", cs.Name, "err", err)
			continue
		}
		for line := range strings.Lines(string(b)) {
			if line = strings.TrimRight(line, "\r\n"); line != "" {
				out = append(out, fmt.Sprintf("pod %s container %s log: %s", pod.Name, cs.Name, line))
			}
		}
	}
	return out
}
