package server

import (
	"fmt"
	"net/http"
	"strings"

	"github.com/sluicehq/sluice/internal/ui"
)

// WithUI serves the API for /api/ and /healthz and the embedded web UI for every other
// path, page paths falling back to the UI's index.html.
func WithUI(api http.Handler) (http.Handler, error) {
	u, err := ui.New()
	if err != nil {
		return nil, fmt.Errorf("server: %w", err)
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/api/") || r.URL.Path == "/api" || r.URL.Path == "/healthz" {
			api.ServeHTTP(w, r)
			return
		}
		u.ServeHTTP(w, r)
	}), nil
}
