package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/sluicehq/sluice/internal/traffic/builtin"
	"github.com/sluicehq/sluice/internal/traffic/builtin/routerd"
)

// routerCommand runs the builtin router's data plane as its own process.
func (a *app) routerCommand() *cobra.Command {
	opts := routerd.Options{}
	s := &opts.Settings
	cmd := &cobra.Command{
		Use:   "router",
		Short: "Run the builtin router (the data plane) as its own process; the server starts and drives it",
		Long: `Run the builtin router for one environment as its own process. It serves the
services recorded in DIR/state.json (restored before it listens) and takes its
orders from the server over the unix socket DIR/router.sock. The server starts it
by itself; run it by hand to restart or upgrade it:

  sluice router --dir DIR --upgrade   # take the sockets over from the running router, which drains

Without --listen the settings of the last run in DIR are used.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if opts.Dir == "" {
				return errors.New("router: --dir is required")
			}
			if err := loadSettings(&opts); err != nil {
				return err
			}
			opts.Logger = slog.New(slog.NewTextHandler(a.stderr, nil))
			opts.Ready = func() {
				if err := saveSettings(opts); err != nil {
					opts.Logger.Warn("router settings", "err", err)
				}
			}
			return routerd.Run(cmd.Context(), opts)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&opts.Dir, "dir", "", "the router's directory: state file and admin sockets (the server uses DATA_DIR/router/ENVIRONMENT)")
	fl.StringVar(&s.Listen, "listen", "", "address the services are served on, e.g. 127.0.0.1:8080")
	fl.StringVar(&s.Admin, "admin", "", "address of the HTTP admin listener (/metrics, /weights, /instances)")
	fl.StringVar(&s.Mode, "mode", "", "http (default) or tcp")
	fl.StringVar(&s.TLSCert, "tls-cert", "", "PEM certificate file: the listener accepts TLS too")
	fl.StringVar(&s.TLSKey, "tls-key", "", "PEM private key file of --tls-cert")
	fl.StringVar(&s.MirrorTo, "mirror-to", "", "slot that receives mirrored copies (blue or green)")
	fl.IntVar(&s.MirrorPercent, "mirror-percent", 0, "share of the other slot's requests copied to --mirror-to")
	fl.BoolVar(&opts.Upgrade, "upgrade", false, "take the listening sockets over from the router running on --dir, without refusing a connection")
	fl.DurationVar(&opts.DrainGrace, "drain", 0, "how long a replaced router lets its connections finish (default 10s)")
	return cmd
}

// loadSettings fills the settings from DIR/settings.json when --listen is not
// given.
func loadSettings(opts *routerd.Options) error {
	if opts.Settings.Listen != "" {
		return nil
	}
	path := filepath.Join(opts.Dir, "settings.json")
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("router: --listen is required (no settings of an earlier run: %w)", err)
	}
	if err := json.Unmarshal(b, &opts.Settings); err != nil {
		return fmt.Errorf("router: %s: %w", path, err)
	}
	return nil
}

// saveSettings records the settings of the router serving DIR, for a later
// `sluice router --dir DIR` without flags.
func saveSettings(opts routerd.Options) error {
	b, err := json.MarshalIndent(opts.Settings, "", "  ")
	if err != nil {
		return err
	}
	return builtin.WriteFileAtomic(filepath.Join(opts.Dir, "settings.json"), append(b, '\n'))
}
