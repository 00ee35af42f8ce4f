package spec

import (
	"strings"
	"testing"
)

// triggerDoc is a workflow with the given triggers block (lines from line 13 on).
func triggerDoc(triggers string) string {
	return `apiVersion: sluice.dev/v1alpha1
kind: Workflow
metadata: {name: wf}
spec:
  variables:
    - {name: version, type: string, required: true}
    - {name: env, type: string, default: staging}
  environment: "${env}"
  service: {name: shop, port: 80, artifact: "shop:${version}"}
  phases:
    - name: p1
      steps: [{deploy: {instances: 1}}]
  triggers:
` + triggers
}

func TestTriggersParse(t *testing.T) {
	w, err := ParseWorkflow("wf.yaml", []byte(triggerDoc(`    - name: ci
      type: webhook
      environment: staging
      secret: {env: HOOK_SECRET}
      variables: {version: build.version}
    - name: ghcr
      type: github
      environment: prod
      secret: {file: /etc/sluice/ghcr}
      variables: {version: tag}
      set: {env: prod}
      tags: ["v*"]
`)))
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	g, ok := w.Trigger("ghcr")
	if !ok || g.Type != TriggerGitHub || g.Environment != "prod" || g.Secret.File != "/etc/sluice/ghcr" ||
		g.Variables["version"] != "tag" || g.Set["env"] != "prod" || len(g.Tags) != 1 || g.Pos.Line != 19 {
		t.Fatalf("trigger ghcr decoded as %+v", g)
	}
	if _, ok := w.Trigger("nope"); ok {
		t.Fatal("found a trigger that is not declared")
	}
}

func TestTriggerProblems(t *testing.T) {
	const base = "    - {name: ci, type: webhook, environment: staging, secret: {env: S}"
	for _, tc := range []struct{ name, triggers, want string }{
		{"unknown type", "    - {name: ci, type: gitlab, environment: staging, secret: {env: S}}\n", `14:24: unknown trigger type "gitlab"`},
		{"no type", "    - {name: ci, environment: staging, secret: {env: S}}\n", `missing required field "type"`},
		{"templated environment", "    - {name: ci, type: webhook, environment: '${env}', secret: {env: S}}\n", `14:46: "${env}": trigger fields are not templates`},
		{"no secret", "    - {name: ci, type: webhook, environment: staging}\n", "credential secret needs env"},
		{"deployment without workloadRef", "    - {name: gitops, type: deployment, environment: staging}\n", "which this workflow does not set"},
		{"deployment with a secret", "    - {name: gitops, type: deployment, environment: staging, secret: {env: S}}\n", "takes no secret"},
		{"inline secret", "    - {name: ci, type: webhook, environment: staging, secret: hunter2}\n", "secret"},
		{"undeclared variable", base + ", variables: {artifact: image}}\n", "sets variable artifact, which the workflow does not declare"},
		{"registry field", "    - {name: ci, type: harbor, environment: staging, secret: {env: S}, variables: {version: labels}}\n", `a harbor payload offers image, repository, tag, digest, pusher, not "labels"`},
		{"set twice", base + ", variables: {version: v}, set: {version: '1'}}\n", "both from the payload and to a fixed value"},
		{"tags on webhook", base + ", tags: ['v*']}\n", "tags filter registry pushes"},
		{"bad glob", "    - {name: ci, type: dockerhub, environment: staging, secret: {env: S}, tags: ['[']}\n", `tag pattern "[" is not a valid glob`},
		{"duplicate", base + "}\n" + base + "}\n", "trigger ci is declared twice"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseWorkflow("wf.yaml", []byte(triggerDoc(tc.triggers)))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want it to contain %q", err, tc.want)
			}
		})
	}
}
