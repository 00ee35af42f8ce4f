package deploy

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"helm.sh/helm/v3/pkg/action"
	"helm.sh/helm/v3/pkg/chart/loader"
	appsv1 "k8s.io/api/apps/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
)

// Paths of what these tests check, from this module's directory.
const (
	chartDir     = "../../deploy/helm/sluice"
	manifestsDir = "../../deploy"
	repoRoot     = "../.."
)

// render installs the chart client-only (a dry run, as `helm template` does) with
// vals in namespace ns and returns its objects.
func render(ns string, vals map[string]any) ([]*unstructured.Unstructured, error) {
	chrt, err := loader.Load(chartDir)
	if err != nil {
		return nil, err
	}
	inst := action.NewInstall(&action.Configuration{Log: func(string, ...any) {}})
	inst.DryRun, inst.ClientOnly, inst.Replace = true, true, true
	inst.ReleaseName, inst.Namespace = "sluice", ns
	rel, err := inst.Run(chrt, vals)
	if err != nil {
		return nil, err
	}
	return decode(strings.NewReader(rel.Manifest))
}

// decode reads every YAML document of r as an object, skipping empty ones.
func decode(r io.Reader) ([]*unstructured.Unstructured, error) {
	dec := utilyaml.NewYAMLOrJSONDecoder(r, 4096)
	var out []*unstructured.Unstructured
	for {
		var m map[string]any
		if err := dec.Decode(&m); errors.Is(err, io.EOF) {
			return out, nil
		} else if err != nil {
			return nil, err
		}
		if len(m) > 0 {
			out = append(out, &unstructured.Unstructured{Object: m})
		}
	}
}

// manifests reads the plain manifests of deploy/.
func manifests(t *testing.T, files ...string) []*unstructured.Unstructured {
	t.Helper()
	var all []*unstructured.Unstructured
	for _, f := range files {
		b, err := os.ReadFile(filepath.Join(manifestsDir, f))
		if err != nil {
			t.Fatal(err)
		}
		objs, err := decode(bytes.NewReader(b))
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		all = append(all, objs...)
	}
	return all
}

// find returns the one object of a kind (and name, when given).
func find(t *testing.T, objs []*unstructured.Unstructured, kind, name string) *unstructured.Unstructured {
	t.Helper()
	for _, o := range objs {
		if o.GetKind() == kind && (name == "" || o.GetName() == name) {
			return o
		}
	}
	t.Fatalf("no %s %s among %s", kind, name, kinds(objs))
	return nil
}

func kinds(objs []*unstructured.Unstructured) []string {
	var out []string
	for _, o := range objs {
		out = append(out, o.GetKind()+"/"+o.GetName())
	}
	return out
}

// deployment converts the object to its typed form.
func deployment(t *testing.T, o *unstructured.Unstructured) *appsv1.Deployment {
	t.Helper()
	var d appsv1.Deployment
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(o.Object, &d); err != nil {
		t.Fatal(err)
	}
	return &d
}

// postgresValues is a chart configuration with everything on.
func postgresValues() map[string]any {
	return map[string]any{
		"database":       map[string]any{"existingSecret": "sluice-database"},
		"bootstrap":      map[string]any{"existingSecret": "sluice-bootstrap"},
		"tls":            map[string]any{"enabled": true, "secretName": "sluice-tls"},
		"serviceMonitor": map[string]any{"enabled": true},
		"namespaces":     []any{"shop"},
	}
}

// TestChartRenders checks what the chart makes of its main configurations and that
// it refuses the ones that cannot work.
func TestChartRenders(t *testing.T) {
	t.Run("postgres, TLS, two replicas, ServiceMonitor", func(t *testing.T) {
		objs, err := render("sluice-system", postgresValues())
		if err != nil {
			t.Fatal(err)
		}
		d := deployment(t, find(t, objs, "Deployment", "sluice"))
		if *d.Spec.Replicas != 2 || d.Spec.Strategy.Type != appsv1.RollingUpdateDeploymentStrategyType {
			t.Errorf("replicas %d strategy %s, want 2 RollingUpdate", *d.Spec.Replicas, d.Spec.Strategy.Type)
		}
		c := d.Spec.Template.Spec.Containers[0]
		want := []string{"server", "--addr", "0.0.0.0:7070", "--auth", "--data-dir", "/data",
			"--bootstrap-token-from", "/etc/sluice/bootstrap/token",
			"--allowed-host", "sluice", "--allowed-host", "sluice.sluice-system",
			"--allowed-host", "sluice.sluice-system.svc", "--allowed-host", "sluice.sluice-system.svc.cluster.local",
			"--tls-cert", "/etc/sluice/tls/tls.crt", "--tls-key", "/etc/sluice/tls/tls.key"}
		if !slices.Equal(c.Args, want) {
			t.Errorf("args %q, want %q", c.Args, want)
		}
		if len(c.Env) != 1 || c.Env[0].Name != "SLUICE_DATABASE_URL" || c.Env[0].ValueFrom.SecretKeyRef.Name != "sluice-database" {
			t.Errorf("env %+v, want SLUICE_DATABASE_URL from the Secret sluice-database", c.Env)
		}
		if c.ReadinessProbe.HTTPGet.Path != "/readyz" || c.ReadinessProbe.HTTPGet.Scheme != "HTTPS" {
			t.Errorf("readiness probe %+v, want HTTPS /readyz", c.ReadinessProbe.HTTPGet)
		}
		sc := d.Spec.Template.Spec.SecurityContext
		if sc.RunAsUser == nil || *sc.RunAsUser != 65532 || sc.RunAsNonRoot == nil || !*sc.RunAsNonRoot {
			t.Errorf("pod security context %+v, want non-root 65532", sc)
		}
		find(t, objs, "ServiceMonitor", "sluice")
		rb := find(t, objs, "RoleBinding", "sluice-deployer")
		if rb.GetNamespace() != "shop" {
			t.Errorf("RoleBinding in %q, want shop", rb.GetNamespace())
		}
		for _, o := range objs {
			if o.GetKind() == "Secret" || o.GetKind() == "PersistentVolumeClaim" {
				t.Errorf("%s/%s rendered although every Secret exists and PostgreSQL holds the data", o.GetKind(), o.GetName())
			}
		}
	})
	t.Run("Release resources", func(t *testing.T) {
		vals := postgresValues()
		vals["releases"] = map[string]any{"namespace": "shop"}
		objs, err := render("sluice-system", vals)
		if err != nil {
			t.Fatal(err)
		}
		args := deployment(t, find(t, objs, "Deployment", "sluice")).Spec.Template.Spec.Containers[0].Args
		if i := slices.Index(args, "--kube-releases"); i < 0 || args[i+1] != "shop" {
			t.Errorf("args %q, want --kube-releases shop", args)
		}
		rules, _, _ := unstructured.NestedSlice(find(t, objs, "ClusterRole", "sluice-deployer").Object, "rules")
		var releases, status bool
		for _, r := range rules {
			m := r.(map[string]any)
			res := fmt.Sprint(m["resources"])
			releases = releases || res == "[releases]" && fmt.Sprint(m["verbs"]) == "[get list watch]"
			status = status || res == "[releases/status]" && fmt.Sprint(m["verbs"]) == "[update]"
		}
		if !releases || !status {
			t.Errorf("ClusterRole rules %v lack the Release rules", rules)
		}
	})
	t.Run("SQLite, one replica, generated bootstrap token", func(t *testing.T) {
		objs, err := render("sluice-system", map[string]any{"replicas": 1})
		if err != nil {
			t.Fatal(err)
		}
		d := deployment(t, find(t, objs, "Deployment", "sluice"))
		if d.Spec.Strategy.Type != appsv1.RecreateDeploymentStrategyType || d.Spec.Template.Spec.Volumes[0].PersistentVolumeClaim == nil {
			t.Errorf("strategy %s volumes %+v, want Recreate on a PersistentVolumeClaim", d.Spec.Strategy.Type, d.Spec.Template.Spec.Volumes)
		}
		find(t, objs, "PersistentVolumeClaim", "sluice-data")
		s := find(t, objs, "Secret", "sluice-bootstrap")
		data, _, _ := unstructured.NestedStringMap(s.Object, "data")
		tok, err := base64.StdEncoding.DecodeString(data["token"])
		if err != nil || !regexp.MustCompile(`^sluice_[0-9a-f]{12}_[A-Za-z0-9_-]{43}$`).Match(tok) {
			t.Errorf("generated token %q (%v), want the shape of sluice's tokens", tok, err)
		}
	})
	for name, c := range map[string]struct {
		vals map[string]any
		want string
	}{
		"two replicas on SQLite": {map[string]any{}, "more than one replica needs PostgreSQL"},
		"TLS without a Secret":   {map[string]any{"replicas": 1, "tls": map[string]any{"enabled": true}}, "tls.enabled needs tls.secretName"},
		"Releases outside the namespaces": {map[string]any{"replicas": 1, "releases": map[string]any{"namespace": "shop"}},
			"releases.namespace shop must be one of namespaces"},
	} {
		t.Run("refuses "+name, func(t *testing.T) {
			if _, err := render("sluice-system", c.vals); err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("render: %v, want an error saying %q", err, c.want)
			}
		})
	}
}

// TestPlainManifestsStartWithAuth checks the plain manifests' pod template: auth on,
// the bootstrap token and the database URL from Secrets, two replicas.
func TestPlainManifestsStartWithAuth(t *testing.T) {
	objs := manifests(t, "sluice.yaml", "rbac.yaml", "app-namespace.yaml", "servicemonitor.yaml")
	d := deployment(t, find(t, objs, "Deployment", "sluice"))
	c := d.Spec.Template.Spec.Containers[0]
	if !slices.Contains(c.Args, "--auth") || !slices.Contains(c.Args, "--bootstrap-token-from") {
		t.Errorf("args %q, want --auth and --bootstrap-token-from", c.Args)
	}
	if *d.Spec.Replicas < 2 || c.Env[0].ValueFrom.SecretKeyRef.Name != "sluice-database" {
		t.Errorf("replicas %d env %+v, want 2 or more on PostgreSQL from a Secret", *d.Spec.Replicas, c.Env)
	}
}
