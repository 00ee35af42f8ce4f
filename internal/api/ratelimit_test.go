package api_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/internal/api"
	"github.com/sluicehq/sluice/internal/auth"
	"github.com/sluicehq/sluice/internal/store/sqlite"
)

// TestRateLimitPerToken sends requests with two tokens through a limit of three at
// once: the fourth of one token is refused with 429, its code and a Retry-After,
// while the other token and health checks (which ignore credentials) are not slowed
// down.
func TestRateLimitPerToken(t *testing.T) {
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "sluice.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	svc := auth.New(st)
	srv := httptest.NewServer(api.New(api.Deps{Store: st, Engine: &engineSpy{}, Auth: svc,
		RateLimit: api.RateLimit{PerSecond: 0.01, Burst: 3}}))
	t.Cleanup(srv.Close)
	token := func(user string) string {
		secret, _, err := svc.CreateToken(context.Background(), auth.NewToken{User: user, CreatedBy: "test"})
		if err != nil {
			t.Fatal(err)
		}
		return secret
	}
	alice, bob := token("alice"), token("bob")
	get := func(path, secret string) *http.Response {
		req, _ := http.NewRequest(http.MethodGet, srv.URL+path, nil)
		if secret != "" {
			req.Header.Set("Authorization", "Bearer "+secret)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	tests := []struct {
		name, path, secret string
		want               int
	}{
		{"alice 1", "/api/v1/whoami", alice, http.StatusOK},
		{"alice 2", "/api/v1/whoami", alice, http.StatusOK},
		{"alice 3", "/api/v1/whoami", alice, http.StatusOK},
		{"alice 4 is over the limit", "/api/v1/whoami", alice, http.StatusTooManyRequests},
		{"bob has his own bucket", "/api/v1/whoami", bob, http.StatusOK},
		{"no token on a public route", "/api/v1/healthz", "", http.StatusOK},
		{"no token on a public route again", "/api/v1/healthz", "", http.StatusOK},
		{"no token on a public route a third time", "/api/v1/healthz", "", http.StatusOK},
		{"no token on a public route a fourth time", "/api/v1/healthz", "", http.StatusOK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := get(tt.path, tt.secret)
			if resp.StatusCode != tt.want {
				t.Fatalf("status %d, want %d", resp.StatusCode, tt.want)
			}
			if tt.want == http.StatusTooManyRequests && resp.Header.Get("Retry-After") == "" {
				t.Fatal("429 without Retry-After")
			}
		})
	}
	req, _ := http.NewRequest(http.MethodGet, srv.URL+"/api/v1/executions", nil)
	req.Header.Set("Authorization", "Bearer "+alice)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var b strings.Builder
	buf := make([]byte, 512)
	n, _ := resp.Body.Read(buf)
	b.Write(buf[:n])
	if resp.StatusCode != http.StatusTooManyRequests || !strings.Contains(b.String(), api.CodeRateLimited) {
		t.Fatalf("got %d %s, want 429 with code %s", resp.StatusCode, b.String(), api.CodeRateLimited)
	}
}

// TestNoRateLimitWithoutAuthentication sends many requests with authentication off
// (loopback only): none is refused.
func TestNoRateLimitWithoutAuthentication(t *testing.T) {
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "sluice.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	h := api.New(api.Deps{Store: st, Engine: &engineSpy{}, RateLimit: api.RateLimit{PerSecond: 0.01, Burst: 1},
		Now: func() time.Time { return clock }})
	for i := range 5 {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "http://127.0.0.1:7070/api/v1/executions", nil))
		if rec.Code != http.StatusOK {
			t.Fatalf("request %d: %d %s", i, rec.Code, rec.Body)
		}
	}
}
