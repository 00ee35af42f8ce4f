package proxy

import (
	"runtime"
	"testing"

	"github.com/sluicehq/sluice/internal/platform"
	"github.com/sluicehq/sluice/internal/traffic"
)

// coalescedWaits sums the waits the proxy's event loops made to let events gather.
func coalescedWaits(p *Proxy) int64 {
	var n int64
	for _, l := range p.loops.loops {
		n += l.coalesced.Load()
	}
	return n
}

// TestLoopCoalescesOnlyUnderLoad checks when a loop waits for events to gather
// (coalesce): never for a lone client's requests, which must not be delayed;
// with many exchanges in flight, yes, with every answer right; and never with
// DisableCoalescing.
func TestLoopCoalescesOnlyUnderLoad(t *testing.T) {
	// One loop, so that the load's 32 connections are all on it, however many
	// cores the machine has.
	prev := runtime.GOMAXPROCS(1)
	t.Cleanup(func() { runtime.GOMAXPROCS(prev) })
	green := newBackend(t, platform.Green, "g0", nil)
	p, addr := newTestProxy(t, Config{}, traffic.All(platform.Green), []*backend{green}, nil)
	c := dialRaw(t, addr)
	get := func(i int) {
		if resp, body := c.roundTrip(t, "GET / HTTP/1.1\r\nHost: web\r\n\r\n", "GET"); resp.StatusCode != 200 || body != "green/g0" {
			t.Fatalf("request %d: %d %q", i, resp.StatusCode, body)
		}
	}
	get(0)
	loopServing(t, p, 1)
	before := coalescedWaits(p)
	for i := 0; i < 200; i++ {
		get(i)
	}
	if n := coalescedWaits(p) - before; n != 0 {
		t.Fatalf("200 requests of one client, one at a time, made the loop wait %d times; want 0", n)
	}
	counts, failed := loadFast(t, addr, "/", 400, 4)
	if failed != 0 || counts["green"] != 400 {
		t.Fatalf("4 clients: %v, %d failed", counts, failed)
	}
	if n := coalescedWaits(p) - before; n != 0 {
		t.Fatalf("4 clients (fewer exchanges in flight than %d) made the loop wait %d times; want 0", coalesceInFlight, n)
	}

	counts, failed = loadFast(t, addr, "/", 4000, 32)
	if failed != 0 || counts["green"] != 4000 {
		t.Fatalf("under load: %v, %d failed", counts, failed)
	}
	if coalescedWaits(p) == before {
		t.Fatalf("4000 requests over 32 connections never made the loop wait for events to gather (%d or more in flight)", coalesceInFlight)
	}

	off, offAddr := newTestProxy(t, Config{DisableCoalescing: true}, traffic.All(platform.Green), []*backend{green}, nil)
	counts, failed = loadFast(t, offAddr, "/", 4000, 32)
	if failed != 0 || counts["green"] != 4000 {
		t.Fatalf("without coalescing: %v, %d failed", counts, failed)
	}
	if n := coalescedWaits(off); n != 0 {
		t.Fatalf("DisableCoalescing: the loop waited %d times", n)
	}
}
