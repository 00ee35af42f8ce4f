package engine

import (
	"context"

	"github.com/sluicehq/sluice/internal/store"
)

// leaseLoop renews and claims every Lease/5. When renewals keep failing for a whole
// lease, it stops every run: another server may own them by now.
func (e *Engine) leaseLoop() {
	defer e.wg.Done()
	t := e.opt.Clock.NewTimer(e.opt.Lease / 5)
	defer t.Stop()
	lastRenewal := e.opt.Now()
	for {
		select {
		case <-e.base.Done():
			return
		case <-t.C():
		}
		t.Reset(e.opt.Lease / 5)
		if err := e.renew(e.base); err != nil {
			e.log.Warn("cannot renew execution leases", "err", err)
			if e.opt.Now().Sub(lastRenewal) > e.opt.Lease {
				e.log.Error("leases lapsed; stopping every execution until they can be claimed again")
				e.stopRuns(nil)
			}
			continue
		}
		lastRenewal = e.opt.Now()
		if _, err := e.claim(e.base, false); err != nil {
			e.log.Warn("cannot claim executions", "err", err)
		}
	}
}

// renew extends the leases of every run and stops the runs whose lease was lost.
func (e *Engine) renew(ctx context.Context) error {
	e.mu.Lock()
	ids := make([]string, 0, len(e.runs))
	for id := range e.runs {
		ids = append(ids, id)
	}
	e.mu.Unlock()
	if len(ids) == 0 {
		return nil
	}
	renewed, err := e.store.RenewLeases(ctx, e.opt.Owner, ids, e.opt.Now().Add(e.opt.Lease).UTC())
	if err != nil {
		return err
	}
	kept := make(map[string]bool, len(renewed))
	for _, id := range renewed {
		kept[id] = true
	}
	e.stopRuns(func(id string) bool { return !kept[id] })
	return nil
}

// stopRuns cancels the runs for which lost reports true (all when lost is nil); their
// executions stay as the store has them, for whoever owns them now.
func (e *Engine) stopRuns(lost func(id string) bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for id, r := range e.runs {
		if lost == nil || lost(id) {
			e.log.Warn("lease lost; no longer driving execution", "execution", id)
			r.cancel()
		}
	}
}

// claim takes executions that are free, expired, or (with own) already this engine's,
// and drives them.
func (e *Engine) claim(ctx context.Context, own bool) (int, error) {
	now := e.opt.Now()
	claimed, err := e.store.ClaimExecutions(ctx, store.ClaimRequest{
		Owner: e.opt.Owner, Now: now.UTC(), Until: now.Add(e.opt.Lease).UTC(), Own: own,
	})
	if err != nil {
		return 0, err
	}
	n := 0
	for _, ex := range claimed {
		if err := e.drive(ex, nil); err != nil {
			e.log.Error("cannot resume execution", "execution", ex.ID, "err", err)
			continue
		}
		e.log.Info("resuming execution", "execution", ex.ID, "owner", e.opt.Owner)
		n++
	}
	return n, nil
}
