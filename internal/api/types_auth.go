package api

import (
	"time"

	"github.com/sluicehq/sluice/internal/audit"
	"github.com/sluicehq/sluice/internal/auth"
)

// TokenRequest asks for a new API token.
type TokenRequest struct {
	User        string   `json:"user"`
	Groups      []string `json:"groups,omitempty"`
	Description string   `json:"description,omitempty"`
	// ExpiresIn is a duration such as "720h"; empty means the token never expires.
	ExpiresIn string `json:"expiresIn,omitempty"`
}

// Token describes an API token or session; its secret is never part of it.
type Token struct {
	ID          string     `json:"id"`
	Kind        string     `json:"kind"`
	User        string     `json:"user"`
	Groups      []string   `json:"groups,omitempty"`
	Description string     `json:"description,omitempty"`
	CreatedAt   time.Time  `json:"createdAt"`
	CreatedBy   string     `json:"createdBy"`
	ExpiresAt   *time.Time `json:"expiresAt,omitempty"`
	RevokedAt   *time.Time `json:"revokedAt,omitempty"`
	RevokedBy   string     `json:"revokedBy,omitempty"`
	Active      bool       `json:"active"`
}

// TokenCreated is the answer to a token request: the only time the secret is shown.
type TokenCreated struct {
	Token
	Secret string `json:"secret"`
}

// TokenList is a list of tokens.
type TokenList struct {
	Items []Token `json:"items"`
}

// Grant gives a subject (a user or group:<name>) a role in an environment or "*".
type Grant struct {
	Subject     string     `json:"subject"`
	Role        string     `json:"role"`
	Environment string     `json:"environment"`
	CreatedAt   *time.Time `json:"createdAt,omitempty"`
	CreatedBy   string     `json:"createdBy,omitempty"`
}

// GrantList is a list of grants.
type GrantList struct {
	Items []Grant `json:"items"`
}

// GrantResponse says whether a grant was new.
type GrantResponse struct {
	Grant
	Created bool `json:"created"`
}

// AuditList is a page of the audit log.
type AuditList struct {
	Items []audit.Entry `json:"items"`
	// Next, when set, is the cursor of the next page: pass it as after= (or as
	// before= when the page was asked for with order=newest).
	Next string `json:"next,omitempty"`
}

// LoginRequest exchanges an API token for a web session.
type LoginRequest struct {
	Token string `json:"token"`
}

// Login is the answer to a login: the session cookie is set, and CSRFToken must be
// sent in the X-Sluice-CSRF header of every state-changing request.
type Login struct {
	User      string    `json:"user"`
	Groups    []string  `json:"groups,omitempty"`
	CSRFToken string    `json:"csrfToken"`
	ExpiresAt time.Time `json:"expiresAt"`
}

// WhoAmI is the caller's identity and roles.
type WhoAmI struct {
	User   string   `json:"user"`
	Groups []string `json:"groups,omitempty"`
	Method string   `json:"method"`
	// AuthEnabled is false when the server trusts self-declared identities.
	AuthEnabled bool    `json:"authEnabled"`
	Grants      []Grant `json:"grants"`
}

func tokenOf(t auth.Token, now time.Time) Token {
	out := Token{ID: t.ID, Kind: t.Kind, User: t.User, Groups: t.Groups, Description: t.Description,
		CreatedAt: t.CreatedAt, CreatedBy: t.CreatedBy, RevokedBy: t.RevokedBy, Active: t.Active(now)}
	if !t.ExpiresAt.IsZero() {
		out.ExpiresAt = &t.ExpiresAt
	}
	if !t.RevokedAt.IsZero() {
		out.RevokedAt = &t.RevokedAt
	}
	return out
}

func grantOf(g auth.Grant) Grant {
	out := Grant{Subject: g.Subject, Role: string(g.Role), Environment: g.Environment, CreatedBy: g.CreatedBy}
	if !g.CreatedAt.IsZero() {
		out.CreatedAt = &g.CreatedAt
	}
	return out
}
