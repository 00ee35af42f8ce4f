package server

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"

	"github.com/sluicehq/sluice/internal/api"
	"github.com/sluicehq/sluice/internal/audit"
	"github.com/sluicehq/sluice/internal/auth"
	"github.com/sluicehq/sluice/internal/secrets"
	"github.com/sluicehq/sluice/internal/store"
)

// Security is how `sluice server` authenticates callers and protects its listener.
type Security struct {
	// Auth requires a bearer token or a web session on every request except health
	// checks and login. Off, callers name themselves (X-Sluice-User) and may do
	// everything, so the server then listens only on a loopback address.
	Auth bool
	// InsecureNoAuth allows a non-loopback address without Auth. Anyone who can reach
	// the port can then deploy, approve and roll back.
	InsecureNoAuth bool
	// BootstrapTokenFile receives the first admin token (mode 0600, never
	// overwritten) when the store has no active admin token; empty prints it once to
	// BootstrapOutput instead.
	BootstrapTokenFile string
	// BootstrapTokenFrom names a file holding the first admin token, chosen outside
	// sluice (a mounted Kubernetes Secret): stored as the admin token when the store
	// has no active one, never printed. It excludes BootstrapTokenFile.
	BootstrapTokenFrom string
	// BootstrapOutput is where a bootstrap token is printed; os.Stderr when nil.
	BootstrapOutput io.Writer
	// TLSCertFile and TLSKeyFile, set together, serve HTTPS (TLS 1.2 and up).
	TLSCertFile, TLSKeyFile string
	// PublicURL is the address people and clients reach the server at (for example
	// https://sluice.example.com behind a proxy); its host is accepted in the Host
	// header and its origin may change state.
	PublicURL string
	// AllowedHosts are further names the server is served as ("name", "name:port",
	// or "*" to turn the Host check off). IP addresses and localhost always are.
	AllowedHosts []string
	// OIDC, when set, adds sign-in with an OpenID Connect provider (needs Auth).
	OIDC *auth.OIDCConfig
}

// security is what Run wires from Security.
type security struct {
	auth    *auth.Service
	audit   audit.Store
	tls     *tls.Config
	origins *api.Origins
	oidc    *auth.OIDC
}

// ErrInsecureListen says a non-loopback address was asked for without authentication.
var ErrInsecureListen = errors.New("refusing to listen on a non-loopback address without authentication")

// setupSecurity checks the loopback rule, loads TLS and, with authentication on,
// makes the first admin token of an empty store. It logs what it decided.
func setupSecurity(ctx context.Context, s Security, addr string, st store.Store, log *slog.Logger) (*security, error) {
	sec := &security{}
	if as, ok := st.(audit.Store); ok {
		sec.audit = as
	}
	if err := checkListen(addr, s); err != nil {
		return nil, err
	}
	origins, err := api.NewOrigins(s.PublicURL, s.AllowedHosts)
	if err != nil {
		return nil, fmt.Errorf("server: %w", err)
	}
	sec.origins = origins
	if (s.TLSCertFile == "") != (s.TLSKeyFile == "") {
		return nil, errors.New("server: TLS needs both a certificate file and a key file")
	}
	if s.TLSCertFile != "" {
		cert, err := tls.LoadX509KeyPair(s.TLSCertFile, s.TLSKeyFile)
		if err != nil {
			return nil, fmt.Errorf("server: load TLS certificate: %w", err)
		}
		sec.tls = &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{cert}}
	}
	if s.OIDC != nil && !s.Auth {
		return nil, errOIDCNeedsAuth
	}
	if !s.Auth {
		if loopback(addr) {
			log.Warn("authentication is off: listening on loopback only; callers name themselves with X-Sluice-User (start with --auth to require tokens)", "addr", addr)
		} else {
			log.Warn("authentication is off on a non-loopback address (--insecure-no-auth): anyone who reaches it may deploy, approve and roll back", "addr", addr)
		}
		return sec, nil
	}
	as, ok := st.(auth.Store)
	if !ok {
		return nil, fmt.Errorf("server: the %T store keeps no tokens; authentication needs SQLite or PostgreSQL", st)
	}
	o, opts, err := setupOIDC(ctx, s, log)
	if err != nil {
		return nil, err
	}
	sec.auth, sec.oidc = auth.New(as, opts...), o
	out := s.BootstrapOutput
	if out == nil {
		out = os.Stderr
	}
	created, err := bootstrap(ctx, sec.auth, s, out)
	if err != nil {
		return nil, fmt.Errorf("server: %w", err)
	}
	if created && s.BootstrapTokenFile != "" {
		log.Warn("created the first admin token", "file", s.BootstrapTokenFile)
	}
	if created && s.BootstrapTokenFrom != "" {
		log.Warn("stored the given first admin token", "file", s.BootstrapTokenFrom)
	}
	log.Info("authentication is on", "tls", sec.tls != nil)
	return sec, nil
}

// checkListen enforces the loopback rule.
func checkListen(addr string, s Security) error {
	if s.Auth || s.InsecureNoAuth || loopback(addr) {
		return nil
	}
	return fmt.Errorf("server: %w: %s; start with --auth (and TLS), or --insecure-no-auth if you really mean it", ErrInsecureListen, addr)
}

// loopback reports whether addr listens only on the loopback interface.
func loopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		host = addr
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// listener serves TLS on ln when configured.
func (s *security) listener(ln net.Listener) net.Listener {
	if s.tls == nil {
		return ln
	}
	return tls.NewListener(ln, s.tls)
}

// apply sets the API's authentication and audit log.
func (s *security) apply(d *api.Deps) {
	d.Auth, d.Audit, d.Origins, d.OIDC = s.auth, s.audit, s.origins, s.oidc
}

// handler wraps the whole server (API and UI) in the Host check, so that a
// DNS-rebinding page can neither change nor read anything.
func (s *security) handler(next http.Handler) http.Handler {
	return s.origins.CheckHost(next)
}

// RedactLogger returns log with every secret resolved so far, and later, masked.
func RedactLogger(log *slog.Logger) *slog.Logger {
	return slog.New(secrets.NewHandler(log.Handler(), nil))
}
