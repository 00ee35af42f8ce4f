package kubernetes

import (
	"maps"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/sluicehq/sluice/internal/platform"
)

// TestSlotTemplate checks what sluice changes in a team's pod template: the chosen
// container's image, env, port and probe (only where the team has none), and labels
// added without dropping the team's.
func TestSlotTemplate(t *testing.T) {
	team := &corev1.PodTemplateSpec{
		ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "shop", "pod-template-hash": "abc", LabelSlot: "team"}},
		Spec: corev1.PodSpec{Containers: []corev1.Container{
			{Name: "proxy", Image: "envoy"},
			{Name: "app", Image: "old", Env: []corev1.EnvVar{{Name: "MODE", Value: "team"}, {Name: "KEEP", Value: "1"}},
				Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: 9090}}},
		}},
	}
	d := platform.Deployment{Ref: platform.SlotRef{Service: "shop", Slot: platform.Blue}, Artifact: "new", Port: 8080,
		Env: map[string]string{"MODE": "canary"}, Workload: &platform.Workload{Container: "app"}}
	labels, err := objectLabels(d.Ref, nil)
	if err != nil {
		t.Fatal(err)
	}
	ac, name, err := slotTemplate(d, team, labels)
	if err != nil {
		t.Fatal(err)
	}
	if name != "app" {
		t.Errorf("container = %q, want app", name)
	}
	want := map[string]string{"app": "shop", LabelSlot: "blue", LabelService: "shop", LabelManagedBy: "sluice"}
	if !maps.Equal(ac.Labels, want) {
		t.Errorf("labels = %v, want %v (the team's, sluice's winning on its own keys, no pod-template-hash)", ac.Labels, want)
	}
	proxy, app := ac.Spec.Containers[0], ac.Spec.Containers[1]
	if *proxy.Image != "envoy" || *app.Image != "new" {
		t.Errorf("images proxy=%s app=%s, want envoy and the artifact", *proxy.Image, *app.Image)
	}
	if len(app.Env) != 2 || *app.Env[0].Value != "canary" || *app.Env[1].Name != "KEEP" {
		t.Errorf("env = %+v, want MODE replaced in place and KEEP kept", app.Env)
	}
	if len(app.Ports) != 2 || app.Ports[1].Name != nil || *app.Ports[1].ContainerPort != 8080 {
		t.Errorf("ports = %+v, want the team's and the service port without a clashing name", app.Ports)
	}
	if app.ReadinessProbe == nil || app.ReadinessProbe.TCPSocket == nil || app.ReadinessProbe.TCPSocket.Port.IntValue() != 8080 {
		t.Errorf("readiness probe = %+v, want sluice's TCP probe on 8080 as the team has none", app.ReadinessProbe)
	}
	if team.Spec.Containers[1].Image != "old" || team.Labels[LabelSlot] != "team" {
		t.Errorf("slotTemplate changed the team's template it was given")
	}
	d.Workload.Container = "web"
	if _, _, err := slotTemplate(d, team, labels); err == nil || err.Error() != `the pod template has no container "web" (it has proxy, app)` {
		t.Errorf("unknown container: %v", err)
	}
}
