package auth

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Token kinds.
const (
	KindAPI     = "api"     // a bearer token for the API and CLI
	KindSession = "session" // a web session cookie made from an API token at login
)

// tokenPrefix starts every secret sluice hands out, so scanners can find leaked ones.
const tokenPrefix = "sluice_"

// Token is the stored record of an API token or a session. The secret itself is never
// stored: only the SHA-256 of the whole token string, looked up by ID.
type Token struct {
	ID          string // public, 12 hex characters; part of the secret string
	Hash        string // hex SHA-256 of the whole secret string
	Kind        string // KindAPI or KindSession
	Parent      string // a session's API token; revoking it ends the session
	User        string
	Groups      []string
	Description string
	CreatedAt   time.Time
	CreatedBy   string
	ExpiresAt   time.Time // zero: never
	RevokedAt   time.Time // zero: not revoked
	RevokedBy   string
}

// Active reports whether the token may be used at now.
func (t Token) Active(now time.Time) bool {
	return t.RevokedAt.IsZero() && (t.ExpiresAt.IsZero() || now.Before(t.ExpiresAt))
}

// Errors of authentication; their messages are safe to show to the caller.
var (
	ErrNoCredentials = errors.New("no credentials: send Authorization: Bearer <token> (see sluice token create)")
	ErrBadToken      = errors.New("invalid, expired or revoked token")
	// ErrInvalid marks a request the caller got wrong: a bad user, group, expiry or grant.
	ErrInvalid = errors.New("invalid")
)

// newSecret returns a fresh token string and its id: sluice_<id>_<secret>.
func newSecret() (secret, id string, err error) {
	var b [6 + 32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", "", fmt.Errorf("auth: random: %w", err)
	}
	id = hex.EncodeToString(b[:6])
	return tokenPrefix + id + "_" + base64.RawURLEncoding.EncodeToString(b[6:]), id, nil
}

// splitSecret returns the id of a token string, or an error when it has the wrong shape.
func splitSecret(secret string) (string, error) {
	rest, ok := strings.CutPrefix(secret, tokenPrefix)
	if !ok {
		return "", ErrBadToken
	}
	id, body, ok := strings.Cut(rest, "_")
	if !ok || len(id) != 12 || len(body) != 43 {
		return "", ErrBadToken
	}
	if _, err := hex.DecodeString(id); err != nil {
		return "", ErrBadToken
	}
	return id, nil
}

// hashSecret is the stored form of a token string.
func hashSecret(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:])
}

// matches compares a presented secret with a stored hash in constant time.
func matches(secret, hash string) bool {
	got := hashSecret(secret)
	return subtle.ConstantTimeCompare([]byte(got), []byte(hash)) == 1
}

// csrfFor derives the CSRF token of a session from its secret: whoever can read the
// session cookie's value (only the browser, never another site) can compute it.
func csrfFor(sessionSecret string) string {
	sum := sha256.Sum256([]byte("sluice-csrf\x00" + sessionSecret))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// CheckCSRF compares the CSRF header of a request with the one its session expects.
func CheckCSRF(sessionSecret, header string) bool {
	return header != "" && subtle.ConstantTimeCompare([]byte(csrfFor(sessionSecret)), []byte(header)) == 1
}
