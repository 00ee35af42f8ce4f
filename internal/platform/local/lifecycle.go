package local

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"slices"
	"strings"

	"github.com/sluicehq/sluice/internal/platform"
)

// reconcile starts the missing instances below s.desired and stops the ones above it
// or of an older generation; it returns the instances it stopped. Callers hold p.mu.
func (p *Platform) reconcile(s *slot) []*instance {
	var stopped []*instance
	for idx, in := range s.live {
		if idx >= s.desired || in.spec.Gen != s.spec.Gen {
			p.stopInstance(s, in)
			stopped = append(stopped, in)
		}
	}
	for idx := range s.desired {
		if s.live[idx] == nil {
			p.startInstance(s, idx, nil)
		}
	}
	p.markDirty(s.ref)
	return stopped
}

// stopInstance moves in from live to stopping and tells its supervisor to stop it.
// Callers hold p.mu.
func (p *Platform) stopInstance(s *slot, in *instance) {
	if s.live[in.index] == in {
		delete(s.live, in.index)
	}
	s.stopping[in] = struct{}{}
	in.ready = false
	in.cancel()
}

// startInstance creates instance idx of s and its supervisor; adopted, when not nil, is
// a running process to supervise instead of starting one. Callers hold p.mu.
func (p *Platform) startInstance(s *slot, idx int, adopted *proc) *instance {
	ctx, cancel := context.WithCancel(p.ctx)
	in := &instance{ref: s.ref, index: idx, spec: s.spec, ctx: ctx, cancel: cancel, done: make(chan struct{})}
	s.live[idx] = in
	if adopted != nil {
		in.proc = adopted
		p.ports[adopted.port] = true
	}
	go p.supervise(in, adopted)
	return in
}

// finish is called by a supervisor when it returns: the instance is gone from the slot
// unless the platform is detaching from it. Callers do not hold p.mu.
func (p *Platform) finish(in *instance) {
	p.mu.Lock()
	defer p.mu.Unlock()
	defer close(in.done)
	if in.detach.Load() {
		return
	}
	if in.proc != nil {
		delete(p.ports, in.proc.port)
		in.proc = nil
	}
	if err := os.RemoveAll(instanceWorkDir(p.work, in.ref, in.index, in.spec.Gen)); err != nil {
		p.log.Warn("local: remove instance work dir", "slot", in.ref.String(), "instance", in.index, "err", err)
	}
	s := p.slots[in.ref]
	if s == nil {
		return
	}
	delete(s.stopping, in)
	if s.live[in.index] == in {
		delete(s.live, in.index)
	}
	p.markDirty(s.ref)
	if !p.forgetIfDone(s) {
		p.save(s)
	}
}

// forgetIfDone deletes a removed slot, its state file and its output once its last
// instance is gone; it reports whether it did. Callers hold p.mu.
func (p *Platform) forgetIfDone(s *slot) bool {
	if !s.removed || len(s.live) > 0 || len(s.stopping) > 0 || p.slots[s.ref] != s {
		return false
	}
	delete(p.slots, s.ref)
	if err := os.Remove(slotFile(p.dir, s.ref)); err != nil && !errors.Is(err, os.ErrNotExist) {
		p.log.Warn("local: remove slot state", "slot", s.ref.String(), "err", err)
	}
	if err := os.RemoveAll(logDir(p.dir, s.ref)); err != nil {
		p.log.Warn("local: remove slot output", "slot", s.ref.String(), "err", err)
	}
	if err := os.RemoveAll(slotWorkDir(p.work, s.ref)); err != nil {
		p.log.Warn("local: remove slot work dir", "slot", s.ref.String(), "err", err)
	}
	return true
}

// commit writes the slot's state, when s is not nil, then records key as applied.
// Callers hold p.mu.
func (p *Platform) commit(s *slot, key, op string) error {
	if s != nil {
		if err := p.persist(s); err != nil {
			return fmt.Errorf("local: %s %s: write state: %w", op, s.ref, err)
		}
	}
	if err := p.keys.add(key); err != nil {
		return fmt.Errorf("local: %s: record key %q: %w", op, key, err)
	}
	return nil
}

// save writes the slot's record for callers that cannot return the error; a failure
// is logged, and the next successful write catches up. Callers hold p.mu.
func (p *Platform) save(s *slot) {
	if err := p.persist(s); err != nil {
		p.log.Error("local: write slot state", "slot", s.ref.String(), "err", err)
	}
}

// persist writes the slot's record atomically. Callers hold p.mu.
func (p *Platform) persist(s *slot) error {
	rec := slotRecord{Service: s.ref.Service, Slot: s.ref.Slot, Artifact: s.spec.Artifact, Env: s.spec.Env, Secrets: s.spec.Secrets,
		Health: s.spec.Health, Gen: s.spec.Gen, Desired: s.desired, Removed: s.removed, Key: s.key}
	add := func(in *instance, stopping bool) {
		if pr := in.proc; pr != nil {
			rec.Instances = append(rec.Instances, instanceRecord{Index: in.index, Gen: pr.gen, Pid: pr.pid,
				StartTicks: pr.startTicks, BootID: pr.bootID, Port: pr.port, Stdout: pr.stdout, Stderr: pr.stderr,
				Stopping: stopping})
		}
	}
	for _, idx := range slices.Sorted(maps.Keys(s.live)) {
		add(s.live[idx], false)
	}
	for in := range s.stopping {
		add(in, true)
	}
	return writeJSON(slotFile(p.dir, s.ref), rec)
}

// waitStopped waits, bounded by ctx, until every instance in ins has stopped.
func waitStopped(ctx context.Context, op string, ref platform.SlotRef, ins []*instance) error {
	for _, in := range ins {
		select {
		case <-in.done:
		case <-ctx.Done():
			return fmt.Errorf("local: %s %s: waiting for instance %d to stop: %w", op, ref, in.index, ctx.Err())
		}
	}
	return nil
}

// markDirty notes that the slot's endpoints may have changed. Callers hold p.mu.
func (p *Platform) markDirty(ref platform.SlotRef) {
	if p.opts.OnEndpoints == nil {
		return
	}
	p.dirty[ref] = true
	select {
	case p.kick <- struct{}{}:
	default:
	}
}

// notifier calls OnEndpoints with each dirty slot's current endpoints, one call at a
// time and never with p.mu held, skipping calls whose list did not change.
func (p *Platform) notifier() {
	defer p.bg.Done()
	last := map[platform.SlotRef][]string{}
	for {
		select {
		case <-p.kick:
		case <-p.ctx.Done():
			return
		}
		p.mu.Lock()
		changed := map[platform.SlotRef][]string{}
		for ref := range p.dirty {
			changed[ref] = p.endpoints(ref)
		}
		clear(p.dirty)
		p.mu.Unlock()
		for _, ref := range slices.SortedFunc(maps.Keys(changed), cmpRef) {
			eps, seen := last[ref]
			if seen && slices.Equal(eps, changed[ref]) {
				continue
			}
			last[ref] = changed[ref]
			p.opts.OnEndpoints(ref, changed[ref])
		}
	}
}

func cmpRef(a, b platform.SlotRef) int { return strings.Compare(a.String(), b.String()) }

// Close ends the platform. With Options.KeepRunning it stops supervising and leaves the
// instances running, their state on disk, for a later New to adopt; otherwise it stops
// every instance (bounded by ctx) and forgets every slot.
func (p *Platform) Close(ctx context.Context) error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil
	}
	var all []*instance
	if !p.opts.KeepRunning {
		for _, s := range p.slots {
			s.desired, s.removed = 0, true
			p.reconcile(s)
			p.forgetIfDone(s)
		}
	}
	p.closed = true
	for _, s := range p.slots {
		for _, in := range s.live {
			all = append(all, in)
		}
		for in := range s.stopping {
			all = append(all, in)
		}
	}
	if p.opts.KeepRunning {
		for _, in := range all {
			in.detach.Store(true)
			in.cancel()
		}
	}
	p.mu.Unlock()
	err := waitStopped(ctx, "close", platform.SlotRef{}, all)
	p.cancel()
	p.bg.Wait()
	if cerr := p.lock.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("local: close: unlock state dir: %w", cerr)
	}
	if !p.opts.KeepRunning && p.opts.WorkDir == "" {
		os.RemoveAll(p.work) // the default work root is this state dir's alone, and every instance is gone
	}
	if p.tempDir && !p.opts.KeepRunning {
		os.RemoveAll(p.dir)
	}
	return err
}
