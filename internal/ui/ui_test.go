package ui_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/internal/server"
	"github.com/sluicehq/sluice/internal/ui"
)

func newUI(t *testing.T) *ui.Handler {
	t.Helper()
	h, err := ui.New()
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func get(t *testing.T, h http.Handler, method, path string, hdr map[string]string) *http.Response {
	t.Helper()
	req := httptest.NewRequest(method, path, nil)
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec.Result()
}

func body(t *testing.T, r *http.Response) string {
	t.Helper()
	b, err := io.ReadAll(r.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestServesFilesWithTypesAndCaching(t *testing.T) {
	h := newUI(t)
	tests := []struct {
		path, ctype, cache, contains string
	}{
		{"/", "text/html; charset=utf-8", "no-cache", `<script type="module" src="/js/app.js">`},
		{"/index.html", "text/html; charset=utf-8", "no-cache", "<title>sluice</title>"},
		{"/app.css", "text/css; charset=utf-8", "no-cache", "--green"},
		{"/js/app.js", "text/javascript; charset=utf-8", "no-cache", "navigate"},
		{"/js/views/execution.js", "text/javascript; charset=utf-8", "no-cache", "EventStream"},
		{"/favicon.svg", "image/svg+xml", "no-cache", "<svg"},
		{"/vendor/uplot-1.6.32.esm.js", "text/javascript; charset=utf-8", "public, max-age=31536000, immutable", "uPlot"},
		{"/vendor/js-yaml-4.1.0.mjs", "text/javascript; charset=utf-8", "public, max-age=31536000, immutable", "loadAll"},
		{"/vendor/uplot-1.6.32.min.css", "text/css; charset=utf-8", "public, max-age=31536000, immutable", ".uplot"},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			r := get(t, h, http.MethodGet, tt.path, nil)
			if r.StatusCode != http.StatusOK {
				t.Fatalf("status %d", r.StatusCode)
			}
			for k, want := range map[string]string{
				"Content-Type": tt.ctype, "Cache-Control": tt.cache, "X-Content-Type-Options": "nosniff",
				"Content-Security-Policy": ui.ContentSecurityPolicy,
			} {
				if got := r.Header.Get(k); got != want {
					t.Errorf("%s = %q, want %q", k, got, want)
				}
			}
			if r.Header.Get("ETag") == "" {
				t.Error("no ETag")
			}
			if b := body(t, r); !strings.Contains(b, tt.contains) {
				t.Errorf("body lacks %q", tt.contains)
			}
		})
	}
}

func TestRevalidationAnswersNotModified(t *testing.T) {
	h := newUI(t)
	etag := get(t, h, http.MethodGet, "/js/api.js", nil).Header.Get("ETag")
	r := get(t, h, http.MethodGet, "/js/api.js", map[string]string{"If-None-Match": etag})
	if r.StatusCode != http.StatusNotModified {
		t.Fatalf("status %d, want 304", r.StatusCode)
	}
}

func TestPagePathsFallBackToIndex(t *testing.T) {
	h := newUI(t)
	index := body(t, get(t, h, http.MethodGet, "/", nil))
	for _, p := range []string{"/executions", "/executions/abc123", "/workflows/shop/run", "/environments", "/no/such/page"} {
		t.Run(p, func(t *testing.T) {
			r := get(t, h, http.MethodGet, p, nil)
			if r.StatusCode != http.StatusOK || body(t, r) != index {
				t.Fatalf("status %d or body is not index.html", r.StatusCode)
			}
			if got := r.Header.Get("Cache-Control"); got != "no-cache" {
				t.Errorf("Cache-Control = %q", got)
			}
		})
	}
}

func TestMissingFilesAndOtherMethods(t *testing.T) {
	h := newUI(t)
	tests := []struct {
		method, path string
		want         int
	}{
		{http.MethodGet, "/js/missing.js", http.StatusNotFound},
		{http.MethodGet, "/vendor/uplot.LICENSE", http.StatusNotFound}, // embedded, not served
		{http.MethodGet, "/../../go.mod", http.StatusNotFound},
		{http.MethodPost, "/", http.StatusMethodNotAllowed},
		{http.MethodHead, "/app.css", http.StatusOK},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.path, func(t *testing.T) {
			if r := get(t, h, tt.method, tt.path, nil); r.StatusCode != tt.want {
				t.Fatalf("status %d, want %d", r.StatusCode, tt.want)
			}
		})
	}
}

func TestWithUIPassesAPIRequestsThrough(t *testing.T) {
	api := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"api":"`+r.Method+" "+r.URL.Path+`"}`)
	})
	h := server.WithUI(api)
	tests := []struct {
		method, path, want string
	}{
		{http.MethodGet, "/api/v1/executions", `{"api":"GET /api/v1/executions"}`},
		{http.MethodPost, "/api/v1/executions/x/approve", `{"api":"POST /api/v1/executions/x/approve"}`},
		{http.MethodGet, "/api/v1/nope", `{"api":"GET /api/v1/nope"}`},
		{http.MethodGet, "/healthz", `{"api":"GET /healthz"}`},
		{http.MethodGet, "/executions/x", "<title>sluice</title>"},
		{http.MethodGet, "/apiary", "<title>sluice</title>"},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.path, func(t *testing.T) {
			if b := body(t, get(t, h, tt.method, tt.path, nil)); !strings.Contains(b, tt.want) {
				t.Fatalf("body %.80q does not contain %q", b, tt.want)
			}
		})
	}
}
