package server

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/sluicehq/sluice/internal/client"
	"github.com/sluicehq/sluice/internal/platform/kubernetes/kubetest"
)

// TestDeploymentTriggerFollowsGitOps runs a real server against the test control
// plane with a deployment trigger on the team's Deployment: its image is released
// first; when "GitOps" (another field manager) changes the image, sluice releases
// the new one; sluice never writes the team's Deployment.
func TestDeploymentTriggerFollowsGitOps(t *testing.T) {
	cfg := kubetest.Config(t)
	cs := kubetest.Clientset(t, cfg)
	ns := kubetest.Namespace(t, cs, "sluice-gitops-")
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	team := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "shop", Labels: map[string]string{"app": "shop"}},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr(int32(0)), // the slots serve; the team's Deployment is the template
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "shop"}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "shop"}},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "registry.example.com/shop:v1",
					Ports: []corev1.ContainerPort{{ContainerPort: 8080}}}}},
			},
		},
	}
	if _, err := cs.AppsV1().Deployments(ns).Create(ctx, team, metav1.CreateOptions{FieldManager: "argocd-controller"}); err != nil {
		t.Fatal(err)
	}
	files := fmt.Sprintf(`apiVersion: sluice.dev/v1alpha1
kind: Environment
metadata: {name: kube}
spec:
  platform: {type: kubernetes, kubernetes: {kubeconfig: %q, namespace: %s}}
  router: {type: recorder, recorder: {file: effects.jsonl}}
---
apiVersion: sluice.dev/v1alpha1
kind: Workflow
metadata: {name: shop}
spec:
  environment: kube
  variables:
    - {name: image, type: string, required: true}
  service:
    name: shop
    port: 8080
    artifact: "${image}"
    workloadRef: {name: shop}
  phases:
    - name: release
      steps:
        - deploy: {instances: 1}
        - traffic: 100%%
        - promote: {}
  triggers:
    - {name: gitops, type: deployment, environment: kube, variables: {image: image}}
`, kubetest.Kubeconfig(t), ns)
	c := startChild(t, t.TempDir(), "")
	if _, err := c.client.Apply(ctx, "shop.yaml", []byte(files), false); err != nil {
		t.Fatal(err)
	}
	waitRelease := func(image string) {
		t.Helper()
		for {
			list, err := c.client.ListExecutions(ctx, client.ExecutionFilter{Workflow: "shop"})
			if err != nil {
				t.Fatal(err)
			}
			for _, ex := range list {
				if ex.Variables["image"] != image {
					continue
				}
				if ex.StartedBy != "trigger:shop/gitops" {
					t.Fatalf("execution %s started by %q", ex.ID, ex.StartedBy)
				}
				if got := waitTerminal(t, c, ex.ID); got.Status != "succeeded" {
					t.Fatalf("release of %s: %s (%s)\n%s", image, got.Status, got.Reason, c.stderr)
				}
				return
			}
			if ctx.Err() != nil {
				t.Fatalf("no release of %s started\n%s", image, c.stderr)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	waitRelease("registry.example.com/shop:v1")

	patch := []byte(`{"spec":{"template":{"spec":{"containers":[{"name":"app","image":"registry.example.com/shop:v2"}]}}}}`)
	if _, err := cs.AppsV1().Deployments(ns).Patch(ctx, "shop", types.StrategicMergePatchType, patch,
		metav1.PatchOptions{FieldManager: "argocd-controller"}); err != nil {
		t.Fatal(err)
	}
	waitRelease("registry.example.com/shop:v2")
	list, err := c.client.ListExecutions(ctx, client.ExecutionFilter{Workflow: "shop"})
	if err != nil || len(list) != 2 {
		t.Fatalf("%d releases (%v), want one per image", len(list), err)
	}

	got, err := cs.AppsV1().Deployments(ns).Get(ctx, "shop", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got.Generation != 2 {
		t.Errorf("team Deployment generation %d, want 2 (created, then the GitOps patch)", got.Generation)
	}
	for _, mf := range got.ManagedFields {
		if strings.Contains(mf.Manager, "sluice") {
			t.Errorf("sluice wrote the team's Deployment: managed fields %+v", mf)
		}
	}
}

func ptr[T any](v T) *T { return &v }
