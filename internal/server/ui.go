package server

import (
	"net/http"
	"strings"

	"github.com/sluicehq/sluice/internal/ui"
)

// WithUI serves the API for /api/, /healthz and /readyz and the embedded web UI for every other
// path, page paths falling back to the UI's index.html.
func WithUI(apiHandler http.Handler) http.Handler {
	var page http.Handler
	u, err := ui.New()
	if err != nil {
		// Only a broken build gets here (the files are embedded); the API still serves.
		page = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			http.Error(w, "web UI unavailable: "+err.Error(), http.StatusInternalServerError)
		})
	} else {
		page = u
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/api/") || r.URL.Path == "/api" || r.URL.Path == "/healthz" || r.URL.Path == "/readyz" {
			apiHandler.ServeHTTP(w, r)
			return
		}
		page.ServeHTTP(w, r)
	})
}
