package builtin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"

	"github.com/sluicehq/sluice/internal/traffic"
)

// stateFile is what Options.StateFile holds: every ensured service and its weights.
type stateFile struct {
	Services map[string]traffic.Weights `json:"services"`
}

// save writes the ensured services and their weights atomically. Callers hold r.mu.
func (r *Router) save() error {
	if r.opts.StateFile == "" {
		return nil
	}
	st := stateFile{Services: map[string]traffic.Weights{}}
	for name, s := range r.services {
		st.Services[name] = s.px.Weights()
	}
	b, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return fmt.Errorf("state: %w", err)
	}
	return writeAtomic(r.opts.StateFile, append(b, '\n'))
}

// writeAtomic replaces path with b: temporary file, fsync, rename, fsync of the dir.
func writeAtomic(path string, b []byte) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("state: %w", err)
	}
	f, err := os.CreateTemp(dir, filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("state: %w", err)
	}
	_, werr := f.Write(b)
	serr := f.Sync()
	cerr := f.Close()
	if err := errors.Join(werr, serr, cerr); err != nil {
		os.Remove(f.Name())
		return fmt.Errorf("state: write %s: %w", path, err)
	}
	if err := os.Rename(f.Name(), path); err != nil {
		os.Remove(f.Name())
		return fmt.Errorf("state: %w", err)
	}
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("state: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("state: sync %s: %w", dir, err)
	}
	return nil
}

// Restore re-ensures every service recorded in Options.StateFile and applies its last
// weights, so a restarted server serves its users again with the split it had. A
// missing file restores nothing.
func (r *Router) Restore(ctx context.Context) error {
	if r.opts.StateFile == "" {
		return nil
	}
	b, err := os.ReadFile(r.opts.StateFile)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("builtin: restore: %w", err)
	}
	var st stateFile
	if err := json.Unmarshal(b, &st); err != nil {
		return fmt.Errorf("builtin: restore %s: %w", r.opts.StateFile, err)
	}
	names := make([]string, 0, len(st.Services))
	for n := range st.Services {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		svc := traffic.ServiceRef{Service: n}
		if err := r.Ensure(ctx, traffic.Route{Service: svc}); err != nil {
			return fmt.Errorf("builtin: restore: %w", err)
		}
		if err := r.SetWeights(ctx, svc, st.Services[n], ""); err != nil {
			return fmt.Errorf("builtin: restore: %w", err)
		}
		r.opts.Logger.Info("router restored", "service", n, "weights", st.Services[n].String())
	}
	return nil
}
