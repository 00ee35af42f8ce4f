package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	corev1 "k8s.io/api/core/v1"
	apiextv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apiextclient "k8s.io/apiextensions-apiserver/pkg/client/clientset/clientset"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

func config(kubeconfig string) (*rest.Config, error) {
	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		return nil, fmt.Errorf("kubeconfig %s: %w", kubeconfig, err)
	}
	cfg.QPS, cfg.Burst = 100, 200
	return cfg, nil
}

// poll calls cond every 100ms until it reports done, returns an error, or ctx ends;
// last describes what was last seen, for the timeout message.
func poll(ctx context.Context, what string, cond func(ctx context.Context) (done bool, last string, err error)) error {
	var last string
	for {
		done, seen, err := cond(ctx)
		if err != nil {
			return err
		}
		if done {
			return nil
		}
		last = seen
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for %s: %w (last seen: %s)", what, ctx.Err(), last)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func waitReady(ctx context.Context, kubeconfig string, serviceAccount bool) error {
	cfg, err := config(kubeconfig)
	if err != nil {
		return err
	}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return fmt.Errorf("wait: %w", err)
	}
	return poll(ctx, "the API server's /readyz", func(ctx context.Context) (bool, string, error) {
		body, err := cs.Discovery().RESTClient().Get().AbsPath("/readyz").DoRaw(ctx)
		if err != nil {
			return false, err.Error(), nil
		}
		if string(body) != "ok" {
			return false, string(body), nil
		}
		if !serviceAccount {
			return true, "", nil
		}
		// The default namespace's service account shows the controllers are running.
		_, err = cs.CoreV1().ServiceAccounts("default").Get(ctx, "default", metav1.GetOptions{})
		if err != nil {
			return false, "default service account: " + err.Error(), nil
		}
		return true, "", nil
	})
}

func createNodes(ctx context.Context, kubeconfig string, n int) error {
	cfg, err := config(kubeconfig)
	if err != nil {
		return err
	}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return fmt.Errorf("nodes: %w", err)
	}
	for i := range n {
		node := fakeNode(fmt.Sprintf("kwok-node-%d", i))
		if _, err := cs.CoreV1().Nodes().Create(ctx, node, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("nodes: create %s: %w", node.Name, err)
		}
	}
	return poll(ctx, fmt.Sprintf("%d Ready nodes", n), func(ctx context.Context) (bool, string, error) {
		list, err := cs.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
		if err != nil {
			return false, err.Error(), nil
		}
		ready := 0
		for _, node := range list.Items {
			for _, c := range node.Status.Conditions {
				if c.Type == corev1.NodeReady && c.Status == corev1.ConditionTrue {
					ready++
				}
			}
		}
		return ready >= n, fmt.Sprintf("%d of %d ready", ready, n), nil
	})
}

func fakeNode(name string) *corev1.Node {
	capacity := corev1.ResourceList{
		corev1.ResourceCPU:    resource.MustParse("32"),
		corev1.ResourceMemory: resource.MustParse("256Gi"),
		corev1.ResourcePods:   resource.MustParse("110"),
	}
	return &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{
			Name:        name,
			Labels:      map[string]string{"type": "kwok", "kubernetes.io/hostname": name, "kubernetes.io/os": "linux"},
			Annotations: map[string]string{"kwok.x-k8s.io/node": "fake", "node.alpha.kubernetes.io/ttl": "0"},
		},
		Status: corev1.NodeStatus{
			Capacity: capacity, Allocatable: capacity,
			NodeInfo: corev1.NodeSystemInfo{KubeletVersion: "fake", OperatingSystem: "linux", Architecture: "amd64"},
		},
	}
}

// applyCRDs applies every CustomResourceDefinition found in files (other kinds are
// skipped) and waits until all are Established.
func applyCRDs(ctx context.Context, kubeconfig string, files []string) error {
	cfg, err := config(kubeconfig)
	if err != nil {
		return err
	}
	cs, err := apiextclient.NewForConfig(cfg)
	if err != nil {
		return fmt.Errorf("apply: %w", err)
	}
	var names []string
	for _, file := range files {
		crds, err := readCRDs(file)
		if err != nil {
			return err
		}
		for _, crd := range crds {
			if err := applyCRD(ctx, cs, crd); err != nil {
				return fmt.Errorf("apply %s from %s: %w", crd.Name, file, err)
			}
			names = append(names, crd.Name)
		}
	}
	return poll(ctx, fmt.Sprintf("%d CRDs Established", len(names)), func(ctx context.Context) (bool, string, error) {
		for _, name := range names {
			crd, err := cs.ApiextensionsV1().CustomResourceDefinitions().Get(ctx, name, metav1.GetOptions{})
			if err != nil {
				return false, name + ": " + err.Error(), nil
			}
			if !established(crd) {
				return false, name + " not Established", nil
			}
		}
		return true, "", nil
	})
}

func established(crd *apiextv1.CustomResourceDefinition) bool {
	for _, c := range crd.Status.Conditions {
		if c.Type == apiextv1.Established && c.Status == apiextv1.ConditionTrue {
			return true
		}
	}
	return false
}

func applyCRD(ctx context.Context, cs apiextclient.Interface, crd *apiextv1.CustomResourceDefinition) error {
	crd.APIVersion, crd.Kind = "apiextensions.k8s.io/v1", "CustomResourceDefinition"
	body, err := jsonOf(crd)
	if err != nil {
		return err
	}
	force := true
	_, err = cs.ApiextensionsV1().CustomResourceDefinitions().Patch(ctx, crd.Name, "application/apply-patch+yaml", body,
		metav1.PatchOptions{FieldManager: "sluice-kube-sh", Force: &force})
	return err
}

func readCRDs(file string) ([]*apiextv1.CustomResourceDefinition, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("apply: %w", err)
	}
	dec := yaml.NewYAMLOrJSONDecoder(bytes.NewReader(data), 4096)
	var out []*apiextv1.CustomResourceDefinition
	for {
		var crd apiextv1.CustomResourceDefinition
		if err := dec.Decode(&crd); err != nil {
			if errors.Is(err, io.EOF) {
				return out, nil
			}
			return nil, fmt.Errorf("apply: decode %s: %w", file, err)
		}
		if crd.Kind == "CustomResourceDefinition" {
			out = append(out, &crd)
		}
	}
}
