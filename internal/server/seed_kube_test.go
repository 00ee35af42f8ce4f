package server

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/dynamic"
	k8s "k8s.io/client-go/kubernetes"

	"github.com/sluicehq/sluice/internal/api"
	"github.com/sluicehq/sluice/internal/client"
	"github.com/sluicehq/sluice/internal/platform/kubernetes/kubetest"
	"github.com/sluicehq/sluice/internal/store"
)

// The seed example's variables are left as they are: environment istio (its
// default), canary_percent 10 (its default); only the required artifact is set.
const (
	seedFile     = "../../examples/blue-green-canary.yaml"
	imageLive    = "registry.example.com/shop:1.4.1"
	imageRelease = "registry.example.com/shop:1.4.2"
	nrKey        = "NRAK-SEEDTEST0123456789"
	nrAccount    = 1234567
	sumoID       = "suSEEDTEST"
	sumoKey      = "sumo-seed-key-0123456789"
)

// seedEnvironment is environment istio of examples/environments/istio.yaml as a
// team running sluice outside the cluster writes it: a kubeconfig, and a slotURL
// saying how sluice reaches a slot's Service from there (here the test's slot
// server, which plays the slots' pods). %[1]s namespace, %[2]s kubeconfig, %[3]s
// slot server, %[4]s Prometheus, %[5]s NerdGraph, %[6]s Sumo Logic, %[7]s the
// directory of the credential files.
const seedEnvironment = `apiVersion: sluice.dev/v1alpha1
kind: Environment
metadata: {name: istio}
spec:
  platform:
    type: kubernetes
    kubernetes:
      namespace: %[1]s
      kubeconfig: %[2]s
      serviceType: ClusterIP
      slotURL: "%[3]s/slot/{{slot}}"
  router:
    type: istio
    istio: {namespace: %[1]s, gateway: shop-gateway, hosts: [shop.example.com]}
  providers:
    - {name: prometheus, type: prometheus, url: "%[4]s"}
    - name: newrelic
      type: newrelic
      url: "%[5]s/graphql"
      settings: {accountId: "1234567", region: US}
      credentials: {apiKey: {file: %[7]s/newrelic-api-key}}
    - name: sumologic
      type: sumologic
      url: "%[6]s"
      credentials: {accessId: {file: %[7]s/sumo-access-id}, accessKey: {file: %[7]s/sumo-access-key}}
`

// firstRelease makes a first version of shop live, so that the seed example has a
// live slot (green) to release next to: the same service, in one phase.
const firstRelease = `apiVersion: sluice.dev/v1alpha1
kind: Workflow
metadata: {name: shop-first-release}
spec:
  environment: istio
  variables:
    - {name: artifact, type: string, required: true}
  service: {name: shop, port: 9000, artifact: "${artifact}", instances: 2, workloadRef: {name: shop}, health: {path: /healthz}}
  phases:
    - name: first
      steps:
        - service: {hosts: [shop.example.com], gateway: shop-gateway}
        - deploy: {instances: 2}
        - traffic: 100%
        - promote: {}
`

// TestSeedExampleOnKubernetes runs examples/blue-green-canary.yaml, read from the
// file with its variables unchanged, through a sluice server on the test control
// plane with the istio router, releasing a Deployment of the team's that has
// resources, an env var from a Secret, a volume, an init and a sidecar container, a
// ServiceAccount, tolerations and affinity. The good canary's load test goes through
// the environment's slotURL, its verification is judged on a real Prometheus (and
// fakes of New Relic and Sumo Logic), the approval is given through the API and the
// release is promoted; a canary failing a fifth of its requests rolls back.
func TestSeedExampleOnKubernetes(t *testing.T) {
	seed, err := os.ReadFile(seedFile)
	if err != nil {
		t.Fatal(err)
	}
	cfg := kubetest.Config(t)
	kubeconfig := kubetest.Kubeconfig(t)
	cs := kubetest.Clientset(t, cfg)
	dyn := kubetest.Dynamic(t, cfg)
	// One after the other: the load test's maxP99 of 500ms is measured for real, and
	// two load tests at once in this process would only add to its tail on a loaded
	// machine.
	t.Run("bad canary rolls back", func(t *testing.T) {
		r := newSeedRun(t, cs, dyn, kubeconfig, seed, 0.2)
		r.badRelease(t)
	})
	t.Run("good canary is promoted", func(t *testing.T) {
		r := newSeedRun(t, cs, dyn, kubeconfig, seed, 0)
		r.goodRelease(t)
	})
}

// seedRun is one server, namespace, slot server and Prometheus with shop's first
// version live on green (each subtest its own, as environment istio and the series
// of service shop can exist once per server and Prometheus).
type seedRun struct {
	ns     string
	cs     k8s.Interface
	dyn    dynamic.Interface
	c      *client.Client // as alice, one of the seed's approvers
	slots  *slotServer
	prom   string
	team   *appsv1.Deployment // the team's Deployment as the API server stored it
	ctx    context.Context
	weight *vsWatch
	// nrql and searches list the queries New Relic and Sumo Logic received.
	nrql, searches func() []string
}

func newSeedRun(t *testing.T, cs k8s.Interface, dyn dynamic.Interface, kubeconfig string, seed []byte, blueErrorRate float64) *seedRun {
	ctx, cancel := context.WithTimeout(context.Background(), 12*time.Minute)
	t.Cleanup(cancel)
	r := &seedRun{ns: kubetest.Namespace(t, cs, "seed-"), cs: cs, dyn: dyn, ctx: ctx}
	r.team = createTeamDeployment(ctx, t, cs, r.ns)
	r.slots = newSlotServer(t, blueErrorRate)
	r.prom = startPrometheus(t, strings.TrimPrefix(r.slots.URL, "http://"))
	nr, nrql := fakeNerdGraph(t, nrKey, nrAccount)
	sumo, searches := fakeSumoLogic(t, sumoID, sumoKey)
	r.nrql, r.searches = nrql, searches
	creds := t.TempDir()
	for name, v := range map[string]string{"newrelic-api-key": nrKey, "sumo-access-id": sumoID, "sumo-access-key": sumoKey} {
		if err := os.WriteFile(filepath.Join(creds, name), []byte(v), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	r.c = startKubeServer(t)
	env := fmt.Sprintf(seedEnvironment, r.ns, kubeconfig, r.slots.URL, r.prom, nr.URL, sumo.URL, creds)
	for _, f := range []struct{ name, src string }{{"istio.yaml", env}, {"first-release.yaml", firstRelease}, {"blue-green-canary.yaml", string(seed)}} {
		if _, err := r.c.Apply(ctx, f.name, []byte(f.src), false); err != nil {
			t.Fatalf("apply %s: %v", f.name, err)
		}
	}
	first := r.runUntil(t, "shop-first-release", imageLive, store.StatusSucceeded)
	if first.Status != store.StatusSucceeded {
		t.Fatalf("first release %s: %s\n%s", first.Status, first.Reason, r.console(first.ID))
	}
	r.weight = watchVirtualService(ctx, t, dyn, r.ns)
	go r.users(ctx)
	return r
}

// goodRelease: 0 -> 10 -> 100 on the VirtualService, the load test and the
// verification pass, alice approves through the API, blue is promoted.
func (r *seedRun) goodRelease(t *testing.T) {
	ex := r.runUntil(t, "blue-green-canary", imageRelease, store.StatusWaiting)
	console := r.console(ex.ID)
	if ex.Status != store.StatusWaiting {
		t.Fatalf("release %s (%s), want it waiting for the approval\n%s", ex.Status, ex.Reason, console)
	}
	loaded, _ := r.slots.served("blue")
	if loaded < 1000 || !strings.Contains(console, "load-test") {
		t.Fatalf("the load test sent %d requests to blue through the slotURL, want at least 1000 (2 min at 50/s)\n%s", loaded, console)
	}
	for _, want := range []string{"load-test succeeded", "verify-canary succeeded"} {
		if !strings.Contains(console, want) {
			t.Fatalf("the console does not say %q\n%s", want, console)
		}
	}
	// Each check was judged on its provider's data for blue: six measurements of the
	// error rate (Prometheus), the apdex score (New Relic) and exceptions (Sumo Logic).
	if n := strings.Count(console, "error rate 0% on blue — limit 1% — passed"); n < 6 {
		t.Errorf("%d measurements of blue's error rate at 0 on the console, want 6\n%s", n, console)
	}
	if n := countContaining(r.nrql(), "apdex(duration) FROM Transaction WHERE appName = 'shop' AND slot = 'blue'"); n < 6 {
		t.Errorf("New Relic received %d apdex queries for blue, want 6: %q", n, r.nrql())
	}
	if n := countContaining(r.searches(), "_sourceCategory=shop/blue AND (exception OR panic)"); n < 6 {
		t.Errorf("Sumo Logic received %d searches of blue's logs, want 6: %q", n, r.searches())
	}
	if err := r.c.Approve(r.ctx, ex.ID, "canary at 10% is healthy"); err != nil {
		t.Fatalf("approve as alice: %v", err)
	}
	r.waitLive(t, ex.ID, "blue")
	if got := r.weight.blueSequence(); !slices.Equal(got, []int{0, 10, 100}) {
		t.Errorf("blue's weight on the VirtualService went %v, want [0 10 100]", got)
	}
	for _, slot := range []string{"green", "blue"} {
		checkSlotKeepsTeamSpec(r.ctx, t, r.cs, r.ns, slot, r.team)
	}
	checkTeamUnchanged(r.ctx, t, r.cs, r.ns, r.team)
	console = r.console(ex.ID)
	for _, want := range []string{"approved by alice", "scaling green down at"} {
		if !strings.Contains(console, want) {
			t.Errorf("the console does not say %q:\n%s", want, console)
		}
	}
	t.Logf("promoted; console:\n%s", console)
}

// badRelease: blue fails a fifth of its requests; the canary is rolled back with
// the reason on the console, the VirtualService is back to 100/0 for green.
func (r *seedRun) badRelease(t *testing.T) {
	ex := r.runUntil(t, "blue-green-canary", imageRelease, store.StatusRolledBack)
	console := r.console(ex.ID)
	if ex.Status != store.StatusRolledBack {
		t.Fatalf("bad canary %s (%s), want rolled back\n%s", ex.Status, ex.Reason, console)
	}
	if !strings.Contains(ex.Reason, "load-test") || !strings.Contains(ex.Reason, "error rate") {
		t.Errorf("reason %q does not say the load test saw errors", ex.Reason)
	}
	if !strings.Contains(console, ex.Reason) {
		t.Errorf("the console does not say why it rolled back (%q):\n%s", ex.Reason, console)
	}
	green, blue, err := readWeights(r.ctx, r.dyn, r.ns)
	if err != nil || green != 100 || blue != 0 {
		t.Errorf("VirtualService after the rollback: green %d blue %d (%v), want 100/0", green, blue, err)
	}
	if got := r.weight.blueSequence(); !slices.Equal(got, []int{0, 10, 0}) {
		t.Errorf("blue's weight on the VirtualService went %v, want [0 10 0]", got)
	}
	_, failed := r.slots.served("blue")
	if errs := r.promValue(t, `sum(http_requests_total{service="shop",slot="blue",code=~"5.."})`); failed == 0 || errs == 0 {
		t.Errorf("blue answered %d errors, Prometheus counted %v; want both above 0", failed, errs)
	}
	d, err := r.cs.AppsV1().Deployments(r.ns).Get(r.ctx, "shop-blue", metav1.GetOptions{})
	if err != nil || *d.Spec.Replicas != 0 {
		t.Errorf("shop-blue after the rollback: %v; want 0 replicas", err)
	}
	checkTeamUnchanged(r.ctx, t, r.cs, r.ns, r.team)
	t.Logf("rolled back: %s", ex.Reason)
}

// runUntil starts a workflow as alice and waits until its execution reaches status
// or ends.
func (r *seedRun) runUntil(t *testing.T, workflow, artifact string, status store.Status) api.Execution {
	t.Helper()
	ex, err := r.c.Run(r.ctx, workflow, 0, map[string]string{"artifact": artifact})
	for err == nil && ex.Status != status && !ex.Status.Terminal() {
		select {
		case <-r.ctx.Done():
			err = r.ctx.Err()
		case <-time.After(200 * time.Millisecond):
			ex, err = r.c.GetExecution(r.ctx, ex.ID)
		}
	}
	if err != nil {
		t.Fatalf("execution of %s: %v\n%s", workflow, err, r.console(ex.ID))
	}
	return ex
}

// waitLive waits until the service's live slot is slot.
func (r *seedRun) waitLive(t *testing.T, id, slot string) {
	t.Helper()
	for r.ctx.Err() == nil {
		svcs, err := r.c.Services(r.ctx, "istio")
		if err == nil && len(svcs) == 1 && svcs[0].LiveSlot == slot && svcs[0].ExecutionID == id {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("%s never became live\n%s", slot, r.console(id))
}

func (r *seedRun) console(id string) string {
	if id == "" {
		return ""
	}
	var b strings.Builder
	for after := int64(0); ; {
		page, err := r.c.Events(context.Background(), id, after, 500)
		if err != nil {
			return b.String() + err.Error()
		}
		for _, e := range page.Items {
			fmt.Fprintf(&b, "%-8s %-20s %s\n", e.Type, e.Step, e.Message)
		}
		if len(page.Items) == 0 {
			return b.String()
		}
		after = page.Next
	}
}

// users simulates the mesh's users: 20 requests a second, each sent to blue with
// the probability the VirtualService gives it at that moment.
func (r *seedRun) users(ctx context.Context) {
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		slot := "green"
		if rand.IntN(100) < r.weight.blue() {
			slot = "blue"
		}
		if resp, err := http.Get(r.slots.URL + "/slot/" + slot + "/"); err == nil {
			io.Copy(io.Discard, resp.Body) // read to the end, so the connection is reused
			resp.Body.Close()
		}
	}
}

func (r *seedRun) promValue(t *testing.T, query string) float64 {
	t.Helper()
	var v float64
	for r.ctx.Err() == nil {
		resp, err := http.Get(r.prom + "/api/v1/query?query=" + url.QueryEscape(query))
		if err == nil {
			var out struct {
				Data struct {
					Result []struct {
						Value [2]any `json:"value"`
					} `json:"result"`
				} `json:"data"`
			}
			err = json.NewDecoder(resp.Body).Decode(&out)
			resp.Body.Close()
			if err == nil && len(out.Data.Result) == 1 {
				fmt.Sscan(fmt.Sprint(out.Data.Result[0].Value[1]), &v)
				return v
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("prometheus never answered %s", query)
	return 0
}

// startKubeServer runs a sluice server in process, without authentication (a
// loopback listener), and returns a client acting as alice.
func startKubeServer(t *testing.T) *client.Client {
	t.Helper()
	dir := t.TempDir()
	logf, err := os.Create(filepath.Join(dir, "server.log"))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done, ready := make(chan error, 1), make(chan string, 1)
	go func() {
		done <- Run(ctx, Config{Addr: "127.0.0.1:0", DataDir: dir, Logger: slog.New(slog.NewTextHandler(logf, nil)),
			Ready: func(addr string) { ready <- addr }})
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("server: %v", err)
		}
		logf.Close()
	})
	select {
	case addr := <-ready:
		c, err := client.New("http://"+addr, client.WithUser("alice"))
		if err != nil {
			t.Fatal(err)
		}
		return c
	case err := <-done:
		done <- err
		t.Fatalf("server: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("server not ready after 30 s")
	}
	return nil
}

// createTeamDeployment writes the team's objects, as they would be in git: a
// ServiceAccount, a Secret and a ConfigMap, and Deployment shop whose pod template
// uses all of them, with an init container, a sidecar, resources, tolerations and
// affinity. It returns the Deployment as the API server stored it.
func createTeamDeployment(ctx context.Context, t *testing.T, cs k8s.Interface, ns string) *appsv1.Deployment {
	t.Helper()
	objs := []func() error{
		func() error {
			_, err := cs.CoreV1().ServiceAccounts(ns).Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "shop"}}, metav1.CreateOptions{})
			return err
		},
		func() error {
			_, err := cs.CoreV1().Secrets(ns).Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "shop-db"},
				StringData: map[string]string{"url": "postgres://shop:secret@db:5432/shop"}}, metav1.CreateOptions{})
			return err
		},
		func() error {
			_, err := cs.CoreV1().ConfigMaps(ns).Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "shop-config"},
				Data: map[string]string{"shop.yaml": "currency: EUR\n"}}, metav1.CreateOptions{})
			return err
		},
	}
	for _, create := range objs {
		if err := create(); err != nil {
			t.Fatal(err)
		}
	}
	d, err := cs.AppsV1().Deployments(ns).Create(ctx, teamDeployment(), metav1.CreateOptions{FieldManager: "team-gitops"})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func teamDeployment() *appsv1.Deployment {
	labels := map[string]string{"app": "shop", "team": "checkout"}
	res := func(cpu, mem string) corev1.ResourceList {
		return corev1.ResourceList{corev1.ResourceCPU: resource.MustParse(cpu), corev1.ResourceMemory: resource.MustParse(mem)}
	}
	replicas := int32(1)
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "shop", Labels: labels},
		Spec: appsv1.DeploymentSpec{
			Replicas: &replicas,
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "shop"}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels, Annotations: map[string]string{"sidecar.istio.io/inject": "true"}},
				Spec: corev1.PodSpec{
					ServiceAccountName: "shop",
					InitContainers: []corev1.Container{{Name: "migrate", Image: "registry.example.com/shop-migrate:1.4.1",
						Env: []corev1.EnvVar{dbURL()}}},
					Containers: []corev1.Container{
						{
							Name: "app", Image: imageLive,
							Ports:        []corev1.ContainerPort{{Name: "http", ContainerPort: 9000}},
							Env:          []corev1.EnvVar{dbURL(), {Name: "SHOP_CONFIG", Value: "/etc/shop/shop.yaml"}},
							Resources:    corev1.ResourceRequirements{Requests: res("250m", "256Mi"), Limits: res("1", "512Mi")},
							VolumeMounts: []corev1.VolumeMount{{Name: "config", MountPath: "/etc/shop", ReadOnly: true}},
						},
						{
							Name: "log-shipper", Image: "registry.example.com/log-shipper:3.2",
							Resources:    corev1.ResourceRequirements{Requests: res("50m", "64Mi"), Limits: res("100m", "128Mi")},
							VolumeMounts: []corev1.VolumeMount{{Name: "config", MountPath: "/etc/shop", ReadOnly: true}},
						},
					},
					Volumes: []corev1.Volume{{Name: "config", VolumeSource: corev1.VolumeSource{
						ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: "shop-config"}}}}},
					Tolerations: []corev1.Toleration{{Key: "dedicated", Operator: corev1.TolerationOpEqual, Value: "shop", Effect: corev1.TaintEffectNoSchedule}},
					Affinity: &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{PreferredDuringSchedulingIgnoredDuringExecution: []corev1.PreferredSchedulingTerm{{
						Weight: 50, Preference: corev1.NodeSelectorTerm{MatchExpressions: []corev1.NodeSelectorRequirement{{
							Key: "pool", Operator: corev1.NodeSelectorOpIn, Values: []string{"shop"}}}}}}}},
				},
			},
		},
	}
}

func dbURL() corev1.EnvVar {
	return corev1.EnvVar{Name: "DATABASE_URL", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{
		LocalObjectReference: corev1.LocalObjectReference{Name: "shop-db"}, Key: "url"}}}
}

// checkSlotKeepsTeamSpec compares a slot's Deployment, as the API server returns
// it, with the team's, field by field: everything of the pod spec is the team's
// but the artifact's image and the port, env and probe sluice adds to the app
// container; the team's labels and annotations are kept beside sluice's.
func checkSlotKeepsTeamSpec(ctx context.Context, t *testing.T, cs k8s.Interface, ns, slot string, team *appsv1.Deployment) {
	t.Helper()
	d, err := cs.AppsV1().Deployments(ns).Get(ctx, "shop-"+slot, metav1.GetOptions{})
	if err != nil {
		t.Fatalf("slot %s: %v", slot, err)
	}
	got, want := d.Spec.Template.Spec, team.Spec.Template.Spec
	same := func(field string, a, b any) {
		if !equality.Semantic.DeepEqual(a, b) {
			t.Errorf("shop-%s %s = %+v, want the team's %+v", slot, field, a, b)
		}
	}
	same("serviceAccountName", got.ServiceAccountName, want.ServiceAccountName)
	same("tolerations", got.Tolerations, want.Tolerations)
	same("affinity", got.Affinity, want.Affinity)
	same("volumes", got.Volumes, want.Volumes)
	same("initContainers", got.InitContainers, want.InitContainers)
	if len(got.Containers) != 2 {
		t.Fatalf("shop-%s has %d containers, want the team's app and log-shipper", slot, len(got.Containers))
	}
	same("the sidecar log-shipper", got.Containers[1], want.Containers[1])
	app, teamApp := got.Containers[0], want.Containers[0]
	same("app resources", app.Resources, teamApp.Resources)
	same("app volumeMounts", app.VolumeMounts, teamApp.VolumeMounts)
	same("app ports", app.Ports, teamApp.Ports)
	for _, e := range teamApp.Env {
		i := slices.IndexFunc(app.Env, func(x corev1.EnvVar) bool { return x.Name == e.Name })
		if i < 0 {
			t.Errorf("shop-%s app has no env %s", slot, e.Name)
			continue
		}
		same("app env "+e.Name, app.Env[i], e)
	}
	wantImage := map[string]string{"green": imageLive, "blue": imageRelease}[slot]
	if app.Image != wantImage {
		t.Errorf("shop-%s app image %s, want the artifact %s", slot, app.Image, wantImage)
	}
	labels := d.Spec.Template.Labels
	if labels["app"] != "shop" || labels["team"] != "checkout" || labels["sluice.dev/slot"] != slot {
		t.Errorf("shop-%s pod labels %v, want the team's (app, team) and sluice's slot", slot, labels)
	}
	if d.Spec.Template.Annotations["sidecar.istio.io/inject"] != "true" {
		t.Errorf("shop-%s pod annotations %v, want the team's sidecar.istio.io/inject", slot, d.Spec.Template.Annotations)
	}
	if d.Annotations["sluice.dev/workload"] != "deployment/shop" {
		t.Errorf("shop-%s does not record its template's origin: %v", slot, d.Annotations)
	}
}

// checkTeamUnchanged asserts the team's Deployment has the spec and generation it
// was created with.
func checkTeamUnchanged(ctx context.Context, t *testing.T, cs k8s.Interface, ns string, before *appsv1.Deployment) {
	t.Helper()
	after, err := cs.AppsV1().Deployments(ns).Get(ctx, "shop", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !equality.Semantic.DeepEqual(after.Spec, before.Spec) || after.Generation != before.Generation {
		t.Errorf("the team's Deployment changed: generation %d -> %d\nbefore %+v\nafter  %+v", before.Generation, after.Generation, before.Spec, after.Spec)
	}
}

var virtualServices = schema.GroupVersionResource{Group: "networking.istio.io", Version: "v1", Resource: "virtualservices"}

// readWeights reads the weights of shop-green and shop-blue on VirtualService shop.
func readWeights(ctx context.Context, dyn dynamic.Interface, ns string) (green, blue int, err error) {
	u, err := dyn.Resource(virtualServices).Namespace(ns).Get(ctx, "shop", metav1.GetOptions{})
	if err != nil {
		return 0, 0, err
	}
	return weightsOf(u)
}

// weightsOf reads the weights of shop-green and shop-blue in a VirtualService.
func weightsOf(u *unstructured.Unstructured) (green, blue int, err error) {
	routes, _, _ := unstructured.NestedSlice(u.Object, "spec", "http")
	found := 0
	for _, r := range routes {
		dests, _, _ := unstructured.NestedSlice(r.(map[string]any), "route")
		for _, d := range dests {
			host, _, _ := unstructured.NestedString(d.(map[string]any), "destination", "host")
			w, _, _ := unstructured.NestedInt64(d.(map[string]any), "weight")
			switch {
			case strings.HasPrefix(host, "shop-green."):
				green, found = int(w), found+1
			case strings.HasPrefix(host, "shop-blue."):
				blue, found = int(w), found+1
			}
		}
	}
	if found != 2 {
		return 0, 0, fmt.Errorf("VirtualService shop has no route to both slots: %v", routes)
	}
	return green, blue, nil
}

// vsWatch watches VirtualService shop through the API server and records each
// change of blue's weight, as every writer's update reaches it.
type vsWatch struct {
	mu  sync.Mutex
	seq []int
}

func watchVirtualService(ctx context.Context, t *testing.T, dyn dynamic.Interface, ns string) *vsWatch {
	res := dyn.Resource(virtualServices).Namespace(ns)
	u, err := res.Get(ctx, "shop", metav1.GetOptions{})
	if err != nil {
		t.Fatalf("before the release: %v", err)
	}
	_, blue, err := weightsOf(u)
	if err != nil {
		t.Fatalf("before the release: %v", err)
	}
	w := &vsWatch{seq: []int{blue}}
	go w.follow(ctx, res, u.GetResourceVersion())
	return w
}

// follow records every version of the VirtualService after rv, watching again
// from the last version seen when the API server ends a watch.
func (w *vsWatch) follow(ctx context.Context, res dynamic.ResourceInterface, rv string) {
	for ctx.Err() == nil {
		wi, err := res.Watch(ctx, metav1.ListOptions{FieldSelector: "metadata.name=shop", ResourceVersion: rv})
		if err != nil {
			time.Sleep(100 * time.Millisecond)
			continue
		}
		for ev := range wi.ResultChan() {
			u, ok := ev.Object.(*unstructured.Unstructured)
			if ev.Type == watch.Error || !ok { // e.g. 410 Gone: start again from the current version
				rv = ""
				continue
			}
			rv = u.GetResourceVersion()
			if green, blue, err := weightsOf(u); err == nil && green+blue == 100 {
				w.mu.Lock()
				if w.seq[len(w.seq)-1] != blue {
					w.seq = append(w.seq, blue)
				}
				w.mu.Unlock()
			}
		}
		wi.Stop()
	}
}

func (w *vsWatch) blue() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.seq[len(w.seq)-1]
}

func (w *vsWatch) blueSequence() []int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]int(nil), w.seq...)
}

func countContaining(list []string, sub string) int {
	n := 0
	for _, s := range list {
		if strings.Contains(s, sub) {
			n++
		}
	}
	return n
}
