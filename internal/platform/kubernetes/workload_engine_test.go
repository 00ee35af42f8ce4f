package kubernetes_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	k8s "k8s.io/client-go/kubernetes"

	"github.com/sluicehq/sluice/internal/engine"
	"github.com/sluicehq/sluice/internal/platform"
	"github.com/sluicehq/sluice/internal/platform/kubernetes"
	"github.com/sluicehq/sluice/internal/spec"
	"github.com/sluicehq/sluice/internal/store"
	"github.com/sluicehq/sluice/internal/traffic"
	"github.com/sluicehq/sluice/internal/traffic/istio"
)

// teamWorkflow is the seed's shape releasing the team's own Deployment, which is
// scaled down once sluice's slot is live. The deploy step gives up after 30s.
const teamWorkflow = `apiVersion: sluice.dev/v1alpha1
kind: Workflow
metadata: {name: team-shop}
spec:
  environment: kube
  variables:
    - {name: artifact, type: string, required: true}
  service:
    name: shop
    port: 8080
    artifact: "${artifact}"
    instances: 2
    workloadRef: {name: shop, scaleDown: onPromote}
    container: app
  onFailure: rollback
  phases:
    - name: setup-blue
      steps:
        - service: {hosts: [shop.example.com]}
        - deploy: {instances: 100%}
          timeout: 30s
        - traffic: 0%
    - name: canary
      steps:
        - traffic: 10%
    - name: promote
      steps:
        - traffic: 100%
        - promote: {}
        - scaledown: {delay: 5ms}
`

// TestEngineTeamWorkload runs a workflow that releases the team's Deployment through
// the engine with the istio router: the first release goes live and scales the
// team's Deployment down; a release whose image never pulls fails its deploy step
// with the pod's reason and events on the console, and traffic never moves.
func TestEngineTeamWorkload(t *testing.T) {
	cfg := restConfig(t)
	cs, err := k8s.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ns := namespace(t, cs)
	ctx, cancel := context.WithTimeout(context.Background(), 150*time.Second)
	defer cancel()
	createTeamObjects(ctx, t, cs, ns, "shop")
	p, err := kubernetes.New(cfg, kubernetes.Options{Namespace: ns})
	if err != nil {
		t.Fatal(err)
	}
	r, err := istio.New(cfg, istio.Options{Namespace: ns})
	if err != nil {
		t.Fatal(err)
	}
	h := newEngine(t, kubeResolver{Platform: p, Router: r}, fmt.Sprintf(kubeEnvironment, ns, "istio"))
	putWorkflow(t, h, teamWorkflow)

	ex := releaseOf(t, h, "team-shop", imageV1)
	if ex.Status != store.StatusSucceeded {
		t.Fatalf("first release %s (%s)\n%s", ex.Status, ex.Reason, h.console(ex.ID))
	}
	team, err := cs.AppsV1().Deployments(ns).Get(ctx, "shop", metav1.GetOptions{})
	if err != nil || *team.Spec.Replicas != 0 {
		t.Fatalf("team's deployment after the first release went live: %v, %v; want 0 replicas (scaleDown: onPromote)", team.Spec.Replicas, err)
	}
	live, err := cs.AppsV1().Deployments(ns).Get(ctx, "shop-green", metav1.GetOptions{})
	if err != nil || live.Spec.Template.Spec.ServiceAccountName != "shop" || len(live.Spec.Template.Spec.Containers) != 2 {
		t.Fatalf("live slot shop-green does not run the team's pod template: %v", err)
	}

	// The image never pulls: pull errors and the pod's events reach the console.
	svc := traffic.ServiceRef{Service: "shop"}
	moved := watchWeights(ctx, r, svc, traffic.All(platform.Green))
	go recordPullEvent(ctx, t, cs, ns, platform.SlotRef{Service: "shop", Slot: platform.Blue})
	ex = releaseOf(t, h, "team-shop", imageNever)
	if ex.Status != store.StatusRolledBack {
		t.Fatalf("never-pulling release %s (%s), want rolled back\n%s", ex.Status, ex.Reason, h.console(ex.ID))
	}
	console := h.console(ex.ID)
	for _, want := range []string{"ImagePullBackOff", "event Warning Failed: Failed to pull image \"" + imageNever + "\""} {
		if !strings.Contains(console+ex.Reason, want) {
			t.Errorf("the console does not say %q:\n%s", want, console)
		}
	}
	if w := moved(); len(w) > 0 {
		t.Errorf("traffic moved while the new slot never became ready: %v", w)
	}
	if got, err := r.Weights(ctx, svc); err != nil || got != traffic.All(platform.Green) {
		t.Errorf("weights after the failed release = %s, %v; want all on green", got, err)
	}

	// A workloadRef to a Deployment that does not exist fails the deploy step naming
	// it, and traffic stays on the live slot.
	missing := strings.NewReplacer("name: team-shop", "name: team-missing", "workloadRef: {name: shop", "workloadRef: {name: checkout").Replace(teamWorkflow)
	putWorkflow(t, h, missing)
	moved = watchWeights(ctx, r, svc, traffic.All(platform.Green))
	ex = releaseOf(t, h, "team-missing", imageV1)
	want := `deployment "checkout" not found in namespace ` + ns
	if ex.Status != store.StatusRolledBack || !strings.Contains(ex.Reason, want) {
		t.Errorf("release of a missing workload %s (%s), want rolled back saying %q\n%s", ex.Status, ex.Reason, want, h.console(ex.ID))
	}
	if w := moved(); len(w) > 0 {
		t.Errorf("traffic moved while the workload was missing: %v", w)
	}
}

// putWorkflow stores one more workflow in the harness's store.
func putWorkflow(t *testing.T, h *engineHarness, src string) {
	t.Helper()
	docs, err := spec.ParseDocuments("workflow.yaml", []byte(src))
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	for _, d := range docs {
		if _, _, err := h.st.PutDefinition(context.Background(), store.Definition{Kind: store.KindWorkflow, Name: d.Name, Source: string(d.Source), CreatedAt: time.Now()}); err != nil {
			t.Fatal(err)
		}
	}
}

// releaseOf runs workflow with artifact to its end and returns the execution.
func releaseOf(t *testing.T, h *engineHarness, workflow, artifact string) store.Execution {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	ex, err := h.eng.Start(ctx, engine.StartRequest{Workflow: workflow, Variables: map[string]string{"artifact": artifact}, StartedBy: "tester"})
	if err != nil {
		t.Fatal(err)
	}
	if err := h.eng.Wait(ctx, ex.ID); err != nil {
		t.Fatalf("execution %s did not finish: %v\n%s", ex.ID, err, h.console(ex.ID))
	}
	got, err := h.st.GetExecution(ctx, ex.ID)
	if err != nil {
		t.Fatal(err)
	}
	return got
}

// watchWeights polls the router until ctx ends and returns a function listing every
// split it read that was not want.
func watchWeights(ctx context.Context, r traffic.Router, svc traffic.ServiceRef, want traffic.Weights) func() []traffic.Weights {
	var mu sync.Mutex
	var seen []traffic.Weights
	ctx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ctx.Err() == nil {
			if w, err := r.Weights(ctx, svc); err == nil && w != want {
				mu.Lock()
				seen = append(seen, w)
				mu.Unlock()
			}
			time.Sleep(5 * time.Millisecond)
		}
	}()
	return func() []traffic.Weights {
		stop()
		<-done
		mu.Lock()
		defer mu.Unlock()
		return seen
	}
}

// recordPullEvent writes the Event a kubelet writes when an image cannot be pulled
// (simulated nodes run no kubelet) on the first pod of the slot.
func recordPullEvent(ctx context.Context, t *testing.T, cs k8s.Interface, ns string, ref platform.SlotRef) {
	sel := kubernetes.LabelService + "=" + ref.Service + "," + kubernetes.LabelSlot + "=" + string(ref.Slot)
	for ctx.Err() == nil {
		pods, err := cs.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: sel})
		if err == nil && len(pods.Items) > 0 {
			pod := pods.Items[0]
			now := metav1.Now()
			ev := &corev1.Event{
				ObjectMeta:     metav1.ObjectMeta{Name: pod.Name + ".pull", Namespace: ns},
				InvolvedObject: corev1.ObjectReference{Kind: "Pod", Namespace: ns, Name: pod.Name, UID: pod.UID, APIVersion: "v1", FieldPath: "spec.containers{app}"},
				Reason:         "Failed", Type: corev1.EventTypeWarning, Count: 3, FirstTimestamp: now, LastTimestamp: now,
				Message: fmt.Sprintf("Failed to pull image %q: not found", imageNever),
				Source:  corev1.EventSource{Component: "kubelet", Host: pod.Spec.NodeName},
			}
			if _, err := cs.CoreV1().Events(ns).Create(ctx, ev, metav1.CreateOptions{}); err != nil {
				t.Errorf("create the pull event: %v", err)
			}
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
}
