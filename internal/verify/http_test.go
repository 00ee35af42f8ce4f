package verify_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/internal/spec"
	"github.com/sluicehq/sluice/internal/verify"
)

// TestHTTP checks the shared plumbing of HTTP providers: a bounded read, a
// failure text naming the provider with its credentials hidden and marked as a
// provider error only when the status blames the provider, and no answer at
// all as a provider error.
func TestHTTP(t *testing.T) {
	const key = "s3cr3t-key"
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var status int
		fmt.Sscan(strings.TrimPrefix(r.URL.Path, "/"), &status)
		w.WriteHeader(status)
		fmt.Fprintf(w, "<html><b>rejected</b> key %s and then a long tail %s</html>", key, strings.Repeat("x", 300))
	}))
	t.Cleanup(srv.Close)
	sec, err := verify.Deps{Getenv: func(string) string { return key }}.ResolveSecrets(context.Background(),
		map[string]spec.SecretRef{"token": {Env: "KEY"}})
	if err != nil {
		t.Fatal(err)
	}
	h := verify.HTTP{Name: "acme", Client: srv.Client(), Secrets: sec, MaxBody: 64}
	for _, tc := range []struct {
		status   int
		provider bool // a *verify.ProviderError
	}{{400, false}, {401, false}, {503, true}, {429, true}} {
		req, err := h.NewRequest(context.Background(), http.MethodGet, fmt.Sprintf("%s/%d", srv.URL, tc.status), nil)
		if err != nil {
			t.Fatal(err)
		}
		resp, body, err := h.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		if len(body) != 64 {
			t.Errorf("read %d bytes, want MaxBody (64)", len(body))
		}
		ferr := h.Failed(resp, verify.Snippet(body))
		var pe *verify.ProviderError
		if got := errors.As(ferr, &pe); got != tc.provider {
			t.Errorf("HTTP %d: %v is a provider error: %v, want %v", tc.status, ferr, got, tc.provider)
		}
		want := fmt.Sprintf(`acme: HTTP %d: "rejected  key ***`, tc.status) // a tag is a space
		if !strings.HasPrefix(ferr.Error(), want) || strings.Contains(ferr.Error(), key) {
			t.Errorf("HTTP %d: %q, want it to start %q and hide the key", tc.status, ferr, want)
		}
	}
	srv.Close()
	req, _ := h.NewRequest(context.Background(), http.MethodGet, srv.URL, nil)
	_, _, err = h.Do(req)
	var pe *verify.ProviderError
	if !errors.As(err, &pe) || !strings.HasPrefix(err.Error(), "acme: ") {
		t.Errorf("no answer: %v, want a provider error naming acme", err)
	}
}

func TestSnippet(t *testing.T) {
	for in, want := range map[string]string{
		"":                           "(empty body)",
		"  <p>\n</p> ":               "(empty body)",
		"<h1>502 Bad\n Gateway</h1>": `"502 Bad Gateway"`,
		strings.Repeat("a", 250):     `"` + strings.Repeat("a", 200) + `..."`,
	} {
		if got := verify.Snippet([]byte(in)); got != want {
			t.Errorf("Snippet(%q) = %s, want %s", in, got, want)
		}
	}
}

// TestCheckDepsReadNothing checks that a provider spec is checked without
// reading its credentials: every reference resolves to a placeholder.
func TestCheckDepsReadNothing(t *testing.T) {
	refs := map[string]spec.SecretRef{
		"a": {Env: "SLUICE_TEST_SURELY_UNSET"},
		"b": {File: "/nonexistent/secret"},
		"c": {Secret: &spec.KubernetesSecretRef{Name: "s", Key: "k"}},
	}
	sec, err := verify.CheckDeps().ResolveSecrets(context.Background(), refs)
	if err != nil {
		t.Fatal(err)
	}
	for name := range refs {
		if v, ok := sec.Get(name); !ok || v == "" {
			t.Errorf("credential %s = %q, %v; want a placeholder", name, v, ok)
		}
	}
}
