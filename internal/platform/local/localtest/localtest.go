package localtest

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
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
	if os.Geteuid() != 0 {
		return exe, func() {}, nil
	}
	dir, err := os.MkdirTemp("", "sluice-test-exe-*")
	if err != nil {
		return "", nil, fmt.Errorf("localtest: %w", err)
	}
	cleanup = func() { os.RemoveAll(dir) }
	path = filepath.Join(dir, filepath.Base(exe))
	if err := copyExecutable(exe, path); err != nil {
		cleanup()
		return "", nil, fmt.Errorf("localtest: %w", err)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		cleanup()
		return "", nil, fmt.Errorf("localtest: %w", err)
	}
	os.Setenv(exeEnv, path)
	return path, cleanup, nil
}

func copyExecutable(from, to string) error {
	in, err := os.Open(from)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(to, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o755)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
