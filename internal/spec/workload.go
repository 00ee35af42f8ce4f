package spec

import (
	"errors"
	"strings"

	"gopkg.in/yaml.v3"
)

// WorkloadRef names an existing Deployment in the environment's namespace whose pod
// template the slots copy; sluice never edits it except to scale it down when asked.
type WorkloadRef struct {
	// Kind is the workload's kind; only Deployment (the default).
	Kind string `yaml:"kind,omitempty"`
	Name string `yaml:"name"`
	// ScaleDown is "never" (the default) or "onPromote": scale the team's Deployment to
	// zero once a slot is live.
	ScaleDown string `yaml:"scaleDown,omitempty"`
}

// Scale-down policies of a WorkloadRef.
const (
	ScaleDownNever     = "never"
	ScaleDownOnPromote = "onPromote"
)

// Object is a YAML mapping kept as written (a Kubernetes pod template) for the
// platform to decode; validation looks only at what sluice needs from it.
type Object map[string]any

// nodeValue is implemented by types that take a YAML subtree as it is.
type nodeValue interface {
	setNode(n *yaml.Node) error
}

func (o *Object) setNode(n *yaml.Node) error {
	if n.Kind != yaml.MappingNode {
		return errors.New("expected a mapping (a pod template with metadata and spec)")
	}
	var m map[string]any
	if err := n.Decode(&m); err != nil {
		return err
	}
	*o = m
	return nil
}

// workload checks the service's workloadRef, template and manifests.
func (v *validator) workload(s *Service) {
	var set []string
	for _, f := range []struct {
		name string
		on   bool
	}{{"workloadRef", s.WorkloadRef != nil}, {"template", s.Template != nil}, {"manifests", s.Manifests != ""}} {
		if f.on {
			set = append(set, f.name)
		}
	}
	if len(set) > 1 {
		v.report("spec.service."+set[1], "service sets %s: name the workload one way only", strings.Join(set, " and "))
	}
	if r := s.WorkloadRef; r != nil {
		if strings.TrimSpace(r.Name) == "" && v.present("spec.service.workloadRef.name") { // a missing one is the decoder's
			v.report("spec.service.workloadRef", "service.workloadRef needs a name: the team's Deployment in the environment's namespace")
		}
		if r.Kind != "" && r.Kind != "Deployment" {
			v.report("spec.service.workloadRef.kind", "workloadRef kind %q: only Deployment is supported", r.Kind)
		}
		v.oneOf("spec.service.workloadRef.scaleDown", "workloadRef.scaleDown", r.ScaleDown, ScaleDownNever, ScaleDownOnPromote)
	}
	if s.Template != nil && templateContainers(s.Template) == 0 {
		v.report("spec.service.template", "service.template has no containers: write a pod template with spec.containers")
	}
	if s.Container != "" && s.WorkloadRef == nil && s.Template == nil && s.Manifests == "" {
		v.report("spec.service.container", "service.container names a container of a workload: set workloadRef, template or manifests too")
	}
}

// templateContainers counts the entries of a pod template's spec.containers.
func templateContainers(o Object) int {
	spec, _ := o["spec"].(map[string]any)
	list, _ := spec["containers"].([]any)
	return len(list)
}
