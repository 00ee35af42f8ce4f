package ui_test

import (
	"encoding/json"
	"fmt"
	"html/template"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/sluicehq/sluice/internal/server"
)

// evilFiles is what an attacker page tries to store: a workflow whose artifact is a
// command line. It is valid: the same bytes sent by the server's own page are stored.
const evilFiles = `apiVersion: sluice.dev/v1alpha1
kind: Workflow
metadata: {name: evil}
spec:
  environment: prod
  service: {name: evil, port: 8080, artifact: "sh -c 'touch /tmp/sluice-pwned'", instances: 1}
  phases:
    - name: take-over
      steps:
        - deploy: {instances: 100%}
`

// attackerPage is served from another origin (127.0.0.2). attack() tries every
// cross-origin way a page has to change state on the target: simple fetches in
// no-cors mode (text/plain, urlencoded, no body), fetches that need a preflight
// (JSON, custom header, DELETE), a cross-origin read, and HTML form POSTs (text/plain
// shaped as JSON: name + "=" + value is {"variables":{...,"artifact":"evil:1="}}),
// urlencoded, multipart). It answers what each fetch did.
var attackerPage = template.Must(template.New("attacker").Parse(`<!doctype html>
<title>totally harmless</title>
<iframe name="sink1"></iframe><iframe name="sink2"></iframe><iframe name="sink3"></iframe><iframe name="sink4"></iframe>
<form id="f1" target="sink1" method="POST" enctype="text/plain" action="{{.Target}}/api/v1/workflows/shop/run"><input name='{"variables":{"canary_percent":"10","artifact":"evil:1' value='"}}'></form>
<form id="f2" target="sink2" method="POST" action="{{.Target}}/api/v1/apply"><input name="doc" value="{{.YAML}}"></form>
<form id="f3" target="sink3" method="POST" enctype="multipart/form-data" action="{{.Target}}/api/v1/apply"><textarea name="doc">{{.YAML}}</textarea></form>
<form id="f4" target="sink4" method="POST" enctype="text/plain" action="{{.Target}}/api/v1/apply"><textarea name="doc">{{.YAML}}</textarea></form>
<script>
const target = {{.Target}};
const yaml = {{.YAML}};
const run = JSON.stringify({variables: {artifact: 'evil:1'}});
window.attack = async () => {
  const tries = [
    ['no-cors text/plain apply', () => fetch(target + '/api/v1/apply', {method: 'POST', mode: 'no-cors', credentials: 'include', headers: {'Content-Type': 'text/plain'}, body: yaml})],
    ['no-cors text/plain run', () => fetch(target + '/api/v1/workflows/shop/run', {method: 'POST', mode: 'no-cors', credentials: 'include', headers: {'Content-Type': 'text/plain'}, body: run})],
    ['no-cors urlencoded run', () => fetch(target + '/api/v1/workflows/shop/run', {method: 'POST', mode: 'no-cors', credentials: 'include', body: new URLSearchParams({variables: 'x'})})],
    ['no-cors empty run', () => fetch(target + '/api/v1/workflows/shop/run', {method: 'POST', mode: 'no-cors', credentials: 'include'})],
    ['cors json run', () => fetch(target + '/api/v1/workflows/shop/run', {method: 'POST', credentials: 'include', headers: {'Content-Type': 'application/json', 'X-Sluice-Request': '1'}, body: run})],
    ['cors yaml apply', () => fetch(target + '/api/v1/apply', {method: 'POST', credentials: 'include', headers: {'Content-Type': 'application/yaml'}, body: yaml})],
    ['cors delete', () => fetch(target + '/api/v1/workflows/shop', {method: 'DELETE', credentials: 'include'})],
    ['cors read', () => fetch(target + '/api/v1/executions', {credentials: 'include'}).then((r) => r.text())],
  ];
  const out = {};
  for (const [name, fn] of tries) {
    try { await fn(); out[name] = 'sent'; } catch (e) { out[name] = 'blocked: ' + e.name; }
  }
  for (const id of ['f1', 'f2', 'f3', 'f4']) {
    const f = document.getElementById(id);
    const frame = document.querySelector('iframe[name="' + f.target + '"]');
    await new Promise((resolve) => { frame.onload = resolve; f.submit(); });
    out['form ' + f.enctype + ' ' + id] = 'submitted';
  }
  return out;
};
</script>`))

// originServer is a sluice server started as `sluice server` is, with or without
// authentication, and its admin token when it has one.
type originServer struct {
	url, admin string
}

func startOriginServer(t *testing.T, withAuth bool) *originServer {
	t.Helper()
	dir := t.TempDir()
	tokenFile := filepath.Join(dir, "admin-token")
	addr := runServer(t, server.Config{DataDir: filepath.Join(dir, "data"),
		Security: server.Security{Auth: withAuth, BootstrapTokenFile: tokenFile}})
	s := &originServer{url: "http://" + addr}
	if withAuth {
		s.admin = bootstrapToken(t, tokenFile)
	}
	return s
}

// call is one API request as the CLI makes it; it returns the status and decodes
// the answer into out.
func (s *originServer) call(t *testing.T, method, path, ctype, body string, out any) int {
	t.Helper()
	req, err := http.NewRequest(method, s.url+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("X-Sluice-Request", "1")
	req.Header.Set("X-Sluice-User", "alice")
	if s.admin != "" {
		req.Header.Set("Authorization", "Bearer "+s.admin)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if out != nil {
		if err := json.NewDecoder(res.Body).Decode(out); err != nil {
			t.Fatalf("%s %s: decode: %v", method, path, err)
		}
	}
	return res.StatusCode
}

// state is what the attacks could have changed: workflow names and executions.
func (s *originServer) state(t *testing.T) (workflows []string, executions int) {
	t.Helper()
	var wfs, exs struct{ Items []struct{ Name, ID string } }
	if code := s.call(t, "GET", "/api/v1/workflows", "", "", &wfs); code != http.StatusOK {
		t.Fatalf("list workflows: HTTP %d", code)
	}
	if code := s.call(t, "GET", "/api/v1/executions", "", "", &exs); code != http.StatusOK {
		t.Fatalf("list executions: HTTP %d", code)
	}
	for _, w := range wfs.Items {
		workflows = append(workflows, w.Name)
	}
	return workflows, len(exs.Items)
}

// serveAttacker serves attackerPage on 127.0.0.2, another origin (and site) than
// the server's 127.0.0.1.
func serveAttacker(t *testing.T, target string) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.2:0")
	if err != nil {
		t.Skipf("cannot listen on 127.0.0.2 (another loopback address): %v", err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		if err := attackerPage.Execute(w, struct{ Target, YAML string }{target, evilFiles}); err != nil {
			t.Errorf("attacker page: %v", err)
		}
	}), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return "http://" + ln.Addr().String()
}

// TestBrowserCrossOriginAttacks opens, in real Chromium, a page on another origin
// that tries every cross-origin way to store a workflow, run one, delete one and
// read executions, against a server without authentication and against one with
// authentication where the person is signed in in the same browser. Nothing is
// stored and nothing runs; the same payloads sent by the server's own page succeed,
// so it is the origin rules that refused them. A page reached through a rebound DNS
// name (another Host) can neither read nor write.
func TestBrowserCrossOriginAttacks(t *testing.T) {
	chromium(t)
	for _, withAuth := range []bool{false, true} {
		t.Run(map[bool]string{false: "auth off", true: "signed in with auth"}[withAuth], func(t *testing.T) {
			s := startOriginServer(t, withAuth)
			if code := s.call(t, "POST", "/api/v1/apply?file=shop.yaml", "application/yaml", uiFiles, nil); code != http.StatusOK {
				t.Fatalf("apply shop: HTTP %d", code)
			}
			attacker := serveAttacker(t, s.url)
			port := s.url[strings.LastIndex(s.url, ":")+1:]
			b := newBrowser(t, s.url, chromedp.Flag("host-resolver-rules", "MAP rebind.test 127.0.0.1"))
			b.do("open the UI", chromedp.Navigate(s.url+"/"))
			csrf := ""
			if withAuth {
				b.eval(fmt.Sprintf(`fetch('/api/v1/login', {method: 'POST', headers: {'Content-Type': 'application/json'},
					body: JSON.stringify({token: %q})}).then((r) => r.json()).then((j) => j.csrfToken)`, s.admin), &csrf)
				if csrf == "" {
					b.fail("sign-in in the browser answered no CSRF token")
				}
			}

			b.do("open the attacker page", chromedp.Navigate(attacker+"/"))
			var out map[string]string
			b.eval(`window.attack()`, &out)
			t.Logf("attacker page: %v", out)
			for _, name := range []string{"cors json run", "cors yaml apply", "cors delete", "cors read"} {
				if !strings.HasPrefix(out[name], "blocked") {
					b.fail("%s from another origin was not blocked by the browser: %q (the server must grant no CORS)", name, out[name])
				}
			}
			if len(out) != 12 {
				b.fail("the attacker page ran %d of 12 attacks: %v", len(out), out)
			}
			wfs, exs := s.state(t)
			if strings.Join(wfs, ",") != "shop" || exs != 0 {
				t.Fatalf("after the cross-origin attacks: workflows %v and %d executions, want only shop and none", wfs, exs)
			}

			// DNS rebinding: a page whose name now resolves to the server. Its script is
			// same-origin with what it fetches, so only the Host check stands in the way.
			b.do("open the rebound name", chromedp.Navigate("http://rebind.test:"+port+"/"))
			var page string
			b.eval(`document.body.innerText`, &page)
			if !strings.Contains(page, "foreign_host") {
				b.fail("the UI served under a foreign Host: %q", page)
			}
			var codes []int
			b.eval(fmt.Sprintf(`Promise.all([
				fetch('/api/v1/executions').then((r) => r.status),
				fetch('/api/v1/executions/x/events', {headers: {Accept: 'text/event-stream'}}).then((r) => r.status),
				fetch('/api/v1/apply', {method: 'POST', headers: {'Content-Type': 'application/yaml', 'X-Sluice-Request': '1'}, body: %q}).then((r) => r.status),
				fetch('/api/v1/workflows/shop/run', {method: 'POST', headers: {'Content-Type': 'application/json', 'X-Sluice-Request': '1'}, body: '{}'}).then((r) => r.status),
			])`, evilFiles), &codes)
			for i, c := range codes {
				if c != http.StatusMisdirectedRequest {
					b.fail("request %d from the rebound name answered %d, want 421: %v", i, c, codes)
				}
			}
			if wfs, exs := s.state(t); strings.Join(wfs, ",") != "shop" || exs != 0 {
				t.Fatalf("after DNS rebinding: workflows %v and %d executions, want only shop and none", wfs, exs)
			}

			// The control: the same payloads from the server's own page are accepted.
			b.do("back to the UI", chromedp.Navigate(s.url+"/"))
			var status []int
			b.eval(fmt.Sprintf(`(async () => {
				const h = {'X-Sluice-Request': '1', 'X-Sluice-CSRF': %q};
				const a = await fetch('/api/v1/apply', {method: 'POST', headers: {...h, 'Content-Type': 'application/yaml'}, body: %q});
				const r = await fetch('/api/v1/workflows/shop/run', {method: 'POST', headers: {...h, 'Content-Type': 'application/json'}, body: JSON.stringify({variables: {artifact: 'evil:1'}})});
				return [a.status, r.status];
			})()`, csrf, evilFiles), &status)
			if len(status) != 2 || status[0] != http.StatusOK || status[1] != http.StatusCreated {
				b.fail("the same apply and run from the server's own page answered %v, want [200 201]", status)
			}
			if wfs, exs := s.state(t); !strings.Contains(strings.Join(wfs, ","), "evil") || exs != 1 {
				t.Fatalf("after the same-origin control: workflows %v and %d executions, want evil stored and one run", wfs, exs)
			}
		})
	}
}
