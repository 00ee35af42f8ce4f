package server

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/sluicehq/sluice/internal/api"
	"github.com/sluicehq/sluice/internal/audit"
	"github.com/sluicehq/sluice/internal/store/sqlite"
)

// AuditExportFile is where pruned audit entries go, in the data directory, unless
// Config.AuditExport names another file.
const AuditExportFile = "audit-export.jsonl"

// lockDataDir holds the data directory for as long as the server runs, so that a
// second server on it stops at once with an error naming the first one's PID.
func lockDataDir(dir string) (unlock func(), err error) {
	if dir == "" {
		return func() {}, nil
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("server: data directory: %w", err)
	}
	l, err := sqlite.LockDir(dir)
	if err != nil {
		return nil, fmt.Errorf("server: %w", err)
	}
	return func() { _ = l.Unlock() }, nil
}

// checkAuditRetention checks the retention settings and returns the export file.
func checkAuditRetention(cfg Config) (string, error) {
	if cfg.AuditRetention == 0 {
		return "", nil
	}
	if cfg.AuditRetention < audit.MinRetention {
		return "", fmt.Errorf("server: --audit-retention %s: keep entries at least %s", cfg.AuditRetention, audit.MinRetention)
	}
	if cfg.AuditExport != "" {
		return cfg.AuditExport, nil
	}
	if cfg.DataDir == "" {
		return "", fmt.Errorf("server: --audit-retention needs --audit-export FILE or a data directory to export to")
	}
	return filepath.Join(cfg.DataDir, AuditExportFile), nil
}

// startAuditRetention exports and prunes the audit entries older than
// cfg.AuditRetention, now and periodically, until stop is called.
func startAuditRetention(ctx context.Context, cfg Config, st audit.Store, dest string, log *slog.Logger) (stop func()) {
	if cfg.AuditRetention == 0 || st == nil {
		return func() {}
	}
	r := &audit.Retention{Store: st, Keep: cfg.AuditRetention, Dest: dest, Log: log.With("component", "audit")}
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		r.Run(ctx)
	}()
	log.Info("audit retention", "keep", cfg.AuditRetention, "export", dest)
	return func() {
		cancel()
		<-done
	}
}

// countRejections gives the API its counter of rejected requests; flush writes the
// counts of the last minute when the server stops.
func countRejections(d *api.Deps, log *slog.Logger) (flush func()) {
	if d.Audit == nil {
		return func() {}
	}
	d.Rejections = audit.NewRejections(d.Audit, nil, log.With("component", "audit"))
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := d.Rejections.Flush(ctx); err != nil {
			log.Error("audit: rejected requests not counted", "err", err)
		}
	}
}
