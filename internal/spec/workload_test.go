package spec

import (
	"strings"
	"testing"
)

// wfWorkload is a workflow whose service block ends with the text given; that text
// starts at line 10.
const wfWorkload = `apiVersion: sluice.dev/v1alpha1
kind: Workflow
metadata: {name: wf}
spec:
  environment: k8s
  phases:
    - name: p1
      steps:
        - deploy: {instances: 1}
  service:
    name: shop
    port: 8080
    artifact: registry.example.com/shop:v2
`

func TestWorkloadParses(t *testing.T) {
	src := wfWorkload + `    container: app
    template:
      metadata:
        labels: {app: shop}
        annotations: {sidecar.istio.io/inject: "true"}
      spec:
        serviceAccountName: shop
        containers:
          - name: app
            image: placeholder
            resources: {limits: {cpu: 500m}}
          - {name: proxy, image: envoy}
`
	w, err := ParseWorkflow("f.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	s := w.Spec.Service
	if s.Container != "app" || templateContainers(s.Template) != 2 {
		t.Fatalf("service = %+v", s)
	}
	meta, _ := s.Template["metadata"].(map[string]any)
	ann, _ := meta["annotations"].(map[string]any)
	if ann["sidecar.istio.io/inject"] != "true" {
		t.Errorf("annotations = %v, want the istio inject annotation as written", ann)
	}

	ref, err := ParseWorkflow("f.yaml", []byte(wfWorkload+"    workloadRef: {name: shop, scaleDown: onPromote}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if r := ref.Spec.Service.WorkloadRef; r == nil || r.Name != "shop" || r.ScaleDown != ScaleDownOnPromote {
		t.Errorf("workloadRef = %+v", r)
	}
}

func TestWorkloadProblems(t *testing.T) {
	tests := []struct{ name, block, want string }{
		{"workloadRef without a name", "workloadRef: {scaleDown: onPromote}",
			`14:18: missing required field "name" in workload ref`},
		{"workloadRef with an empty name", "workloadRef: {name: \"\"}",
			`14:18: service.workloadRef needs a name: the team's Deployment in the environment's namespace`},
		{"unknown scaleDown", "workloadRef: {name: shop, scaleDown: onpromote}",
			`14:42: unknown workloadRef.scaleDown "onpromote"; did you mean "onPromote"?`},
		{"other kinds", "workloadRef: {kind: StatefulSet, name: shop}",
			`14:25: workloadRef kind "StatefulSet": only Deployment is supported`},
		{"template without containers", "template: {metadata: {labels: {app: shop}}, spec: {serviceAccountName: shop}}",
			`14:15: service.template has no containers: write a pod template with spec.containers`},
		{"template with an empty container list", "template: {spec: {containers: []}}",
			`14:15: service.template has no containers`},
		{"template not a mapping", "template: shop",
			`14:15: expected a mapping (a pod template with metadata and spec)`},
		{"two ways at once", "workloadRef: {name: shop}\n    manifests: deploy/shop",
			`15:16: service sets workloadRef and manifests: name the workload one way only`},
		{"container without a workload", "container: app",
			`14:16: service.container names a container of a workload`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := problemsOf(t, wfWorkload+"    "+tc.block+"\n")
			if len(got) != 1 || !strings.HasPrefix(got[0], tc.want) {
				t.Fatalf("want one problem starting %q, got:\n%s", tc.want, strings.Join(got, "\n"))
			}
		})
	}
}
