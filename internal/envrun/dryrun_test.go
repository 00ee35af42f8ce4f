package envrun

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/sluicehq/sluice/internal/platform/kubernetes/kubetest"
	"github.com/sluicehq/sluice/internal/spec"
	"github.com/sluicehq/sluice/internal/store"
	"github.com/sluicehq/sluice/internal/store/sqlite"
)

// TestDryRunKubernetes checks `apply --dry-run` on a kubernetes environment against
// scripts/kube.sh's control plane: the slot's Deployment is dry-run on the API server,
// whose rejection (or a missing workloadRef) fails the apply, and nothing is stored.
func TestDryRunKubernetes(t *testing.T) {
	cfg := kubetest.Config(t)
	cs := kubetest.Clientset(t, cfg)
	ns := kubetest.Namespace(t, cs, "sluice-dryrun-")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "sluice.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	env := fmt.Sprintf("apiVersion: sluice.dev/v1alpha1\nkind: Environment\nmetadata: {name: kube}\nspec:\n  platform: {type: kubernetes, kubernetes: {kubeconfig: %q, namespace: %s}}\n  router: {type: istio}\n",
		kubetest.Kubeconfig(t), ns)
	if _, _, err := st.PutDefinition(ctx, store.Definition{Kind: store.KindEnvironment, Name: "kube", Source: env, CreatedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	w := New(Builtin(), Options{DataDir: t.TempDir()})
	defer w.Close()
	check := w.DryRun(st)
	tests := []struct{ name, environment, workload, want string }{
		{"valid template", "kube", `template: {spec: {serviceAccountName: default, containers: [{name: app, image: x, resources: {limits: {cpu: "1"}}}]}}`, ""},
		{"rejected template", "kube", `template: {spec: {containers: [{name: app, image: x, resources: {requests: {cpu: "2"}, limits: {cpu: "1"}}}]}}`,
			"must be less than or equal to cpu limit"},
		{"missing workloadRef", "kube", `workloadRef: {name: checkout}`, `deployment "checkout" not found in namespace ` + ns},
		{"environment not stored", "elsewhere", `workloadRef: {name: checkout}`, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			src := "apiVersion: sluice.dev/v1alpha1\nkind: Workflow\nmetadata: {name: shop}\nspec:\n  environment: " + tc.environment +
				"\n  variables: [{name: artifact, type: string, required: true}]\n  service:\n    name: shop\n    port: 8080\n    artifact: ${artifact}\n    " +
				tc.workload + "\n  phases: [{name: p, steps: [{deploy: {instances: 1}}]}]\n"
			docs, err := spec.ParseDocuments("shop.yaml", []byte(src))
			if err != nil {
				t.Fatal(err)
			}
			err = check(ctx, docs[0])
			if tc.want == "" {
				if err != nil {
					t.Fatalf("dry run: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "server-side dry run") {
				t.Fatalf("dry run: %v, want an error saying %q", err, tc.want)
			}
		})
	}
	deps, err := cs.AppsV1().Deployments(ns).List(ctx, metav1.ListOptions{})
	if err != nil || len(deps.Items) != 0 {
		t.Fatalf("a dry run stored Deployments: %v, %v", deps, err)
	}
}
