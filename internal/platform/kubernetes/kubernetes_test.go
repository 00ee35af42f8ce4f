package kubernetes_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	appsv1ac "k8s.io/client-go/applyconfigurations/apps/v1"
	corev1ac "k8s.io/client-go/applyconfigurations/core/v1"
	k8s "k8s.io/client-go/kubernetes"
	"sigs.k8s.io/yaml"

	"github.com/sluicehq/sluice/internal/golden"
	"github.com/sluicehq/sluice/internal/platform"
	"github.com/sluicehq/sluice/internal/platform/kubernetes"
	"github.com/sluicehq/sluice/internal/platform/platformtest"
)

// Images of the simulated nodes: kwok makes any pod Ready except those of images from
// registry.invalid, which wait in ImagePullBackOff (see scripts/kube.sh).
const (
	imageV1    = "registry.example.com/shop:v1"
	imageV2    = "registry.example.com/shop:v2"
	imageNever = "registry.invalid/shop:never"
)

func TestConformance(t *testing.T) {
	cfg := restConfig(t)
	cs, err := k8s.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ns := namespace(t, cs)
	newPlatform := func(t *testing.T) platform.Platform {
		p, err := kubernetes.New(cfg, kubernetes.Options{Namespace: ns})
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	platformtest.Run(t, newPlatform, platformtest.Config{
		Artifact: imageV1, Artifact2: imageV2, NeverReady: imageNever,
		Port: 8080, Health: platform.HealthCheck{Path: "/healthz", Status: 200},
		ReadyTimeout: 30 * time.Second, Poll: 100 * time.Millisecond,
		Identities: func(_ platform.Platform, ref platform.SlotRef) []string { return podUIDs(t, cs, ns, ref) },
	})
}

// podUIDs lists the UIDs of the slot's pods that are not terminating.
func podUIDs(t *testing.T, cs k8s.Interface, ns string, ref platform.SlotRef) []string {
	sel := labels.SelectorFromSet(map[string]string{kubernetes.LabelService: ref.Service, kubernetes.LabelSlot: string(ref.Slot)})
	list, err := cs.CoreV1().Pods(ns).List(context.Background(), metav1.ListOptions{LabelSelector: sel.String()})
	if err != nil {
		t.Errorf("list pods: %v", err)
		return nil
	}
	var ids []string
	for _, p := range list.Items {
		if p.DeletionTimestamp == nil {
			ids = append(ids, string(p.UID))
		}
	}
	return ids
}

func TestProgressDeadlineFails(t *testing.T) {
	cfg := restConfig(t)
	cs, err := k8s.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ns := namespace(t, cs)
	p, err := kubernetes.New(cfg, kubernetes.Options{Namespace: ns, ProgressDeadline: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	ref := platform.SlotRef{Service: "shop", Slot: platform.Blue}
	d := platform.Deployment{Ref: ref, Artifact: imageNever, Instances: 2, Port: 8080, Key: "k"}
	if err := p.Deploy(ctx, d); err != nil {
		t.Fatal(err)
	}
	// The deadline may pass before the pods report why they wait: wait for both.
	st := waitStatus(ctx, t, p, ref, func(st platform.SlotStatus) bool {
		return st.Failed && strings.Contains(strings.Join(st.Reasons, "\n"), "ImagePullBackOff")
	})
	joined := strings.Join(st.Reasons, "\n")
	for _, want := range []string{"progress deadline exceeded", "ImagePullBackOff", imageNever} {
		if !strings.Contains(joined, want) {
			t.Errorf("reasons %q do not mention %q", st.Reasons, want)
		}
	}
	if st.Ready != 0 || st.Desired != 2 {
		t.Errorf("status %+v, want 0 ready of 2", st)
	}
}

// TestForeignFieldsAndUnschedulable checks that fields other managers own survive a
// Deploy, and that an unschedulable pod is a reason in Status.
func TestForeignFieldsAndUnschedulable(t *testing.T) {
	cfg := restConfig(t)
	cs, err := k8s.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ns := namespace(t, cs)
	p, err := kubernetes.New(cfg, kubernetes.Options{Namespace: ns})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	ref := platform.SlotRef{Service: "shop", Slot: platform.Green}
	if err := p.Deploy(ctx, platform.Deployment{Ref: ref, Artifact: imageV1, Instances: 1, Port: 8080, Key: "k1"}); err != nil {
		t.Fatal(err)
	}
	waitStatus(ctx, t, p, ref, func(st platform.SlotStatus) bool { return st.Ready == 1 })
	// Another manager labels the Deployment and asks for more CPU than any node has.
	foreign := appsv1ac.Deployment("shop-green", ns).
		WithLabels(map[string]string{"team": "payments"}).
		WithAnnotations(map[string]string{"example.com/owner": "payments"}).
		WithSpec(appsv1ac.DeploymentSpec().WithTemplate(corev1ac.PodTemplateSpec().WithSpec(corev1ac.PodSpec().
			WithContainers(corev1ac.Container().WithName(kubernetes.ContainerName).
				WithResources(corev1ac.ResourceRequirements().WithRequests(corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("1000")}))))))
	if _, err := cs.AppsV1().Deployments(ns).Apply(ctx, foreign, metav1.ApplyOptions{FieldManager: "team-tooling"}); err != nil {
		t.Fatalf("apply as another manager: %v", err)
	}
	if err := p.Deploy(ctx, platform.Deployment{Ref: ref, Artifact: imageV2, Instances: 1, Port: 8080, Key: "k2"}); err != nil {
		t.Fatal(err)
	}
	st := waitStatus(ctx, t, p, ref, func(st platform.SlotStatus) bool { return len(st.Reasons) > 0 })
	if !strings.Contains(strings.Join(st.Reasons, "\n"), "Unschedulable") {
		t.Errorf("reasons %q do not say Unschedulable", st.Reasons)
	}
	if st.Artifact != imageV2 || st.Ready != 0 {
		t.Errorf("status %+v, want %s with none ready", st, imageV2)
	}
	got, err := cs.AppsV1().Deployments(ns).Get(ctx, "shop-green", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got.Labels["team"] != "payments" || got.Annotations["example.com/owner"] != "payments" {
		t.Errorf("Deploy dropped another manager's label or annotation: %v %v", got.Labels, got.Annotations)
	}
	if cpu := got.Spec.Template.Spec.Containers[0].Resources.Requests.Cpu(); cpu.String() != "1k" {
		t.Errorf("Deploy dropped another manager's CPU request: %v", cpu)
	}
}

func waitStatus(ctx context.Context, t *testing.T, p platform.Platform, ref platform.SlotRef, cond func(platform.SlotStatus) bool) platform.SlotStatus {
	t.Helper()
	for {
		st, err := p.Status(ctx, ref)
		if err != nil {
			t.Fatalf("Status: %v", err)
		}
		if cond(st) {
			return st
		}
		select {
		case <-ctx.Done():
			t.Fatalf("waiting for %s: %v; last status %+v", ref, ctx.Err(), st)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func TestGolden(t *testing.T) {
	d := platform.Deployment{
		Ref: platform.SlotRef{Service: "shop", Slot: platform.Blue}, Artifact: imageV2, Instances: 3, Port: 8080,
		Env:    map[string]string{"B": "2", "A": "1"},
		Health: platform.HealthCheck{Path: "/healthz", Status: 200},
		Labels: map[string]string{"sluice.dev/execution": "ex-1"}, Key: "ex-1/deploy/1",
	}
	tcp := d
	tcp.Health = platform.HealthCheck{}
	team := d
	team.Workload = &platform.Workload{Container: "app", Template: []byte(`{"metadata":{"labels":{"app":"shop"},"annotations":{"sidecar.istio.io/inject":"true"}},
		"spec":{"serviceAccountName":"shop","containers":[{"name":"proxy","image":"envoy:v1"},
		{"name":"app","image":"placeholder","env":[{"name":"A","value":"team"},{"name":"DB","valueFrom":{"secretKeyRef":{"name":"shop-db","key":"password"}}}],
		"resources":{"limits":{"memory":"512Mi"}}}]}}`)}
	tests := []struct {
		name string
		opts kubernetes.Options
		d    platform.Deployment
	}{
		{"http-clusterip", kubernetes.Options{Namespace: "shop"}, d},
		{"tcp-loadbalancer", kubernetes.Options{Namespace: "shop", ServiceType: corev1.ServiceTypeLoadBalancer, ProgressDeadline: time.Minute}, tcp},
		{"team-template", kubernetes.Options{Namespace: "shop"}, team},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			objs, err := kubernetes.Objects(tc.opts, tc.d)
			if err != nil {
				t.Fatal(err)
			}
			var out []byte
			for i, o := range objs {
				b, err := yaml.Marshal(o)
				if err != nil {
					t.Fatal(err)
				}
				if i > 0 {
					out = append(out, "---\n"...)
				}
				out = append(out, b...)
			}
			golden.Check(t, filepath.Join("testdata", tc.name+".yaml"), out)
		})
	}
}
