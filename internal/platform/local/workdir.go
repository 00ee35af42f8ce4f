package local

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"syscall"

	"github.com/sluicehq/sluice/internal/platform"
)

// defaultWorkRoot is where instances' working directories go when Options.WorkDir is
// empty: a directory of the system's temporary directory named after the state dir,
// so that it stays the same across restarts and differs between platforms.
func defaultWorkRoot(stateDir string) string {
	abs, err := filepath.Abs(stateDir)
	if err != nil {
		abs = stateDir
	}
	sum := sha256.Sum256([]byte(abs))
	return filepath.Join(os.TempDir(), "sluice-work-"+hex.EncodeToString(sum[:6]))
}

// prepareWorkRoot makes dir, which holds the instances' working directories: a real
// directory (not a link) owned by sluice that others may enter but not write or list.
// One that exists with another owner or looser rights is an error, so another local
// user cannot prepare it in advance.
func prepareWorkRoot(dir string) error {
	if err := os.MkdirAll(dir, 0o711); err != nil {
		return fmt.Errorf("work dir: %w", err)
	}
	fi, err := os.Lstat(dir)
	if err != nil {
		return fmt.Errorf("work dir: %w", err)
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	switch {
	case !fi.IsDir():
		return fmt.Errorf("work dir %s: not a directory", dir)
	case !ok || int(st.Uid) != os.Geteuid():
		return fmt.Errorf("work dir %s: owned by uid %d, not by sluice (uid %d)", dir, st.Uid, os.Geteuid())
	case fi.Mode().Perm()&0o022 != 0:
		return fmt.Errorf("work dir %s: writable by others (%v); make it 0711 or 0700", dir, fi.Mode().Perm())
	}
	return os.Chmod(dir, 0o711)
}

func slotWorkDir(root string, ref platform.SlotRef) string {
	return filepath.Join(root, ref.Service+"."+string(ref.Slot))
}

func instanceWorkDir(root string, ref platform.SlotRef, index, gen int) string {
	return filepath.Join(slotWorkDir(root, ref), strconv.Itoa(index)+".g"+strconv.Itoa(gen))
}

// makeInstanceDir creates an instance's own working directory, 0700 and owned by the
// user it runs as; a directory left by an earlier run of the same instance is kept.
func (p *Platform) makeInstanceDir(in *instance) (string, error) {
	if err := os.MkdirAll(slotWorkDir(p.work, in.ref), 0o711); err != nil {
		return "", fmt.Errorf("work dir: %w", err)
	}
	dir := instanceWorkDir(p.work, in.ref, in.index, in.spec.Gen)
	if err := os.Mkdir(dir, 0o700); err != nil && !errors.Is(err, os.ErrExist) {
		return "", fmt.Errorf("work dir: %w", err)
	}
	if p.user.cred != nil {
		if err := os.Lchown(dir, int(p.user.uid), int(p.user.gid)); err != nil {
			return "", fmt.Errorf("work dir: %w", err)
		}
	}
	return dir, nil
}
