package server

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/sluicehq/sluice/internal/api"
	"github.com/sluicehq/sluice/internal/engine"
	"github.com/sluicehq/sluice/internal/envrun"
	"github.com/sluicehq/sluice/internal/events"
	"github.com/sluicehq/sluice/internal/loadtest"
	"github.com/sluicehq/sluice/internal/metrics"
	"github.com/sluicehq/sluice/internal/secrets"
	"github.com/sluicehq/sluice/internal/spec"
	"github.com/sluicehq/sluice/internal/store"
	"github.com/sluicehq/sluice/internal/store/postgres"
	"github.com/sluicehq/sluice/internal/store/sqlite"
	"github.com/sluicehq/sluice/internal/verify"
)

// Config is what `sluice server` needs.
type Config struct {
	Addr        string // HTTP listen address, e.g. 127.0.0.1:7070
	DataDir     string // SQLite database directory when DatabaseURL is empty
	DatabaseURL string // postgres://... to use PostgreSQL
	Logger      *slog.Logger
	// Ready, when set, is called with the bound address once the server accepts requests.
	Ready func(addr string)
	// ServerID names this server in execution leases. Servers sharing a PostgreSQL
	// database need different IDs; a server keeps its ID across restarts so it resumes
	// its own executions at once. Default: an ID kept in DataDir, or the host name and
	// process ID when there is no data directory.
	ServerID string
	// Lease is how long a server's claim on an execution lasts without renewal; when a
	// server dies, another takes its executions over after at most this long. Default 15s.
	Lease time.Duration
	// RequestPoll is how often the engine reads people's requests stored by other
	// servers (default 200ms); on PostgreSQL the server LISTENs for them and this
	// poll is the fallback while that connection is down.
	RequestPoll time.Duration
	// PipelinePoll is how often a pipeline run looks at its stages (default 500ms); on
	// PostgreSQL a decision or an abort stored by another server wakes it at once, and
	// this poll is the fallback.
	PipelinePoll time.Duration
	// CrashAt names a journal boundary ("effect.applied") and, after a colon, its
	// occurrence ("effect.applied:3"); the process kills itself there with SIGKILL.
	// It exists for crash tests; it is read from SLUICE_TEST_CRASH_AT when empty.
	CrashAt string
	// Security is authentication, the loopback rule and TLS (see auth.go).
	Security Security
	// AuditRetention, when set (at least audit.MinRetention), is how long audit
	// entries stay in the store; older ones are appended to AuditExport (default
	// DataDir/audit-export.jsonl) and then pruned, periodically.
	AuditRetention time.Duration
	AuditExport    string
	// Releases, when set, runs workflows from Release custom resources in the namespace
	// it names ("*": every namespace), read with ReleasesKubeconfig (in-cluster
	// credentials when empty). See internal/release.
	Releases           string
	ReleasesKubeconfig string
	// RouterExecutable is the sluice binary that runs an environment's builtin
	// router as its own process (`sluice router`), which keeps serving while the
	// server crashes, restarts or upgrades. Empty keeps every builtin router inside
	// the server process, as does an environment's router.builtin.process: inprocess.
	RouterExecutable string
}

// Run serves until ctx is done, then stops accepting requests, lets in-flight ones
// finish, and leaves executions in the store to resume on the next start.
func Run(ctx context.Context, cfg Config) error {
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	log = RedactLogger(log)
	if err := checkListen(cfg.Addr, cfg.Security); err != nil {
		return err
	}
	if err := privateDataDir(cfg.DataDir); err != nil {
		return err
	}
	auditExport, err := checkAuditRetention(cfg)
	if err != nil {
		return err
	}
	unlock, err := lockDataDir(cfg.DataDir)
	if err != nil {
		return err
	}
	defer unlock()
	st, err := openStore(ctx, cfg)
	if err != nil {
		return err
	}
	defer st.Close()
	sec, err := setupSecurity(ctx, cfg.Security, cfg.Addr, st, log)
	if err != nil {
		return err
	}

	broker := events.New(st)
	// Environments become their platforms, routers and providers with the kinds
	// of this build's registry.
	registry := envrun.Builtin()
	runtimes := envrun.New(registry, envrun.Options{DataDir: cfg.DataDir, RouterExecutable: cfg.RouterExecutable, Logger: log})
	defer runtimes.Close()
	// Notifications fan out from the engine's durable events; the queue drains after
	// the engine stops and before the store closes.
	pub, stopNotify := notifications(st, broker, runtimes, log)
	defer stopNotify()
	eng, err := newEngine(cfg, st, runtimes, pub, log)
	if err != nil {
		return err
	}
	defer eng.Close()
	runtimes.SetInstanceOutput(eng.InstanceOutput)
	if n, err := runtimes.Warm(ctx, st); err != nil {
		log.Warn("cannot restore builtin routers", "err", err)
	} else if n > 0 {
		log.Info("restored builtin routers", "environments", n)
	}

	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("server: listen on %s: %w", cfg.Addr, err)
	}
	ln = sec.listener(ln)
	// Open event streams end when the server shuts down; followers resume elsewhere.
	streamsDone := make(chan struct{})
	deps := api.Deps{
		Store: st, Engine: eng, Broker: broker, Logger: log.With("component", "api"), StreamsDone: streamsDone,
	}
	deps.DryRun = runtimes.DryRun(st)
	deps.CheckSettings = registry.CheckDocuments
	deps.TriggerSecret = runtimes.TriggerSecret(st)
	deps.Live = liveReader(runtimes, st)
	sec.apply(&deps)
	stopPipelines, err := startPipelines(cfg, st, eng, runtimes, &deps, log)
	if err != nil {
		ln.Close()
		return err
	}
	defer stopPipelines()
	flushRejections := countRejections(&deps, log)
	defer flushRejections()
	defer listenRequests(ctx, st, eng, wakePipelines(deps), log)() // stops before the engine closes
	defer startAuditRetention(ctx, cfg, deps.Audit, auditExport, log)()
	mc, err := metrics.New(metrics.Options{Source: st, Logger: log.With("component", "metrics")})
	if err != nil {
		ln.Close()
		return err
	}
	srv := &http.Server{
		Handler:           sec.handler(withOps(WithUI(api.New(deps)), mc)),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       time.Minute,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		// no WriteTimeout: event streams stay open for as long as an execution runs
	}
	srv.RegisterOnShutdown(func() { close(streamsDone) })
	n, err := eng.Recover(ctx)
	if err != nil {
		ln.Close()
		return err
	}
	if n > 0 {
		log.Info("resumed executions", "count", n)
	}
	recoverPipelines(ctx, deps, log)
	stopReleases, err := startReleases(ctx, cfg, eng, st, log)
	if err != nil {
		ln.Close()
		return err
	}
	defer stopReleases()
	defer startDeployWatch(ctx, eng, st, envrun.Deployments(st), log)()
	if cfg.Ready != nil {
		cfg.Ready(ln.Addr().String())
	}
	return serve(ctx, srv, ln)
}

// newEngine builds the engine with this server's identity and the step runners that
// live outside the engine.
func newEngine(cfg Config, st store.Store, rt *envrun.Runtimes, pub engine.Publisher, log *slog.Logger) (*engine.Engine, error) {
	crash, err := crashPoint(cfg.CrashAt, os.Getenv("SLUICE_TEST_CRASH_AT"))
	if err != nil {
		return nil, err
	}
	id, err := serverID(cfg)
	if err != nil {
		return nil, err
	}
	return engine.New(engine.Options{
		Store: st, Resolver: rt, Publisher: pub, Logger: log.With("component", "engine", "server", id),
		CrashPoint: crash, Owner: id, Lease: cfg.Lease, Redact: secrets.Default.String,
		EvidenceNote: verify.EvidenceNoteJSON,
		RequestPoll:  cfg.RequestPoll,
		Steps: map[spec.StepType]engine.StepRunner{
			spec.StepLoadTest: loadtest.NewStep(rt),
			spec.StepVerify:   verify.NewStep(rt.Providers()),
		},
	})
}

// serve runs srv until ctx ends, then shuts it down gracefully.
func serve(ctx context.Context, srv *http.Server, ln net.Listener) error {
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("server: %w", err)
	case <-ctx.Done():
	}
	shutdown, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdown); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("server: shutdown: %w", err)
	}
	return nil
}

// serverID returns the configured ID, or the one kept in the data directory (made on
// first start), or host name and process ID.
func serverID(cfg Config) (string, error) {
	if cfg.ServerID != "" {
		return cfg.ServerID, nil
	}
	if cfg.DataDir == "" {
		host, _ := os.Hostname()
		return fmt.Sprintf("%s-%d", host, os.Getpid()), nil
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return "", fmt.Errorf("server: data directory: %w", err)
	}
	path := filepath.Join(cfg.DataDir, "server-id")
	if b, err := os.ReadFile(path); err == nil && len(strings.TrimSpace(string(b))) > 0 {
		return strings.TrimSpace(string(b)), nil
	}
	var r [6]byte
	if _, err := rand.Read(r[:]); err != nil {
		return "", fmt.Errorf("server: make server id: %w", err)
	}
	host, _ := os.Hostname()
	id := fmt.Sprintf("%s-%x", host, r)
	if err := os.WriteFile(path, []byte(id+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("server: keep server id: %w", err)
	}
	return id, nil
}

// openStore opens PostgreSQL when a URL is given, SQLite in the data directory otherwise.
func openStore(ctx context.Context, cfg Config) (store.Store, error) {
	if cfg.DatabaseURL != "" {
		return postgres.Open(ctx, cfg.DatabaseURL)
	}
	if cfg.DataDir == "" {
		return nil, errors.New("server: a data directory or a database URL is required")
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("server: data directory: %w", err)
	}
	return sqlite.Open(ctx, filepath.Join(cfg.DataDir, "sluice.db"))
}
