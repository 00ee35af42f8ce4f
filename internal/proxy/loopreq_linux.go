package proxy

import (
	"bytes"
	"errors"
	"net"
	"strconv"
	"syscall"
	"time"

	"github.com/valyala/fasthttp"
)

// This file is the request side of the event loop: a client's request is parsed,
// routed and sent upstream; the response is relayed back and the connections
// return to keep-alive.

func (l *loop) readable(c *loopConn) {
	if c.upstream {
		l.upstreamReadable(c)
	} else {
		l.clientReadable(c)
	}
}

func (l *loop) writable(c *loopConn) {
	if c.upstream && !c.connected {
		errno, err := syscall.GetsockoptInt(c.fd, syscall.SOL_SOCKET, syscall.SO_ERROR)
		if err == nil && errno == 0 {
			c.connected = true
		} else {
			if err == nil {
				err = syscall.Errno(errno)
			}
			if errno == int(syscall.EINPROGRESS) || errno == int(syscall.EALREADY) {
				return
			}
			l.dialFailed(c, &net.OpError{Op: "dial", Net: "tcp", Err: err})
			return
		}
	}
	l.flushed(c, l.flush(c))
}

// flushed goes on after c's queued output was written (ok) or failed.
func (l *loop) flushed(c *loopConn, ok bool) {
	if !ok {
		if c.upstream {
			l.upstreamBroke(c)
		} else {
			l.clientGone(c)
		}
		return
	}
	if len(c.wbuf) > 0 {
		return
	}
	if !c.upstream && c.closeAfterResponse && c.peer == nil {
		l.closeClient(c)
		return
	}
	// Output drained: resume reading the side that was held back.
	if p := c.peer; p != nil && p.canRead && p.fd >= 0 {
		l.readable(p)
	}
}

func (l *loop) clientReadable(c *loopConn) {
	for {
		if u := c.peer; u != nil && len(u.wbuf) > maxPending {
			return // the instance takes the body slower than the client sends it
		}
		if !l.read(c) {
			// The client shut its side (or its connection broke, which the next
			// write finds out): answer what it sent, then close.
			c.eof, c.canRead = true, false
		}
		if u := c.peer; u != nil && c.reqBody > 0 {
			if !l.forwardBody(c, u) {
				return
			}
			if c.eof && c.reqBody > 0 {
				l.clientGone(c) // the body was cut short
				return
			}
			if c.canRead {
				continue
			}
			return
		}
		if c.peer == nil && c.parked == nil {
			l.nextRequest(c)
		}
		return
	}
}

// forwardBody sends the buffered part of a streamed request body upstream; it
// reports false when the upstream connection broke.
func (l *loop) forwardBody(c, u *loopConn) bool {
	take := min(int64(c.rlen), c.reqBody)
	if !l.send(u, c.rbuf[:take]) {
		l.upstreamBroke(u)
		return false
	}
	c.reqBody -= take
	c.rlen = copy(c.rbuf, c.rbuf[take:c.rlen])
	return true
}

// nextRequest starts the request at the front of c's buffer, if it is whole.
func (l *loop) nextRequest(c *loopConn) {
	p := l.p
	if c.rlen == 0 {
		if p.closing.Load() || c.eof {
			l.closeClient(c)
			return
		}
		c.deadline = l.now.Add(p.cfg.IdleTimeout)
		return
	}
	b := c.rbuf[:c.rlen]
	if (b[0] == 0x16 && p.cfg.TLS != nil) || bytes.HasPrefix(b, []byte(h2Preface)) {
		l.handOffClient(c)
		return
	}
	if len(b) < len(h2Preface) && bytes.HasPrefix([]byte(h2Preface), b) {
		c.deadline = l.now.Add(sniffTimeout)
		return
	}
	end := headEnd(b)
	if end < 0 {
		if c.rlen == len(c.rbuf) {
			c.closeAfterResponse, c.rlen = true, 0 // nothing after it can be read as a request
			l.answer(c, nil, fasthttp.StatusRequestHeaderFieldsTooLarge, l.now)
			return
		}
		if c.deadline.IsZero() || c.deadline.After(l.now.Add(sniffTimeout)) {
			c.deadline = l.now.Add(sniffTimeout)
		}
		return
	}
	t := p.table.Load()
	if !c.req.parse(b[:end]) || c.req.chunked || c.req.otherTE || c.req.upgrade || c.req.expect ||
		p.vhosts.Load() != nil || t.mirror.Percent > 0 {
		l.handOffClient(c)
		return
	}
	method, ok := c.req.requestLine()
	if !ok {
		l.handOffClient(c)
		return
	}
	l.dispatch(c, t, method, end)
}

// dispatch routes the parsed request and sends it upstream.
func (l *loop) dispatch(c *loopConn, t *table, method []byte, end int) {
	p := l.p
	start := l.now
	d := p.route(t, headView{&c.req})
	in, slot, fellBack := t.pick(d.slot, nil)
	if in != nil && l.busy[in] >= l.connCap {
		l.park(c, in)
		return
	}
	if fellBack {
		p.metrics[slotIndex(d.slot)].fallbacks.Add(1)
	}
	c.slot = slotIndex(slot)
	m := &p.metrics[c.slot]
	c.closeAfterResponse = c.req.connClose || c.eof || p.closing.Load()
	cl := max(c.req.contentLength, 0)
	c.setCookie = ""
	if d.setSticky || (fellBack && t.sticky != "") {
		c.setCookie = "Set-Cookie: " + stickyCookie(t, slot) + "\r\n"
	}
	isHead := string(method) == "HEAD"
	idempotent := isHead || idempotentMethod(method)
	out := c.req.appendRequest(l.scratch[:0], c.remote)
	take := min(int64(c.rlen-end), cl)
	out = append(out, c.rbuf[end:end+int(take)]...)
	c.rlen = copy(c.rbuf, c.rbuf[end+int(take):c.rlen])
	c.reqBody = cl - take
	c.started = start
	c.deadline = time.Time{}
	l.scratch = out[:0]
	if in == nil {
		l.drainBody(c)
		l.answer(c, m, fasthttp.StatusBadGateway, start)
		return
	}
	m.inflight.Add(1)
	if cl > 0 {
		m.bytesIn.Add(uint64(cl))
	}
	u := l.upstreamFor(in, out, c.reqBody == 0)
	u.noBody, u.idempotent = isHead, idempotent
	l.attach(c, u, out)
	if c.reqBody > 0 && c.canRead && c.peer == u {
		l.clientReadable(c) // more of the body may wait in the socket, with no edge to come
	}
}

// drainBody drops a request body the loop will not forward; a body still on the
// wire ends the connection after the answer.
func (l *loop) drainBody(c *loopConn) {
	if c.reqBody > 0 {
		c.closeAfterResponse = true
		c.reqBody = 0
		c.rlen = 0
	}
}

// upstreamFor returns an idle keep-alive connection to in, or a new one. keep
// keeps the request (a whole one) so it can be sent again if the connection fails
// before the response starts.
func (l *loop) upstreamFor(in *instance, req []byte, keep bool) *loopConn {
	list := l.idle[in]
	for len(list) > 0 {
		u := list[len(list)-1]
		list = list[:len(list)-1]
		l.idle[in] = list
		if u.fd >= 0 {
			u.reused = true
			u.prepare(req, keep)
			return u
		}
	}
	u := &loopConn{fd: -1, upstream: true, rbuf: make([]byte, loopBufSize), in: in}
	u.prepare(req, keep)
	return u
}

// prepare readies u for one request.
func (u *loopConn) prepare(req []byte, keep bool) {
	u.replay = u.replay[:0]
	if keep {
		u.replay = append(u.replay, req...)
	}
	u.headDone, u.noBody, u.idempotent, u.untilEOF, u.chunked, u.closeAfterResponse = false, false, false, false, false, false
	u.left, u.bytesOut, u.ch = 0, 0, chunks{}
}

// attach pairs client and upstream and sends the request, dialling first when
// the connection is new.
func (l *loop) attach(c, u *loopConn, req []byte) {
	p := l.p
	u.peer, c.peer = c, u
	l.busyAdd(u.in, 1)
	if u.fd < 0 {
		if err := l.dial(u); err != nil {
			l.dialFailed(u, err)
			return
		}
	}
	if p.cfg.ResponseHeaderTimeout > 0 {
		u.deadline = l.now.Add(p.cfg.ResponseHeaderTimeout)
	} else {
		u.deadline = time.Time{}
	}
	if !u.connected {
		if dl := l.now.Add(p.cfg.DialTimeout); u.deadline.IsZero() || dl.Before(u.deadline) {
			u.deadline = dl
		}
		u.wbuf = append(u.wbuf, req...)
		return
	}
	if !l.send(u, req) {
		l.upstreamBroke(u)
	}
}

// dial starts a non-blocking connect to u's instance.
func (l *loop) dial(u *loopConn) error {
	sa, err := sockaddrOf(u.in.addr)
	if err != nil {
		return &net.OpError{Op: "dial", Net: "tcp", Err: err}
	}
	family := syscall.AF_INET
	if _, ok := sa.(*syscall.SockaddrInet6); ok {
		family = syscall.AF_INET6
	}
	fd, err := syscall.Socket(family, syscall.SOCK_STREAM|syscall.SOCK_NONBLOCK|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		return &net.OpError{Op: "dial", Net: "tcp", Err: err}
	}
	syscall.SetsockoptInt(fd, syscall.IPPROTO_TCP, syscall.TCP_NODELAY, 1) //nolint:errcheck // best effort
	err = syscall.Connect(fd, sa)
	if err != nil && err != syscall.EINPROGRESS {
		syscall.Close(fd)
		return &net.OpError{Op: "dial", Net: "tcp", Err: err}
	}
	u.fd, u.connected, u.reused = fd, err == nil, false
	u.wbuf, u.rlen, u.canRead, u.rdhup = u.wbuf[:0], 0, false, false
	return l.register(u)
}

// sockaddrOf resolves an instance address (host:port; names resolve with the
// system resolver, which blocks the loop, so instances are best given as IPs).
func sockaddrOf(addr string) (syscall.Sockaddr, error) {
	ta, err := net.ResolveTCPAddr("tcp", addr)
	if err != nil {
		return nil, err
	}
	if ip4 := ta.IP.To4(); ip4 != nil {
		sa := &syscall.SockaddrInet4{Port: ta.Port}
		copy(sa.Addr[:], ip4)
		return sa, nil
	}
	sa := &syscall.SockaddrInet6{Port: ta.Port}
	copy(sa.Addr[:], ta.IP.To16())
	return sa, nil
}

// dialFailed handles an instance that could not be reached: it is ejected, and a
// request kept whole goes once to another instance of the slot; otherwise the
// client gets 502 (504 when the connect timed out).
func (l *loop) dialFailed(u *loopConn, err error) {
	p := l.p
	c := u.peer
	in := u.in
	p.connFailed(in, err)
	l.closeConn(u)
	l.busyAdd(in, -1)
	if c == nil {
		return
	}
	c.peer = nil
	if len(u.replay) > 0 {
		t := p.table.Load()
		if alt := t.pools[slotIndex(in.slot)].pick(in); alt != nil {
			req := append([]byte(nil), u.replay...)
			nu := l.upstreamFor(alt, req, false)
			nu.noBody, nu.idempotent = u.noBody, u.idempotent
			l.attach(c, nu, req)
			return
		}
	}
	status := fasthttp.StatusBadGateway
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		status = fasthttp.StatusGatewayTimeout
	}
	m := &p.metrics[c.slot]
	m.inflight.Add(-1)
	l.drainBody(c)
	l.answer(c, m, status, c.started)
}

func (l *loop) upstreamReadable(u *loopConn) {
	for {
		c := u.peer
		if c != nil && len(c.wbuf) > maxPending {
			return // the client reads slower than the instance sends
		}
		if !l.read(u) {
			if u.rlen > 0 && c != nil {
				l.relay(u, c)
			}
			l.upstreamEOF(u)
			return
		}
		if u.rlen == 0 {
			return
		}
		if c == nil {
			l.closeConn(u) // bytes nobody asked for: the connection is unusable
			return
		}
		if !l.relay(u, c) || !u.canRead || u.fd < 0 {
			return
		}
	}
}

// relay forwards what u's buffer holds of the response; it reports false when
// the exchange ended with an error.
func (l *loop) relay(u, c *loopConn) bool {
	p := l.p
	out := l.scratch[:0]
	data := u.rbuf[:u.rlen]
	for !u.headDone {
		end := headEnd(data)
		if end < 0 {
			if len(data) == len(u.rbuf) {
				l.upstreamBroke(u)
				return false
			}
			u.rlen = copy(u.rbuf, data)
			l.scratch = out[:0]
			return len(out) == 0 || l.send(c, out)
		}
		if !u.resp.parse(data[:end]) || u.resp.status() == 0 || u.resp.status() == 101 || u.resp.otherTE {
			l.upstreamBroke(u)
			return false
		}
		status := u.resp.status()
		if status < 200 { // interim (100, 103): pass on, the final head follows
			out = u.resp.appendResponse(out)
			data = data[end:]
			continue
		}
		u.headDone, u.replay, u.deadline = true, u.replay[:0], time.Time{}
		// An HTTP/1.0 instance closes after each response unless it says
		// keep-alive, which the loop does not rely on.
		u.closeAfterResponse = u.resp.connClose || bytes.HasPrefix(u.resp.first.of(u.resp.buf), []byte("HTTP/1.0"))
		switch {
		case u.noBody || status == 204 || status == 304:
			u.noBody = true
		case u.resp.chunked:
			u.chunked = true
		case u.resp.contentLength >= 0:
			u.left = u.resp.contentLength
		default:
			u.untilEOF, c.closeAfterResponse, u.closeAfterResponse = true, true, true
		}
		if p.closing.Load() {
			c.closeAfterResponse = true
		}
		p.responded(u.in, status)
		p.metrics[c.slot].observe(status, l.now.Sub(c.started))
		extra := c.setCookie
		if c.closeAfterResponse {
			extra += "Connection: close\r\n"
		}
		out = u.resp.appendResponse(out, extra)
		data = data[end:]
	}
	take, done := len(data), false
	switch {
	case u.noBody:
		take, done = 0, true
	case u.chunked:
		n, end, err := u.ch.scan(data)
		if err != nil {
			l.upstreamBroke(u)
			return false
		}
		take, done = n, end
	case u.untilEOF:
	default:
		take = int(min(int64(len(data)), u.left))
		u.left -= int64(take)
		done = u.left == 0
	}
	out = append(out, data[:take]...)
	u.bytesOut += uint64(take)
	if len(data) > take {
		u.closeAfterResponse = true // more than the response: the connection is out of step
	}
	u.rlen = 0
	l.scratch = out[:0]
	if done {
		// Counted as over before the last bytes go out, so whoever reads the
		// counters after the response never sees it in flight.
		l.endExchange(u, c, true)
	}
	if !l.send(c, out) {
		l.clientGone(c)
		return false
	}
	if done {
		l.continueClient(c)
	}
	return true
}

// upstreamEOF handles the end of an upstream connection.
func (l *loop) upstreamEOF(u *loopConn) {
	c := u.peer
	switch {
	case c == nil:
		l.closeConn(u)
	case u.headDone && u.untilEOF:
		l.finish(u, c, false)
	case !u.headDone && u.reused && u.idempotent && u.rlen == 0 && len(u.replay) > 0:
		// A kept-alive connection the instance had closed: send again on a new one.
		req := append([]byte(nil), u.replay...)
		l.closeConn(u)
		l.busyAdd(u.in, -1)
		nu := &loopConn{fd: -1, upstream: true, rbuf: u.rbuf, in: u.in}
		nu.prepare(req, false)
		nu.noBody, nu.idempotent = u.noBody, u.idempotent
		l.attach(c, nu, req)
	default:
		l.upstreamBroke(u)
	}
}

// upstreamBroke ends an exchange whose upstream connection failed: the client
// gets 502 if nothing was sent yet, else its connection is closed.
func (l *loop) upstreamBroke(u *loopConn) {
	c := u.peer
	l.closeConn(u)
	if c == nil {
		return
	}
	l.release(u, c)
	if u.headDone {
		l.closeClient(c)
		return
	}
	l.drainBody(c)
	l.answer(c, &l.p.metrics[c.slot], fasthttp.StatusBadGateway, c.started)
}

// finish ends an exchange and goes on with the client.
func (l *loop) finish(u, c *loopConn, reuse bool) {
	l.endExchange(u, c, reuse)
	l.continueClient(c)
}

// endExchange ends an exchange: the upstream connection goes back to its pool
// (when reuse and the response allow) or is closed.
func (l *loop) endExchange(u, c *loopConn, reuse bool) {
	l.release(u, c)
	if reuse && !u.closeAfterResponse && u.fd >= 0 && c.reqBody == 0 {
		u.idleSince, u.deadline = l.now, time.Time{}
		l.idle[u.in] = append(l.idle[u.in], u)
	} else {
		l.closeConn(u)
	}
	if c.reqBody > 0 { // the instance answered before taking the whole body
		c.closeAfterResponse = true
	}
}

// release unpairs an exchange and counts it as over.
func (l *loop) release(u, c *loopConn) {
	m := &l.p.metrics[c.slot]
	m.bytesOut.Add(u.bytesOut)
	m.inflight.Add(-1)
	l.busyAdd(u.in, -1)
	u.peer, c.peer = nil, nil
}

// continueClient closes a client whose last response asked for it, or goes on
// with its next request.
func (l *loop) continueClient(c *loopConn) {
	if c.closeAfterResponse {
		if len(c.wbuf) == 0 {
			l.closeClient(c)
		}
		return
	}
	c.deadline = l.now.Add(l.p.cfg.IdleTimeout)
	if c.rlen > 0 || c.eof {
		l.nextRequest(c)
	} else if c.canRead {
		l.clientReadable(c)
	}
}

// clientGone handles a client that closed or broke its connection.
func (l *loop) clientGone(c *loopConn) {
	if u := c.peer; u != nil {
		m := &l.p.metrics[c.slot]
		m.inflight.Add(-1)
		l.busyAdd(u.in, -1)
		u.peer, c.peer = nil, nil
		l.closeConn(u)
	}
	l.closeClient(c)
}

func (l *loop) closeClient(c *loopConn) {
	if c.fd >= 0 {
		l.closeConn(c)
		l.p.loopConns.Add(-1)
	}
}

// handOffClient gives the connection to the general path.
func (l *loop) handOffClient(c *loopConn) {
	l.p.loopConns.Add(-1)
	l.handOff(c)
}

// answer replies to the client itself (no instance involved) and counts a proxy
// error when m is set.
func (l *loop) answer(c *loopConn, m *slotMetrics, status int, start time.Time) {
	msg := fasthttp.StatusMessage(status) + "\n"
	out := append(l.scratch[:0], "HTTP/1.1 "...)
	out = strconv.AppendInt(out, int64(status), 10)
	out = append(append(append(out, ' '), fasthttp.StatusMessage(status)...), "\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: "...)
	out = strconv.AppendInt(out, int64(len(msg)), 10)
	if c.closeAfterResponse {
		out = append(out, "\r\nConnection: close"...)
	}
	out = append(append(out, "\r\n\r\n"...), msg...)
	l.scratch = out[:0]
	if m != nil {
		m.classes[classError].Add(1)
		m.observeLatency(l.now.Sub(start))
	}
	if !l.send(c, out) {
		l.closeClient(c)
		return
	}
	l.continueClient(c)
}

// expired handles a connection past its deadline.
func (l *loop) expired(c *loopConn) {
	c.deadline = time.Time{}
	if !c.upstream {
		switch {
		case c.parked != nil: // no connection to its instance came free in time
			m := &l.p.metrics[slotIndex(c.parked.slot)]
			c.parked = nil
			c.closeAfterResponse = true // its request is still unread in the buffer
			l.answer(c, m, fasthttp.StatusServiceUnavailable, l.now.Add(-l.p.cfg.DialTimeout))
		case c.peer == nil:
			l.closeClient(c) // idle keep-alive, or a head that never completed
		}
		return
	}
	if !c.connected {
		l.dialFailed(c, &net.OpError{Op: "dial", Net: "tcp", Err: errDialTimeout})
		return
	}
	if cl := c.peer; cl != nil && !c.headDone {
		l.closeConn(c)
		l.release(c, cl)
		l.drainBody(cl)
		l.answer(cl, &l.p.metrics[cl.slot], fasthttp.StatusGatewayTimeout, cl.started)
	}
}

// errDialTimeout is a connect that took longer than DialTimeout.
var errDialTimeout = timeoutError{}

type timeoutError struct{}

func (timeoutError) Error() string   { return "dial timeout" }
func (timeoutError) Timeout() bool   { return true }
func (timeoutError) Temporary() bool { return true }

// busyAdd counts an exchange starting (+1) or ending (-1) on an instance.
func (l *loop) busyAdd(in *instance, delta int) {
	in.inflight.Add(int64(delta))
	l.inFlight += delta
	if n := l.busy[in] + delta; n > 0 {
		l.busy[in] = n
	} else {
		delete(l.busy, in)
	}
}

// park makes a client wait, its request unread, until in has a free connection
// (MaxConnsPerInstance, shared out among the loops) or DialTimeout passes.
func (l *loop) park(c *loopConn, in *instance) {
	c.parked = in
	c.deadline = l.now.Add(l.p.cfg.DialTimeout)
	l.waiting[in] = append(l.waiting[in], c)
}

// unpark starts the requests of parked clients whose instance has a free
// connection again; they are routed afresh.
func (l *loop) unpark() {
	for in, list := range l.waiting {
		for len(list) > 0 && l.busy[in] < l.connCap {
			c := list[0]
			list = list[1:]
			if c.fd < 0 || c.parked != in {
				continue // gone, or timed out
			}
			c.parked = nil
			l.nextRequest(c)
		}
		if len(list) == 0 {
			delete(l.waiting, in)
		} else {
			l.waiting[in] = list
		}
	}
}
