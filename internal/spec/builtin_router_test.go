package spec

import (
	"strings"
	"testing"
)

// TestBuiltinRouterFields: the builtin router's mode, TLS, mirror and process are
// accepted when valid and refused at their position otherwise.
func TestBuiltinRouterFields(t *testing.T) {
	local := "  platform: {type: local}\n"
	router := func(extra string) string {
		return local + "  router: {type: builtin, builtin: {listen: 127.0.0.1:8080" + extra + "}}\n"
	}
	cases := []struct{ name, body, want string }{
		{"all valid", router(", mode: http, tls: {cert: /c.pem, key: /k.pem}, mirror: {to: blue, percent: 10}, process: inprocess"), ""},
		{"tcp mode", router(", mode: tcp"), ""},
		{"unknown mode", router(", mode: udp"), `6:67: unknown builtin mode "udp"`},
		{"unknown process", router(", process: detached"), `6:70: unknown builtin process "detached"`},
		{"tls without key", router(", tls: {cert: /c.pem}"), `6:66: missing required field "key" in builtin tls`},
		{"tls in tcp mode", router(", mode: tcp, tls: {cert: /c.pem, key: /k.pem}"), `6:77: tls terminates HTTP`},
		{"mirror percent", router(", mirror: {to: blue, percent: 0}"), `6:89: mirror.percent must be 1-100, got 0`},
		{"mirror slot", router(", mirror: {to: purple, percent: 5}"), `6:74: unknown mirror slot "purple"`},
		{"mirror without slot", router(", mirror: {percent: 5}"), `6:69: missing required field "to" in builtin mirror`},
		{"mirror in tcp mode", router(", mode: tcp, mirror: {to: blue, percent: 5}"), `6:80: mirroring copies HTTP requests`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := problemsOf(t, envHead+tc.body)
			if tc.want == "" {
				if len(got) != 0 {
					t.Fatalf("want no problem, got:\n%s", strings.Join(got, "\n"))
				}
				return
			}
			if len(got) != 1 || !strings.HasPrefix(got[0], tc.want) {
				t.Fatalf("want one problem %q, got:\n%s", tc.want, strings.Join(got, "\n"))
			}
		})
	}
}
