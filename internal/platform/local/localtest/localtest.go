package localtest

import (
	"fmt"
	"os"

	"github.com/sluicehq/sluice/internal/platform/local"
)

// exeEnv carries the copy's path to child processes of the test binary (which run
// TestMain again), so they name the same executable as their parent.
const exeEnv = "SLUICE_LOCALTEST_EXE"

// Executable returns the path of the running executable, or, when running as root, of
// a copy in a directory every user may enter; cleanup removes the copy. Call it from
// TestMain, once per test binary.
func Executable() (path string, cleanup func(), err error) {
	if p := os.Getenv(exeEnv); p != "" {
		return p, func() {}, nil
	}
	exe, err := os.Executable()
	if err != nil {
		return "", nil, fmt.Errorf("localtest: %w", err)
	}
	path, cleanup, err = local.RunnableCopy(exe, "sluice-test-exe-*")
	if err != nil {
		return "", nil, fmt.Errorf("localtest: %w", err)
	}
	os.Setenv(exeEnv, path)
	return path, cleanup, nil
}
