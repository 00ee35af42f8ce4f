package spec

import (
	"strings"
	"testing"
)

// TestLoadTestAndCountsProblems: bad load test urls and headers and a misplaced
// query pair are reported where they are written.
func TestLoadTestAndCountsProblems(t *testing.T) {
	seq := wfHead + "        - verify:\n            metrics:\n              - {name: e, provider: p, query: errors, "
	for _, tc := range []struct{ name, src, want string }{
		{"url without a host", wfHead + "        - loadtest: {url: /checkout, duration: 1s}\n",
			`11:27: loadtest url "/checkout" is not an http(s) URL with a host`},
		{"url and target", wfHead + "        - loadtest: {target: new, url: http://gw/, duration: 1s}\n",
			`11:30: loadtest sets both target and url; the url is where the load goes, so leave target out`},
		{"url and path", wfHead + "        - loadtest: {url: http://gw/, path: /a, duration: 1s}\n",
			`11:45: loadtest sets both path and url; put the path in the url`},
		{"bad header name", wfHead + "        - loadtest: {url: http://gw/, headers: {\"x canary\": \"1\"}, duration: 1s}\n",
			`11:48: loadtest header name "x canary" is not a valid HTTP header name`},
		{"total on the threshold judge", seq + "total: requests, successCondition: result < 1}\n",
			`13:62: metric e: total is the sequential judge's count of all requests; this metric's judge is threshold`},
		{"counts without total", seq + "judge: sequential, counts: cumulative}\n",
			`13:82: metric e: counts says what query and total answer; add total:`},
		{"unknown counts", seq + "judge: sequential, total: requests, counts: running}\n",
			`13:99: unknown counts "running"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := problemsOf(t, tc.src)
			for _, p := range got {
				if strings.HasPrefix(p, tc.want) {
					return
				}
			}
			t.Fatalf("problems %q, want one starting %q", got, tc.want)
		})
	}
	ok := wfHead + "        - loadtest: {url: \"https://gw.example.com/checkout\", headers: {X-Canary: always, Host: shop.example.com}, duration: 1s}\n"
	if got := problemsOf(t, ok); len(got) != 0 {
		t.Fatalf("a valid url load test: %q", got)
	}
}

// TestReachProblems checks a workflow against environments: a load test on a
// target slot of a cluster sluice reaches through a kubeconfig, and sequential
// metrics that cannot get counts from their provider, each with its position.
func TestReachProblems(t *testing.T) {
	env := func(platform string) *Environment {
		src := envHead + "  platform: " + platform + "\n  router: {type: istio, istio: {hosts: [shop.example.com]}}\n" +
			"  providers:\n    - {name: prom, type: prometheus, url: http://prom:9090}\n"
		e, err := ParseEnvironment("env.yaml", []byte(src))
		if err != nil {
			t.Fatal(err)
		}
		return e
	}
	outside := env("{type: kubernetes, kubernetes: {namespace: shop, kubeconfig: /home/me/.kube/config}}")
	inside := env("{type: kubernetes, kubernetes: {namespace: shop}}")
	viaSlotURL := env("{type: kubernetes, kubernetes: {namespace: shop, kubeconfig: /k, slotURL: \"http://127.0.0.1:8001/api/v1/namespaces/shop/services/{{service}}-{{slot}}:{{port}}/proxy\"}}")
	wf := func(steps string) *Workflow {
		w, err := ParseWorkflow("wf.yaml", []byte(strings.Replace(wfHead, "environment: local", "environment: env", 1)+steps))
		if err != nil {
			t.Fatal(err)
		}
		return w
	}
	for _, tc := range []struct {
		name  string
		w     *Workflow
		env   *Environment
		want  string // "" for no problem
		where string
	}{
		{"target outside the cluster", wf("        - loadtest: {rate: 5, duration: 1s}\n"), outside,
			"loadtest target new is the slot's Service inside the cluster, which sluice cannot reach: environment env reaches its cluster through kubeconfig /home/me/.kube/config, so sluice runs outside it; set url: instead",
			"wf.yaml:11:11"},
		{"target in the cluster", wf("        - loadtest: {target: new, duration: 1s}\n"), inside, "", ""},
		{"target outside the cluster through slotURL", wf("        - loadtest: {target: new, duration: 1s}\n"), viaSlotURL, "", ""},
		{"url outside the cluster", wf("        - loadtest: {url: \"http://gw.example.com/\", headers: {X-Canary: always}, duration: 1s}\n"), outside, "", ""},
		{"sequential on prometheus without total", wf("        - verify: {metrics: [{name: e, provider: prom, query: errors, judge: sequential}]}\n"), inside,
			"metric e: the sequential judge needs counts of failed and of all requests; provider prom (prometheus) answers numbers", "wf.yaml:11:30"},
		{"sequential on prometheus with windowed counts", wf("        - verify: {metrics: [{name: e, provider: prom, query: errors, total: all, judge: sequential}]}\n"), inside,
			"metric e: on Prometheus, set counts: cumulative", "wf.yaml:11:30"},
		{"sequential on prometheus with cumulative counts", wf("        - verify: {metrics: [{name: e, provider: prom, query: errors, total: all, counts: cumulative, judge: sequential}]}\n"), inside, "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ps := tc.w.CheckEnvironment(tc.env)
			if tc.want == "" {
				if len(ps) != 0 {
					t.Fatalf("problems: %v", ps)
				}
				return
			}
			if len(ps) != 1 || !strings.HasPrefix(ps[0].Message, tc.want) || ps[0].Pos.String() != tc.where {
				t.Fatalf("problems %v, want one at %s: %s", ps, tc.where, tc.want)
			}
		})
	}
}

// TestSlotURLProblems: a kubernetes slotURL that cannot tell the slots apart, has an
// unknown placeholder or is no URL is reported at its position.
func TestSlotURLProblems(t *testing.T) {
	head := envHead + "  router: {type: istio, istio: {hosts: [a.example.com]}}\n  platform:\n    type: kubernetes\n    kubernetes:\n      namespace: shop\n      slotURL: "
	for _, tc := range []struct{ name, url, want string }{
		{"no slot", `"http://shop.internal/"`, `10:16: slotURL "http://shop.internal/" has no {{slot}}`},
		{"unknown placeholder", `"http://{{slot}}.{{cluster}}/"`, `10:16: slotURL placeholder {{cluster}} is unknown`},
		{"not a URL", `"{{slot}}.shop.internal"`, `10:16: slotURL "{{slot}}.shop.internal" is not an http:// or https:// URL with a host`},
		{"fine", `"https://{{service}}-{{slot}}.{{namespace}}.internal:{{port}}"`, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := problemsOf(t, head+tc.url+"\n")
			if tc.want == "" {
				if len(got) != 0 {
					t.Fatalf("problems %q, want none", got)
				}
				return
			}
			if len(got) != 1 || !strings.HasPrefix(got[0], tc.want) {
				t.Fatalf("problems %q, want one starting %q", got, tc.want)
			}
		})
	}
}
