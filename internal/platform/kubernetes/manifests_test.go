package kubernetes

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const (
	manifestDeploymentYAML = `apiVersion: apps/v1
kind: Deployment
metadata: {name: shop}
spec:
  selector: {matchLabels: {app: shop}}
  template:
    metadata: {labels: {app: shop}}
    spec:
      serviceAccountName: shop
      containers:
        - {name: app, image: registry.example.com/shop:v1}
        - {name: proxy, image: registry.example.com/envoy:v1.30}
`
	manifestServiceYAML = "apiVersion: v1\nkind: Service\nmetadata: {name: shop}\nspec: {ports: [{port: 80}]}\n"
)

// TestManifestDeployment finds the one Deployment of a file, a directory and a
// kustomization, and names the problem when there is none, two, or a field a
// Deployment does not have.
func TestManifestDeployment(t *testing.T) {
	write := func(t *testing.T, files map[string]string) string {
		dir := t.TempDir()
		for name, body := range files {
			if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		return dir
	}
	t.Run("file with several documents", func(t *testing.T) {
		dir := write(t, map[string]string{"all.yaml": manifestServiceYAML + "---\n" + manifestDeploymentYAML})
		dep, err := manifestDeployment(filepath.Join(dir, "all.yaml"))
		if err != nil || dep.Name != "shop" || dep.Spec.Template.Spec.ServiceAccountName != "shop" {
			t.Fatalf("manifestDeployment = %v, %v", dep, err)
		}
	})
	t.Run("kustomization", func(t *testing.T) {
		dir := write(t, map[string]string{"deployment.yaml": manifestDeploymentYAML, "service.yaml": manifestServiceYAML,
			"kustomization.yaml": "resources: [deployment.yaml, service.yaml]\nnamePrefix: prod-\nlabels: [{pairs: {env: prod}, includeTemplates: true}]\nimages:\n  - {name: registry.example.com/envoy, newTag: v1.31}\n"})
		dep, err := manifestDeployment(dir)
		if err != nil {
			t.Fatal(err)
		}
		cs := dep.Spec.Template.Spec.Containers
		if dep.Name != "prod-shop" || dep.Spec.Template.Labels["env"] != "prod" || cs[1].Image != "registry.example.com/envoy:v1.31" {
			t.Fatalf("kustomize build not applied: name %s, labels %v, sidecar image %s", dep.Name, dep.Spec.Template.Labels, cs[1].Image)
		}
	})
	bad := []struct {
		name  string
		files map[string]string
		want  string
	}{
		{"no deployment", map[string]string{"svc.yaml": manifestServiceYAML}, "no apps/v1 Deployment among 1 manifests"},
		{"two deployments", map[string]string{"a.yaml": manifestDeploymentYAML, "b.yml": manifestDeploymentYAML}, "2 Deployments (shop in "},
		{"unknown field", map[string]string{"d.yaml": strings.Replace(manifestDeploymentYAML, "serviceAccountName", "serviceAcountName", 1)}, `d.yaml (document 1): error unmarshaling JSON: while decoding JSON: json: unknown field "serviceAcountName"`},
		{"broken yaml", map[string]string{"d.yaml": "kind: [\n"}, "d.yaml: document 1"},
		{"broken kustomization", map[string]string{"kustomization.yaml": "resources: [missing.yaml]\n"}, "kustomize build"},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			_, err := manifestDeployment(write(t, tc.files))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("manifestDeployment: %v, want an error containing %q", err, tc.want)
			}
		})
	}
}
