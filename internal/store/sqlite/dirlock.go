package sqlite

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// LockFile is the file in a data directory that one server at a time holds locked.
const LockFile = "sluice.lock"

// ErrLocked is what LockDir's error matches when another process holds the directory.
var ErrLocked = errors.New("data directory is in use")

// LockedError says which process holds a data directory.
type LockedError struct {
	Dir string
	PID int // 0 when the holder did not record it
}

func (e *LockedError) Error() string {
	holder := "another process"
	if e.PID > 0 {
		holder = "process " + strconv.Itoa(e.PID)
	}
	return fmt.Sprintf("sqlite: data directory %s is in use by %s (another sluice server); stop it or start this one with another --data-dir",
		e.Dir, holder)
}

// Is makes errors.Is(err, ErrLocked) true.
func (e *LockedError) Is(target error) bool { return target == ErrLocked }

// DirLock is an exclusive lock on a data directory, held until Unlock or the process
// ends (the kernel drops it, so a killed server never leaves a stale lock).
type DirLock struct{ f *os.File }

// LockDir takes an exclusive, non-blocking flock on dir's LockFile and records this
// process's ID in it. When another process holds it, the error is a *LockedError
// naming that process's ID.
func LockDir(dir string) (*DirLock, error) {
	path := filepath.Join(dir, LockFile)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("sqlite: lock data directory: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		defer f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, &LockedError{Dir: dir, PID: readPID(f)}
		}
		return nil, fmt.Errorf("sqlite: lock %s: %w", path, err)
	}
	if err := writePID(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("sqlite: record the holder of %s: %w", path, err)
	}
	return &DirLock{f: f}, nil
}

// Unlock releases the lock. The file stays, so the next holder locks the same inode.
func (l *DirLock) Unlock() error {
	if err := l.f.Close(); err != nil {
		return fmt.Errorf("sqlite: unlock data directory: %w", err)
	}
	return nil
}

func writePID(f *os.File) error {
	if err := f.Truncate(0); err != nil {
		return err
	}
	_, err := f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	return err
}

// readPID reads the holder's process ID; 0 when the file holds none.
func readPID(f *os.File) int {
	b := make([]byte, 32)
	n, _ := f.ReadAt(b, 0)
	pid, err := strconv.Atoi(strings.TrimSpace(string(b[:n])))
	if err != nil {
		return 0
	}
	return pid
}
