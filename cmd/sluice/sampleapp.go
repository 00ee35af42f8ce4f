package main

import (
	"github.com/spf13/cobra"

	"github.com/sluicehq/sluice/internal/sampleapp"
)

// sampleAppCommand runs the built-in sample HTTP service, the artifact of `sluice demo`.
func (a *app) sampleAppCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "sample-app [--version v2] [--port N] [--error-rate 0.3] [--latency 20ms] ...",
		Short: "Run the sample HTTP service whose version, latency and error rate are set by flags",
		Long: `Run the sample HTTP service used by "sluice demo": GET / answers JSON with its
version (500 for a share of requests set by --error-rate), /healthz answers ok and
/version its version. It stops cleanly on SIGTERM or Ctrl-C.

Flags: --version, --host, --port (default $PORT), --latency, --jitter, --error-rate,
--startup-delay, --fail-at-start, --fail-rate with --fail-from or --fail-after (start
failing later, for rollback demos and benchmarks), --seed, --service, --slot, --instance.`,
		DisableFlagParsing: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			for _, arg := range args {
				if arg == "-h" || arg == "--help" || arg == "-help" {
					return cmd.Help()
				}
			}
			cfg, err := sampleapp.ParseArgs(args)
			if err != nil {
				return err
			}
			cfg.Log = a.stdout
			return sampleapp.Run(cmd.Context(), cfg)
		},
	}
}
