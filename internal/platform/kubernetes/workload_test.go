package kubernetes_test

import (
	"context"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	k8s "k8s.io/client-go/kubernetes"
	"sigs.k8s.io/yaml"

	"github.com/sluicehq/sluice/internal/platform"
	"github.com/sluicehq/sluice/internal/platform/kubernetes"
)

// teamDeployment is a team's Deployment as a platform team writes it: resources, env
// from a Secret and a ConfigMap, volumes, an init container and a sidecar, its own
// ServiceAccount, probes, affinity, tolerations, topology spread, security contexts
// and the Istio injection annotation.
func teamDeployment(name string, replicas int32) *appsv1.Deployment {
	labels := map[string]string{"app": name, "team": "checkout"}
	nonRoot, uid := true, int64(1000)
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels},
		Spec: appsv1.DeploymentSpec{
			Replicas: &replicas,
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": name}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels, Annotations: map[string]string{"sidecar.istio.io/inject": "true", "team.example.com/owner": "checkout"}},
				Spec: corev1.PodSpec{
					ServiceAccountName: name,
					SecurityContext:    &corev1.PodSecurityContext{RunAsNonRoot: &nonRoot, RunAsUser: &uid},
					InitContainers:     []corev1.Container{{Name: "migrate", Image: "registry.example.com/shop-migrate:v1", Args: []string{"--up"}}},
					Containers: []corev1.Container{
						{
							Name: "app", Image: "registry.example.com/shop:v0",
							Ports: []corev1.ContainerPort{{Name: "web", ContainerPort: 8080, Protocol: corev1.ProtocolTCP}},
							Resources: corev1.ResourceRequirements{
								Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("250m"), corev1.ResourceMemory: resource.MustParse("256Mi")},
								Limits:   corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("512Mi")},
							},
							Env: []corev1.EnvVar{
								{Name: "DB_PASSWORD", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{
									LocalObjectReference: corev1.LocalObjectReference{Name: name + "-db"}, Key: "password"}}},
								{Name: "MODE", Value: "team"},
							},
							EnvFrom:      []corev1.EnvFromSource{{ConfigMapRef: &corev1.ConfigMapEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: name + "-config"}}}},
							VolumeMounts: []corev1.VolumeMount{{Name: "config", MountPath: "/etc/shop", ReadOnly: true}, {Name: "cache", MountPath: "/cache"}},
							ReadinessProbe: &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/ready", Port: intstr.FromString("web")}},
								PeriodSeconds: 5},
							LivenessProbe: &corev1.Probe{ProbeHandler: corev1.ProbeHandler{TCPSocket: &corev1.TCPSocketAction{Port: intstr.FromInt32(8080)}}},
						},
						{Name: "proxy", Image: "registry.example.com/envoy:v1.30", Args: []string{"--config", "/etc/envoy/envoy.yaml"},
							Resources: corev1.ResourceRequirements{Limits: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("100m")}}},
					},
					Volumes: []corev1.Volume{
						{Name: "config", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: name + "-config"}}}},
						{Name: "cache", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}},
					},
					Tolerations: []corev1.Toleration{{Key: "dedicated", Operator: corev1.TolerationOpEqual, Value: "checkout", Effect: corev1.TaintEffectNoSchedule}},
					Affinity: &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{PreferredDuringSchedulingIgnoredDuringExecution: []corev1.PreferredSchedulingTerm{{
						Weight: 10, Preference: corev1.NodeSelectorTerm{MatchExpressions: []corev1.NodeSelectorRequirement{{Key: "tier", Operator: corev1.NodeSelectorOpIn, Values: []string{"web"}}}}}}}},
					TopologySpreadConstraints: []corev1.TopologySpreadConstraint{{MaxSkew: 1, TopologyKey: "kubernetes.io/hostname",
						WhenUnsatisfiable: corev1.ScheduleAnyway, LabelSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": name}}}},
				},
			},
		},
	}
}

// createTeamObjects creates the team's Secret, ConfigMap, ServiceAccount and
// Deployment, waits until the Deployment has settled and returns it as the API
// server has it.
func createTeamObjects(ctx context.Context, t *testing.T, cs k8s.Interface, ns, name string) *appsv1.Deployment {
	t.Helper()
	objs := []func() error{
		func() error {
			_, err := cs.CoreV1().Secrets(ns).Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: name + "-db"},
				StringData: map[string]string{"password": "s3cret"}}, metav1.CreateOptions{})
			return err
		},
		func() error {
			_, err := cs.CoreV1().ConfigMaps(ns).Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: name + "-config"},
				Data: map[string]string{"LOG_LEVEL": "info"}}, metav1.CreateOptions{})
			return err
		},
		func() error {
			_, err := cs.CoreV1().ServiceAccounts(ns).Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{})
			return err
		},
		func() error {
			_, err := cs.AppsV1().Deployments(ns).Create(ctx, teamDeployment(name, 2), metav1.CreateOptions{FieldManager: "team-gitops"})
			return err
		},
	}
	for _, create := range objs {
		if err := create(); err != nil {
			t.Fatalf("create the team's objects: %v", err)
		}
	}
	for {
		d, err := cs.AppsV1().Deployments(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if d.Status.ObservedGeneration == d.Generation && d.Status.ReadyReplicas == 2 && d.Status.AvailableReplicas == 2 && d.Status.UpdatedReplicas == 2 {
			return d
		}
		select {
		case <-ctx.Done():
			t.Fatalf("the team's deployment did not settle: %+v", d.Status)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// TestWorkloadRef releases the team's Deployment into a slot: every field of its pod
// spec survives, the artifact is the image of the named container, the slot's labels
// are added to the team's, and the team's Deployment is not touched until Promoted
// scales it down as asked.
func TestWorkloadRef(t *testing.T) {
	cfg := restConfig(t)
	cs, err := k8s.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ns := namespace(t, cs)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	team := createTeamObjects(ctx, t, cs, ns, "shop")
	p, err := kubernetes.New(cfg, kubernetes.Options{Namespace: ns})
	if err != nil {
		t.Fatal(err)
	}
	ref := platform.SlotRef{Service: "shop", Slot: platform.Blue}
	d := platform.Deployment{
		Ref: ref, Artifact: imageV2, Instances: 2, Port: 8080, Key: "k1",
		Env: map[string]string{"MODE": "canary", "REGION": "eu"}, Health: platform.HealthCheck{Path: "/healthz"},
		Labels:   map[string]string{"sluice.dev/execution": "ex-1"},
		Workload: &platform.Workload{Ref: "shop", Container: "app"},
	}
	if err := p.Deploy(ctx, d); err != nil {
		t.Fatal(err)
	}
	st := waitStatus(ctx, t, p, ref, func(st platform.SlotStatus) bool { return st.Ready == 2 && st.Desired == 2 })
	if st.Artifact != imageV2 {
		t.Errorf("status artifact = %q, want %q (the image of container app)", st.Artifact, imageV2)
	}
	got, err := cs.AppsV1().Deployments(ns).Get(ctx, "shop-blue", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	checkSlotKeepsTeamSpec(t, &team.Spec.Template, &got.Spec.Template, imageV2)
	if want := map[string]string{kubernetes.LabelService: "shop", kubernetes.LabelSlot: "blue"}; !maps.Equal(got.Spec.Selector.MatchLabels, want) {
		t.Errorf("slot selector = %v, want only the slot's labels %v", got.Spec.Selector.MatchLabels, want)
	}
	if got.Annotations[kubernetes.AnnotationWorkload] != "deployment/shop" {
		t.Errorf("annotations %v do not say the template came from deployment/shop", got.Annotations)
	}
	checkSlotPods(ctx, t, cs, ns, ref, 2)
	after, err := cs.AppsV1().Deployments(ns).Get(ctx, "shop", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	checkUnchanged(t, team, after)

	// Promoted without scaleDown leaves the team's Deployment alone.
	if err := p.Promoted(ctx, ref, "p1"); err != nil {
		t.Fatal(err)
	}
	if after, err = cs.AppsV1().Deployments(ns).Get(ctx, "shop", metav1.GetOptions{}); err != nil {
		t.Fatal(err)
	}
	checkUnchanged(t, team, after)

	// With scaleDown: onPromote, Promoted scales it to zero and changes nothing else.
	green := platform.SlotRef{Service: "shop", Slot: platform.Green}
	d2 := d
	d2.Ref, d2.Key = green, "k2"
	d2.Workload = &platform.Workload{Ref: "shop", ScaleDownOnPromote: true}
	if err := p.Deploy(ctx, d2); err != nil {
		t.Fatal(err)
	}
	waitStatus(ctx, t, p, green, func(st platform.SlotStatus) bool { return st.Ready == 2 && st.Desired == 2 })
	for _, key := range []string{"p2", "p2"} {
		if err := p.Promoted(ctx, green, key); err != nil {
			t.Fatal(err)
		}
	}
	scaled, err := cs.AppsV1().Deployments(ns).Get(ctx, "shop", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if *scaled.Spec.Replicas != 0 {
		t.Errorf("team's replicas = %d after Promoted with scaleDown: onPromote, want 0", *scaled.Spec.Replicas)
	}
	if !apiequality.Semantic.DeepEqual(scaled.Spec.Template, team.Spec.Template) || !maps.Equal(scaled.Labels, team.Labels) {
		t.Errorf("scaling down changed more than the team's replica count")
	}
	checkEvents(ctx, t, cs, ns, map[string][]string{
		"shop-blue":  {kubernetes.ReasonSlotDeployed},
		"shop-green": {kubernetes.ReasonSlotDeployed},
		"shop":       {kubernetes.ReasonWorkloadScaledTo},
	})
}

// checkSlotKeepsTeamSpec compares the slot's pod template, as the API server returns
// it, with the team's field by field.
func checkSlotKeepsTeamSpec(t *testing.T, team, slot *corev1.PodTemplateSpec, image string) {
	t.Helper()
	ts, ss := team.Spec, slot.Spec
	same := func(what string, want, got any) {
		t.Helper()
		if !apiequality.Semantic.DeepEqual(want, got) {
			t.Errorf("%s differs from the team's:\n got %+v\nwant %+v", what, got, want)
		}
	}
	if len(ss.Containers) != 2 {
		t.Fatalf("slot has %d containers, want the team's 2", len(ss.Containers))
	}
	app, teamApp := ss.Containers[0], ts.Containers[0]
	if app.Image != image {
		t.Errorf("container app image = %q, want the artifact %q", app.Image, image)
	}
	same("resources", teamApp.Resources, app.Resources)
	same("envFrom", teamApp.EnvFrom, app.EnvFrom)
	same("volumeMounts", teamApp.VolumeMounts, app.VolumeMounts)
	same("readinessProbe (the team's own)", teamApp.ReadinessProbe, app.ReadinessProbe)
	same("livenessProbe", teamApp.LivenessProbe, app.LivenessProbe)
	same("ports", teamApp.Ports, app.Ports)
	same("env", []corev1.EnvVar{teamApp.Env[0], {Name: "MODE", Value: "canary"}, {Name: "REGION", Value: "eu"}}, app.Env)
	same("sidecar container", ts.Containers[1], ss.Containers[1])
	same("init containers", ts.InitContainers, ss.InitContainers)
	same("volumes", ts.Volumes, ss.Volumes)
	same("serviceAccountName", ts.ServiceAccountName, ss.ServiceAccountName)
	same("tolerations", ts.Tolerations, ss.Tolerations)
	same("affinity", ts.Affinity, ss.Affinity)
	same("topologySpreadConstraints", ts.TopologySpreadConstraints, ss.TopologySpreadConstraints)
	same("securityContext", ts.SecurityContext, ss.SecurityContext)
	same("annotations", team.Annotations, slot.Annotations)
	for k, v := range team.Labels {
		if slot.Labels[k] != v {
			t.Errorf("pod label %s = %q, want the team's %q", k, slot.Labels[k], v)
		}
	}
	if slot.Labels[kubernetes.LabelSlot] == "" || slot.Labels[kubernetes.LabelService] == "" {
		t.Errorf("pod labels %v lack the slot's labels", slot.Labels)
	}
}

// checkSlotPods checks that the slot's selector picks exactly its n pods, which carry
// the team's labels too.
func checkSlotPods(ctx context.Context, t *testing.T, cs k8s.Interface, ns string, ref platform.SlotRef, n int) {
	t.Helper()
	if ids := podUIDs(t, cs, ns, ref); len(ids) != n {
		t.Errorf("slot selector picks %d pods, want %d", len(ids), n)
	}
	pods, err := cs.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: "app=shop"})
	if err != nil {
		t.Fatal(err)
	}
	slotPods := 0
	for _, pod := range pods.Items {
		if pod.Labels[kubernetes.LabelSlot] == string(ref.Slot) {
			slotPods++
			if pod.Spec.ServiceAccountName != "shop" || len(pod.Spec.Tolerations) == 0 {
				t.Errorf("pod %s: serviceAccountName %q, tolerations %v: the team's are lost", pod.Name, pod.Spec.ServiceAccountName, pod.Spec.Tolerations)
			}
		}
	}
	if slotPods != n {
		t.Errorf("%d of the slot's pods carry the team's label app=shop, want %d", slotPods, n)
	}
}

// checkUnchanged fails when the team's Deployment changed at all.
func checkUnchanged(t *testing.T, before, after *appsv1.Deployment) {
	t.Helper()
	if after.ResourceVersion != before.ResourceVersion || after.Generation != before.Generation {
		t.Errorf("the team's deployment changed: resourceVersion %s -> %s, generation %d -> %d",
			before.ResourceVersion, after.ResourceVersion, before.Generation, after.Generation)
	}
	for _, mf := range after.ManagedFields {
		if strings.HasPrefix(mf.Manager, "sluice") {
			t.Errorf("sluice manages fields of the team's deployment: %s", mf.Manager)
		}
	}
}

// checkEvents waits until each Deployment has Events with the given reasons from sluice.
func checkEvents(ctx context.Context, t *testing.T, cs k8s.Interface, ns string, want map[string][]string) {
	t.Helper()
	for {
		list, err := cs.EventsV1().Events(ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		got := map[string][]string{}
		for _, e := range list.Items {
			if e.ReportingController == kubernetes.ReportingController && e.Regarding.Kind == "Deployment" && e.Regarding.UID != "" {
				got[e.Regarding.Name] = append(got[e.Regarding.Name], e.Reason)
			}
		}
		missing := ""
		for name, reasons := range want {
			for _, r := range reasons {
				if !slices.Contains(got[name], r) {
					missing = name + " " + r
				}
			}
		}
		if missing == "" {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("no event %s; events by deployment: %v", missing, got)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// TestWorkloadBadInput checks that a workloadRef to a missing Deployment, a template
// the API server rejects and one with an unknown field fail Deploy with a message
// naming the problem, and that nothing is left behind.
func TestWorkloadBadInput(t *testing.T) {
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
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	tests := []struct {
		name string
		w    platform.Workload
		want []string
	}{
		{"missing deployment", platform.Workload{Ref: "checkout"}, []string{`deployment "checkout" not found in namespace ` + ns}},
		{"rejected by the API server", platform.Workload{Template: []byte(`{"spec":{"containers":[{"name":"app","image":"x","resources":{"requests":{"cpu":"2"},"limits":{"cpu":"1"}}}]}}`)},
			[]string{"apply deployment", "Invalid value", "must be less than or equal to cpu limit"}},
		{"unknown field", platform.Workload{Template: []byte(`{"spec":{"containers":[{"name":"app","image":"x","imagePullPolicyy":"Always"}]}}`)},
			[]string{"template", `unknown field "imagePullPolicyy"`}},
		{"no such container", platform.Workload{Template: []byte(`{"spec":{"containers":[{"name":"web","image":"x"}]}}`), Container: "app"},
			[]string{`no container "app" (it has web)`}},
		{"missing manifests", platform.Workload{Manifests: filepath.Join(t.TempDir(), "nope")}, []string{"manifests", "nope"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w := tc.w
			ref := platform.SlotRef{Service: "bad", Slot: platform.Blue}
			err := p.Deploy(ctx, platform.Deployment{Ref: ref, Artifact: imageV1, Instances: 1, Port: 8080, Key: tc.name, Workload: &w})
			if err == nil {
				t.Fatal("Deploy succeeded")
			}
			for _, want := range tc.want {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not say %q", err, want)
				}
			}
			if _, err := cs.AppsV1().Deployments(ns).Get(ctx, "bad-blue", metav1.GetOptions{}); err == nil {
				t.Errorf("a rejected Deploy left a Deployment behind")
			}
			// A server-side dry run fails the same way.
			err = p.DryRun(ctx, platform.Deployment{Ref: ref, Artifact: imageV1, Instances: 1, Port: 8080, Workload: &w})
			if err == nil || !strings.Contains(err.Error(), tc.want[len(tc.want)-1]) {
				t.Errorf("DryRun = %v, want an error saying %q", err, tc.want[len(tc.want)-1])
			}
		})
	}
}

// TestWorkloadManifests releases the Deployment found in a directory of plain
// manifests, and an inline template, each keeping its own fields.
func TestWorkloadManifests(t *testing.T) {
	cfg := restConfig(t)
	cs, err := k8s.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ns := namespace(t, cs)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for _, o := range []func() error{
		func() error {
			_, err := cs.CoreV1().Secrets(ns).Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "shop-db"}}, metav1.CreateOptions{})
			return err
		},
		func() error {
			_, err := cs.CoreV1().ServiceAccounts(ns).Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "shop"}}, metav1.CreateOptions{})
			return err
		},
	} {
		if err := o(); err != nil {
			t.Fatal(err)
		}
	}
	team := teamDeployment("shop", 1)
	team.TypeMeta = metav1.TypeMeta{APIVersion: "apps/v1", Kind: "Deployment"}
	dir := writeManifests(t, team)
	p, err := kubernetes.New(cfg, kubernetes.Options{Namespace: ns})
	if err != nil {
		t.Fatal(err)
	}
	tmpl, err := yaml.Marshal(team.Spec.Template)
	if err != nil {
		t.Fatal(err)
	}
	tmplJSON, err := yaml.YAMLToJSON(tmpl)
	if err != nil {
		t.Fatal(err)
	}
	// A kustomization over the same Deployment that changes the sidecar's image.
	kdir := writeManifests(t, team)
	kust := "resources: [deployment.yaml, service.yaml]\nimages:\n  - {name: registry.example.com/envoy, newTag: v1.31}\n"
	if err := os.WriteFile(filepath.Join(kdir, "kustomization.yaml"), []byte(kust), 0o644); err != nil {
		t.Fatal(err)
	}
	kustomized := team.DeepCopy()
	kustomized.Spec.Template.Spec.Containers[1].Image = "registry.example.com/envoy:v1.31"
	// The slots come back from the API server with its defaults filled in; so must
	// what they are compared with.
	team, kustomized = defaulted(ctx, t, cs, ns, team), defaulted(ctx, t, cs, ns, kustomized)
	cases := []struct {
		name string
		w    platform.Workload
		want *appsv1.Deployment
	}{
		{"manifests", platform.Workload{Manifests: dir}, team},
		{"template", platform.Workload{Template: tmplJSON}, team},
		{"kustomization", platform.Workload{Manifests: kdir}, kustomized},
	}
	// A dry run of a valid template passes and stores nothing.
	dry := platform.Deployment{Ref: platform.SlotRef{Service: "dry", Slot: platform.Blue}, Artifact: imageV2, Instances: 1, Port: 8080,
		Workload: &platform.Workload{Template: tmplJSON}}
	if err := p.DryRun(ctx, dry); err != nil {
		t.Errorf("DryRun of the team's template: %v", err)
	}
	if _, err := cs.AppsV1().Deployments(ns).Get(ctx, "dry-blue", metav1.GetOptions{}); err == nil {
		t.Errorf("DryRun stored the Deployment")
	}
	for i, tc := range cases {
		ref := platform.SlotRef{Service: fmt.Sprintf("shop%d", i), Slot: platform.Blue}
		w := tc.w
		if err := p.Deploy(ctx, platform.Deployment{Ref: ref, Artifact: imageV2, Instances: 1, Port: 8080, Key: "k", Workload: &w,
			Env: map[string]string{"MODE": "canary", "REGION": "eu"}}); err != nil {
			t.Fatal(err)
		}
		waitStatus(ctx, t, p, ref, func(st platform.SlotStatus) bool { return st.Ready == 1 })
		got, err := cs.AppsV1().Deployments(ns).Get(ctx, kubernetes.SlotName(ref), metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		t.Run(tc.name, func(t *testing.T) { checkSlotKeepsTeamSpec(t, &tc.want.Spec.Template, &got.Spec.Template, imageV2) })
	}
}

// writeManifests writes a directory of plain manifests: a Service and the team's
// Deployment in separate files, with a README that is not a manifest.
func writeManifests(t *testing.T, dep *appsv1.Deployment) string {
	t.Helper()
	dir := t.TempDir()
	b, err := yaml.Marshal(dep)
	if err != nil {
		t.Fatal(err)
	}
	svc := "apiVersion: v1\nkind: Service\nmetadata: {name: shop}\nspec: {selector: {app: shop}, ports: [{port: 80}]}\n"
	files := map[string]string{"service.yaml": svc, "deployment.yaml": string(b), "README.md": "not a manifest"}
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// defaulted returns d as the API server would store it (a server-side dry run of its
// creation), so a comparison with what the server returns sees the same defaults.
func defaulted(ctx context.Context, t *testing.T, cs k8s.Interface, ns string, d *appsv1.Deployment) *appsv1.Deployment {
	t.Helper()
	d = d.DeepCopy()
	d.Namespace, d.ResourceVersion = ns, ""
	out, err := cs.AppsV1().Deployments(ns).Create(ctx, d, metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
	if err != nil {
		t.Fatalf("dry run of %s: %v", d.Name, err)
	}
	return out
}
