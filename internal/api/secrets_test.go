package api_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/internal/audit"
	"github.com/sluicehq/sluice/internal/auth"
	"github.com/sluicehq/sluice/internal/secrets"
	"github.com/sluicehq/sluice/internal/spec"
	"github.com/sluicehq/sluice/internal/store"
)

// TestPlantedSecretNeverInAnswers plants a provider credential (resolved from an env
// var the way providers resolve theirs), lets it reach an execution's failure reason,
// a console line, an error message and an audit summary, and searches every answer
// for it: JSON, the SSE stream, errors and the audit export.
func TestPlantedSecretNeverInAnswers(t *testing.T) {
	const planted = "nr-license-7f3a9c0e1d2b"
	t.Setenv("SLUICE_TEST_NEWRELIC_KEY", planted)
	key, err := secrets.Resolve(context.Background(), spec.SecretRef{Env: "SLUICE_TEST_NEWRELIC_KEY"})
	if err != nil || key != planted {
		t.Fatalf("resolve: %q %v", key, err)
	}
	h := newAuthHarness(t)
	h.user("root", auth.RoleAdmin, "*")
	h.seedDefinitions()
	ex := h.seed("e1", store.StatusRunning, 1)
	ex.Reason = "newrelic: query refused for key " + key
	h.commit(&ex, store.StatusRolledBack, store.Event{ExecutionID: "e1", At: clock, Type: "console", Level: "error",
		Message: "verify: GET https://api.newrelic.com/graphql?key=" + key + " failed"})
	h.spy.start = store.Execution{ID: "e2", Workflow: "checkout", WorkflowVersion: 1, Environment: "staging"}

	var out strings.Builder
	for _, req := range []struct{ method, path, body string }{
		{"GET", "/api/v1/executions/e1", ""},
		{"GET", "/api/v1/executions", ""},
		{"GET", "/api/v1/executions/e1/events", ""},
		{"GET", "/api/v1/workflows/" + key, ""},
		{"POST", "/api/v1/workflows/checkout/run", `{"variables":{"version":"` + key + `"}}`},
		{"POST", "/api/v1/workflows/checkout/run", `{"variables":{"version":` + key + `}}`},
		{"GET", "/api/v1/audit?format=jsonl", ""},
		{"GET", "/api/v1/audit", ""},
	} {
		code, b := h.as("root", req.method, req.path, req.body)
		out.WriteString(string(b))
		if code == http.StatusInternalServerError {
			t.Errorf("%s %s: %d %s", req.method, req.path, code, b)
		}
	}
	code, b := h.as("root", "GET", "/api/v1/executions/e1/events", "", "Accept: text/event-stream")
	out.WriteString(string(b))
	if code != http.StatusOK || !strings.Contains(string(b), "event: end") {
		t.Fatalf("stream: %d %s", code, b)
	}
	entries, err := h.sqlite.ListAudit(context.Background(), audit.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		out.WriteString(e.Summary + "\n")
	}
	if strings.Contains(out.String(), planted) {
		t.Fatalf("the planted secret leaked:\n%s", out.String())
	}
	if n := strings.Count(out.String(), secrets.Mask); n < 6 {
		t.Fatalf("only %d masks; did the secret reach the answers at all?\n%s", n, out.String())
	}
}
