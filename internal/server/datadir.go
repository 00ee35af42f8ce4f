package server

import (
	"errors"
	"fmt"
	"os"
)

// privateDataDir makes the data directory, when there is one, 0700: it holds the
// database, token files and the local platform's state, which instances (running as
// another user) and other local users must not read. A directory that exists with
// looser rights is tightened.
func privateDataDir(dir string) error {
	if dir == "" {
		return nil
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("server: data directory: %w", err)
	}
	fi, err := os.Stat(dir)
	if err != nil {
		return fmt.Errorf("server: data directory: %w", err)
	}
	if !fi.IsDir() {
		return errors.New("server: data directory " + dir + " is not a directory")
	}
	if fi.Mode().Perm()&0o077 != 0 {
		if err := os.Chmod(dir, 0o700); err != nil {
			return fmt.Errorf("server: data directory: make it 0700: %w", err)
		}
	}
	return nil
}
