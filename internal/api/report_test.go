package api_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/internal/report"
	"github.com/sluicehq/sluice/internal/store"
)

// TestReportFormats asks for an execution's report as JSON, as Markdown (by
// query and by Accept) and in an unknown format.
func TestReportFormats(t *testing.T) {
	h := newHarness(t)
	h.seed("e1", store.StatusRunning, 2)
	code, b := h.do("GET", "/api/v1/executions/e1/report", "")
	var rep report.Report
	if code != http.StatusOK || json.Unmarshal(b, &rep) != nil || rep.ID != "e1" || rep.StartedBy != "alice" || rep.Variables["version"] != "v2" {
		t.Fatalf("JSON report: %d %s", code, b)
	}
	for _, hdr := range [][]string{nil, {"Accept: text/markdown"}} {
		path := "/api/v1/executions/e1/report"
		if hdr == nil {
			path += "?format=markdown"
		}
		code, b := h.do("GET", path, "", hdr...)
		if code != http.StatusOK || !strings.HasPrefix(string(b), "# Release report: checkout v1 in staging — running") ||
			!strings.Contains(string(b), "| Started by | alice at ") {
			t.Fatalf("Markdown report (%s %v): %d %s", path, hdr, code, b)
		}
	}
	if code, b := h.do("GET", "/api/v1/executions/e1/report?format=pdf", ""); code != http.StatusBadRequest || !strings.Contains(string(b), `"field": "format"`) {
		t.Fatalf("format=pdf: %d %s, want 400 naming the field", code, b)
	}
	if code, b := h.do("GET", "/api/v1/executions/nope/report", ""); code != http.StatusNotFound {
		t.Fatalf("unknown execution: %d %s, want 404", code, b)
	}
}
