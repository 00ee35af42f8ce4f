package server

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/sluicehq/sluice/internal/client"
	"github.com/sluicehq/sluice/internal/platform/kubernetes/kubetest"
	"github.com/sluicehq/sluice/internal/release"
	"github.com/sluicehq/sluice/internal/release/argocdtest"
)

// releaseFiles is a canary whose check step calls ${check}: a 2xx answer promotes
// the release, a 500 rolls it back. Its environment takes Releases from namespace
// NAMESPACE; workflow "elsewhere" runs in an environment that takes none.
var releaseFiles = recorderEnvironment("prod", "effects.jsonl", "  releaseNamespaces: [NAMESPACE]\n") + "---\n" +
	recorderEnvironment("other-team", "other.jsonl", "") + `---
apiVersion: sluice.dev/v1alpha1
kind: Workflow
metadata: {name: elsewhere}
spec:
  environment: other-team
  service: {name: shop, port: 8080, artifact: "shop:v1"}
  phases:
    - name: all
      steps:
        - deploy: {instances: 1}
---
apiVersion: sluice.dev/v1alpha1
kind: Workflow
metadata: {name: shop}
spec:
  environment: prod
  variables:
    - {name: version, type: string, required: true}
    - {name: check, type: string, default: "http://127.0.0.1:9/ok"}
  service: {name: shop, port: 8080, artifact: "shop:${version}"}
  phases:
    - name: canary
      steps:
        - deploy: {instances: 1}
        - traffic: 10%
        - webhook: {url: "${check}"}
    - name: release
      steps:
        - traffic: 100%
        - promote: {}
`

// TestReleaseResources runs a real server with --kube-releases against the test
// control plane: applying a Release starts its run, and its status follows the run
// to Succeeded, or to RolledBack for a canary whose check fails, with the weights,
// conditions and the execution that ran.
func TestReleaseResources(t *testing.T) {
	cfg := kubetest.Config(t)
	kubeconfig := kubetest.Kubeconfig(t)
	ns := kubetest.Namespace(t, kubetest.Clientset(t, cfg), "rel")
	dc := kubetest.Dynamic(t, cfg)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	manifest, err := os.ReadFile("../../deploy/crds/releases.sluice.dev.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if err := release.InstallCRD(ctx, dc, manifest); err != nil {
		t.Fatal(err)
	}
	check := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/bad") {
			w.WriteHeader(http.StatusInternalServerError)
		}
	}))
	defer check.Close()

	c := startChild(t, t.TempDir(), "", "SLUICE_TEST_RELEASES="+ns, "SLUICE_TEST_RELEASES_KUBECONFIG="+kubeconfig)
	if _, err := c.client.Apply(ctx, "shop.yaml", []byte(strings.ReplaceAll(releaseFiles, "NAMESPACE", ns)), false); err != nil {
		t.Fatal(err)
	}
	releases := dc.Resource(release.GVR).Namespace(ns)
	apply := func(name, version, check string) {
		t.Helper()
		obj := &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": "sluice.dev/v1alpha1", "kind": "Release",
			"metadata": map[string]any{"name": name},
			"spec":     map[string]any{"workflow": "shop", "variables": map[string]any{"version": version, "check": check}},
		}}
		if _, err := releases.Create(ctx, obj, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	waitPhase := func(name, phase string) (release.Status, map[string]any) {
		t.Helper()
		for {
			obj, err := releases.Get(ctx, name, metav1.GetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			var st release.Status
			if raw, ok := obj.Object["status"].(map[string]any); ok {
				st.Phase, _ = raw["phase"].(string)
				st.ExecutionID, _ = raw["executionID"].(string)
				st.Message, _ = raw["message"].(string)
				if w, ok := raw["weights"].(map[string]any); ok {
					st.Weights = &release.Weights{Blue: int(w["blue"].(int64)), Green: int(w["green"].(int64))}
				}
				conds, _ := raw["conditions"].([]any)
				for _, cd := range conds {
					m := cd.(map[string]any)
					st.Conditions = append(st.Conditions, release.Condition{Type: m["type"].(string), Status: m["status"].(string)})
				}
			}
			if st.Phase == phase {
				return st, obj.Object
			}
			if ctx.Err() != nil {
				t.Fatalf("release %s: phase %q (%s), want %s\n%s", name, st.Phase, st.Message, phase, c.stderr)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}

	apply("v2", "v2", check.URL+"/ok")
	good, goodObj := waitPhase("v2", release.PhaseSucceeded)
	if health, msg := argocdtest.Health(t, "../../deploy/argocd/release-health.lua", jsonRoundTrip(t, goodObj)); health != "Healthy" {
		t.Fatalf("Argo CD health of the promoted Release: %s (%s)", health, msg)
	}
	ex, err := c.client.GetExecution(ctx, good.ExecutionID)
	if err != nil || ex.StartedBy != "release:"+ns+"/v2" || ex.Variables["version"] != "v2" {
		t.Fatalf("execution %+v (%v): want started by release:%s/v2 with version v2", ex, err, ns)
	}
	if w := good.Weights; w == nil || w.Blue+w.Green != 100 || (w.Blue != 100 && w.Green != 100) {
		t.Fatalf("weights of a promoted release: %+v, want 100 on the new slot", w)
	}
	if !hasCondition(good, "Ready", "True") || !hasCondition(good, "Progressing", "False") {
		t.Fatalf("conditions of a promoted release: %+v", good.Conditions)
	}

	apply("v3", "v3", check.URL+"/bad")
	bad, badObj := waitPhase("v3", release.PhaseRolledBack)
	if health, msg := argocdtest.Health(t, "../../deploy/argocd/release-health.lua", jsonRoundTrip(t, badObj)); health != "Degraded" {
		t.Fatalf("Argo CD health of the rolled back Release: %s (%s)", health, msg)
	}
	if !hasCondition(bad, "Healthy", "False") || !strings.Contains(bad.Message, "rolled back") {
		t.Fatalf("rolled back release: %+v", bad)
	}
	if w := bad.Weights; w == nil || (w.Blue != 100 && w.Green != 100) {
		t.Fatalf("weights after the rollback: %+v, want all traffic on one slot", w)
	}
	// a Release naming no workflow sluice has fails with the reason, starting nothing
	obj := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "sluice.dev/v1alpha1", "kind": "Release",
		"metadata": map[string]any{"name": "typo"}, "spec": map[string]any{"workflow": "shpo"}}}
	if _, err := releases.Create(ctx, obj, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if typo, _ := waitPhase("typo", release.PhaseFailed); !strings.Contains(typo.Message, "the run did not start") || !strings.Contains(typo.Message, "shpo") {
		t.Fatalf("Release of an unknown workflow: %q", typo.Message)
	}
	// a Release may not start runs in an environment that does not take its namespace
	obj = &unstructured.Unstructured{Object: map[string]any{"apiVersion": "sluice.dev/v1alpha1", "kind": "Release",
		"metadata": map[string]any{"name": "trespass"}, "spec": map[string]any{"workflow": "elsewhere"}}}
	if _, err := releases.Create(ctx, obj, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if trespass, _ := waitPhase("trespass", release.PhaseFailed); !strings.Contains(trespass.Message, "may not start runs in environment other-team") {
		t.Fatalf("Release into an environment that does not take its namespace: %q", trespass.Message)
	}
	list, err := c.client.ListExecutions(ctx, client.ExecutionFilter{})
	if err != nil || len(list) != 2 {
		t.Fatalf("%d executions (%v), want one per Release", len(list), err)
	}
}

// jsonRoundTrip gives an object the JSON types Argo CD's Lua conversion sees.
func jsonRoundTrip(t *testing.T, obj map[string]any) map[string]any {
	b, err := json.Marshal(obj)
	if err != nil {
		t.Fatal(err)
	}
	return argocdtest.FromJSON(t, b)
}

func hasCondition(st release.Status, typ, status string) bool {
	for _, c := range st.Conditions {
		if c.Type == typ && c.Status == status {
			return true
		}
	}
	return false
}
