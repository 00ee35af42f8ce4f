package api

import (
	"net/http"
	"strings"

	"github.com/sluicehq/sluice/internal/report"
	"github.com/sluicehq/sluice/internal/secrets"
)

// report answers GET /executions/{id}/report: the release report as JSON, or as
// Markdown with ?format=markdown or Accept: text/markdown. A caller who may not
// see the execution gets 404, as for the execution itself.
func (h *handler) report(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	markdown, err := reportFormat(r)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	ex, err := h.execution(r.Context(), id)
	if err == nil {
		err = h.authorizeExecution(r, roleViewer, ex, "reading the report of execution "+id)
	}
	if err != nil {
		h.fail(w, r, err)
		return
	}
	evs, err := h.Store.Events(r.Context(), id, 0, 0)
	if err != nil {
		h.fail(w, r, executionError(id, err))
		return
	}
	rep, err := report.Build(ex, evs, h.Now())
	if err != nil {
		h.fail(w, r, err)
		return
	}
	if !markdown {
		writeJSON(w, http.StatusOK, rep)
		return
	}
	w.Header().Set("Content-Type", "text/markdown; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(secrets.Default.Bytes([]byte(h.redact(rep.Markdown())))) // a failed write means the client went away
}

// reportFormat reads ?format= (json or markdown), else the Accept header.
func reportFormat(r *http.Request) (markdown bool, err error) {
	switch f := r.URL.Query().Get("format"); f {
	case "markdown", "md":
		return true, nil
	case "json":
		return false, nil
	case "":
		return strings.Contains(r.Header.Get("Accept"), "text/markdown"), nil
	default:
		return false, badRequest("format", "format=%q: want json or markdown", f)
	}
}
