package loadtest_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluicehq/sluice/internal/engine"
	"github.com/sluicehq/sluice/internal/loadtest"
	"github.com/sluicehq/sluice/internal/platform"
	"github.com/sluicehq/sluice/internal/spec"
	"github.com/sluicehq/sluice/internal/store"
)

// seen is what a server saw of the requests it answered.
type seen struct {
	mu                  sync.Mutex
	hosts, paths, route []string
	auth                []string
}

func (s *seen) handler(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.hosts, s.paths = append(s.hosts, r.Host), append(s.paths, r.URL.RequestURI())
	s.route, s.auth = append(s.route, r.Header.Get("X-Canary")), append(s.auth, r.Header.Get("Authorization"))
}

func (s *seen) all(values []string, want string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, v := range values {
		if v != want {
			return false
		}
	}
	return len(values) > 0
}

// noEndpoints is a TargetSource that a load test with a url or on kubernetes
// must not ask.
var noEndpoints = loadtest.TargetFunc(func(context.Context, string, platform.SlotRef) ([]string, error) {
	return nil, errors.New("asked the local platform for endpoints")
})

// TestStepSendsLoadToAURLWithHeaders sends the load over real connections to a
// url (as to an ingress gateway) with a header that routes to the new slot and a
// Host header, and keeps the header's value off the console.
func TestStepSendsLoadToAURLWithHeaders(t *testing.T) {
	var s seen
	srv := httptest.NewServer(http.HandlerFunc(s.handler))
	defer srv.Close()
	h := newHarness(t, nil)
	h.targets = noEndpoints
	h.start()
	h.Apply(workflow("url", `{url: "`+srv.URL+`/checkout?x=1", headers: {X-Canary: "always", Host: shop.example.com, Authorization: "Bearer s3cr3t-token"}, rate: 50, duration: 400ms, maxErrorRate: 0}`))
	id := h.run("url")
	if ex := h.Finish(id); ex.Status != store.StatusSucceeded {
		t.Fatalf("%s (%s)\n%s", ex.Status, ex.Reason, h.Console(id))
	}
	rs := h.reports(id)
	final := rs[len(rs)-1]
	// 20 scheduled; on a loaded machine some may find every worker busy (unsent).
	if !final.Final || final.Requests == 0 || final.Requests+final.Unsent != 20 || final.Target != "url" || final.Slot != "" {
		t.Fatalf("final report %+v", final)
	}
	if !s.all(s.hosts, "shop.example.com") || !s.all(s.paths, "/checkout?x=1") || !s.all(s.route, "always") || !s.all(s.auth, "Bearer s3cr3t-token") {
		t.Fatalf("requests seen: hosts %v paths %v X-Canary %v", s.hosts, s.paths, s.route)
	}
	c := h.Console(id)
	if strings.Contains(c, "s3cr3t") {
		t.Fatalf("a header value reached the console:\n%s", c)
	}
	if !strings.Contains(c, "with header(s) Authorization, Host, X-Canary") || !strings.Contains(c, "loadtest url: ") {
		t.Fatalf("console does not name the url load and its headers:\n%s", c)
	}
}

// kubeEnvironment is an environment on the kubernetes platform; kubeconfig ""
// means in-cluster. The engine harness resolves it to the recorder runtime.
func kubeEnvironment(name, kubeconfig string) string {
	return `apiVersion: sluice.dev/v1alpha1
kind: Environment
metadata: {name: ` + name + `}
spec:
  platform: {type: kubernetes, kubernetes: {namespace: team, kubeconfig: "` + kubeconfig + `"}}
  router: {type: istio, istio: {hosts: [shop.example.com]}}
`
}

func kubeWorkflow(name, env, loadtest string) string {
	return `apiVersion: sluice.dev/v1alpha1
kind: Workflow
metadata: {name: ` + name + `}
spec:
  environment: ` + env + `
  service: {name: shop, port: 8080, artifact: "shop:v2"}
  phases:
    - name: canary
      steps:
        - deploy: {instances: 1}
        - traffic: 10%
        - loadtest: ` + loadtest + `
`
}

// TestStepTargetsTheSlotServiceInTheCluster: in a pod, target new is the slot's
// Service by its cluster DNS name. The connection is real; only the name is
// mapped to a local server, as the cluster's DNS would map it.
func TestStepTargetsTheSlotServiceInTheCluster(t *testing.T) {
	t.Setenv("KUBERNETES_SERVICE_HOST", "10.96.0.1")
	var s seen
	srv := httptest.NewServer(http.HandlerFunc(s.handler))
	defer srv.Close()
	var mu sync.Mutex
	var dialed []string
	tr := &http.Transport{DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		mu.Lock()
		dialed = append(dialed, addr)
		mu.Unlock()
		return (&net.Dialer{Timeout: time.Second}).DialContext(ctx, network, srv.Listener.Addr().String())
	}}
	defer tr.CloseIdleConnections()
	h := newHarness(t, nil, loadtest.WithTransport(tr))
	h.targets = noEndpoints
	h.start()
	h.Apply(kubeEnvironment("cluster", ""))
	h.Apply(kubeWorkflow("incluster", "cluster", "{path: /healthz, rate: 20, duration: 300ms}"))
	id := h.run("incluster")
	if ex := h.Finish(id); ex.Status != store.StatusSucceeded {
		t.Fatalf("%s (%s)\n%s", ex.Status, ex.Reason, h.Console(id))
	}
	final := h.reports(id)
	slot := final[len(final)-1].Slot
	want := "shop-" + slot + ".team.svc:8080"
	mu.Lock()
	defer mu.Unlock()
	if len(dialed) == 0 || dialed[0] != want || !s.all(s.hosts, want) || !s.all(s.paths, "/healthz") {
		t.Fatalf("dialed %v, hosts %v, paths %v; want %s/healthz", dialed, s.hosts, s.paths, want)
	}
}

// TestLoadTestOutOfReachIsRefusedBeforeTheRun: a kubernetes environment reached
// through a kubeconfig with a load test on a target slot is refused when the
// execution starts, with the step's position, before anything is deployed.
func TestLoadTestOutOfReachIsRefusedBeforeTheRun(t *testing.T) {
	h := newHarness(t, nil)
	h.targets = noEndpoints
	h.start()
	h.Apply(kubeEnvironment("laptop", "/home/me/.kube/config"))
	h.Apply(kubeWorkflow("outside", "laptop", "{rate: 20, duration: 300ms}"))
	ex, err := h.Engine.Start(context.Background(), engine.StartRequest{Workflow: "outside", StartedBy: "tester"})
	if err == nil {
		ex = h.Finish(ex.ID)
		t.Fatalf("started: %s (%s)", ex.Status, ex.Reason)
	}
	for _, want := range []string{"workflow/outside@v1:12:11: loadtest target new", "spec.phases[0].steps[2].loadtest.target", "set url:", "kubeconfig /home/me/.kube/config"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not contain %q", err, want)
		}
	}
	if effects := h.Recorder.Effects(); len(effects) != 0 {
		t.Fatalf("effects before the refusal: %v", effects)
	}
}

// TestClusterURL covers the in-cluster name and its refusals.
func TestClusterURL(t *testing.T) {
	env := func(kubeconfig string) *spec.Environment {
		e := &spec.Environment{}
		e.Metadata.Name = "prod"
		e.Spec.Platform = spec.PlatformSpec{Type: "kubernetes", Kubernetes: &spec.KubernetesPlatformSpec{Namespace: "shop-ns", Kubeconfig: kubeconfig}}
		return e
	}
	ref := platform.SlotRef{Service: "shop", Slot: "blue"}
	t.Setenv("KUBERNETES_SERVICE_HOST", "10.96.0.1")
	if u, err := loadtest.ClusterURL(env(""), ref, 8080, "/"); err != nil || u != "http://shop-blue.shop-ns.svc:8080/" {
		t.Fatalf("in cluster: %q, %v", u, err)
	}
	if _, err := loadtest.ClusterURL(env("/k"), ref, 8080, "/"); err == nil || !strings.Contains(err.Error(), "give the loadtest step a url") {
		t.Fatalf("with a kubeconfig: %v", err)
	}
	t.Setenv("KUBERNETES_SERVICE_HOST", "")
	if _, err := loadtest.ClusterURL(env(""), ref, 8080, "/"); err == nil || !strings.Contains(err.Error(), "outside it") {
		t.Fatalf("outside a pod: %v", err)
	}
	// From outside, the environment's slotURL says how to reach each slot.
	for _, tc := range []struct{ tmpl, path, want string }{
		{"http://127.0.0.1:8001/api/v1/namespaces/{{namespace}}/services/{{service}}-{{slot}}:{{port}}/proxy", "/",
			"http://127.0.0.1:8001/api/v1/namespaces/shop-ns/services/shop-blue:8080/proxy/"},
		{"https://{{ slot }}.shop.internal.example.com/", "/healthz", "https://blue.shop.internal.example.com/healthz"},
	} {
		e := env("/k")
		e.Spec.Platform.Kubernetes.SlotURL = tc.tmpl
		if u, err := loadtest.ClusterURL(e, ref, 8080, tc.path); err != nil || u != tc.want {
			t.Errorf("slotURL %s: %q, %v; want %q", tc.tmpl, u, err, tc.want)
		}
	}
}
