package auth

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/sluicehq/sluice/internal/store"
)

// Identity is who makes a request and how they proved it.
type Identity struct {
	User    string
	Groups  []string
	TokenID string // the API token or session used; empty without authentication
	Method  string // MethodToken, MethodSession or MethodHeader
}

// Authentication methods of an Identity.
const (
	MethodToken   = "token"   // Authorization: Bearer
	MethodSession = "session" // the web UI's session cookie
	MethodHeader  = "header"  // authentication off: the caller named themselves
)

// Service authenticates tokens and sessions and answers authorization questions.
type Service struct {
	st         Store
	now        func() time.Time
	sessionTTL time.Duration
	fixed      []Grant // grants made by configuration; see WithGrants
}

// Option configures a Service.
type Option func(*Service)

// WithClock sets the clock (time.Now by default).
func WithClock(now func() time.Time) Option { return func(s *Service) { s.now = now } }

// WithSessionTTL sets how long a web session lasts (12h by default); never longer than
// the token it was made from.
func WithSessionTTL(d time.Duration) Option { return func(s *Service) { s.sessionTTL = d } }

// New returns a Service over st.
func New(st Store, opts ...Option) *Service {
	s := &Service{st: st, now: time.Now, sessionTTL: 12 * time.Hour}
	for _, o := range opts {
		o(s)
	}
	return s
}

// NewToken asks for an API token.
type NewToken struct {
	User        string
	Groups      []string
	Description string
	TTL         time.Duration // 0: never expires
	CreatedBy   string
}

// CreateToken stores a new API token and returns its secret, which is never shown again.
func (s *Service) CreateToken(ctx context.Context, req NewToken) (string, Token, error) {
	if err := checkSubject(req.User); err != nil || strings.HasPrefix(req.User, GroupPrefix) {
		return "", Token{}, fmt.Errorf("token user %q: want a user name: %w", req.User, ErrInvalid)
	}
	for _, g := range req.Groups {
		if err := checkSubject(GroupPrefix + g); err != nil || strings.HasPrefix(g, GroupPrefix) {
			return "", Token{}, fmt.Errorf("token group %q: want a bare group name: %w", g, ErrInvalid)
		}
	}
	if req.TTL < 0 {
		return "", Token{}, fmt.Errorf("token lifetime %s is negative: %w", req.TTL, ErrInvalid)
	}
	secret, id, err := newSecret()
	if err != nil {
		return "", Token{}, err
	}
	now := s.now().UTC()
	t := Token{ID: id, Hash: hashSecret(secret), Kind: KindAPI, User: req.User, Groups: slices.Clone(req.Groups),
		Description: req.Description, CreatedAt: now, CreatedBy: req.CreatedBy}
	if req.TTL > 0 {
		t.ExpiresAt = now.Add(req.TTL)
	}
	if err := s.st.CreateToken(ctx, t); err != nil {
		return "", Token{}, fmt.Errorf("auth: create token: %w", err)
	}
	return secret, t, nil
}

// lookup returns the active token of a kind that secret proves, or ErrBadToken.
func (s *Service) lookup(ctx context.Context, secret, kind string) (Token, error) {
	id, err := splitSecret(secret)
	if err != nil {
		return Token{}, err
	}
	t, err := s.st.GetToken(ctx, id)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return Token{}, ErrBadToken
	case err != nil:
		return Token{}, fmt.Errorf("auth: read token %s: %w", id, err)
	}
	if !matches(secret, t.Hash) || t.Kind != kind || !t.Active(s.now()) {
		return Token{}, ErrBadToken
	}
	if t.Parent != "" {
		p, err := s.st.GetToken(ctx, t.Parent)
		if err != nil || !p.Active(s.now()) {
			return Token{}, ErrBadToken
		}
	}
	return t, nil
}

// Authenticate returns the identity an API token proves.
func (s *Service) Authenticate(ctx context.Context, secret string) (Identity, error) {
	t, err := s.lookup(ctx, secret, KindAPI)
	if err != nil {
		return Identity{}, err
	}
	return Identity{User: t.User, Groups: t.Groups, TokenID: t.ID, Method: MethodToken}, nil
}

// AuthenticateSession returns the identity a session cookie's value proves.
func (s *Service) AuthenticateSession(ctx context.Context, secret string) (Identity, error) {
	t, err := s.lookup(ctx, secret, KindSession)
	if err != nil {
		return Identity{}, err
	}
	return Identity{User: t.User, Groups: t.Groups, TokenID: t.ID, Method: MethodSession}, nil
}

// Session is a web session made at login.
type Session struct {
	Secret    string // the cookie's value
	CSRF      string // what every state-changing request must echo in a header
	ExpiresAt time.Time
	Identity  Identity
}

// Login turns an API token into a web session that ends with the token.
func (s *Service) Login(ctx context.Context, apiSecret string) (Session, error) {
	parent, err := s.lookup(ctx, apiSecret, KindAPI)
	if err != nil {
		return Session{}, err
	}
	secret, id, err := newSecret()
	if err != nil {
		return Session{}, err
	}
	now := s.now().UTC()
	t := Token{ID: id, Hash: hashSecret(secret), Kind: KindSession, Parent: parent.ID, User: parent.User,
		Groups: parent.Groups, Description: "web session", CreatedAt: now, CreatedBy: parent.User,
		ExpiresAt: now.Add(s.sessionTTL)}
	if !parent.ExpiresAt.IsZero() && parent.ExpiresAt.Before(t.ExpiresAt) {
		t.ExpiresAt = parent.ExpiresAt
	}
	if err := s.st.CreateToken(ctx, t); err != nil {
		return Session{}, fmt.Errorf("auth: create session: %w", err)
	}
	return Session{Secret: secret, CSRF: csrfFor(secret), ExpiresAt: t.ExpiresAt,
		Identity: Identity{User: t.User, Groups: t.Groups, TokenID: t.ID, Method: MethodSession}}, nil
}

// Revoke revokes a token (and the sessions made from it) on behalf of by.
func (s *Service) Revoke(ctx context.Context, id, by string) (Token, error) {
	t, err := s.st.RevokeToken(ctx, id, by, s.now().UTC())
	if err != nil {
		return Token{}, fmt.Errorf("auth: revoke token %s: %w", id, err)
	}
	return t, nil
}

// Tokens lists the tokens of a kind (all when empty).
func (s *Service) Tokens(ctx context.Context, kind string) ([]Token, error) {
	ts, err := s.st.ListTokens(ctx, kind)
	if err != nil {
		return nil, fmt.Errorf("auth: list tokens: %w", err)
	}
	return ts, nil
}

// RoleIn returns the strongest role id holds in env ("" for none).
func (s *Service) RoleIn(ctx context.Context, id Identity, env string) (Role, error) {
	grants, err := s.allGrants(ctx)
	if err != nil {
		return "", fmt.Errorf("auth: read grants: %w", err)
	}
	return RoleIn(grants, id, env), nil
}

// Authorize returns a *ForbiddenError unless id holds need in env; action names what
// was asked in the message.
func (s *Service) Authorize(ctx context.Context, id Identity, need Role, env, action string) error {
	have, err := s.RoleIn(ctx, id, env)
	if err != nil {
		return err
	}
	if !have.Includes(need) {
		return &ForbiddenError{User: id.User, Need: need, Environment: env, Action: action}
	}
	return nil
}

// Grant stores a grant made by the caller.
func (s *Service) Grant(ctx context.Context, g Grant) (bool, error) {
	if err := CheckGrant(g); err != nil {
		return false, err
	}
	g.CreatedAt = s.now().UTC()
	created, err := s.st.PutGrant(ctx, g)
	if err != nil {
		return false, fmt.Errorf("auth: grant: %w", err)
	}
	return created, nil
}

// RevokeGrant removes a grant.
func (s *Service) RevokeGrant(ctx context.Context, g Grant) error {
	if err := CheckGrant(g); err != nil {
		return err
	}
	if err := s.st.DeleteGrant(ctx, g); err != nil {
		return fmt.Errorf("auth: revoke grant: %w", err)
	}
	return nil
}

// Grants lists every grant: the stored ones, then those made by configuration.
func (s *Service) Grants(ctx context.Context) ([]Grant, error) {
	gs, err := s.allGrants(ctx)
	if err != nil {
		return nil, fmt.Errorf("auth: list grants: %w", err)
	}
	return gs, nil
}
