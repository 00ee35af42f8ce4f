package recorder

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"
	"sync"
	"syscall"

	"github.com/sluicehq/sluice/internal/platform"
	"github.com/sluicehq/sluice/internal/traffic"
)

// Effect is one applied side effect, as written to the recording file.
type Effect struct {
	Op        string          `json:"op"` // deploy, scale, remove, ensure, weights, release
	Key       string          `json:"key"`
	Service   string          `json:"service"`
	Slot      platform.Slot   `json:"slot,omitempty"`
	Artifact  string          `json:"artifact,omitempty"`
	Instances int             `json:"instances,omitempty"`
	Weights   traffic.Weights `json:"weights,omitzero"`
}

// Recorder is both a platform.Platform and a traffic.Router. Instances are ready as
// soon as they are deployed.
type Recorder struct {
	mu      sync.Mutex
	file    *os.File
	path    string
	offset  int64 // bytes of the file already applied
	done    map[string]bool
	effects []Effect
	slots   map[platform.SlotRef]platform.SlotStatus
	weights map[string]traffic.Weights
	routes  map[string]traffic.Route
	calls   int
	failW   int // SetWeights calls still to fail
	failR   int // Weights reads still to fail
}

var (
	_ platform.Platform = (*Recorder)(nil)
	_ traffic.Router    = (*Recorder)(nil)
)

// ErrInjected is returned by calls that a test asked to fail.
var ErrInjected = errors.New("recorder: injected failure")

// New returns a recorder that keeps its effects in memory only.
func New() *Recorder {
	return &Recorder{
		done:    map[string]bool{},
		slots:   map[platform.SlotRef]platform.SlotStatus{},
		weights: map[string]traffic.Weights{},
		routes:  map[string]traffic.Route{},
	}
}

// Open returns a recorder that replays the effects already in path and appends every
// new one, synced, before the call returns. Several processes may share one file:
// each call takes an exclusive lock on it and first applies what others appended.
func Open(path string) (*Recorder, error) {
	r := New()
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("recorder: open %s: %w", path, err)
	}
	r.file, r.path = f, path
	unlock, err := r.lock()
	if err != nil {
		f.Close()
		return nil, err
	}
	unlock()
	return r, nil
}

// lock takes the recorder's mutex and, for a file, an exclusive lock on the file,
// then applies the effects other processes appended since the last call.
func (r *Recorder) lock() (unlock func(), err error) {
	r.mu.Lock()
	if r.file == nil {
		return r.mu.Unlock, nil
	}
	fd := int(r.file.Fd())
	if err := syscall.Flock(fd, syscall.LOCK_EX); err != nil {
		r.mu.Unlock()
		return nil, fmt.Errorf("recorder: lock %s: %w", r.path, err)
	}
	unlock = func() {
		syscall.Flock(fd, syscall.LOCK_UN)
		r.mu.Unlock()
	}
	if err := r.catchUp(); err != nil {
		unlock()
		return nil, err
	}
	return unlock, nil
}

// catchUp applies the complete lines appended to the file after r.offset.
func (r *Recorder) catchUp() error {
	st, err := r.file.Stat()
	if err != nil {
		return fmt.Errorf("recorder: stat %s: %w", r.path, err)
	}
	if st.Size() <= r.offset {
		return nil
	}
	buf := make([]byte, st.Size()-r.offset)
	if _, err := r.file.ReadAt(buf, r.offset); err != nil {
		return fmt.Errorf("recorder: read %s: %w", r.path, err)
	}
	for len(buf) > 0 {
		line, rest, ok := bytes.Cut(buf, []byte("\n"))
		if !ok {
			return nil // a line still being written by a process that died mid-write
		}
		var e Effect
		if err := json.Unmarshal(line, &e); err != nil {
			return fmt.Errorf("recorder: %s at byte %d: %w", r.path, r.offset, err)
		}
		r.apply(e)
		r.offset += int64(len(line)) + 1
		buf = rest
	}
	return nil
}

// ReadEffects returns the effects recorded in a file, in order.
func ReadEffects(path string) ([]Effect, error) {
	r, err := Open(path)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	return r.Effects(), nil
}

// Close closes the recording file, if any.
func (r *Recorder) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.file == nil {
		return nil
	}
	err := r.file.Close()
	r.file = nil
	return err
}

// Effects returns every effect applied so far, in order.
func (r *Recorder) Effects() []Effect {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Effect(nil), r.effects...)
}

// Calls counts every mutating call, including repeats that changed nothing.
func (r *Recorder) Calls() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.calls
}

// FailWeightWrites makes the next n SetWeights calls fail with ErrInjected.
func (r *Recorder) FailWeightWrites(n int) {
	r.mu.Lock()
	r.failW = n
	r.mu.Unlock()
}

// FailWeightReads makes the next n Weights calls fail with ErrInjected.
func (r *Recorder) FailWeightReads(n int) {
	r.mu.Lock()
	r.failR = n
	r.mu.Unlock()
}

// record applies e once per key and appends it to the file. Callers hold r.mu.
func (r *Recorder) record(ctx context.Context, e Effect) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("recorder: %s: %w", e.Op, err)
	}
	r.calls++
	if e.Key != "" && r.done[e.Key] {
		return nil
	}
	if r.file != nil {
		b, err := json.Marshal(e)
		if err != nil {
			return fmt.Errorf("recorder: encode %s: %w", e.Op, err)
		}
		if _, err := r.file.Write(append(b, '\n')); err != nil {
			return fmt.Errorf("recorder: write %s: %w", e.Op, err)
		}
		if err := r.file.Sync(); err != nil {
			return fmt.Errorf("recorder: sync: %w", err)
		}
		r.offset += int64(len(b)) + 1
	}
	r.apply(e)
	return nil
}

func (r *Recorder) apply(e Effect) {
	if e.Key != "" {
		r.done[e.Key] = true
	}
	r.effects = append(r.effects, e)
	ref := platform.SlotRef{Service: e.Service, Slot: e.Slot}
	switch e.Op {
	case "deploy":
		r.slots[ref] = slotStatus(e.Artifact, e.Instances)
	case "scale":
		r.slots[ref] = slotStatus(r.slots[ref].Artifact, e.Instances)
	case "remove":
		delete(r.slots, ref)
	case "weights":
		r.weights[e.Service] = e.Weights
	case "ensure":
		r.routes[e.Service] = traffic.Route{Service: traffic.ServiceRef{Service: e.Service}}
	case "release":
		delete(r.routes, e.Service)
		delete(r.weights, e.Service)
	}
}

// UnreadyPrefix marks an artifact whose instances never become ready.
const UnreadyPrefix = "unready:"

func slotStatus(artifact string, n int) platform.SlotStatus {
	st := platform.SlotStatus{Artifact: artifact, Desired: n, Ready: n}
	if strings.HasPrefix(artifact, UnreadyPrefix) && n > 0 {
		st.Ready, st.Reasons = 0, []string{"recorder: artifact " + artifact + " never becomes ready"}
	}
	return st
}

// Deploy records a deployment; its instances are ready at once unless the artifact
// starts with UnreadyPrefix.
func (r *Recorder) Deploy(ctx context.Context, d platform.Deployment) error {
	if !d.Ref.Slot.Valid() || d.Ref.Service == "" || d.Instances < 0 {
		return fmt.Errorf("recorder: deploy %s: invalid deployment", d.Ref)
	}
	unlock, err := r.lock()
	if err != nil {
		return err
	}
	defer unlock()
	return r.record(ctx, Effect{Op: "deploy", Key: d.Key, Service: d.Ref.Service, Slot: d.Ref.Slot, Artifact: d.Artifact, Instances: d.Instances})
}

// Scale records a new instance count.
func (r *Recorder) Scale(ctx context.Context, ref platform.SlotRef, instances int, key string) error {
	if instances < 0 {
		return fmt.Errorf("recorder: scale %s: negative instances %d", ref, instances)
	}
	unlock, err := r.lock()
	if err != nil {
		return err
	}
	defer unlock()
	if _, ok := r.slots[ref]; !ok && instances > 0 && !r.done[key] {
		return fmt.Errorf("recorder: scale %s: slot was never deployed", ref)
	}
	return r.record(ctx, Effect{Op: "scale", Key: key, Service: ref.Service, Slot: ref.Slot, Instances: instances})
}

// Status reports the recorded state of a slot; an unknown slot has zero instances.
func (r *Recorder) Status(ctx context.Context, ref platform.SlotRef) (platform.SlotStatus, error) {
	if err := ctx.Err(); err != nil {
		return platform.SlotStatus{}, fmt.Errorf("recorder: status %s: %w", ref, err)
	}
	unlock, err := r.lock()
	if err != nil {
		return platform.SlotStatus{}, err
	}
	defer unlock()
	return r.slots[ref], nil
}

// Remove records the removal of a slot.
func (r *Recorder) Remove(ctx context.Context, ref platform.SlotRef, key string) error {
	unlock, err := r.lock()
	if err != nil {
		return err
	}
	defer unlock()
	return r.record(ctx, Effect{Op: "remove", Key: key, Service: ref.Service, Slot: ref.Slot})
}

// Ensure records the route of a service.
func (r *Recorder) Ensure(ctx context.Context, rt traffic.Route) error {
	unlock, err := r.lock()
	if err != nil {
		return err
	}
	defer unlock()
	return r.record(ctx, Effect{Op: "ensure", Key: rt.Key, Service: rt.Service.Service})
}

// SetWeights records a weight split after checking it the way a router's API would.
func (r *Recorder) SetWeights(ctx context.Context, svc traffic.ServiceRef, w traffic.Weights, key string) error {
	if err := w.Validate(); err != nil {
		return fmt.Errorf("recorder: set weights %s: %w", svc.Service, err)
	}
	unlock, err := r.lock()
	if err != nil {
		return err
	}
	defer unlock()
	if r.failW > 0 {
		r.failW--
		r.calls++
		return fmt.Errorf("recorder: set weights %s: %w", svc.Service, ErrInjected)
	}
	return r.record(ctx, Effect{Op: "weights", Key: key, Service: svc.Service, Weights: w})
}

// Weights reads back the recorded split; a service never written reads as all green.
func (r *Recorder) Weights(ctx context.Context, svc traffic.ServiceRef) (traffic.Weights, error) {
	if err := ctx.Err(); err != nil {
		return traffic.Weights{}, err
	}
	unlock, err := r.lock()
	if err != nil {
		return traffic.Weights{}, err
	}
	defer unlock()
	if r.failR > 0 {
		r.failR--
		return traffic.Weights{}, fmt.Errorf("recorder: weights %s: %w", svc.Service, ErrInjected)
	}
	w, ok := r.weights[svc.Service]
	if !ok {
		return traffic.All(platform.Green), nil
	}
	return w, nil
}

// Release records the removal of a service's route.
func (r *Recorder) Release(ctx context.Context, svc traffic.ServiceRef) error {
	unlock, err := r.lock()
	if err != nil {
		return err
	}
	defer unlock()
	return r.record(ctx, Effect{Op: "release", Service: svc.Service})
}

// Services lists the services that have weights, sorted.
func (r *Recorder) Services() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]string, 0, len(r.weights))
	for s := range r.weights {
		out = append(out, s)
	}
	sort.Strings(out)
	return out
}
