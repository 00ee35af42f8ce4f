// Command sluice-oidc-provider is a real OpenID Connect provider for sluice's tests:
// the certified OP of github.com/zitadel/oidc/v3 (its pkg/op package, with the login
// form and in-memory storage of its example server), serving discovery, JWKS, the
// authorization-code flow with PKCE, the token and userinfo endpoints over HTTP.
//
// Users, passwords, groups and clients come from a JSON file (see config below); the
// ID token carries email, email_verified, preferred_username and, when the "groups"
// scope is asked for, a "groups" claim, as Dex does.
//
//	sluice-oidc-provider -addr 127.0.0.1:5556 -config provider.json
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"slices"

	"github.com/zitadel/oidc/v3/example/server/exampleop"
	"github.com/zitadel/oidc/v3/example/server/storage"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
	"golang.org/x/text/language"
)

// config is the provider's JSON configuration.
type config struct {
	Clients []clientConfig `json:"clients"`
	Users   []userConfig   `json:"users"`
}

type clientConfig struct {
	ID     string `json:"id"`
	Secret string `json:"secret"`
	// RedirectGlobs are doublestar globs of the allowed redirect URIs, such as
	// http://127.0.0.1:*/api/v1/oidc/callback.
	RedirectGlobs []string `json:"redirectGlobs"`
}

type userConfig struct {
	ID       string   `json:"id"`
	Username string   `json:"username"`
	Password string   `json:"password"`
	Email    string   `json:"email"`
	Groups   []string `json:"groups"`
}

func main() {
	addr := flag.String("addr", "127.0.0.1:5556", "address to listen on")
	issuer := flag.String("issuer", "", "issuer URL (default http://ADDR)")
	cfgPath := flag.String("config", "", "JSON file with clients and users (required)")
	flag.Parse()
	if err := run(*addr, *issuer, *cfgPath); err != nil {
		fmt.Fprintln(os.Stderr, "sluice-oidc-provider:", err)
		os.Exit(1)
	}
}

func run(addr, issuer, cfgPath string) error {
	cfg, err := load(cfgPath)
	if err != nil {
		return err
	}
	if issuer == "" {
		issuer = "http://" + addr
	}
	clients := map[string]*storage.Client{}
	globs := map[string][]string{}
	for _, c := range cfg.Clients {
		clients[c.ID] = storage.WebClient(c.ID, c.Secret, "http://127.0.0.1/unused")
		globs[c.ID] = c.RedirectGlobs
	}
	users := userStore{byID: map[string]*storage.User{}, groups: map[string][]string{}}
	for _, u := range cfg.Users {
		users.byID[u.ID] = &storage.User{ID: u.ID, Username: u.Username, Password: u.Password,
			FirstName: u.Username, Email: u.Email, EmailVerified: true, PreferredLanguage: language.English}
		users.groups[u.ID] = u.Groups
	}
	st := &groupStorage{Storage: storage.NewStorageWithClients(users, clients), users: users, clients: clients, globs: globs}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	router := exampleop.SetupServer(issuer, st, logger, false)
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listen %s: %w", addr, err)
	}
	logger.Info("serving", "issuer", issuer)
	return http.Serve(ln, router)
}

func load(path string) (config, error) {
	var cfg config
	if path == "" {
		return cfg, fmt.Errorf("-config is required")
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return cfg, fmt.Errorf("read config: %w", err)
	}
	if err := json.Unmarshal(b, &cfg); err != nil {
		return cfg, fmt.Errorf("config %s: %w", path, err)
	}
	if len(cfg.Clients) == 0 || len(cfg.Users) == 0 {
		return cfg, fmt.Errorf("config %s: want at least one client and one user", path)
	}
	return cfg, nil
}

// userStore is the provider's users, with their groups.
type userStore struct {
	byID   map[string]*storage.User
	groups map[string][]string
}

func (u userStore) GetUserByID(id string) *storage.User { return u.byID[id] }

func (u userStore) GetUserByUsername(name string) *storage.User {
	for _, user := range u.byID {
		if user.Username == name {
			return user
		}
	}
	return nil
}

func (u userStore) ExampleClientID() string { return storage.ServiceUserID }

// groupStorage is the example storage plus a groups claim and redirect globs.
type groupStorage struct {
	*storage.Storage
	users   userStore
	clients map[string]*storage.Client
	globs   map[string][]string
}

// SetUserinfoFromRequest adds the user's groups when the "groups" scope was asked for.
func (s *groupStorage) SetUserinfoFromRequest(ctx context.Context, info *oidc.UserInfo, req op.IDTokenRequest, scopes []string) error {
	if err := s.Storage.SetUserinfoFromRequest(ctx, info, req, scopes); err != nil {
		return err
	}
	s.addGroups(info, req.GetSubject(), scopes)
	return nil
}

// SetUserinfoFromToken answers the userinfo endpoint with the groups too.
func (s *groupStorage) SetUserinfoFromToken(ctx context.Context, info *oidc.UserInfo, tokenID, subject, origin string) error {
	if err := s.Storage.SetUserinfoFromToken(ctx, info, tokenID, subject, origin); err != nil {
		return err
	}
	s.addGroups(info, info.Subject, []string{"groups"})
	return nil
}

func (s *groupStorage) addGroups(info *oidc.UserInfo, subject string, scopes []string) {
	if g, ok := s.users.groups[subject]; ok && slices.Contains(scopes, "groups") {
		info.AppendClaims("groups", g)
	}
}

// GetClientByClientID returns the client with the "groups" scope and redirect globs.
func (s *groupStorage) GetClientByClientID(ctx context.Context, id string) (op.Client, error) {
	c, ok := s.clients[id]
	if !ok {
		return s.Storage.GetClientByClientID(ctx, id) // its not-found error
	}
	return globClient{Client: c, globs: s.globs[id]}, nil
}

type globClient struct {
	*storage.Client
	globs []string
}

func (c globClient) RedirectURIGlobs() []string           { return c.globs }
func (c globClient) PostLogoutRedirectURIGlobs() []string { return c.globs }
func (c globClient) IsScopeAllowed(scope string) bool     { return scope == "groups" }

// IDTokenUserinfoClaimsAssertion puts email and profile claims in the ID token, as
// Dex, Okta and Keycloak do.
func (c globClient) IDTokenUserinfoClaimsAssertion() bool { return true }
