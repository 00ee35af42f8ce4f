package kubernetes_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	k8s "k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/sluicehq/sluice/internal/engine"
	"github.com/sluicehq/sluice/internal/platform"
	"github.com/sluicehq/sluice/internal/platform/kubernetes"
	"github.com/sluicehq/sluice/internal/platform/kubernetes/kubetest"
	"github.com/sluicehq/sluice/internal/spec"
	"github.com/sluicehq/sluice/internal/store"
	"github.com/sluicehq/sluice/internal/store/sqlite"
	"github.com/sluicehq/sluice/internal/traffic"
	"github.com/sluicehq/sluice/internal/traffic/gatewayapi"
	"github.com/sluicehq/sluice/internal/traffic/istio"
)

// seedWorkflow is the seed's shape: set up the new slot at the live slot's size with
// the traffic on the live slot, a canary at 10% judged by a verify step, then promote
// and scale the old slot down.
const seedWorkflow = `apiVersion: sluice.dev/v1alpha1
kind: Workflow
metadata: {name: shop}
spec:
  environment: kube
  variables:
    - {name: artifact, type: string, required: true}
  service: {name: shop, port: 8080, artifact: "${artifact}", instances: 3, health: {path: /healthz}}
  onFailure: rollback
  phases:
    - name: setup-blue
      steps:
        - service: {type: LoadBalancer, hosts: [shop.example.com], routing: {match: [{header: X-Canary, value: "true"}]}}
        - deploy: {instances: 100%}
        - traffic: 0%
    - name: canary
      steps:
        - traffic: 10%
        - verify: {metrics: [{name: error-rate, provider: stub, query: errors, failureCondition: "result > 0.01"}]}
    - name: promote
      steps:
        - traffic: 100%
        - promote: {}
        - scaledown: {delay: 5ms}
`

const kubeEnvironment = `apiVersion: sluice.dev/v1alpha1
kind: Environment
metadata: {name: kube}
spec:
  platform: {type: kubernetes, kubernetes: {namespace: %[1]s}}
  router: {type: %[2]s, %[2]s: {namespace: %[1]s, gateway: public}}
  providers:
    - {name: stub, type: http, url: "http://127.0.0.1:1"}
`

// verdict stands in for a verification provider: it reads the split the router really
// has (so each phase's weights are checked against the API server) and fails when told.
type verdict struct {
	mu     sync.Mutex
	fail   bool
	seen   []traffic.Weights
	failed time.Time
}

func (v *verdict) Run(ctx context.Context, sc *engine.StepContext) error {
	w, err := sc.Runtime.Router.Weights(ctx, traffic.ServiceRef{Service: sc.Service.Name})
	if err != nil {
		return err
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	v.seen = append(v.seen, w)
	if v.fail {
		v.failed = time.Now()
		return errors.New("error-rate 12% is over the 1% limit")
	}
	return nil
}

type kubeResolver engine.Runtime

func (r kubeResolver) Resolve(context.Context, string, *spec.Environment) (engine.Runtime, error) {
	return engine.Runtime(r), nil
}

// TestEngineSeedWorkflow runs the seed workflow through the engine on the real control
// plane, with each router: a first release, a second one promoted, a third one whose
// verification fails, and a fourth whose Deployment never becomes ready.
func TestEngineSeedWorkflow(t *testing.T) {
	cfg := restConfig(t)
	cs, err := k8s.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	for _, routerType := range []string{"istio", "gatewayapi"} {
		t.Run(routerType, func(t *testing.T) {
			ns := namespace(t, cs)
			p, err := kubernetes.New(cfg, kubernetes.Options{Namespace: ns, ProgressDeadline: 2 * time.Second})
			if err != nil {
				t.Fatal(err)
			}
			var r traffic.Router
			if routerType == "istio" {
				r, err = istio.New(cfg, istio.Options{Namespace: ns})
			} else {
				r, err = gatewayapi.New(cfg, gatewayapi.Options{Namespace: ns, Gateway: "public"})
			}
			if err != nil {
				t.Fatal(err)
			}
			h := newEngine(t, kubeResolver{Platform: p, Router: r}, fmt.Sprintf(kubeEnvironment, ns, routerType))
			h.releases(t, p, r)
			checkServiceStep(t, cfg, ns, routerType)
		})
	}
}

type engineHarness struct {
	st  store.Store
	eng *engine.Engine
	v   *verdict
}

func newEngine(t *testing.T, res engine.Resolver, env string) *engineHarness {
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "sluice.db"))
	if err != nil {
		t.Fatal(err)
	}
	v := &verdict{}
	eng, err := engine.New(engine.Options{
		Store: st, Resolver: res, PollInterval: 50 * time.Millisecond,
		RetryBackoff: 20 * time.Millisecond, MaxBackoff: 200 * time.Millisecond,
		Steps: map[spec.StepType]engine.StepRunner{spec.StepVerify: v},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { eng.Close(); st.Close() })
	for _, src := range []string{env, seedWorkflow} {
		docs, err := spec.ParseDocuments("test.yaml", []byte(src))
		if err != nil {
			t.Fatalf("parse: %v", err)
		}
		for _, d := range docs {
			kind := store.KindWorkflow
			if d.Kind == spec.KindEnvironment {
				kind = store.KindEnvironment
			}
			if _, _, err := st.PutDefinition(context.Background(), store.Definition{Kind: kind, Name: d.Name, Source: string(d.Source), CreatedAt: time.Now()}); err != nil {
				t.Fatal(err)
			}
		}
	}
	return &engineHarness{st: st, eng: eng, v: v}
}

// release runs the workflow with artifact to its end and returns the execution.
func (h *engineHarness) release(t *testing.T, artifact string) store.Execution {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	ex, err := h.eng.Start(ctx, engine.StartRequest{Workflow: "shop", Variables: map[string]string{"artifact": artifact}, StartedBy: "tester"})
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

func (h *engineHarness) console(id string) string {
	evs, err := h.st.Events(context.Background(), id, 0, 0)
	if err != nil {
		return err.Error()
	}
	var b strings.Builder
	for _, e := range evs {
		fmt.Fprintf(&b, "%3d %-8s %-6s %s\n", e.Seq, e.Type, e.Step, e.Message)
	}
	return b.String()
}

func (h *engineHarness) releases(t *testing.T, p platform.Platform, r traffic.Router) {
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	svc := traffic.ServiceRef{Service: "shop"}
	expect := func(ex store.Execution, status store.Status, w traffic.Weights, sizes map[platform.Slot]int) {
		t.Helper()
		if ex.Status != status {
			t.Fatalf("execution %s is %s (%s), want %s\n%s", ex.ID, ex.Status, ex.Reason, status, h.console(ex.ID))
		}
		if got, err := r.Weights(ctx, svc); err != nil || got != w {
			t.Fatalf("weights read back = %s, %v; want %s", got, err, w)
		}
		for slot, n := range sizes {
			st, err := p.Status(ctx, platform.SlotRef{Service: "shop", Slot: slot})
			if err != nil || st.Desired != n {
				t.Fatalf("%s after execution %s: %+v, %v; want %d desired", slot, ex.ID, st, err, n)
			}
		}
	}
	// First release: nothing is live, so v1 goes to green and takes all traffic.
	expect(h.release(t, imageV1), store.StatusSucceeded, traffic.All(platform.Green), map[platform.Slot]int{platform.Green: 3})
	// Second: blue staged at green's size, 90/10 seen by the verification, promoted.
	expect(h.release(t, imageV2), store.StatusSucceeded, traffic.All(platform.Blue), map[platform.Slot]int{platform.Blue: 3, platform.Green: 0})
	// Third: the verification fails at 10%: all traffic back on blue, green scaled to 0.
	h.v.mu.Lock()
	if last := h.v.seen[len(h.v.seen)-1]; last != traffic.Split(platform.Blue, 10) {
		t.Fatalf("weights during the canary = %s, want 10%% on blue", last)
	}
	h.v.fail = true
	h.v.mu.Unlock()
	rolledBack := watchRollback(ctx, r, svc, traffic.All(platform.Blue))
	ex := h.release(t, "registry.example.com/shop:v3")
	expect(ex, store.StatusRolledBack, traffic.All(platform.Blue), map[platform.Slot]int{platform.Blue: 3, platform.Green: 0})
	if at := <-rolledBack; !at.IsZero() {
		h.v.mu.Lock()
		failed := h.v.failed
		h.v.mu.Unlock()
		t.Logf("verification failed -> weights 100/0 read back from the API server: %v", at.Sub(failed).Round(time.Millisecond))
	}
	// Fourth: green never becomes ready: the deploy step fails with the pods' reason.
	ex = h.release(t, imageNever)
	expect(ex, store.StatusRolledBack, traffic.All(platform.Blue), map[platform.Slot]int{platform.Blue: 3, platform.Green: 0})
	if c := h.console(ex.ID) + ex.Reason; !strings.Contains(c, "ImagePullBackOff") {
		t.Errorf("the console does not say why green never became ready:\n%s", c)
	}
	t.Logf("never-ready release %s: %s", ex.Status, ex.Reason)
}

// watchRollback polls the router every 2ms and reports when it first reads want after
// a failing split (one that is not want) was seen.
func watchRollback(ctx context.Context, r traffic.Router, svc traffic.ServiceRef, want traffic.Weights) <-chan time.Time {
	out := make(chan time.Time, 1)
	go func() {
		defer close(out)
		canary := false
		for ctx.Err() == nil {
			w, err := r.Weights(ctx, svc)
			switch {
			case err == nil && w != want:
				canary = true
			case err == nil && canary:
				out <- time.Now()
				return
			}
			time.Sleep(2 * time.Millisecond)
		}
	}()
	return out
}

// checkServiceStep checks what the seed workflow's service step asked for: a stable
// Service of type LoadBalancer (the environment says nothing), and no X-Canary rule
// left after the last release rolled back (its rollback removes the A/B rules, so no
// request is sent to green, scaled to zero).
func checkServiceStep(t *testing.T, cfg *rest.Config, ns, routerType string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cs, err := k8s.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	svc, err := cs.CoreV1().Services(ns).Get(ctx, "shop", metav1.GetOptions{})
	if err != nil || svc.Spec.Type != corev1.ServiceTypeLoadBalancer {
		t.Fatalf("stable Service: %v, %v; want type LoadBalancer from the service step", svc.Spec.Type, err)
	}
	dyn := kubetest.Dynamic(t, cfg)
	gvr := schema.GroupVersionResource{Group: "networking.istio.io", Version: "v1", Resource: "virtualservices"}
	path := []string{"spec", "http"}
	if routerType == "gatewayapi" {
		gvr = schema.GroupVersionResource{Group: "gateway.networking.k8s.io", Version: "v1", Resource: "httproutes"}
		path = []string{"spec", "rules"}
	}
	u, err := dyn.Resource(gvr).Namespace(ns).Get(ctx, "shop", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	routes, _, _ := unstructured.NestedSlice(u.Object, path...)
	var match string
	for _, r := range routes {
		if b, _ := json.Marshal(r); strings.Contains(string(b), "X-Canary") || strings.Contains(string(b), "x-canary") {
			match = string(b)
		}
	}
	if match != "" {
		t.Fatalf("after a rollback the X-Canary rule %s is still there; the rollback should have removed it", match)
	}
}
