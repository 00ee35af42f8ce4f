package prometheus_test

import (
	"os"
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

func runSampleApp() int { return sampleapp.Main(os.Args[1:], os.Stderr) }
