package ui_test

import (
	"fmt"
	"os"
	"testing"

	"github.com/sluicehq/sluice/internal/platform/local/localtest"
	"github.com/sluicehq/sluice/internal/sampleapp"
)

// appEnv, when set, makes the test binary run the sample application instead of the
// tests, so the binary is its own artifact for the local platform.
const appEnv = "SLUICE_UI_TEST_APP"

// testExe is the test binary as the local platform's instances can run it.
var testExe string

func TestMain(m *testing.M) {
	if os.Getenv(appEnv) == "1" {
		os.Exit(sampleapp.Main(os.Args[1:], os.Stderr))
	}
	exe, cleanup, err := localtest.Executable()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	testExe = exe
	code := m.Run()
	cleanup()
	os.Exit(code)
}
