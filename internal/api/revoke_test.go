package api_test

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/sluicehq/sluice/internal/api"
	"github.com/sluicehq/sluice/internal/auth"
	"github.com/sluicehq/sluice/internal/store"
)

// TestRevocationEndsStreams opens an execution's event stream as a viewer, then
// revokes what let them in (their API token, their web session, the token the session
// was made from, or their role): the stream ends with an `error` event naming why,
// and reconnecting is refused. The time from revocation to the end is logged; the
// server re-checks every AuthRecheck (250ms by default).
func TestRevocationEndsStreams(t *testing.T) {
	tests := []struct {
		name    string
		session bool // stream with the session cookie instead of the bearer token
		revoke  func(ctx context.Context, svc *auth.Service, token, session string) error
		code    string // of the error event
		again   int    // status of a new stream request
	}{
		{"token revoked", false, func(ctx context.Context, svc *auth.Service, token, _ string) error {
			_, err := svc.Revoke(ctx, token, "admin")
			return err
		}, api.CodeUnauthorized, http.StatusUnauthorized},
		{"session revoked", true, func(ctx context.Context, svc *auth.Service, _, session string) error {
			_, err := svc.Revoke(ctx, session, "admin")
			return err
		}, api.CodeUnauthorized, http.StatusUnauthorized},
		{"parent token of the session revoked", true, func(ctx context.Context, svc *auth.Service, token, _ string) error {
			_, err := svc.Revoke(ctx, token, "admin")
			return err
		}, api.CodeUnauthorized, http.StatusUnauthorized},
		{"role revoked", false, func(ctx context.Context, svc *auth.Service, _, _ string) error {
			return svc.RevokeGrant(ctx, auth.Grant{Subject: "vera", Role: auth.RoleViewer, Environment: "staging"})
		}, api.CodeForbidden, http.StatusNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newAuthHarness(t)
			ctx := t.Context()
			secret, tok, err := h.auth.CreateToken(ctx, auth.NewToken{User: "vera", CreatedBy: "test"})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := h.auth.Grant(ctx, auth.Grant{Subject: "vera", Role: auth.RoleViewer, Environment: "staging", CreatedBy: "test"}); err != nil {
				t.Fatal(err)
			}
			cred := "Authorization: Bearer " + secret
			var sessionID string
			if tt.session {
				sess, err := h.auth.Login(ctx, secret)
				if err != nil {
					t.Fatal(err)
				}
				cred, sessionID = "Cookie: "+api.SessionCookie+"="+sess.Secret, sess.Identity.TokenID
			}
			ex := h.seed("e1", store.StatusRunning, 2)
			sctx, cancel := context.WithCancel(ctx)
			defer cancel()
			ch, resp := h.openStream(sctx, "/api/v1/executions/e1/events", cred)
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("open stream: %d", resp.StatusCode)
			}
			expect(t, ch, "1", "2")
			h.commit(&ex, "", h.lines("e1", 2, 1)...)
			expect(t, ch, "3") // live

			revoked := time.Now()
			if err := tt.revoke(ctx, h.auth, tok.ID, sessionID); err != nil {
				t.Fatal(err)
			}
			var last sseEvent
			for ended := false; !ended; { // the stream must end by itself
				select {
				case ev, ok := <-ch:
					ended = !ok
					if ok {
						last = ev
					}
				case <-time.After(30 * time.Second): // a hang guard, not a speed limit
					t.Fatal("the stream is still open 30s after the revocation")
				}
			}
			t.Logf("stream ended %s after the revocation", time.Since(revoked).Round(time.Millisecond))
			var detail api.ErrorDetail
			if last.Event != "error" || json.Unmarshal([]byte(last.Data), &detail) != nil || detail.Code != tt.code {
				t.Fatalf("last event %+v, want an error event with code %s", last, tt.code)
			}
			_, again := h.openStream(sctx, "/api/v1/executions/e1/events", cred)
			if again.StatusCode != tt.again {
				t.Fatalf("a new stream after the revocation answered %d, want %d", again.StatusCode, tt.again)
			}
		})
	}
}
