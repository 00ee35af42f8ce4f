package spec

import (
	"fmt"
	"path"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"
)

// Trigger types: who sends the webhook, which decides how it is signed and what its
// payload holds.
const (
	TriggerWebhook   = "webhook"   // any sender: HMAC-SHA256 over timestamp "." body
	TriggerGitHub    = "github"    // GitHub's package event (GHCR pushes), X-Hub-Signature-256
	TriggerHarbor    = "harbor"    // Harbor's PUSH_ARTIFACT event, its Authorization header
	TriggerDockerHub = "dockerhub" // Docker Hub's push webhook, a token in the URL
	// TriggerDeployment watches the team's Deployment the service's workloadRef names:
	// a new pod template whose image is not the live artifact starts a run.
	TriggerDeployment = "deployment"
)

// TriggerTypes lists every trigger type.
var TriggerTypes = []string{TriggerWebhook, TriggerGitHub, TriggerHarbor, TriggerDockerHub, TriggerDeployment}

// Trigger starts a run of its workflow when a signed webhook arrives at
// /api/v1/hooks/WORKFLOW/NAME. The payload's fields become variables; the run must
// land in Environment, whatever the payload says.
type Trigger struct {
	Name string `yaml:"name"`
	Type string `yaml:"type"`
	// Environment is the only environment the trigger may start runs in; a run whose
	// variables give another environment is refused.
	Environment string `yaml:"environment"`
	// Secret authenticates the sender: the HMAC key (webhook, github), the expected
	// Authorization header (harbor) or the URL token (dockerhub); a deployment trigger
	// has no sender and no secret.
	Secret SecretRef `yaml:"secret,omitempty"`
	// Variables maps a workflow variable to a field of the payload: a dotted path into
	// the JSON body for webhook, or one of RegistryFields for the registry types.
	Variables map[string]string `yaml:"variables,omitempty"`
	// Set gives workflow variables fixed values.
	Set map[string]string `yaml:"set,omitempty"`
	// Tags, for the registry types, are globs; a push whose tag matches none is
	// ignored. Empty: every tag.
	Tags []string `yaml:"tags,omitempty"`
	Pos  Pos      `yaml:"-"`
}

// RegistryFields are the payload fields the registry trigger types offer.
var RegistryFields = []string{"image", "repository", "tag", "digest", "pusher"}

// PushesImage reports whether the trigger's payload is a pushed image: a container
// registry's push, or a new image in the team's Deployment.
func (t Trigger) PushesImage() bool {
	return t.Type == TriggerGitHub || t.Type == TriggerHarbor || t.Type == TriggerDockerHub || t.Type == TriggerDeployment
}

// triggers checks the webhook triggers of a workflow.
func (v *validator) triggers(w *Workflow) {
	declared := map[string]bool{}
	for _, va := range w.Spec.Variables {
		declared[va.Name] = true
	}
	seen := map[string]int{}
	for i := range w.Spec.Triggers {
		t := &w.Spec.Triggers[i]
		p := fmt.Sprintf("spec.triggers[%d]", i)
		v.name(p+".name", "trigger name", t.Name)
		if prev, dup := seen[t.Name]; dup && t.Name != "" {
			v.report(p+".name", "trigger %s is declared twice (first at spec.triggers[%d])", t.Name, prev)
		}
		seen[t.Name] = i
		v.oneOf(p+".type", "trigger type", t.Type, TriggerTypes...)
		v.name(p+".environment", "trigger environment", t.Environment)
		v.triggerSource(p, t, &w.Spec.Service)
		v.triggerVariables(p, t, declared)
		v.triggerTags(p, t)
	}
}

// triggerSource checks what a trigger needs to hear from its source: a secret for a
// webhook, the team's Deployment (service.workloadRef) for a deployment trigger.
func (v *validator) triggerSource(p string, t *Trigger, svc *Service) {
	set := t.Secret.Env != "" || t.Secret.File != "" || t.Secret.Secret != nil
	if t.Type != TriggerDeployment {
		v.secretRef(p+".secret", "secret", t.Secret)
		return
	}
	if set {
		v.report(p+".secret", "trigger %s watches a Deployment and takes no secret", t.Name)
	}
	if svc.WorkloadRef == nil {
		v.report(p+".type", "trigger %s watches the Deployment of service.workloadRef, which this workflow does not set", t.Name)
	}
}

// triggerVariables checks that a trigger sets declared variables only, each once,
// from fields its type offers.
func (v *validator) triggerVariables(p string, t *Trigger, declared map[string]bool) {
	for _, k := range sortedKeys(t.Variables) {
		field := t.Variables[k]
		switch {
		case !declared[k]:
			v.report(p+".variables."+k, "trigger %s sets variable %s, which the workflow does not declare", t.Name, k)
		case strings.TrimSpace(field) == "":
			v.report(p+".variables."+k, "trigger %s: variable %s needs a payload field", t.Name, k)
		case t.PushesImage() && !slices.Contains(RegistryFields, field):
			v.report(p+".variables."+k, "trigger %s: a %s payload offers %s, not %q", t.Name, t.Type, strings.Join(RegistryFields, ", "), field)
		case !t.PushesImage() && strings.Contains(field, ".."):
			v.report(p+".variables."+k, "trigger %s: payload path %q has an empty part", t.Name, field)
		}
	}
	for _, k := range sortedKeys(t.Set) {
		switch {
		case !declared[k]:
			v.report(p+".set."+k, "trigger %s sets variable %s, which the workflow does not declare", t.Name, k)
		case t.Variables[k] != "":
			v.report(p+".set."+k, "trigger %s sets variable %s both from the payload and to a fixed value; use one", t.Name, k)
		}
	}
}

// triggerTags checks the tag globs of a registry trigger.
func (v *validator) triggerTags(p string, t *Trigger) {
	if len(t.Tags) > 0 && !t.PushesImage() {
		v.report(p+".tags", "tags filter registry pushes; trigger %s has type %s", t.Name, t.Type)
		return
	}
	for j, g := range t.Tags {
		if _, err := path.Match(g, ""); err != nil || g == "" {
			v.report(fmt.Sprintf("%s.tags[%d]", p, j), "tag pattern %q is not a valid glob", g)
		}
	}
}

// untemplated reports every ${...} under n: a trigger decides what a run may do
// (its environment above all), so a run's variables must not change it.
func untemplated(file string, n *yaml.Node) Problems {
	if n == nil {
		return nil
	}
	var probs Problems
	if n.Kind == yaml.ScalarNode && strings.Contains(n.Value, "${") {
		probs = append(probs, Problem{Pos: Pos{File: file, Line: n.Line, Column: n.Column}, Path: "spec.triggers",
			Message: fmt.Sprintf("%q: trigger fields are not templates; write the value itself", n.Value)})
	}
	for _, c := range n.Content {
		probs = append(probs, untemplated(file, c)...)
	}
	return probs
}

// Trigger returns the workflow's trigger called name.
func (w *Workflow) Trigger(name string) (Trigger, bool) {
	for _, t := range w.Spec.Triggers {
		if t.Name == name {
			return t, true
		}
	}
	return Trigger{}, false
}
