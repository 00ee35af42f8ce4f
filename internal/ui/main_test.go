package ui_test

import (
	"fmt"
	"os"
	"testing"

	"github.com/sluicehq/sluice/internal/platform/local/localtest"
	"github.com/sluicehq/sluice/internal/sampleapp"
)

// testExe is this test binary as the local platform's instances can run it: started
// as `testExe sample-app --port N --version V` it is the sample application, which is
// what the builder test's environment lets instances run.
var testExe string

func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == "sample-app" {
		os.Exit(sampleapp.Main(os.Args[2:], os.Stderr))
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
