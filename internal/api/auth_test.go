package api_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/internal/api"
	"github.com/sluicehq/sluice/internal/audit"
	"github.com/sluicehq/sluice/internal/auth"
	"github.com/sluicehq/sluice/internal/events"
	"github.com/sluicehq/sluice/internal/store"
	"github.com/sluicehq/sluice/internal/store/sqlite"
)

// authHarness is the API with authentication and the audit log on a real SQLite store.
type authHarness struct {
	*harness
	auth   *auth.Service
	sqlite *sqlite.Store
	rej    *audit.Rejections // counts of rejected requests; Flush writes them
	tokens map[string]string // user -> bearer secret
}

func newAuthHarness(t *testing.T, mods ...func(*api.Deps)) *authHarness {
	t.Helper()
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "sluice.db"))
	if err != nil {
		t.Fatalf("open sqlite: %v", err)
	}
	svc := auth.New(st, auth.WithClock(func() time.Time { return clock }))
	h := &authHarness{harness: &harness{t: t, store: st, spy: &engineSpy{}}, auth: svc, sqlite: st, tokens: map[string]string{}}
	h.broker = events.New(st, events.WithPollInterval(0))
	h.rej = audit.NewRejections(st, func() time.Time { return clock }, nil)
	d := api.Deps{Store: st, Engine: h.spy, Broker: h.broker, Auth: svc, Audit: st, Rejections: h.rej,
		Now: func() time.Time { return clock }, Heartbeat: 20 * time.Millisecond, StatusPoll: 50 * time.Millisecond}
	h.serve(d, mods)
	return h
}

// user makes a token for user holding role in env (no grant when role is empty).
func (h *authHarness) user(name string, role auth.Role, env string) string {
	h.t.Helper()
	ctx := context.Background()
	secret, _, err := h.auth.CreateToken(ctx, auth.NewToken{User: name, CreatedBy: "test"})
	if err != nil {
		h.t.Fatal(err)
	}
	if role != "" {
		if _, err := h.auth.Grant(ctx, auth.Grant{Subject: name, Role: role, Environment: env, CreatedBy: "test"}); err != nil {
			h.t.Fatal(err)
		}
	}
	h.tokens[name] = secret
	return secret
}

func (h *authHarness) as(user, method, path, body string, hdr ...string) (int, []byte) {
	h.t.Helper()
	if user != "" {
		hdr = append(hdr, "Authorization: Bearer "+h.tokens[user])
	}
	return h.do(method, path, body, hdr...)
}

// seedDefinitions applies the staging environment and the checkout workflow.
func (h *authHarness) seedDefinitions() {
	h.t.Helper()
	for _, doc := range strings.Split(readFile(h.t, "apply-all.yaml"), "\n---\n") {
		if code, b := h.as("root", "POST", "/api/v1/apply", doc); code != http.StatusOK {
			h.t.Fatalf("seed apply: %d %s", code, b)
		}
	}
}

// stagingEnvDoc is the Environment document of apply-all.yaml alone.
func stagingEnvDoc(t *testing.T) string {
	return strings.Split(readFile(t, "apply-all.yaml"), "\n---\n")[0]
}

// TestAuthorizationMatrix sends every endpoint as every role: each is refused (403,
// naming the role and the environment) exactly what its role does not allow.
func TestAuthorizationMatrix(t *testing.T) {
	identities := []struct {
		user string
		role auth.Role
		env  string
	}{
		{"nobody", "", ""},
		{"viewer", auth.RoleViewer, "staging"},
		{"deployer", auth.RoleDeployer, "staging"},
		{"approver", auth.RoleApprover, "staging"},
		{"stagingadmin", auth.RoleAdmin, "staging"},
		{"proddeployer", auth.RoleDeployer, "prod"},
		{"root", auth.RoleAdmin, "*"},
	}
	const anyEnv = "" // the endpoint needs the role in some environment
	endpoints := []struct {
		method, path, body string
		need               auth.Role
		env                string
	}{
		{"GET", "/api/v1/workflows", "", auth.RoleViewer, anyEnv},
		{"GET", "/api/v1/workflows/checkout", "", auth.RoleViewer, anyEnv},
		{"GET", "/api/v1/workflows/checkout/versions", "", auth.RoleViewer, anyEnv},
		{"GET", "/api/v1/workflows/checkout/versions/1", "", auth.RoleViewer, anyEnv},
		{"GET", "/api/v1/environments/staging", "", auth.RoleViewer, "staging"},
		{"GET", "/api/v1/environments/staging/versions", "", auth.RoleViewer, "staging"},
		{"GET", "/api/v1/executions/e1", "", auth.RoleViewer, "staging"},
		{"GET", "/api/v1/executions/e1/events", "", auth.RoleViewer, "staging"},
		{"GET", "/api/v1/executions/e1/report", "", auth.RoleViewer, "staging"},
		{"GET", "/api/v1/executions/e1/report?format=markdown", "", auth.RoleViewer, "staging"},
		{"POST", "/api/v1/workflows/checkout/run", `{"variables":{"version":"v2"}}`, auth.RoleDeployer, "staging"},
		{"POST", "/api/v1/executions/e1/rollback", `{"reason":"bad"}`, auth.RoleDeployer, "staging"},
		{"POST", "/api/v1/executions/e1/abort", "", auth.RoleDeployer, "staging"},
		{"POST", "/api/v1/executions/e1/pause", "", auth.RoleDeployer, "staging"},
		{"POST", "/api/v1/executions/e1/resume", "", auth.RoleDeployer, "staging"},
		{"POST", "/api/v1/executions/e1/retry", "", auth.RoleDeployer, "staging"},
		{"POST", "/api/v1/executions/e1/approve", `{"comment":"ok"}`, auth.RoleApprover, "staging"},
		{"POST", "/api/v1/services/staging/checkout/undo", `{"reason":"bad"}`, auth.RoleDeployer, "staging"},
		{"POST", "/api/v1/executions/e1/reject", "", auth.RoleApprover, "staging"},
		{"POST", "/api/v1/apply?dryRun=true", "ENV", auth.RoleViewer, "staging"},
		{"POST", "/api/v1/apply", "ENV", auth.RoleAdmin, "staging"},
		{"POST", "/api/v1/apply?dryRun=true", "ALL", auth.RoleViewer, "staging"},
		{"POST", "/api/v1/apply", "ALL", auth.RoleAdmin, "*"},
		{"DELETE", "/api/v1/environments/staging", "", auth.RoleAdmin, "staging"},
		{"DELETE", "/api/v1/workflows/checkout", "", auth.RoleAdmin, "*"},
		{"POST", "/api/v1/tokens", `{"user":"dora"}`, auth.RoleAdmin, "*"},
		{"DELETE", "/api/v1/tokens/000000000000", "", auth.RoleAdmin, "*"},
		{"GET", "/api/v1/roles", "", auth.RoleAdmin, anyEnv},
		{"POST", "/api/v1/roles", `{"subject":"dora","role":"viewer","environment":"staging"}`, auth.RoleAdmin, "staging"},
		{"POST", "/api/v1/roles", `{"subject":"dora","role":"viewer","environment":"*"}`, auth.RoleAdmin, "*"},
		{"DELETE", "/api/v1/roles?subject=dora&role=viewer&environment=staging", "", auth.RoleAdmin, "staging"},
		{"GET", "/api/v1/audit", "", auth.RoleAdmin, "*"},
	}
	for i, ep := range endpoints {
		// No '#' in names: sqlite.Open takes the path into a file: URI.
		t.Run(fmt.Sprintf("%02d %s %s", i, ep.method, strings.SplitN(ep.path, "?", 2)[0]), func(t *testing.T) {
			h := newAuthHarness(t)
			for _, id := range identities {
				h.user(id.user, id.role, id.env)
			}
			h.seedDefinitions()
			h.seed("e1", store.StatusWaiting, 2)
			h.spy.start = store.Execution{ID: "e2", Workflow: "checkout", WorkflowVersion: 1, Environment: "staging"}
			body := ep.body
			switch body {
			case "ENV":
				body = stagingEnvDoc(t)
			case "ALL":
				body = readFile(t, "apply-all.yaml")
			}
			if code, b := h.as("", ep.method, ep.path, body); code != http.StatusUnauthorized {
				t.Errorf("without credentials: %d %s, want 401", code, b)
			}
			for _, id := range identities {
				g := []auth.Grant{{Subject: id.user, Role: id.role, Environment: id.env}}
				allowed := id.role.Includes(ep.need)
				if ep.env != anyEnv {
					allowed = auth.RoleIn(g, auth.Identity{User: id.user}, ep.env).Includes(ep.need)
				}
				code, b := h.as(id.user, ep.method, ep.path, body)
				hidden := strings.Contains(ep.path, "/executions/") && !auth.RoleIn(g, auth.Identity{User: id.user}, "staging").Includes(auth.RoleViewer)
				switch {
				case hidden: // no existence oracle: as for an unknown id
					if code != http.StatusNotFound || !strings.Contains(string(b), `execution \"e1\" not found`) {
						t.Errorf("%s (%s in %s) may not see e1: %d %s, want 404 as for an unknown id", id.user, id.role, id.env, code, b)
					}
				case allowed && (code == http.StatusForbidden || code == http.StatusUnauthorized):
					t.Errorf("%s (%s in %s) refused: %d %s", id.user, id.role, id.env, code, b)
				case !allowed && code != http.StatusForbidden:
					t.Errorf("%s (%s in %s) allowed: %d %s", id.user, id.role, id.env, code, b)
				case !allowed && body != readFile(t, "apply-all.yaml"): // that one names its first document
					where := "environment " + ep.env
					if ep.env == "*" {
						where = "all environments (*)"
					} else if ep.env == anyEnv {
						where = "at least one environment"
					}
					if msg := string(b); !strings.Contains(msg, "needs role "+string(ep.need)+" in "+where) || !strings.Contains(msg, `"code": "forbidden"`) {
						t.Errorf("%s: 403 does not name role %s and %s: %s", id.user, ep.need, where, msg)
					}
				}
			}
		})
	}
}

// TestListsShowOnlyViewableEnvironments: lists are filtered, not refused.
func TestListsShowOnlyViewableEnvironments(t *testing.T) {
	h := newAuthHarness(t)
	h.user("root", auth.RoleAdmin, "*")
	h.user("prodviewer", auth.RoleViewer, "prod")
	h.user("viewer", auth.RoleViewer, "staging")
	h.seedDefinitions()
	h.seed("e1", store.StatusRunning, 1)
	for _, tc := range []struct {
		user, path string
		want       int
	}{
		{"prodviewer", "/api/v1/executions", 0},
		{"viewer", "/api/v1/executions", 1},
		{"prodviewer", "/api/v1/environments", 0},
		{"viewer", "/api/v1/environments", 1},
	} {
		code, b := h.as(tc.user, "GET", tc.path, "")
		var list struct{ Items []json.RawMessage }
		if err := json.Unmarshal(b, &list); err != nil || code != http.StatusOK || len(list.Items) != tc.want {
			t.Errorf("%s %s: %d, %d items, want %d: %s", tc.user, tc.path, code, len(list.Items), tc.want, b)
		}
	}
}

// TestSessionsAndCSRF logs in with a token, uses the cookie, and checks CSRF, logout
// and revocation.
func TestSessionsAndCSRF(t *testing.T) {
	h := newAuthHarness(t)
	secret := h.user("root", auth.RoleAdmin, "*")
	h.seedDefinitions()
	h.seed("e1", store.StatusWaiting, 1)
	if code, _ := h.do("POST", "/api/v1/login", `{"token":"sluice_nope"}`); code != http.StatusUnauthorized {
		t.Fatalf("login with a bad token: %d", code)
	}
	resp, err := http.Post(h.srv.URL+"/api/v1/login", "application/json", strings.NewReader(`{"token":"`+secret+`"}`))
	if err != nil {
		t.Fatal(err)
	}
	var login api.Login
	if err := json.NewDecoder(resp.Body).Decode(&login); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("login: %d %v", resp.StatusCode, err)
	}
	resp.Body.Close()
	var session *http.Cookie
	for _, c := range resp.Cookies() {
		if c.Name == api.SessionCookie {
			session = c
		}
	}
	if session == nil || !session.HttpOnly || !session.Secure || session.SameSite != http.SameSiteStrictMode || session.Value == secret {
		t.Fatalf("session cookie: %+v", session)
	}
	cookie := "Cookie: " + api.SessionCookie + "=" + session.Value
	csrf := api.HeaderCSRF + ": " + login.CSRFToken
	for _, tc := range []struct {
		name, method, path string
		hdr                []string
		want               int
	}{
		{"read with cookie", "GET", "/api/v1/executions/e1", []string{cookie}, http.StatusOK},
		{"write without CSRF", "POST", "/api/v1/executions/e1/approve", []string{cookie}, http.StatusForbidden},
		{"write with wrong CSRF", "POST", "/api/v1/executions/e1/approve", []string{cookie, api.HeaderCSRF + ": x"}, http.StatusForbidden},
		{"write with CSRF", "POST", "/api/v1/executions/e1/approve", []string{cookie, csrf}, http.StatusAccepted},
		{"session is not a bearer token", "GET", "/api/v1/executions/e1", []string{"Authorization: Bearer " + session.Value}, http.StatusUnauthorized},
		{"logout", "POST", "/api/v1/logout", []string{cookie, csrf}, http.StatusNoContent},
		{"cookie after logout", "GET", "/api/v1/executions/e1", []string{cookie}, http.StatusUnauthorized},
	} {
		if code, b := h.do(tc.method, tc.path, "", tc.hdr...); code != tc.want {
			t.Errorf("%s: %d %s, want %d", tc.name, code, b, tc.want)
		}
	}
	// Revoking the token ends its sessions too.
	sess, err := h.auth.Login(context.Background(), secret)
	if err != nil {
		t.Fatal(err)
	}
	id, _ := h.auth.Authenticate(context.Background(), secret)
	if code, b := h.as("root", "DELETE", "/api/v1/tokens/"+id.TokenID, ""); code != http.StatusOK {
		t.Fatalf("revoke: %d %s", code, b)
	}
	if code, _ := h.do("GET", "/api/v1/executions/e1", "", "Cookie: "+api.SessionCookie+"="+sess.Secret); code != http.StatusUnauthorized {
		t.Fatalf("session of a revoked token: %d", code)
	}
	if code, _ := h.as("root", "GET", "/api/v1/executions/e1", ""); code != http.StatusUnauthorized {
		t.Fatalf("revoked token: %d", code)
	}
}

// TestTokensShownOnce: the secret comes back once, never in lists or the audit log.
func TestTokensShownOnce(t *testing.T) {
	h := newAuthHarness(t)
	h.user("root", auth.RoleAdmin, "*")
	code, b := h.as("root", "POST", "/api/v1/tokens", `{"user":"dora","groups":["sre"],"expiresIn":"24h","description":"ci"}`)
	var created api.TokenCreated
	if err := json.Unmarshal(b, &created); err != nil || code != http.StatusCreated || created.Secret == "" || created.ExpiresAt == nil {
		t.Fatalf("create: %d %s", code, b)
	}
	h.tokens["dora"] = created.Secret
	if code, b := h.as("dora", "GET", "/api/v1/whoami", ""); code != http.StatusOK || !strings.Contains(string(b), `"user": "dora"`) {
		t.Fatalf("whoami with the new token: %d %s", code, b)
	}
	_, list := h.as("root", "GET", "/api/v1/tokens", "")
	_, own := h.as("dora", "GET", "/api/v1/tokens", "")
	_, log := h.as("root", "GET", "/api/v1/audit?format=jsonl", "")
	for name, b := range map[string][]byte{"list": list, "own list": own, "audit": log} {
		if strings.Contains(string(b), created.Secret) || strings.Contains(string(b), created.Secret[20:]) {
			t.Errorf("%s shows the secret: %s", name, b)
		}
	}
	if !strings.Contains(string(own), created.ID) || strings.Contains(string(own), `"user": "root"`) {
		t.Errorf("dora's own list: %s", own)
	}
	for _, tc := range []struct{ path, body, want string }{
		{"/api/v1/tokens", `{"user":"group:ops"}`, `token user \"group:ops\": want a user name`},
		{"/api/v1/tokens", `{"user":"eve","expiresIn":"-1h"}`, `want a positive duration`},
		{"/api/v1/roles", `{"subject":"eve","role":"owner","environment":"prod"}`, `unknown role \"owner\"`},
		{"/api/v1/roles", `{"subject":"eve","role":"viewer"}`, `an environment (or * for all) is required`},
	} {
		if code, b := h.as("root", "POST", tc.path, tc.body); code != http.StatusBadRequest || !strings.Contains(string(b), tc.want) {
			t.Errorf("%s %s: %d %s, want 400 %s", tc.path, tc.body, code, b, tc.want)
		}
	}
	if code, b := h.as("dora", "DELETE", "/api/v1/tokens/"+created.ID, ""); code != http.StatusOK {
		t.Fatalf("revoking one's own token: %d %s", code, b)
	}
}

// TestAuditLog: every state-changing request is recorded with who, where, what and
// the outcome, denied ones included, and exports as JSON lines.
func TestAuditLog(t *testing.T) {
	h := newAuthHarness(t)
	h.user("root", auth.RoleAdmin, "*")
	h.user("viewer", auth.RoleViewer, "staging")
	h.seedDefinitions()
	h.seed("e1", store.StatusWaiting, 1)
	h.spy.start = store.Execution{ID: "e2", Workflow: "checkout", WorkflowVersion: 1, Environment: "staging"}
	h.as("viewer", "POST", "/api/v1/executions/e1/approve", `{"comment":"me?"}`)
	h.as("root", "POST", "/api/v1/executions/e1/approve", `{"comment":"ship it"}`)
	h.as("root", "POST", "/api/v1/workflows/checkout/run", `{"variables":{"version":"v9"}}`)
	h.as("root", "POST", "/api/v1/roles", `{"subject":"viewer","role":"deployer","environment":"staging"}`)
	h.as("root", "GET", "/api/v1/executions", "") // reads are not audited
	h.do("POST", "/api/v1/executions/e1/abort", "")
	h.do("POST", "/api/v1/executions/e1/abort", "")
	if err := h.rej.Flush(context.Background()); err != nil { // anonymous refusals are counted per minute
		t.Fatal(err)
	}
	entries, err := h.sqlite.ListAudit(context.Background(), audit.Filter{After: 2}) // after the two seed applies
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range entries {
		if e.Remote == "" || !e.At.Equal(clock) && !e.At.Equal(clock.Truncate(time.Minute)) {
			t.Errorf("entry without remote or time: %+v", e)
		}
		got = append(got, fmt.Sprintf("%s %s %s %s %s %d ×%d %s", e.Actor, e.Action, e.Target, e.Environment, e.Outcome, e.Status, e.Count, e.Summary))
	}
	want := []string{
		"viewer approve execution/e1 staging denied 403 ×1 approve of execution e1 needs role approver in environment staging; viewer does not have it",
		"root approve execution/e1 staging ok 202 ×1 approved: ship it",
		"root run execution/e2 staging ok 201 ×1 started execution e2 of workflow checkout v1 in staging with variables version=v9",
		"root role.grant role/viewer staging ok 201 ×1 granted viewer deployer in staging",
		"anonymous rejected /api/v1/executions/e1/abort  denied 401 ×2 2 request(s) answered 401 in the minute from 03:04 UTC; the first was POST on the target",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("audit:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	code, b := h.as("root", "GET", "/api/v1/audit?format=jsonl&actor=root&action=approve", "")
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	var e audit.Entry
	if code != http.StatusOK || len(lines) != 1 || json.Unmarshal([]byte(lines[0]), &e) != nil || e.Summary != "approved: ship it" {
		t.Fatalf("jsonl export: %d %s", code, b)
	}
	if code, b := h.as("root", "GET", "/api/v1/audit?since=1h&outcome=denied", ""); code != http.StatusOK || strings.Count(string(b), `"seq"`) != 2 {
		t.Fatalf("filtered: %d %s", code, b)
	}
}
