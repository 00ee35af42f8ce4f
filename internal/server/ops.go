package server

import (
	"context"
	"net/http"
	"time"

	"github.com/sluicehq/sluice/internal/metrics"
	"github.com/sluicehq/sluice/internal/store"
)

// readyTimeout bounds the store check of /readyz.
const readyTimeout = 2 * time.Second

// withOps serves the operational endpoints before the API and the UI: /metrics
// (Prometheus, aggregate numbers only, no authentication: see docs/metrics.md) and
// /readyz (200 once the server serves and its store answers, 503 otherwise; no
// authentication, like /healthz).
func withOps(next http.Handler, m *metrics.Collector, st store.Store) http.Handler {
	mh := m.Handler()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.URL.Path == "/metrics" && (r.Method == http.MethodGet || r.Method == http.MethodHead):
			mh.ServeHTTP(w, r)
		case r.URL.Path == "/readyz" && (r.Method == http.MethodGet || r.Method == http.MethodHead):
			ready(w, r, st)
		default:
			next.ServeHTTP(w, r)
		}
	})
}

// ready answers /readyz: the store must answer a one-row read in time.
func ready(w http.ResponseWriter, r *http.Request, st store.Store) {
	ctx, cancel := context.WithTimeout(r.Context(), readyTimeout)
	defer cancel()
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	if _, err := st.ListExecutions(ctx, store.ExecutionFilter{Limit: 1}); err != nil {
		w.WriteHeader(http.StatusServiceUnavailable)
		w.Write([]byte("store unavailable\n"))
		return
	}
	w.Write([]byte("ready\n"))
}
