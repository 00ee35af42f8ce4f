package builtin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"

	"github.com/sluicehq/sluice/internal/proxy"
	"github.com/sluicehq/sluice/internal/traffic"
)

// stateFile is what Options.StateFile holds: every ensured service, its weights and
// its routing rules.
type stateFile struct {
	Services map[string]savedService `json:"services"`
}

// savedService is one service's state; the weights' fields sit at the top level, as
// in the files written before rules were recorded.
type savedService struct {
	traffic.Weights
	Rules  []proxy.Rule `json:"rules,omitempty"`
	Sticky string       `json:"sticky,omitempty"`
}

// save writes the ensured services and their weights atomically. Callers hold r.mu.
func (r *Router) save() error {
	if r.opts.StateFile == "" {
		return nil
	}
	st := stateFile{Services: map[string]savedService{}}
	for name, s := range r.services {
		st.Services[name] = savedService{Weights: s.px.Weights(), Rules: s.px.Rules(), Sticky: s.px.Sticky()}
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
		saved := st.Services[n]
		if err := r.SetWeights(ctx, svc, saved.Weights, ""); err != nil {
			return fmt.Errorf("builtin: restore: %w", err)
		}
		if err := r.restoreRouting(n, saved); err != nil {
			return fmt.Errorf("builtin: restore: %w", err)
		}
		r.opts.Logger.Info("router restored", "service", n, "weights", saved.Weights.String(), "rules", len(saved.Rules))
	}
	return nil
}

// restoreRouting brings back a service's recorded rules and sticky cookie.
func (r *Router) restoreRouting(name string, saved savedService) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	s, ok := r.services[name]
	if !ok {
		return fmt.Errorf("%s: %w", name, ErrNotEnsured)
	}
	return r.setRouting(s, saved.Rules, saved.Sticky)
}
