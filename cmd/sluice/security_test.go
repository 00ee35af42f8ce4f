package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/internal/api"
	"github.com/sluicehq/sluice/internal/audit"
	"github.com/sluicehq/sluice/internal/auth"
	"github.com/sluicehq/sluice/internal/events"
	"github.com/sluicehq/sluice/internal/store/sqlite"
)

// authCLI runs the CLI against an API with authentication and the audit log on.
type authCLI struct {
	t   *testing.T
	url string
	env map[string]string
}

func newAuthCLI(t *testing.T) (*authCLI, string) {
	t.Helper()
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "sluice.db"))
	if err != nil {
		t.Fatal(err)
	}
	svc := auth.New(st)
	var out bytes.Buffer
	if _, err := svc.BootstrapTo(context.Background(), "", &out); err != nil {
		t.Fatal(err)
	}
	admin := strings.Fields(strings.SplitN(out.String(), "once:", 2)[1])[0]
	srv := httptest.NewServer(api.New(api.Deps{Store: st, Engine: &engineSpy{store: st}, Auth: svc, Audit: st,
		Broker: events.New(st, events.WithPollInterval(0))}))
	t.Cleanup(func() {
		srv.Close()
		_ = st.Close()
	})
	return &authCLI{t: t, url: srv.URL, env: map[string]string{"SLUICE_SERVER": srv.URL, "SLUICE_CONFIG_DIR": t.TempDir()}}, admin
}

func (c *authCLI) sluice(stdin string, args ...string) (int, string, string) {
	c.t.Helper()
	var out, errb bytes.Buffer
	code := run(context.Background(), args, strings.NewReader(stdin), &out, &errb, func(k string) string { return c.env[k] })
	return code, out.String(), errb.String()
}

func (c *authCLI) ok(stdin string, args ...string) string {
	c.t.Helper()
	code, out, errb := c.sluice(stdin, args...)
	if code != 0 {
		c.t.Fatalf("sluice %s: exit %d\n%s%s", strings.Join(args, " "), code, out, errb)
	}
	return out
}

func TestTokenRoleAuditCommands(t *testing.T) {
	c, admin := newAuthCLI(t)
	if code, _, errb := c.sluice("", "get", "workflows"); code != 1 || !strings.Contains(errb, "no credentials") {
		t.Fatalf("without a token: %d %s", code, errb)
	}
	c.env["SLUICE_TOKEN"] = admin
	var created api.TokenCreated
	if err := json.Unmarshal([]byte(c.ok("", "token", "create", "bob", "--group", "sre", "--expires", "24h", "-o", "json")), &created); err != nil || created.Secret == "" {
		t.Fatalf("token create: %v %+v", err, created)
	}
	if out := c.ok("", "role", "grant", "bob", "deployer", "-e", "staging"); out != "granted bob deployer in staging\n" {
		t.Fatalf("grant: %q", out)
	}
	c.ok("", "role", "grant", "group:sre", "viewer", "-e", "*")
	if out := c.ok("", "role", "list"); !strings.Contains(out, "bob        deployer  staging") || !strings.Contains(out, "group:sre") {
		t.Fatalf("role list:\n%s", out)
	}
	if out := c.ok("", "token", "list"); !strings.Contains(out, created.ID) || strings.Contains(out, created.Secret) {
		t.Fatalf("token list:\n%s", out)
	}

	// bob logs in with his token read from stdin, then works without SLUICE_TOKEN.
	delete(c.env, "SLUICE_TOKEN")
	if out := c.ok(created.Secret+"\n", "login"); !strings.Contains(out, "as bob") {
		t.Fatalf("login: %q", out)
	}
	c.ok("", "get", "executions")
	code, _, errb := c.sluice("", "role", "grant", "bob", "admin", "-e", "*")
	if code != 1 || !strings.Contains(errb, "needs role admin in all environments (*); bob does not have it") {
		t.Fatalf("bob granting himself admin: %d %s", code, errb)
	}
	c.ok("", "logout")
	if code, _, _ := c.sluice("", "get", "executions"); code != 1 {
		t.Fatal("logout kept the token")
	}

	c.env["SLUICE_TOKEN"] = admin
	c.ok("", "token", "revoke", created.ID)
	c.env["SLUICE_TOKEN"] = created.Secret
	if code, _, errb := c.sluice("", "get", "executions"); code != 1 || !strings.Contains(errb, "invalid, expired or revoked token") {
		t.Fatalf("revoked token: %d %s", code, errb)
	}

	c.env["SLUICE_TOKEN"] = admin
	out := c.ok("", "audit", "-o", "jsonl", "--since", "1h")
	var actions []string
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		var e audit.Entry
		if err := json.Unmarshal([]byte(line), &e); err != nil {
			t.Fatalf("jsonl line %q: %v", line, err)
		}
		if time.Since(e.At) > time.Hour || e.Remote == "" {
			t.Errorf("entry time or remote: %+v", e)
		}
		actions = append(actions, e.Actor+":"+e.Action+":"+e.Outcome)
	}
	// Reads are not audited; bob's refused grant is.
	if got := strings.Join(actions, " "); got != "admin:token.create:ok admin:role.grant:ok admin:role.grant:ok bob:role.grant:denied admin:token.revoke:ok" {
		t.Fatalf("audit actions: %s", got)
	}
	if out := c.ok("", "audit", "--actor", "bob"); !strings.Contains(out, "denied") || !strings.Contains(out, "role.grant") {
		t.Fatalf("audit table:\n%s", out)
	}
	if code, _, errb := c.sluice("", "get", "workflows", "-o", "jsonl"); code != 1 || !strings.Contains(errb, "want table, json or yaml") {
		t.Fatalf("-o jsonl outside audit: %d %s", code, errb)
	}
}
