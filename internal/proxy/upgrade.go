package proxy

import (
	"bufio"
	"net"
	"strconv"
	"time"

	"github.com/valyala/fasthttp"
)

// handleUpgrade proxies a request asking for a protocol upgrade (WebSocket): it
// forwards the request to an instance, then splices both connections. The upgrade
// is counted with the instance's status (101 when accepted).
func (p *Proxy) handleUpgrade(ctx *fasthttp.RequestCtx) {
	start := time.Now()
	t := p.table.Load()
	d := p.route(t, fastView{&ctx.Request.Header})
	in, slot, fellBack := t.pick(d.slot, nil)
	if fellBack {
		p.metrics[slotIndex(d.slot)].fallbacks.Add(1)
	}
	m := &p.metrics[slotIndex(slot)]
	if in == nil {
		p.fastError(ctx, m, start, fasthttp.StatusBadGateway)
		return
	}
	up, err := net.DialTimeout("tcp", in.addr, p.cfg.DialTimeout)
	if err != nil {
		p.connFailed(in, err)
		p.fastError(ctx, m, start, fasthttp.StatusBadGateway)
		return
	}
	setForwarded(ctx)
	reqBytes := append([]byte(nil), ctx.Request.Header.Header()...)
	m.inflight.Add(1)
	ctx.HijackSetNoResponse(true)
	ctx.Hijack(func(c net.Conn) {
		defer m.inflight.Add(-1)
		if !p.track(c, true) || !p.track(up, true) {
			c.Close()
			up.Close()
			return
		}
		defer p.track(c, false)
		defer p.track(up, false)
		if _, err := up.Write(reqBytes); err != nil {
			m.classes[classError].Add(1)
			up.Close()
			return
		}
		br := bufio.NewReader(up)
		status := peekStatus(br)
		if status == 0 {
			m.classes[classError].Add(1)
			up.Close()
			c.Close()
			return
		}
		m.observe(status, time.Since(start))
		toUp, toClient := splice(c, c, up, br)
		m.bytesIn.Add(uint64(toUp))
		m.bytesOut.Add(uint64(toClient))
	})
}

// peekStatus reads the status code of the response at the head of br without
// consuming it; 0 means none could be read.
func peekStatus(br *bufio.Reader) int {
	line, err := br.Peek(12) // "HTTP/1.1 101"
	if err != nil {
		return 0
	}
	code, err := strconv.Atoi(string(line[9:12]))
	if err != nil {
		return 0
	}
	return code
}
