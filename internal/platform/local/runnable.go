package local

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// RunnableCopy returns exe as the local platform's instances can run it: exe itself
// when sluice is not root (instances then run as sluice's own user), otherwise a copy
// in a new directory every user may enter (they run as local.user, which may not reach
// exe's own directory). cleanup removes the copy; it does nothing when there is none.
// pattern names the directory as os.MkdirTemp does.
func RunnableCopy(exe, pattern string) (path string, cleanup func(), err error) {
	if os.Geteuid() != 0 {
		return exe, func() {}, nil
	}
	dir, err := os.MkdirTemp("", pattern)
	if err != nil {
		return "", nil, fmt.Errorf("local: copy %s for the instances' user: %w", exe, err)
	}
	cleanup = func() { os.RemoveAll(dir) }
	path = filepath.Join(dir, filepath.Base(exe))
	if err := copyExecutable(exe, path); err != nil {
		cleanup()
		return "", nil, fmt.Errorf("local: copy %s for the instances' user: %w", exe, err)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		cleanup()
		return "", nil, fmt.Errorf("local: copy %s for the instances' user: %w", exe, err)
	}
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
