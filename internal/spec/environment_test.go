package spec

import (
	"os"
	"strings"
	"testing"
)

func TestEnvironmentProblems(t *testing.T) {
	local := "  platform: {type: local}\n"
	builtin := "  router: {type: builtin, builtin: {listen: 127.0.0.1:8080}}\n"
	kube := "  platform: {type: kubernetes, kubernetes: {namespace: shop}}\n  router: {type: istio}\n"
	cases := []struct{ name, body, want string }{
		{"unknown platform type", "  platform: {type: kubernets}\n" + builtin,
			`5:20: unknown platform type "kubernets"; did you mean "kubernetes"?`},
		{"block of another platform", "  platform: {type: local, kubernetes: {namespace: x}}\n" + builtin,
			`5:39: platform block "kubernetes" does not match platform.type "local"`},
		{"kubernetes without block", "  platform: {type: kubernetes}\n" + builtin,
			`5:13: platform kubernetes needs a kubernetes block with a namespace`},
		{"kubernetes without namespace", "  platform: {type: kubernetes, kubernetes: {context: kind}}\n" + builtin,
			`5:44: missing required field "namespace" in kubernetes platform`},
		{"unknown router type", local + "  router: {type: nginx}\n",
			`6:18: unknown router type "nginx"; use one of: builtin, istio, gatewayapi, recorder`},
		{"builtin without listen", local + "  router: {type: builtin}\n",
			`6:11: router builtin needs a builtin block with listen`},
		{"builtin listen not an address", local + "  router: {type: builtin, builtin: {listen: localhost}}\n",
			`6:45: builtin.listen "localhost" is not an address like 127.0.0.1:8080`},
		{"istio block on builtin router", local + "  router: {type: builtin, builtin: {listen: ':80'}, istio: {}}\n",
			`6:60: router block "istio" does not match router.type "builtin"`},
		{"gatewayapi without gateway", "  platform: {type: kubernetes, kubernetes: {namespace: a}}\n  router: {type: gatewayapi, gatewayapi: {}}\n",
			`6:42: missing required field "gateway" in gateway api router`},
		{"gatewayapi adoption without rule", "  platform: {type: kubernetes, kubernetes: {namespace: a}}\n  router: {type: gatewayapi, gatewayapi: {gateway: public, httpRoute: storefront}}\n",
			`6:42: gatewayapi.rule must name the rule`},
		{"unknown istio split", "  platform: {type: kubernetes, kubernetes: {namespace: a}}\n  router: {type: istio, istio: {split: subsets}}\n",
			`6:40: unknown istio split "subsets"; did you mean "subset"?`},
		{"istio needs kubernetes", local + "  router: {type: istio}\n",
			`6:18: router istio needs platform kubernetes, but the platform is local`},
		{"unknown provider type", local + builtin + "  providers: [{name: p, type: graphite}]\n",
			`7:31: unknown provider type "graphite"; use one of: builtin, prometheus`},
		{"duplicate provider", local + builtin + "  providers: [{name: p, type: builtin}, {name: p, type: builtin}]\n",
			`7:48: duplicate provider name "p" (first at line 7)`},
		{"prometheus without url", local + builtin + "  providers: [{name: p, type: prometheus}]\n",
			`7:15: provider p of type prometheus needs a url`},
		{"builtin provider without builtin router", "  platform: {type: kubernetes, kubernetes: {namespace: a}}\n  router: {type: istio}\n  providers: [{name: p, type: builtin}]\n",
			`7:31: provider p reads the builtin router's metrics, but the router is istio`},
		{"inline secret", local + builtin + "  providers: [{name: p, type: newrelic, credentials: {apiKey: NRAK-s3cr3t}}]\n",
			`7:63: credentials must be references, not inline values`},
		{"credential with env and file", local + builtin + "  providers: [{name: p, type: newrelic, credentials: {apiKey: {env: A, file: /b}}}]\n",
			`7:63: credential apiKey sets both env and file; use exactly one`},
		{"credential with neither", local + builtin + "  providers: [{name: p, type: newrelic, credentials: {apiKey: {}}}]\n",
			`7:63: credential apiKey needs env: VARIABLE_NAME, file: /path/to/secret or secret: {name: NAME, key: KEY}`},
		{"secret ref with env too", kube + "  providers: [{name: p, type: newrelic, credentials: {apiKey: {env: A, secret: {name: nr, key: k}}}}]\n",
			`7:63: credential apiKey sets both env and secret; use exactly one`},
		{"secret ref without name", kube + "  providers: [{name: p, type: newrelic, credentials: {apiKey: {secret: {key: k}}}}]\n",
			`7:72: missing required field "name" in kubernetes secret ref`},
		{"secret ref without key", kube + "  providers: [{name: p, type: newrelic, credentials: {apiKey: {secret: {name: nr}}}}]\n",
			`7:72: missing required field "key" in kubernetes secret ref`},
		{"secret ref with bad name", kube + "  providers: [{name: p, type: newrelic, credentials: {apiKey: {secret: {name: New_Relic, key: k}}}}]\n",
			`7:79: credential apiKey: secret name "New_Relic" is not a valid Kubernetes name`},
		{"secret ref with bad key", kube + "  providers: [{name: p, type: newrelic, credentials: {apiKey: {secret: {name: nr, key: 'api key'}}}}]\n",
			`7:88: credential apiKey: secret key "api key" is not a valid key`},
		{"secret ref with bad namespace", kube + "  providers: [{name: p, type: newrelic, credentials: {apiKey: {secret: {namespace: Ops, name: nr, key: k}}}}]\n",
			`7:84: secret namespace "Ops" is not a valid name`},
		{"secret ref without kubernetes", local + builtin + "  providers: [{name: p, type: newrelic, credentials: {apiKey: {secret: {name: nr, key: k}}}}]\n",
			`7:72: credential apiKey names a Kubernetes Secret, which needs platform kubernetes, but the platform is local`},
		{"secret ref in a notifier without kubernetes", local + builtin + "  notifications: {notifiers: [{type: slack, slack: {url: {secret: {name: hook, key: url}}}}]}\n",
			`7:67: credential slack.url names a Kubernetes Secret, which needs platform kubernetes`},
		{"secret in settings", local + builtin + "  providers: [{name: p, type: datadog, settings: {apiToken: abc}}]\n",
			`7:61: setting apiToken looks like a secret; move it to credentials`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := problemsOf(t, envHead+tc.body)
			if len(got) != 1 || !strings.HasPrefix(got[0], tc.want) {
				t.Fatalf("want one problem %q, got:\n%s", tc.want, strings.Join(got, "\n"))
			}
			if strings.Contains(got[0], "s3cr3t") {
				t.Errorf("problem repeats the secret: %s", got[0])
			}
		})
	}
}

func TestInlineSecretNeverEchoed(t *testing.T) {
	for _, body := range []string{
		"credentials: {apiKey: s3cr3t}",
		"credentials: {apiKey: [s3cr3t]}",
		"credentials: s3cr3t",
		"credentials: {apiKey: {env: [s3cr3t]}}",
		"credentials: {apiKey: {value: s3cr3t}}",
	} {
		src := envHead + "  platform: {type: local}\n  router: {type: builtin, builtin: {listen: ':80'}}\n" +
			"  providers: [{name: p, type: newrelic, " + body + "}]\n"
		got := strings.Join(problemsOf(t, src), "\n")
		if got == "" || strings.Contains(got, "s3cr3t") {
			t.Errorf("%s: problems %q (want some, none with the secret)", body, got)
		}
	}
}

func TestSeveralMistakesAllReportedInOrder(t *testing.T) {
	src := `apiVersion: sluice.dev/v1alpha1
kind: Workflow
metadata: {name: shop-release}
spec:
  variables:
    - {name: pct, type: percent, default: "10"}
    - {name: environment, type: string, default: local}
  environment: ${enviroment}
  service: {name: shop, port: 8080, artifact: ./shop}
  phases:
    - name: canary
      steps:
        - traffic: ${pct}
        - deploy: {instances: 100%, slott: new}
        - approval: {approvers: []}
        - wait: soon
    - name: canary
      steps:
        - promote: {}
---
apiVersion: sluice.dev/v1alpha1
kind: Environment
metadata: {name: local}
spec:
  platform: {type: local}
  router: {type: builtin}
`
	want := []string{
		"8:16: undefined variable ${enviroment} (did you mean ${environment}?); declared: pct, environment",
		"13:11: phase canary sends traffic to the new slot, but no earlier step deploys it",
		`14:37: unknown field "slott" in deploy step; did you mean "slot"?`,
		"15:33: approval has no approvers: list user names or group:<name>",
		`16:17: expected a duration like 30s or 5m, got "soon"`,
		`17:13: duplicate phase name "canary" (first at line 11)`,
		"26:11: router builtin needs a builtin block with listen, e.g. listen: 127.0.0.1:8080",
	}
	got := problemsOf(t, src)
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("got:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestCheckEnvironment(t *testing.T) {
	read := func(name string) []byte {
		b, err := os.ReadFile("../../examples/" + name)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	seed, err := ParseWorkflow("blue-green-canary.yaml", read("blue-green-canary.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	istio, err := ParseEnvironment("istio.yaml", read("environments/istio.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	local, err := ParseEnvironment("local.yaml", read("environments/local.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if ps := seed.CheckEnvironment(istio); len(ps) != 0 {
		t.Errorf("seed against istio: %v", ps)
	}
	onLocal, _, err := seed.Instantiate(map[string]string{"artifact": "sample-app:v2", "environment": "local"})
	if err != nil {
		t.Fatal(err)
	}
	ps := onLocal.CheckEnvironment(local)
	if len(ps) != 3 || !strings.Contains(ps[0].Message, `metric error-rate uses provider "prometheus", which environment local does not define (it defines: router)`) {
		t.Errorf("seed against local: %v", ps)
	}

	canary, err := ParseWorkflow("canary.yaml", read("canary.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if ps := canary.CheckEnvironment(local); len(ps) != 0 {
		t.Errorf("canary against local: %v", ps)
	}
	noHosts := *istio
	noHosts.Spec.Router.Istio = nil
	ps = canary.CheckEnvironment(&noHosts)
	if !strings.Contains(ps.Error(), "router istio needs hosts") || !strings.Contains(ps.Error(), `names environment "local"`) {
		t.Errorf("canary against istio without hosts: %v", ps)
	}
}

func TestCheckDocuments(t *testing.T) {
	var docs []Document
	for _, f := range []string{"blue-green-canary.yaml", "canary.yaml", "environments/istio.yaml", "environments/local.yaml"} {
		src, err := os.ReadFile("../../examples/" + f)
		if err != nil {
			t.Fatal(err)
		}
		d, err := ParseDocuments(f, src)
		if err != nil {
			t.Fatal(err)
		}
		docs = append(docs, d...)
	}
	if ps := CheckDocuments(docs); len(ps) != 0 {
		t.Errorf("examples checked together: %v", ps)
	}
	docs[3].Environment.Spec.Providers = nil
	if ps := CheckDocuments(docs); len(ps) != 2 || ps[0].Pos.File != "canary.yaml" {
		t.Errorf("canary against local without providers: %v", ps)
	}
}

// TestKubernetesSecretRef decodes a credential that names a key of a Kubernetes
// Secret, with and without its own namespace.
func TestKubernetesSecretRef(t *testing.T) {
	src := envHead + "  platform: {type: kubernetes, kubernetes: {namespace: shop}}\n  router: {type: istio}\n" +
		"  providers: [{name: nr, type: newrelic, credentials: {apiKey: {secret: {name: newrelic, key: api-key}}, " +
		"queryKey: {secret: {namespace: ops, name: nr.keys, key: query_key}}}}]\n"
	env, err := ParseEnvironment("f.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	creds := env.Spec.Providers[0].Credentials
	want := map[string]KubernetesSecretRef{
		"apiKey":   {Name: "newrelic", Key: "api-key"},
		"queryKey": {Namespace: "ops", Name: "nr.keys", Key: "query_key"},
	}
	for k, w := range want {
		if got := creds[k].Secret; got == nil || *got != w {
			t.Errorf("%s: got %+v, want %+v", k, got, w)
		}
	}
}

// TestLocalCommands: the local block's commands are checked with positions, and a
// literal artifact that names no command is reported against the environment.
func TestLocalCommands(t *testing.T) {
	src := `apiVersion: sluice.dev/v1alpha1
kind: Environment
metadata: {name: dev}
spec:
  platform:
    type: local
    local:
      user: "bad user"
      workDir: relative/dir
      commands:
        - {name: shop, executable: "/opt/shop/${VERSION}/shop", args: [--port, "${PORT}", "${HOME}"]}
        - {name: shop, executable: bin/shop}
        - {name: tools, executable: "/opt/tools/*/${VERSION}"}
        - {name: bad-glob, executable: "/opt/[x"}
  router: {type: builtin, builtin: {listen: 127.0.0.1:8080}}
`
	_, err := ParseEnvironment("dev.yaml", []byte(src))
	if err == nil {
		t.Fatal("no problems reported")
	}
	for _, want := range []string{
		`dev.yaml:8:13: local.user "bad user" is not a user name or uid (at spec.platform.local.user)`,
		`dev.yaml:9:16: local.workDir "relative/dir" must be an absolute, clean path (at spec.platform.local.workDir)`,
		`dev.yaml:11:91: unknown ${HOME}; a local command may use: ${PORT}, ${SLOT}, ${SERVICE}, ${INSTANCE}, ${VERSION} (at spec.platform.local.commands[0].args[2])`,
		`dev.yaml:12:18: duplicate command name "shop" (first at line 11) (at spec.platform.local.commands[1].name)`,
		`dev.yaml:12:36: command executable "bin/shop" must be an absolute, clean path`,
		`dev.yaml:13:37: command executable "/opt/tools/*/${VERSION}" uses both ${VERSION} and a glob; use one`,
		`dev.yaml:14:40: command executable "/opt/[x" is not a valid glob`,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("problems lack %q:\n%v", want, err)
		}
	}
	good := strings.NewReplacer(`user: "bad user"`, `user: nobody`, `relative/dir`, `/var/lib/work`,
		`, "${HOME}"`, ``, `- {name: shop, executable: bin/shop}`, ``,
		`"/opt/tools/*/${VERSION}"`, `"/opt/tools/*"`, `"/opt/[x"`, `/opt/x`).Replace(src)
	env, err := ParseEnvironment("dev.yaml", []byte(good))
	if err != nil {
		t.Fatalf("a good local block: %v", err)
	}
	wf, err := ParseWorkflow("wf.yaml", []byte(`apiVersion: sluice.dev/v1alpha1
kind: Workflow
metadata: {name: w}
spec:
  environment: dev
  service:
    name: shop
    port: 8080
    artifact: "sh -c id"
    env:
      LOG: debug
      DB_PASSWORD: {value: hunter22, secret: true}
  phases:
    - name: p
      steps:
        - deploy: {instances: 1}
`))
	if err != nil {
		t.Fatal(err)
	}
	if probs := wf.CheckEnvironment(env); len(probs) != 1 || !strings.Contains(probs.Error(), `artifact "sh -c id" names no command of environment dev's local.commands (it has: shop, tools, bad-glob)`) {
		t.Errorf("CheckEnvironment: %v", probs)
	}
	if got := EnvValues(wf.Spec.Service.Env); got["LOG"] != "debug" || got["DB_PASSWORD"] != "hunter22" {
		t.Errorf("EnvValues = %v", got)
	}
	if got := SecretEnvValues(wf.Spec.Service.Env); len(got) != 1 || got[0] != "hunter22" {
		t.Errorf("SecretEnvValues = %v", got)
	}
}
