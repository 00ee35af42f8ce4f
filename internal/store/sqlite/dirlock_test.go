package sqlite_test

import (
	"errors"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/internal/store/sqlite"
)

// TestLockDir: a second holder of a data directory is refused with an error naming
// the first one's process ID; once the first unlocks, the directory is free again.
func TestLockDir(t *testing.T) {
	dir := t.TempDir()
	first, err := sqlite.LockDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	_, err = sqlite.LockDir(dir)
	var locked *sqlite.LockedError
	if !errors.As(err, &locked) || !errors.Is(err, sqlite.ErrLocked) {
		t.Fatalf("second lock: %v, want a *LockedError", err)
	}
	if locked.PID != os.Getpid() || !strings.Contains(err.Error(), "process "+strconv.Itoa(os.Getpid())) || !strings.Contains(err.Error(), dir) {
		t.Errorf("error %q (pid %d): want the holder's pid %d and the directory", err, locked.PID, os.Getpid())
	}
	if err := first.Unlock(); err != nil {
		t.Fatal(err)
	}
	again, err := sqlite.LockDir(dir)
	if err != nil {
		t.Fatalf("lock after unlock: %v", err)
	}
	if err := again.Unlock(); err != nil {
		t.Fatal(err)
	}
}
