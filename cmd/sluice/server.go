package main

import (
	"log/slog"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/sluicehq/sluice/internal/server"
)

// defaultDataDir is where the embedded SQLite database lives unless --data-dir or
// SLUICE_DATA_DIR says otherwise.
func (a *app) defaultDataDir() string {
	if d := a.getenv("SLUICE_DATA_DIR"); d != "" {
		return d
	}
	if home, err := os.UserHomeDir(); err == nil {
		return filepath.Join(home, ".sluice")
	}
	return ".sluice"
}

func (a *app) serverCommand() *cobra.Command {
	cfg := server.Config{}
	var sso oidcFlags
	cmd := &cobra.Command{
		Use:   "server",
		Short: "Run the sluice server: API, engine and store",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg.Logger = slog.New(slog.NewTextHandler(a.stderr, nil))
			cfg.Security.BootstrapOutput = a.stderr
			var err error
			if cfg.Security.OIDC, err = sso.config(); err != nil {
				return err
			}
			scheme := "http://"
			if cfg.Security.TLSCertFile != "" {
				scheme = "https://"
			}
			cfg.Ready = func(addr string) { cfg.Logger.Info("sluice server ready", "addr", scheme+addr) }
			if exe, err := os.Executable(); err == nil {
				cfg.RouterExecutable = exe // builtin routers run as `sluice router` processes
			}
			return server.Run(cmd.Context(), cfg)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&cfg.Addr, "addr", "127.0.0.1:7070", "HTTP listen address")
	fl.StringVar(&cfg.DataDir, "data-dir", a.defaultDataDir(), "directory of the SQLite database (env SLUICE_DATA_DIR)")
	fl.StringVar(&cfg.DatabaseURL, "database-url", a.getenv("SLUICE_DATABASE_URL"), "postgres://... to use PostgreSQL instead of SQLite (env SLUICE_DATABASE_URL)")
	a.securityFlags(fl, &cfg.Security)
	fl.DurationVar(&cfg.AuditRetention, "audit-retention", 0, "export audit entries older than this (at least 1h, e.g. 2160h) to --audit-export, then prune them; 0 keeps them forever")
	fl.StringVar(&cfg.AuditExport, "audit-export", "", "JSON-lines file that pruned audit entries are appended to (default DATA_DIR/audit-export.jsonl)")
	fl.StringVar(&cfg.Releases, "kube-releases", "", "run workflows from Release resources (releases.sluice.dev) in this namespace; * for every namespace")
	fl.StringVar(&cfg.ReleasesKubeconfig, "kube-releases-kubeconfig", "", "kubeconfig for --kube-releases (default: the pod's service account)")
	sso.add(fl)
	return cmd
}
