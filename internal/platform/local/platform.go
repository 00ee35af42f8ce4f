package local

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"

	"github.com/sluicehq/sluice/internal/platform"
	"github.com/sluicehq/sluice/internal/secrets"
)

var _ platform.Platform = (*Platform)(nil)

// ErrClosed is returned by calls made after Close.
var ErrClosed = errors.New("platform closed")

// ErrNotDeployed is returned by Scale to a positive count for a slot never deployed.
var ErrNotDeployed = errors.New("slot not deployed")

// Platform runs the instances of each slot as local processes.
type Platform struct {
	opts    Options
	log     *slog.Logger
	dir     string
	tempDir bool
	lock    *os.File
	user    runAs  // who instances run as
	work    string // holds the instances' working directories

	ctx    context.Context // lives until Close ends
	cancel context.CancelFunc
	bg     sync.WaitGroup // notifier, tailers, background stops

	mu     sync.Mutex
	closed bool
	slots  map[platform.SlotRef]*slot
	keys   *keyLog
	ports  map[int]bool              // ports of every known process
	dirty  map[platform.SlotRef]bool // slots whose endpoints may have changed
	kick   chan struct{}             // wakes the endpoint notifier
}

// slot is a slot's desired state and its instances; guarded by Platform.mu.
type slot struct {
	ref      platform.SlotRef
	spec     spec
	desired  int
	removed  bool
	key      string
	live     map[int]*instance      // the instances that count, by index < desired
	stopping map[*instance]struct{} // instances being stopped
}

// spec is what a slot's instances run; Gen changes whenever the rest does.
type spec struct {
	Artifact string
	Env      map[string]string
	Secrets  []string
	Health   platform.HealthCheck
	Gen      int
	mask     *secrets.Redactor // masks Secrets in the instances' output
}

func (s spec) same(o spec) bool {
	return s.Artifact == o.Artifact && s.Health == o.Health && maps.Equal(s.Env, o.Env) && slices.Equal(s.Secrets, o.Secrets)
}

// newSpec returns a spec whose mask knows its secrets.
func newSpec(artifact string, env map[string]string, secretValues []string, health platform.HealthCheck, gen int) spec {
	s := spec{Artifact: artifact, Env: maps.Clone(env), Secrets: slices.Clone(secretValues), Health: health, Gen: gen,
		mask: &secrets.Redactor{}}
	s.mask.Add(secretValues...)
	return s
}

// New creates a platform on opts.StateDir and adopts the instances a previous platform
// on the same directory left running; those it cannot verify as its own are replaced.
func New(opts Options) (*Platform, error) {
	opts = opts.withDefaults()
	p := &Platform{opts: opts, log: opts.Logger, dir: opts.StateDir, slots: map[platform.SlotRef]*slot{},
		ports: map[int]bool{}, dirty: map[platform.SlotRef]bool{}, kick: make(chan struct{}, 1)}
	var err error
	if p.user, err = instanceUser(opts.User); err != nil {
		return nil, fmt.Errorf("local: new: %w", err)
	}
	if p.dir == "" {
		d, err := os.MkdirTemp("", "sluice-local-*")
		if err != nil {
			return nil, fmt.Errorf("local: new: %w", err)
		}
		p.dir, p.tempDir = d, true
	}
	for _, sub := range []string{"slots", "logs"} {
		if err := os.MkdirAll(filepath.Join(p.dir, sub), 0o700); err != nil {
			return nil, fmt.Errorf("local: new: %w", err)
		}
	}
	if p.work = opts.WorkDir; p.work == "" {
		p.work = defaultWorkRoot(p.dir)
	}
	if err := prepareWorkRoot(p.work); err != nil {
		return nil, fmt.Errorf("local: new: %w", err)
	}
	lock, err := lockDir(p.dir)
	if err != nil {
		return nil, fmt.Errorf("local: new: %w", err)
	}
	p.lock = lock
	if p.keys, err = loadKeys(filepath.Join(p.dir, "keys.json")); err != nil {
		lock.Close()
		return nil, fmt.Errorf("local: new: keys: %w", err)
	}
	p.ctx, p.cancel = context.WithCancel(context.Background())
	p.bg.Add(1)
	go p.notifier()
	recs, errs := readSlots(p.dir)
	for _, err := range errs {
		p.log.Warn("local: skipping unreadable slot state", "err", err)
	}
	p.mu.Lock()
	for _, rec := range recs {
		p.adoptSlot(rec)
	}
	p.mu.Unlock()
	return p, nil
}

// Deploy makes the slot run d.Artifact with d.Instances instances. A new artifact, env
// or health check replaces every instance; the same one only adjusts the count and
// restarts instances the platform had given up on. It returns once the change is
// accepted; an artifact the commands do not allow is an error wrapping ErrNotAllowed,
// one that can never start an error wrapping ErrBadArtifact.
func (p *Platform) Deploy(ctx context.Context, d platform.Deployment) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("local: deploy %s: %w", d.Ref, err)
	}
	if err := checkRef(d.Ref); err != nil {
		return fmt.Errorf("local: deploy %s: %w", d.Ref, err)
	}
	if d.Instances < 0 {
		return fmt.Errorf("local: deploy %s: instances %d: must not be negative", d.Ref, d.Instances)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if ok, err := p.admit("deploy", d.Ref, d.Key); !ok {
		return err
	}
	if err := p.check(d); err != nil {
		return fmt.Errorf("local: deploy %s: %w", d.Ref, err)
	}
	s := p.slots[d.Ref]
	if s == nil {
		s = &slot{ref: d.Ref, live: map[int]*instance{}, stopping: map[*instance]struct{}{}}
		p.slots[d.Ref] = s
	}
	next := newSpec(d.Artifact, d.Env, d.Secrets, d.Health, s.spec.Gen)
	if !next.same(s.spec) || s.removed {
		next.Gen++
		s.spec = next
	}
	for _, in := range s.live {
		if in.failed {
			p.stopInstance(s, in) // given up on: a new Deploy tries again
		}
	}
	s.removed, s.desired, s.key = false, d.Instances, d.Key
	p.reconcile(s)
	p.log.Info("local: deploy", "slot", d.Ref.String(), "artifact", d.Artifact, "instances", d.Instances, "key", d.Key)
	return p.commit(s, d.Key, "deploy")
}

// admit reports, with p.mu held, whether the change op of ref under key goes ahead:
// never on a closed platform (the error says so), and not again for a key already
// carried out (no error).
func (p *Platform) admit(op string, ref platform.SlotRef, key string) (bool, error) {
	if p.closed {
		return false, fmt.Errorf("local: %s %s: %w", op, ref, ErrClosed)
	}
	return !p.keys.seen(key), nil
}

// check refuses a deployment whose artifact the commands do not allow, whose executable
// the instances' user cannot run, or whose env would change what runs.
func (p *Platform) check(d platform.Deployment) error {
	iv, err := resolve(p.opts.Commands, d.Artifact)
	if err != nil {
		return err
	}
	if err := checkEnv(d.Env); err != nil {
		return err
	}
	return checkExecutable(iv.exe, p.user)
}

// Scale changes the slot's instance count; scaling down waits, bounded by ctx, until
// the stopped instances are gone. Scaling a slot never deployed to zero does nothing;
// to more is an error wrapping ErrNotDeployed.
func (p *Platform) Scale(ctx context.Context, ref platform.SlotRef, instances int, key string) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("local: scale %s: %w", ref, err)
	}
	if instances < 0 {
		return fmt.Errorf("local: scale %s: instances %d: must not be negative", ref, instances)
	}
	p.mu.Lock()
	if ok, err := p.admit("scale", ref, key); !ok {
		p.mu.Unlock()
		return err
	}
	s := p.slots[ref]
	if s == nil || s.removed {
		defer p.mu.Unlock()
		if instances > 0 {
			return fmt.Errorf("local: scale %s: %w", ref, ErrNotDeployed)
		}
		return p.commit(nil, key, "scale")
	}
	s.desired = instances
	stopped := p.reconcile(s)
	err := p.commit(s, key, "scale")
	p.mu.Unlock()
	if err != nil {
		return err
	}
	p.log.Info("local: scale", "slot", ref.String(), "instances", instances, "key", key)
	return waitStopped(ctx, "scale", ref, stopped)
}

// Status reports the slot's artifact, desired and ready instances, and why instances
// are not ready. A slot never deployed, or removed, has the zero status.
func (p *Platform) Status(ctx context.Context, ref platform.SlotRef) (platform.SlotStatus, error) {
	if err := ctx.Err(); err != nil {
		return platform.SlotStatus{}, fmt.Errorf("local: status %s: %w", ref, err)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	s := p.slots[ref]
	if s == nil || s.removed {
		return platform.SlotStatus{}, nil
	}
	st := platform.SlotStatus{Artifact: s.spec.Artifact, Desired: s.desired}
	for _, idx := range slices.Sorted(maps.Keys(s.live)) {
		in := s.live[idx]
		switch {
		case in.ready:
			st.Ready++
		case in.reason != "":
			st.Reasons = append(st.Reasons, fmt.Sprintf("instance %d: %s", idx, in.reason))
		default:
			st.Reasons = append(st.Reasons, fmt.Sprintf("instance %d: starting", idx))
		}
		st.Failed = st.Failed || in.failed
	}
	return st, nil
}

// Remove stops every instance of the slot and forgets it; it waits, bounded by ctx,
// until the processes are gone.
func (p *Platform) Remove(ctx context.Context, ref platform.SlotRef, key string) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("local: remove %s: %w", ref, err)
	}
	p.mu.Lock()
	if ok, err := p.admit("remove", ref, key); !ok {
		p.mu.Unlock()
		return err
	}
	s := p.slots[ref]
	if s == nil || s.removed {
		defer p.mu.Unlock()
		return p.commit(nil, key, "remove")
	}
	s.desired, s.removed = 0, true
	stopped := p.reconcile(s)
	err := p.commit(s, key, "remove")
	p.forgetIfDone(s)
	p.mu.Unlock()
	if err != nil {
		return err
	}
	p.log.Info("local: remove", "slot", ref.String(), "key", key)
	return waitStopped(ctx, "remove", ref, stopped)
}

// Endpoints returns the address (host:port) of each ready instance of the slot, in
// instance order; the built-in router sends the slot's traffic there.
func (p *Platform) Endpoints(ref platform.SlotRef) []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.endpoints(ref)
}

func (p *Platform) endpoints(ref platform.SlotRef) []string {
	s := p.slots[ref]
	if s == nil || s.removed {
		return nil
	}
	var eps []string
	for _, idx := range slices.Sorted(maps.Keys(s.live)) {
		if in := s.live[idx]; in.ready && in.proc != nil {
			eps = append(eps, net.JoinHostPort(p.opts.Host, strconv.Itoa(in.proc.port)))
		}
	}
	return eps
}

// Instance describes one instance of a slot, for tests, consoles and admin pages.
type Instance struct {
	Index  int
	PID    int // 0 while the instance is between restarts
	Port   int
	Ready  bool
	Reason string
}

// Instances lists the slot's current instances in index order.
func (p *Platform) Instances(ref platform.SlotRef) []Instance {
	p.mu.Lock()
	defer p.mu.Unlock()
	s := p.slots[ref]
	if s == nil || s.removed {
		return nil
	}
	var out []Instance
	for _, idx := range slices.Sorted(maps.Keys(s.live)) {
		in := s.live[idx]
		i := Instance{Index: idx, Ready: in.ready, Reason: in.reason}
		if in.proc != nil {
			i.PID, i.Port = in.proc.pid, in.proc.port
		}
		out = append(out, i)
	}
	return out
}

// StateDir returns the directory holding the platform's state and instance output.
func (p *Platform) StateDir() string { return p.dir }
