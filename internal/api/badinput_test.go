package api_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/internal/api"
	"github.com/sluicehq/sluice/internal/auth"
	"github.com/sluicehq/sluice/internal/store"
)

// badInput is one client mistake and the 4xx it must be answered with.
type badInput struct {
	method, path, body string
	hdr                []string
	want               int
}

// badInputs cover every API route with bad JSON, wrong types, unknown fields, unknown
// ids, bad query parameters and oversize bodies; "BIG" is a body over MaxBodyBytes.
func badInputs() []badInput {
	const (
		bad, notFound, tooBig = http.StatusBadRequest, http.StatusNotFound, http.StatusRequestEntityTooLarge
		badJSON, wrongType    = `{"variables":`, `{"version":"two"}`
	)
	ex := "/api/v1/executions/"
	in := []badInput{
		{"POST", "/api/v1/apply", "kind: [", nil, bad},
		{"POST", "/api/v1/apply", "apiVersion: sluice.dev/v1alpha1\nkind: Gizmo\nmetadata: {name: x}\n", nil, bad},
		{"POST", "/api/v1/apply", "apiVersion: sluice.dev/v1alpha1\nkind: Workflow\nmetadata: {name: 5}\nspec: 7\n", nil, bad},
		{"POST", "/api/v1/apply", "", nil, bad},
		{"POST", "/api/v1/apply?dryRun=maybe", "kind: Workflow\n", nil, bad},
		{"POST", "/api/v1/apply", "BIG", nil, tooBig},
		{"GET", "/api/v1/workflows/nope", "", nil, notFound},
		{"GET", "/api/v1/environments/nope", "", nil, notFound},
		{"DELETE", "/api/v1/workflows/nope", "", nil, notFound},
		{"DELETE", "/api/v1/environments/nope", "", nil, notFound},
		{"GET", "/api/v1/workflows/nope/versions", "", nil, notFound},
		{"GET", "/api/v1/workflows/checkout/versions/abc", "", nil, bad},
		{"GET", "/api/v1/workflows/checkout/versions/-1", "", nil, bad},
		{"GET", "/api/v1/workflows/checkout/versions/99", "", nil, notFound},
		{"GET", "/api/v1/workflows/checkout/versions/99999999999999999999", "", nil, bad},
		{"GET", "/api/v1/environments/staging/versions/x", "", nil, bad},
		{"POST", "/api/v1/workflows/checkout/run", badJSON, nil, bad},
		{"POST", "/api/v1/workflows/checkout/run", wrongType, nil, bad},
		{"POST", "/api/v1/workflows/checkout/run", `{"version":-1}`, nil, bad},
		{"POST", "/api/v1/workflows/checkout/run", `{"version":1e400}`, nil, bad},
		{"POST", "/api/v1/workflows/checkout/run", `{"vars":{}}`, nil, bad},
		{"POST", "/api/v1/workflows/checkout/run", `{"variables":{"version":{"v":1}}}`, nil, bad},
		{"POST", "/api/v1/workflows/checkout/run", `{"variables":{"nope":"1"}}`, nil, bad},
		{"POST", "/api/v1/workflows/checkout/run", `{"version":99}`, nil, notFound},
		{"POST", "/api/v1/workflows/checkout/run", `[]`, nil, bad},
		{"POST", "/api/v1/workflows/checkout/run", `{} {}`, nil, bad},
		{"POST", "/api/v1/workflows/checkout/run", "BIG", nil, tooBig},
		{"POST", "/api/v1/workflows/nope/run", `{}`, nil, notFound},
		{"GET", "/api/v1/executions?status=bogus", "", nil, bad},
		{"GET", "/api/v1/executions?active=maybe", "", nil, bad},
		{"GET", "/api/v1/executions?limit=-1", "", nil, bad},
		{"GET", "/api/v1/executions?limit=many", "", nil, bad},
		{"GET", ex + "nope", "", nil, notFound},
		{"GET", ex + "nope/events", "", nil, notFound},
		{"GET", ex + "nope/events", "", []string{"Accept: text/event-stream"}, notFound},
		{"GET", ex + "e1/events?after=-1", "", nil, bad},
		{"GET", ex + "e1/events?after=x", "", nil, bad},
		{"GET", ex + "e1/events", "", []string{"Last-Event-ID: x"}, bad},
		{"GET", ex + "e1/events?limit=0", "", nil, bad},
		{"GET", ex + "e1/events?limit=99999999", "", nil, bad},
		{"GET", "/api/v1/tokens?kind=bogus", "", nil, bad},
		{"POST", "/api/v1/tokens", badJSON, nil, bad},
		{"POST", "/api/v1/tokens", `{"user":5}`, nil, bad},
		{"POST", "/api/v1/tokens", `{"user":""}`, nil, bad},
		{"POST", "/api/v1/tokens", `{"user":"dora","expiresIn":"soon"}`, nil, bad},
		{"POST", "/api/v1/tokens", `{"user":"dora","expiresIn":"-1h"}`, nil, bad},
		{"POST", "/api/v1/tokens", `{"user":"dora","groups":"ops"}`, nil, bad},
		{"POST", "/api/v1/tokens", `{"user":"dora","colour":"red"}`, nil, bad},
		{"POST", "/api/v1/tokens", "BIG", nil, tooBig},
		{"DELETE", "/api/v1/tokens/000000000000", "", nil, notFound},
		{"DELETE", "/api/v1/tokens/..%2F..", "", nil, notFound},
		{"POST", "/api/v1/roles", badJSON, nil, bad},
		{"POST", "/api/v1/roles", `{"subject":"dora","role":"emperor","environment":"staging"}`, nil, bad},
		{"POST", "/api/v1/roles", `{"subject":"dora","role":"viewer","environment":""}`, nil, bad},
		{"POST", "/api/v1/roles", `{"subject":"","role":"viewer","environment":"staging"}`, nil, bad},
		{"POST", "/api/v1/roles", `{"subject":"dora","role":7,"environment":"staging"}`, nil, bad},
		{"DELETE", "/api/v1/roles", "", nil, bad},
		{"DELETE", "/api/v1/roles?subject=dora&role=emperor&environment=staging", "", nil, bad},
		{"POST", "/api/v1/login", badJSON, nil, bad},
		{"POST", "/api/v1/login", `{"token":5}`, nil, bad},
		{"POST", "/api/v1/login", `{"token":"sluice_000000000000_nope"}`, nil, http.StatusUnauthorized},
		{"POST", "/api/v1/login", "BIG", nil, tooBig},
		{"GET", "/api/v1/audit?limit=many", "", nil, bad},
		{"GET", "/api/v1/nope", "", nil, notFound},
		{"PUT", "/api/v1/workflows/checkout", "{}", nil, http.StatusMethodNotAllowed},
		{"PATCH", ex + "e1", "{}", nil, http.StatusMethodNotAllowed},
	}
	for _, action := range []string{"approve", "reject", "rollback", "abort", "pause", "resume", "retry"} {
		in = append(in,
			badInput{"POST", ex + "nope/" + action, "", nil, notFound},
			badInput{"POST", ex + "e1/" + action, badJSON, nil, bad},
			badInput{"POST", ex + "e1/" + action, `{"comment":5,"reason":5}`, nil, bad},
			badInput{"POST", ex + "e1/" + action, `{"colour":"red"}`, nil, bad},
			badInput{"POST", ex + "e1/" + action, "BIG", nil, tooBig},
		)
	}
	return in
}

// TestBadInputIsAClientError sends every client mistake to every route, as an admin
// of "*" (so that authorization lets each reach its handler): each is answered with
// its 4xx and a JSON error with a code and a message, never a 5xx; the engine is never
// called.
func TestBadInputIsAClientError(t *testing.T) {
	h := newAuthHarness(t)
	h.user("root", auth.RoleAdmin, "*")
	h.seedDefinitions()
	h.seed("e1", store.StatusWaiting, 2)
	big := `{"comment":"` + strings.Repeat("x", api.MaxBodyBytes) + `"}`
	for _, in := range badInputs() {
		body := in.body
		if body == "BIG" {
			body = big
		}
		name := in.method + " " + in.path + " " + firstN(in.body, 30)
		code, b := h.as("root", in.method, in.path, body, in.hdr...)
		if code != in.want {
			t.Errorf("%s: %d %s, want %d", name, code, firstN(string(b), 300), in.want)
			continue
		}
		var eb api.ErrorBody
		if err := json.Unmarshal(b, &eb); err != nil || eb.Error.Code == "" || eb.Error.Message == "" {
			t.Errorf("%s: %d without a JSON error code and message: %s", name, code, firstN(string(b), 300))
		}
	}
	if n := len(h.spy.calls); n != 0 {
		t.Errorf("the engine was called %d times by bad input: %+v", n, h.spy.calls)
	}
}

// TestProbesIgnoreCredentials: /healthz, /api/v1/healthz and /readyz answer 200 to a
// request with a bad token, a malformed Authorization header or a stale session
// cookie, which every other route answers 401.
func TestProbesIgnoreCredentials(t *testing.T) {
	h := newAuthHarness(t)
	for _, cred := range []string{"Authorization: Bearer sluice_000000000000_nope", "Authorization: Basic Zm9vOmJhcg==",
		"Cookie: " + api.SessionCookie + "=sluice_000000000000_stale"} {
		for _, path := range []string{"/healthz", "/api/v1/healthz", "/readyz"} {
			if code, b := h.do("GET", path, "", cred); code != http.StatusOK {
				t.Errorf("GET %s with %q: %d %s, want 200", path, cred, code, b)
			}
		}
		if code, _ := h.do("GET", "/api/v1/whoami", "", cred); code != http.StatusUnauthorized {
			t.Errorf("GET /api/v1/whoami with %q: %d, want 401", cred, code)
		}
	}
}

func firstN(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}
