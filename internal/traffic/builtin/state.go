package builtin

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"

	"github.com/sluicehq/sluice/internal/platform"
	"github.com/sluicehq/sluice/internal/proxy"
	"github.com/sluicehq/sluice/internal/traffic"
)

// State is what Options.StateFile holds: every ensured service with its weights,
// rules, hosts and endpoints, and a generation that counts the changes written.
type State struct {
	// Generation increases with every change the router records.
	Generation uint64 `json:"generation"`
	// Services are the ensured services by name.
	Services map[string]SavedService `json:"services"`
}

// SavedService is one service's state; the weights' fields sit at the top level, as
// in the files written before rules were recorded.
type SavedService struct {
	traffic.Weights
	// Rules are the header and cookie rules in force.
	Rules []proxy.Rule `json:"rules,omitempty"`
	// Sticky names the sticky-session cookie; empty when off.
	Sticky string `json:"sticky,omitempty"`
	// Hosts are the Host / SNI names that select the service; none: the default.
	Hosts []string `json:"hosts,omitempty"`
	// Endpoints are the instances of each slot last applied.
	Endpoints map[platform.Slot][]string `json:"endpoints,omitempty"`
}

// envelope is the file's outer shape: the state and the SHA-256 of its compact
// JSON, so a file damaged on disk is refused rather than served.
type envelope struct {
	SHA256 string          `json:"sha256"`
	State  json.RawMessage `json:"state"`
}

// ErrCorruptState is wrapped by LoadState when the state file cannot be trusted.
var ErrCorruptState = errors.New("router state file is corrupt")

// LoadState reads and checks a state file; a missing file is an empty state.
// A truncated, unparsable or damaged file (checksum mismatch) or one holding
// invalid weights or slots is an error wrapping ErrCorruptState that names the
// file: a router never starts on a state it cannot trust.
func LoadState(path string) (State, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return State{Services: map[string]SavedService{}}, nil
	}
	if err != nil {
		return State{}, fmt.Errorf("router state: %w", err)
	}
	st, err := decodeState(b)
	if err != nil {
		return State{}, fmt.Errorf("router state %s: %w: %w (restore the file or move it away to start empty)", path, ErrCorruptState, err)
	}
	return st, nil
}

// decodeState parses a state file: the checksummed envelope, or the bare state
// written before checksums.
func decodeState(b []byte) (State, error) {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		return State{}, describeJSONError(b, err)
	}
	body := b
	if _, ok := raw["sha256"]; ok {
		var env envelope
		if err := json.Unmarshal(b, &env); err != nil {
			return State{}, err
		}
		compact, err := compactJSON(env.State)
		if err != nil {
			return State{}, err
		}
		if sum := sha256.Sum256(compact); hex.EncodeToString(sum[:]) != env.SHA256 {
			return State{}, errors.New("checksum mismatch")
		}
		body = compact
	}
	var st State
	if err := json.Unmarshal(body, &st); err != nil {
		return State{}, describeJSONError(body, err)
	}
	if st.Services == nil {
		st.Services = map[string]SavedService{}
	}
	return st, st.validate()
}

// validate reports values no router could apply.
func (st State) validate() error {
	for name, s := range st.Services {
		if name == "" {
			return errors.New("a service without a name")
		}
		if err := s.Weights.Validate(); err != nil {
			return fmt.Errorf("service %s: %w", name, err)
		}
		for slot := range s.Endpoints {
			if !slot.Valid() {
				return fmt.Errorf("service %s: endpoints of unknown slot %q", name, slot)
			}
		}
	}
	return nil
}

// describeJSONError names the byte offset of a syntax error.
func describeJSONError(b []byte, err error) error {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return fmt.Errorf("byte %d of %d: %w", se.Offset, len(b), err)
	}
	return err
}

// compactJSON returns b without insignificant white space.
func compactJSON(b []byte) ([]byte, error) {
	var buf bytes.Buffer
	if err := json.Compact(&buf, b); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// state returns what the router would record now. Callers hold r.mu.
func (r *Router) state() State {
	st := State{Generation: r.generation, Services: map[string]SavedService{}}
	for name, s := range r.services {
		eps := map[platform.Slot][]string{}
		for slot, e := range s.eps {
			eps[slot] = append([]string(nil), e...)
		}
		st.Services[name] = SavedService{Weights: s.px.Weights(), Rules: s.px.Rules(), Sticky: s.px.Sticky(), Hosts: s.hosts, Endpoints: eps}
	}
	return st
}

// State returns the services, weights, rules, hosts and endpoints in force and
// the generation of the last recorded change.
func (r *Router) State() State {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.state()
}

// save records the ensured services atomically with the next generation. Callers
// hold r.mu.
func (r *Router) save() error {
	r.generation++
	if r.opts.StateFile == "" {
		return nil
	}
	b, err := encodeState(r.state())
	if err != nil {
		return err
	}
	return WriteFileAtomic(r.opts.StateFile, b)
}

// encodeState returns the checksummed file content of st.
func encodeState(st State) ([]byte, error) {
	body, err := json.Marshal(st)
	if err != nil {
		return nil, fmt.Errorf("state: %w", err)
	}
	sum := sha256.Sum256(body)
	b, err := json.MarshalIndent(envelope{SHA256: hex.EncodeToString(sum[:]), State: body}, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("state: %w", err)
	}
	return append(b, '\n'), nil
}

// WriteFileAtomic replaces path with b: temporary file, fsync, rename, fsync of
// the directory. A reader sees the old content or the new, never a part.
func WriteFileAtomic(path string, b []byte) error {
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

// Restore brings back every service recorded in Options.StateFile with its last
// weights, rules, hosts and endpoints, and only then opens the listener: a
// restored router never answers a request before it knows where to send it. A
// missing file restores nothing; a corrupt one is an error (see LoadState).
func (r *Router) Restore(ctx context.Context) error {
	if r.opts.StateFile == "" {
		return nil
	}
	st, err := LoadState(r.opts.StateFile)
	if err != nil {
		return fmt.Errorf("builtin: restore: %w", err)
	}
	return r.applyState(ctx, st)
}

// applyState sets up every service of st, then serves them.
func (r *Router) applyState(ctx context.Context, st State) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("builtin: restore: %w", err)
	}
	names := make([]string, 0, len(st.Services))
	for n := range st.Services {
		names = append(names, n)
	}
	sort.Strings(names)
	r.mu.Lock()
	defer r.mu.Unlock()
	var made []*service
	for _, n := range names {
		s, err := r.restoreService(n, st.Services[n])
		if err != nil {
			for _, m := range made {
				delete(r.services, m.name)
				m.close()
			}
			return fmt.Errorf("builtin: restore: %w", err)
		}
		made = append(made, s)
		r.services[n] = s
	}
	r.generation = max(r.generation, st.Generation)
	if len(made) == 0 {
		return nil
	}
	if err := r.attach(); err != nil {
		for _, m := range made {
			delete(r.services, m.name)
			m.close()
		}
		return fmt.Errorf("builtin: restore: %w", err)
	}
	for _, s := range made {
		saved := st.Services[s.name]
		r.opts.Logger.Info("router restored", "service", s.name, "weights", saved.Weights.String(), "rules", len(saved.Rules), "hosts", saved.Hosts)
	}
	return nil
}

// restoreService builds one recorded service's proxy with its state applied.
// Callers hold r.mu.
func (r *Router) restoreService(name string, saved SavedService) (*service, error) {
	if _, ok := r.services[name]; ok {
		return nil, fmt.Errorf("%s: already ensured", name)
	}
	if err := r.checkHosts(name, normalHosts(saved.Hosts)); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	s := r.newService(name, normalHosts(saved.Hosts))
	for _, slot := range []platform.Slot{platform.Green, platform.Blue} {
		r.applyEndpoints(s, slot, saved.Endpoints[slot])
	}
	r.resync(s)
	err := errors.Join(s.px.SetWeights(saved.Weights), s.route(saved.Rules, saved.Sticky))
	if err != nil {
		s.close()
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return s, nil
}
