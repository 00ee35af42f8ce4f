package sqlstore

import "sync"

// Gate admits a store's calls until Close, and lets Close wait for the calls it
// admitted, so that a store closes only once its accepted writes have finished. The
// zero Gate is open.
type Gate struct {
	mu      sync.Mutex
	closed  bool
	pending sync.WaitGroup
}

// Enter admits one call, which ends with Leave; it returns false once the gate is closed.
func (g *Gate) Enter() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed {
		return false
	}
	g.pending.Add(1)
	return true
}

// Leave ends a call Enter admitted.
func (g *Gate) Leave() { g.pending.Done() }

// Close refuses further calls and waits for the admitted ones to leave. It returns
// false, without waiting, when the gate was already closed.
func (g *Gate) Close() bool {
	g.mu.Lock()
	if g.closed {
		g.mu.Unlock()
		return false
	}
	g.closed = true
	g.mu.Unlock()
	g.pending.Wait()
	return true
}
