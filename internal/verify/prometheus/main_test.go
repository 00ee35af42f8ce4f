package prometheus_test

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"testing"

	"github.com/sluicehq/sluice/internal/sampleapp"
)

// appEnv, when set, makes the test binary run the sample application instead of the
// tests, so the binary is the artifact the engine's local platform starts.
const appEnv = "SLUICE_PROMETHEUS_TEST_APP"

func TestMain(m *testing.M) {
	if os.Getenv(appEnv) == "1" {
		os.Exit(runSampleApp())
	}
	os.Exit(m.Run())
}

func runSampleApp() int {
	cfg, err := sampleapp.ParseArgs(os.Args[1:])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	if err := sampleapp.Run(ctx, cfg); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}
