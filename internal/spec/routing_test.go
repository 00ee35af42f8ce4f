package spec

import (
	"strings"
	"testing"
)

func TestRoutingParses(t *testing.T) {
	src := wfHead + `        - service:
            routing:
              match:
                - {header: X-Canary, value: "true"}
                - {cookie: canary, value: "1"}
              sticky: true
`
	w, err := ParseWorkflow("f.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	r := w.Spec.Phases[0].Steps[1].Service.Routing
	want := []RouteMatch{{Header: "X-Canary", Value: "true"}, {Cookie: "canary", Value: "1"}}
	if r == nil || !r.Sticky || len(r.Match) != 2 {
		t.Fatalf("routing = %+v", r)
	}
	for i := range want {
		got := r.Match[i]
		if got.Header != want[i].Header || got.Cookie != want[i].Cookie || got.Value != want[i].Value {
			t.Errorf("match[%d] = %+v, want %+v", i, got, want[i])
		}
		if got.Pos.Line != 14+i {
			t.Errorf("match[%d] at line %d, want %d", i, got.Pos.Line, 14+i)
		}
	}
}

func TestRoutingProblems(t *testing.T) {
	tests := []struct{ name, rule, want string }{
		{"neither header nor cookie", `{value: "1"}`,
			`14:19: routing rule needs a header or a cookie to match`},
		{"both header and cookie", `{header: X-A, cookie: a, value: "1"}`,
			`14:19: routing rule has both header "X-A" and cookie "a"; one rule matches one of them, so write two rules`},
		{"bad header name", `{header: "X Canary", value: "1"}`,
			`14:28: header name "X Canary" may hold only letters, digits`},
		{"bad cookie name", `{cookie: "can;ary", value: "1"}`,
			`14:28: cookie name "can;ary" may hold only letters, digits`},
		{"missing value", `{header: X-Canary}`,
			`14:19: missing required field "value" in route match`},
		{"empty value", `{header: X-Canary, value: ""}`,
			`14:45: routing rule needs a value to match exactly`},
		{"cookie value with a semicolon", `{cookie: canary, value: "a;b"}`,
			`14:43: cookie value "a;b" may not hold spaces, quotes, commas, semicolons or backslashes`},
		{"unknown field", `{header: X-Canary, value: "1", regex: "a.*"}`,
			`14:50: unknown field "regex" in route match; known fields: header, cookie, value`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			src := wfHead + "        - service:\n            routing:\n              match:\n                - " + tc.rule + "\n"
			got := problemsOf(t, src)
			if len(got) != 1 {
				t.Fatalf("want exactly one problem %q, got %d:\n%s", tc.want, len(got), strings.Join(got, "\n"))
			}
			if !strings.HasPrefix(got[0], tc.want) {
				t.Errorf("got  %s\nwant %s", got[0], tc.want)
			}
		})
	}
}

func TestRoutingAgainstRouters(t *testing.T) {
	wf := wfHead + `        - service:
            routing:
              match:
                - {header: X-Canary, value: "true"}
                - {cookie: canary, value: "1"}
              sticky: true
`
	w, err := ParseWorkflow("f.yaml", []byte(wf))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, router string
		want         []string
	}{
		{"builtin does it all", "{type: builtin, builtin: {listen: 127.0.0.1:8080}}", nil},
		{"istio has no sticky sessions", "{type: istio, istio: {hosts: [shop.example.com]}}", []string{
			"spec.phases[0].steps[1].service.routing.sticky: sticky sessions are a feature of the builtin router"}},
		{"gateway api matches no cookies", "{type: gatewayapi, gatewayapi: {gateway: public}}", []string{
			"spec.phases[0].steps[1].service.routing.sticky: sticky sessions are a feature of the builtin router",
			"spec.phases[0].steps[1].service.routing.match[1].cookie: the Gateway API cannot match cookies"}},
		{"adopted virtual service", "{type: istio, istio: {hosts: [a.example.com], virtualService: mine}}", []string{
			"spec.phases[0].steps[1].service.routing.sticky: sticky",
			"spec.phases[0].steps[1].service.routing.match: routing rules need the virtual service sluice generates"}},
		{"istio tcp", "{type: istio, istio: {hosts: [a.example.com], protocol: tcp}}", []string{
			"spec.phases[0].steps[1].service.routing.sticky: sticky",
			"spec.phases[0].steps[1].service.routing.match: routing rules match HTTP requests; environment local routes tcp"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			env, err := ParseEnvironment("env.yaml", []byte(strings.Replace(envHead, "{name: env}", "{name: local}", 1)+
				platform(tc.router)+"  router: "+tc.router+"\n"))
			if err != nil {
				t.Fatal(err)
			}
			ps := w.CheckEnvironment(env)
			if len(ps) != len(tc.want) {
				t.Fatalf("got %d problems, want %d:\n%v", len(ps), len(tc.want), ps)
			}
			for i, p := range ps {
				if got := p.Path + ": " + p.Message; !strings.HasPrefix(got, tc.want[i]) {
					t.Errorf("problem %d:\ngot  %s\nwant %s", i, got, tc.want[i])
				}
			}
		})
	}
}

// platform is the platform line an environment with router needs.
func platform(router string) string {
	if strings.Contains(router, "builtin") {
		return "  platform: {type: local, local: {commands: [{name: shop, executable: /srv/shop/bin/shop}]}}\n"
	}
	return "  platform: {type: kubernetes, kubernetes: {namespace: shop}}\n"
}
