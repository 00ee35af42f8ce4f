package kubernetes_test

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	authzv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	k8s "k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/yaml"

	"github.com/sluicehq/sluice/internal/platform"
	"github.com/sluicehq/sluice/internal/platform/kubernetes"
	"github.com/sluicehq/sluice/internal/traffic"
	"github.com/sluicehq/sluice/internal/traffic/gatewayapi"
	"github.com/sluicehq/sluice/internal/traffic/istio"
)

// TestSeedFlow runs the seed workflow's platform and router calls with each router,
// as a ServiceAccount holding only the RBAC in deploy/rbac.yaml: blue deployed at
// green's size, weights 100/0 -> 90/10 -> 0/100 read back from the API server, the old
// slot scaled down; and a failed verification at 10% that puts all traffic back on
// green and scales blue to zero.
func TestSeedFlow(t *testing.T) {
	admin := restConfig(t)
	routers := []struct {
		name string
		new  func(cfg *rest.Config, ns string) (traffic.Router, error)
	}{
		{"istio", func(cfg *rest.Config, ns string) (traffic.Router, error) {
			return istio.New(cfg, istio.Options{Namespace: ns, Hosts: []string{"shop.example.com"}})
		}},
		{"gatewayapi", func(cfg *rest.Config, ns string) (traffic.Router, error) {
			return gatewayapi.New(cfg, gatewayapi.Options{Namespace: ns, Gateway: "public", Hostnames: []string{"shop.example.com"}})
		}},
	}
	for _, rt := range routers {
		t.Run(rt.name, func(t *testing.T) {
			for _, promote := range []bool{true, false} {
				name := map[bool]string{true: "promote", false: "rollback"}[promote]
				t.Run(name, func(t *testing.T) {
					cfg, ns := restrictedConfig(t, admin)
					p, err := kubernetes.New(cfg, kubernetes.Options{Namespace: ns, ServiceType: corev1.ServiceTypeLoadBalancer})
					if err != nil {
						t.Fatal(err)
					}
					r, err := rt.new(cfg, ns)
					if err != nil {
						t.Fatal(err)
					}
					seedFlow(t, p, r, promote)
				})
			}
		})
	}
}

func seedFlow(t *testing.T, p platform.Platform, r traffic.Router, promote bool) {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	svc := traffic.ServiceRef{Service: "shop"}
	green := platform.SlotRef{Service: "shop", Slot: platform.Green}
	blue := platform.SlotRef{Service: "shop", Slot: platform.Blue}
	deploy := func(ref platform.SlotRef, image string, n int, key string) {
		t.Helper()
		d := platform.Deployment{Ref: ref, Artifact: image, Instances: n, Port: 8080, Key: key,
			Health: platform.HealthCheck{Path: "/healthz", Status: 200}, Labels: map[string]string{"sluice.dev/execution": "ex-1"}}
		if err := p.Deploy(ctx, d); err != nil {
			t.Fatal(err)
		}
		waitStatus(ctx, t, p, ref, func(st platform.SlotStatus) bool { return st.Desired == n && st.Ready == n })
	}
	weights := func(w traffic.Weights, key string) {
		t.Helper()
		if err := r.SetWeights(ctx, svc, w, key); err != nil {
			t.Fatal(err)
		}
		if got, err := r.Weights(ctx, svc); err != nil || got != w {
			t.Fatalf("Weights = %s, %v; want %s", got, err, w)
		}
	}
	deploy(green, imageV1, 3, "v1")
	if err := r.Ensure(ctx, traffic.Route{Service: svc, Port: 8080, Key: "ensure"}); err != nil {
		t.Fatal(err)
	}
	weights(traffic.All(platform.Green), "phase1")
	greenSize, err := p.Status(ctx, green)
	if err != nil {
		t.Fatal(err)
	}
	deploy(blue, imageV2, greenSize.Desired, "v2") // Phase 1: blue at 100% of green's instances
	weights(traffic.Split(platform.Blue, 10), "phase2")
	if promote {
		weights(traffic.All(platform.Blue), "phase3")
		if err := p.Scale(ctx, green, 0, "scale-down-green"); err != nil {
			t.Fatal(err)
		}
		waitStatus(ctx, t, p, green, func(st platform.SlotStatus) bool { return st.Desired == 0 && st.Ready == 0 })
		return
	}
	failed := time.Now() // verification failed: everything back to green, read back
	if err := r.SetWeights(ctx, svc, traffic.All(platform.Green), "rollback"); err != nil {
		t.Fatal(err)
	}
	if got, err := r.Weights(ctx, svc); err != nil || got != traffic.All(platform.Green) {
		t.Fatalf("Weights after rollback = %s, %v", got, err)
	}
	t.Logf("verification failed -> weights 100/0 read back from the API server: %v", time.Since(failed).Round(time.Millisecond))
	if err := p.Scale(ctx, blue, 0, "scale-down-blue"); err != nil {
		t.Fatal(err)
	}
	waitStatus(ctx, t, p, blue, func(st platform.SlotStatus) bool { return st.Desired == 0 && st.Ready == 0 })
	if st, err := p.Status(ctx, green); err != nil || st.Ready != 3 {
		t.Fatalf("green after rollback: %+v, %v", st, err)
	}
}

// TestNeverReadyRollsBack deploys a blue slot whose image cannot be pulled: Status
// fails it with the reason, and the rollback leaves all traffic on green and blue at 0.
func TestNeverReadyRollsBack(t *testing.T) {
	cfg, ns := restrictedConfig(t, restConfig(t))
	p, err := kubernetes.New(cfg, kubernetes.Options{Namespace: ns, ProgressDeadline: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	r, err := istio.New(cfg, istio.Options{Namespace: ns})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	svc := traffic.ServiceRef{Service: "shop"}
	green := platform.SlotRef{Service: "shop", Slot: platform.Green}
	blue := platform.SlotRef{Service: "shop", Slot: platform.Blue}
	if err := p.Deploy(ctx, platform.Deployment{Ref: green, Artifact: imageV1, Instances: 2, Port: 8080, Key: "v1"}); err != nil {
		t.Fatal(err)
	}
	if err := r.Ensure(ctx, traffic.Route{Service: svc, Port: 8080}); err != nil {
		t.Fatal(err)
	}
	if err := p.Deploy(ctx, platform.Deployment{Ref: blue, Artifact: imageNever, Instances: 2, Port: 8080, Key: "v2"}); err != nil {
		t.Fatal(err)
	}
	// Failed with the pods' reason: the deadline may pass before the pods report theirs.
	waitStatus(ctx, t, p, blue, func(st platform.SlotStatus) bool {
		return st.Failed && strings.Contains(strings.Join(st.Reasons, "\n"), "ImagePullBackOff")
	})
	if err := r.SetWeights(ctx, svc, traffic.All(platform.Green), "rollback"); err != nil {
		t.Fatal(err)
	}
	if err := p.Scale(ctx, blue, 0, "rollback"); err != nil {
		t.Fatal(err)
	}
	waitStatus(ctx, t, p, blue, func(st platform.SlotStatus) bool { return st.Desired == 0 && st.Ready == 0 })
	if w, err := r.Weights(ctx, svc); err != nil || w != traffic.All(platform.Green) {
		t.Fatalf("Weights after rollback = %s, %v", w, err)
	}
}

// restrictedConfig makes a namespace with a ServiceAccount bound to the ClusterRole of
// deploy/rbac.yaml and returns a configuration that acts as that ServiceAccount.
func restrictedConfig(t *testing.T, admin *rest.Config) (*rest.Config, string) {
	t.Helper()
	cs, err := k8s.NewForConfig(admin)
	if err != nil {
		t.Fatal(err)
	}
	ns := namespace(t, cs)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	b, err := os.ReadFile("../../../deploy/rbac.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var role rbacv1.ClusterRole
	if err := yaml.UnmarshalStrict(b, &role); err != nil {
		t.Fatalf("deploy/rbac.yaml: %v", err)
	}
	role.Name = ns + "-deployer" // one per test, so a test that changes it cannot affect another
	if _, err := cs.RbacV1().ClusterRoles().Create(ctx, &role, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cs.RbacV1().ClusterRoles().Delete(context.Background(), role.Name, metav1.DeleteOptions{}) })
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "sluice"}}
	if _, err := cs.CoreV1().ServiceAccounts(ns).Create(ctx, sa, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	binding := &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "sluice-deployer"},
		RoleRef:    rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: role.Name},
		Subjects:   []rbacv1.Subject{{Kind: "ServiceAccount", Name: "sluice", Namespace: ns}},
	}
	if _, err := cs.RbacV1().RoleBindings(ns).Create(ctx, binding, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	user := "system:serviceaccount:" + ns + ":sluice"
	waitAllowed(ctx, t, cs, user, ns)
	cfg := rest.CopyConfig(admin)
	cfg.Impersonate = rest.ImpersonationConfig{UserName: user}
	return cfg, ns
}

// waitAllowed waits until the API server's RBAC cache has seen the new binding.
func waitAllowed(ctx context.Context, t *testing.T, cs k8s.Interface, user, ns string) {
	t.Helper()
	review := &authzv1.SubjectAccessReview{Spec: authzv1.SubjectAccessReviewSpec{
		User:               user,
		ResourceAttributes: &authzv1.ResourceAttributes{Namespace: ns, Verb: "get", Group: "apps", Resource: "deployments"},
	}}
	for {
		got, err := cs.AuthorizationV1().SubjectAccessReviews().Create(ctx, review, metav1.CreateOptions{})
		if err != nil {
			t.Fatalf("subject access review: %v", err)
		}
		if got.Status.Allowed {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("the RoleBinding for %s never took effect: %v", user, ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}
