package server

import (
	"net/http"

	"github.com/sluicehq/sluice/internal/metrics"
)

// withOps serves /metrics (Prometheus, aggregate numbers only, no authentication: see
// docs/metrics.md) before the API and the UI. /healthz and /readyz are the API's.
func withOps(next http.Handler, m *metrics.Collector) http.Handler {
	mh := m.Handler()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/metrics" && (r.Method == http.MethodGet || r.Method == http.MethodHead) {
			mh.ServeHTTP(w, r)
			return
		}
		next.ServeHTTP(w, r)
	})
}
