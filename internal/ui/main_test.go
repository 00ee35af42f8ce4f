package ui_test

import (
	"fmt"
	"os"
	"testing"

	"github.com/sluicehq/sluice/internal/platform/local/localtest"
	"github.com/sluicehq/sluice/internal/sampleapp"
)

// appEnv, when set, makes the test binary run the sample application instead of the
// tests, so the binary is its own artifact for the local platform (the services
// tests' environments set it).
const appEnv = "SLUICE_UI_TEST_APP"

// testExe is this test binary as the local platform's instances can run it: started
// as `testExe sample-app --port N --version V` (the builder test's environment), or
// with appEnv set, it is the sample application.
var testExe string

func TestMain(m *testing.M) {
	switch {
	case len(os.Args) > 1 && os.Args[1] == "sample-app":
		os.Exit(sampleapp.Main(os.Args[2:], os.Stderr))
	case os.Getenv(appEnv) == "1":
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
