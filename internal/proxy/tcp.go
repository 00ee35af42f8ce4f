package proxy

import (
	"io"
	"net"
	"time"
)

// serveTCP proxies one connection in ModeTCP: the slot is chosen by weight when
// the connection arrives, an instance by round robin; an instance that refuses the
// connection is ejected and the next one is tried.
func (p *Proxy) serveTCP(c net.Conn) { p.serveTCPFrom(c, c) }

// serveTCPFrom is serveTCP for a connection whose first bytes were already read:
// r replays them, then reads the rest of c.
func (p *Proxy) serveTCPFrom(c net.Conn, r io.Reader) {
	start := time.Now()
	t := p.table.Load()
	chosen := t.weighted()
	var skip *instance
	for attempt := 0; attempt < 3; attempt++ {
		in, slot, fellBack := t.pick(chosen, skip)
		if fellBack && attempt == 0 {
			p.metrics[slotIndex(chosen)].fallbacks.Add(1)
		}
		m := &p.metrics[slotIndex(slot)]
		if in == nil {
			m.classes[classError].Add(1)
			c.Close()
			return
		}
		up, err := net.DialTimeout("tcp", in.addr, p.cfg.DialTimeout)
		if err != nil {
			p.connFailed(in, err)
			skip = in
			continue
		}
		m.connections.Add(1)
		m.observeLatency(time.Since(start))
		m.inflight.Add(1)
		in.inflight.Add(1)
		toUp, toClient := splice(c, r, up, up)
		in.inflight.Add(-1)
		m.inflight.Add(-1)
		m.bytesIn.Add(uint64(toUp))
		m.bytesOut.Add(uint64(toClient))
		return
	}
	p.metrics[slotIndex(chosen)].classes[classError].Add(1)
	c.Close()
}
