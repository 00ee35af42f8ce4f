package local

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"syscall"

	"github.com/sluicehq/sluice/internal/platform"
)

// maxKeys bounds the idempotency keys remembered on disk.
const maxKeys = 4096

// slotRecord is a slot's state on disk: what it should run and which processes run it.
type slotRecord struct {
	Service   string               `json:"service"`
	Slot      platform.Slot        `json:"slot"`
	Artifact  string               `json:"artifact"`
	Env       map[string]string    `json:"env,omitempty"`
	Secrets   []string             `json:"secrets,omitempty"`
	Health    platform.HealthCheck `json:"health"`
	Gen       int                  `json:"gen"`
	Desired   int                  `json:"desired"`
	Removed   bool                 `json:"removed,omitempty"`
	Key       string               `json:"key,omitempty"` // key of the last Deploy
	Instances []instanceRecord     `json:"instances"`
}

// instanceRecord is one process of a slot on disk.
type instanceRecord struct {
	Index      int    `json:"index"`
	Gen        int    `json:"gen"`
	Pid        int    `json:"pid"`
	StartTicks uint64 `json:"start_ticks"`
	BootID     string `json:"boot_id"`
	Port       int    `json:"port"`
	Stdout     string `json:"stdout"`
	Stderr     string `json:"stderr"`
	Stopping   bool   `json:"stopping,omitempty"`
}

var serviceName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$`)

// checkRef rejects slot references that cannot name files safely.
func checkRef(ref platform.SlotRef) error {
	if !ref.Slot.Valid() {
		return fmt.Errorf("slot %q: must be blue or green", ref.Slot)
	}
	if !serviceName.MatchString(ref.Service) {
		return fmt.Errorf("service %q: must be 1-128 letters, digits, '.', '_' or '-'", ref.Service)
	}
	return nil
}

func slotFile(dir string, ref platform.SlotRef) string {
	return filepath.Join(dir, "slots", ref.Service+"."+string(ref.Slot)+".json")
}

func logDir(dir string, ref platform.SlotRef) string {
	return filepath.Join(dir, "logs", ref.Service+"."+string(ref.Slot))
}

// writeJSON writes v to path atomically: a temporary file in the same directory,
// synced, then renamed over path, then the directory synced.
func writeJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, ".tmp-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	_, err = f.Write(b)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return err
	}
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		d.Close()
	}
	return nil
}

// readSlots loads every slot record in dir; a file that cannot be read is reported and
// skipped, so one bad file does not block adoption of the others.
func readSlots(dir string) ([]slotRecord, []error) {
	paths, _ := filepath.Glob(filepath.Join(dir, "slots", "*.json"))
	var recs []slotRecord
	var errs []error
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		var r slotRecord
		if err := json.Unmarshal(b, &r); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", p, err))
			continue
		}
		recs = append(recs, r)
	}
	return recs, errs
}

// keyLog remembers the idempotency keys that took effect, oldest first.
type keyLog struct {
	path  string
	order []string
	set   map[string]bool
}

func loadKeys(path string) (*keyLog, error) {
	k := &keyLog{path: path, set: map[string]bool{}}
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return k, nil
	}
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(b, &k.order); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	for _, key := range k.order {
		k.set[key] = true
	}
	return k, nil
}

// seen reports whether key already took effect; the empty key never has.
func (k *keyLog) seen(key string) bool { return key != "" && k.set[key] }

// add records key and writes the log.
func (k *keyLog) add(key string) error {
	if key == "" || k.set[key] {
		return nil
	}
	k.order = append(k.order, key)
	k.set[key] = true
	if len(k.order) > maxKeys {
		delete(k.set, k.order[0])
		k.order = k.order[1:]
	}
	return writeJSON(k.path, k.order)
}

// lockDir takes an exclusive lock on dir so two platforms never supervise the same
// instances.
func lockDir(dir string) (*os.File, error) {
	f, err := os.OpenFile(filepath.Join(dir, "lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		return nil, fmt.Errorf("state dir %s is in use by another platform: %w", dir, err)
	}
	return f, nil
}
