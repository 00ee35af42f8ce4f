package api_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/internal/api"
	"github.com/sluicehq/sluice/internal/auth"
	"github.com/sluicehq/sluice/internal/store"
)

// TestNewOriginsFlags: a bad --public-url or --allowed-host is refused with an error
// naming the flag and the value.
func TestNewOriginsFlags(t *testing.T) {
	tests := []struct {
		public string
		hosts  []string
		want   string // "" for accepted
	}{
		{"https://sluice.example.com", []string{"sluice.internal", "sluice.internal:7070", "[fd00::1]:7070", "*"}, ""},
		{"sluice.example.com", nil, `--public-url "sluice.example.com"`},
		{"ftp://sluice.example.com", nil, `--public-url "ftp://sluice.example.com"`},
		{"", []string{"https://sluice.example.com"}, `--allowed-host "https://sluice.example.com": a URL`},
		{"", []string{""}, `--allowed-host "": empty`},
		{"", []string{"sluice.example.com/ui"}, `--allowed-host "sluice.example.com/ui": not a host name`},
		{"", []string{"*.example.com"}, `--allowed-host "*.example.com": not a host name`},
	}
	for _, tt := range tests {
		_, err := api.NewOrigins(tt.public, tt.hosts)
		switch {
		case tt.want == "" && err != nil:
			t.Errorf("NewOrigins(%q, %q): %v", tt.public, tt.hosts, err)
		case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
			t.Errorf("NewOrigins(%q, %q) = %v, want an error with %q", tt.public, tt.hosts, err, tt.want)
		}
	}
}

// originCase is one request shape and the status the guard must answer it with.
type originCase struct {
	name   string
	method string
	path   string
	host   string
	hdr    []string
	want   int
	code   string
}

// originCases cover the Host check (every route, health checks exempt), the
// cross-origin check (Origin, Sec-Fetch-Site) and the non-simple rule, each with the
// request that is accepted beside the ones refused.
func originCases() []originCase {
	const run = "/api/v1/workflows/checkout/run"
	cli := "X-Sluice-Request: 1"
	return []originCase{
		{"CLI run", "POST", run, "", []string{cli, "Content-Type: application/json"}, http.StatusCreated, ""},
		{"curl with a JSON content type", "POST", run, "", []string{"X-Sluice-Request:", "Content-Type: application/json"}, http.StatusCreated, ""},
		{"the UI (same origin)", "POST", run, "", []string{cli, "Content-Type: application/json", "Origin: http://HOST", "Sec-Fetch-Site: same-origin"}, http.StatusCreated, ""},
		{"the public URL's origin", "POST", run, "sluice.example.com", []string{cli, "Content-Type: application/json", "Origin: https://sluice.example.com"}, http.StatusCreated, ""},
		{"form text/plain", "POST", run, "", []string{"X-Sluice-Request:", "Content-Type: text/plain"}, http.StatusUnsupportedMediaType, api.CodeSimpleRequest},
		{"form urlencoded", "POST", run, "", []string{"X-Sluice-Request:", "Content-Type: application/x-www-form-urlencoded"}, http.StatusUnsupportedMediaType, api.CodeSimpleRequest},
		{"form multipart", "POST", run, "", []string{"X-Sluice-Request:", "Content-Type: multipart/form-data; boundary=x"}, http.StatusUnsupportedMediaType, api.CodeSimpleRequest},
		{"no content type, no header", "POST", run, "", []string{"X-Sluice-Request:"}, http.StatusUnsupportedMediaType, api.CodeSimpleRequest},
		{"text/plain with charset", "POST", run, "", []string{"X-Sluice-Request:", "Content-Type: Text/Plain; charset=utf-8"}, http.StatusUnsupportedMediaType, api.CodeSimpleRequest},
		{"cross-site fetch", "POST", run, "", []string{cli, "Content-Type: application/json", "Origin: http://127.0.0.2:8000", "Sec-Fetch-Site: cross-site"}, http.StatusForbidden, api.CodeCrossOrigin},
		{"same-site other port", "POST", run, "", []string{cli, "Content-Type: application/json", "Origin: http://localhost:8000", "Sec-Fetch-Site: same-site"}, http.StatusForbidden, api.CodeCrossOrigin},
		{"foreign Origin, no Sec-Fetch-Site", "POST", run, "", []string{cli, "Content-Type: application/json", "Origin: http://evil.example"}, http.StatusForbidden, api.CodeCrossOrigin},
		{"null Origin", "POST", run, "", []string{cli, "Content-Type: application/json", "Origin: null"}, http.StatusForbidden, api.CodeCrossOrigin},
		{"curl DELETE needs no header", "DELETE", "/api/v1/workflows/nope", "", []string{"X-Sluice-Request:"}, http.StatusNotFound, api.CodeNotFound},
		{"cross-site DELETE", "DELETE", "/api/v1/workflows/checkout", "", []string{cli, "Origin: http://evil.example", "Sec-Fetch-Site: cross-site"}, http.StatusForbidden, api.CodeCrossOrigin},
		{"foreign Host write", "POST", run, "rebind.example:7070", []string{cli, "Content-Type: application/json"}, http.StatusMisdirectedRequest, api.CodeForeignHost},
		{"foreign Host read", "GET", "/api/v1/executions", "rebind.example:7070", nil, http.StatusMisdirectedRequest, api.CodeForeignHost},
		{"foreign Host event stream", "GET", "/api/v1/executions/e1/events", "rebind.example", []string{"Accept: text/event-stream"}, http.StatusMisdirectedRequest, api.CodeForeignHost},
		{"foreign Host audit export", "GET", "/api/v1/audit", "rebind.example", nil, http.StatusMisdirectedRequest, api.CodeForeignHost},
		{"foreign Host health check", "GET", "/healthz", "10-0-0-7.pod.example", nil, http.StatusOK, ""},
		{"allowed host", "GET", "/api/v1/workflows", "sluice.internal:9000", nil, http.StatusOK, ""},
		{"allowed host:port, other port", "GET", "/api/v1/workflows", "sluice.port:9000", nil, http.StatusMisdirectedRequest, api.CodeForeignHost},
		{"localhost", "GET", "/api/v1/workflows", "localhost:1234", nil, http.StatusOK, ""},
		{"IPv6 loopback", "GET", "/api/v1/workflows", "[::1]:7070", nil, http.StatusOK, ""},
		{"cross-site GET is a read", "GET", "/api/v1/workflows", "", []string{"Origin: http://evil.example", "Sec-Fetch-Site: cross-site"}, http.StatusOK, ""},
	}
}

// TestOriginRules sends each request shape with authentication off and on: refused
// ones answer their status and code, and nothing they asked for is stored or run.
func TestOriginRules(t *testing.T) {
	origins, err := api.NewOrigins("https://sluice.example.com", []string{"sluice.internal", "sluice.port:7070"})
	if err != nil {
		t.Fatal(err)
	}
	for _, withAuth := range []bool{false, true} {
		for _, tc := range originCases() {
			t.Run(map[bool]string{false: "auth off/", true: "auth on/"}[withAuth]+tc.name, func(t *testing.T) {
				withOrigins := func(d *api.Deps) { d.Origins = origins }
				h := &authHarness{harness: newHarness(t, withOrigins), tokens: map[string]string{}}
				if withAuth {
					h = newAuthHarness(t, withOrigins)
					h.user("root", auth.RoleAdmin, "*")
				}
				for _, doc := range strings.Split(readFile(t, "apply-all.yaml"), "\n---\n") {
					if code, b := h.as("root", "POST", "/api/v1/apply", doc); code != http.StatusOK {
						t.Fatalf("seed apply: %d %s", code, b)
					}
				}
				h.spy.start = store.Execution{ID: "e2", Workflow: "checkout", WorkflowVersion: 1, Environment: "staging"}
				hdr := append([]string(nil), tc.hdr...)
				for i := range hdr {
					hdr[i] = strings.ReplaceAll(hdr[i], "HOST", strings.TrimPrefix(h.srv.URL, "http://"))
				}
				if tc.host != "" {
					hdr = append(hdr, "Host: "+tc.host)
				}
				if withAuth {
					hdr = append(hdr, "Authorization: Bearer "+h.tokens["root"])
				}
				body := ""
				if tc.method == "POST" {
					body = `{"variables":{"version":"v2"}}`
				}
				code, b := h.do(tc.method, tc.path, body, hdr...)
				if code != tc.want {
					t.Fatalf("%s %s: %d %s, want %d", tc.method, tc.path, code, b, tc.want)
				}
				if tc.code == "" {
					return
				}
				var eb api.ErrorBody
				if err := json.Unmarshal(b, &eb); err != nil || eb.Error.Code != tc.code || eb.Error.Message == "" {
					t.Fatalf("answer %s, want a JSON error with code %s", b, tc.code)
				}
				if n := len(h.spy.calls); n != 0 {
					t.Fatalf("the engine was called %d times after a refused request", n)
				}
				if _, err := h.store.GetDefinition(t.Context(), store.KindWorkflow, "checkout", 0); err != nil {
					t.Fatalf("the workflow is gone after a refused request: %v", err)
				}
			})
		}
	}
}
