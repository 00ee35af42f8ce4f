package api

import (
	"context"
	"net/http"
	"strings"
)

// Identity is who makes a request.
type Identity struct {
	User   string
	Groups []string
}

// Identity headers: until authentication arrives, callers name themselves.
const (
	HeaderUser   = "X-Sluice-User"
	HeaderGroups = "X-Sluice-Groups"
	// AnonymousUser is the identity of a request that names no user.
	AnonymousUser = "anonymous"
)

type identityKey struct{}

// IdentityFrom returns the caller's identity stored in ctx by the identity middleware.
func IdentityFrom(ctx context.Context) Identity {
	if id, ok := ctx.Value(identityKey{}).(Identity); ok {
		return id
	}
	return Identity{User: AnonymousUser}
}

// identify is the one place that decides who the caller is. For now it trusts the
// X-Sluice-User and X-Sluice-Groups (comma-separated) headers; authentication will
// replace this middleware.
func identify(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := Identity{User: strings.TrimSpace(r.Header.Get(HeaderUser))}
		if id.User == "" {
			id.User = AnonymousUser
		}
		for _, g := range strings.Split(r.Header.Get(HeaderGroups), ",") {
			if g = strings.TrimSpace(g); g != "" {
				id.Groups = append(id.Groups, g)
			}
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), identityKey{}, id)))
	})
}
