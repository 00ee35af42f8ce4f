package proxy

import (
	"errors"
	"io"
	"net"
	"net/netip"
	"sync"
	"syscall"
	"time"

	"github.com/valyala/fasthttp"
)

// newFastServer builds the fasthttp server of the HTTP/1.1 fast path.
func (p *Proxy) newFastServer() *fasthttp.Server {
	return &fasthttp.Server{
		Handler:                      p.handleFast,
		Name:                         "sluice",
		IdleTimeout:                  p.cfg.IdleTimeout,
		StreamRequestBody:            true,
		MaxRequestBodySize:           p.cfg.MirrorMaxBody,
		NoDefaultServerHeader:        true,
		NoDefaultDate:                true,
		NoDefaultContentType:         true,
		DisablePreParseMultipartForm: true,
		ReadBufferSize:               8 << 10,
		WriteBufferSize:              8 << 10,
		CloseOnShutdown:              true,
	}
}

// fastView reads routing inputs from a fasthttp request.
type fastView struct{ h *fasthttp.RequestHeader }

func (v fastView) header(name string) string { return string(v.h.Peek(name)) }
func (v fastView) cookie(name string) string { return string(v.h.Cookie(name)) }

// hopHeaders are removed from proxied requests and responses (RFC 9110 7.6.1).
var hopHeaders = []string{"Keep-Alive", "Proxy-Connection", "Proxy-Authenticate", "Proxy-Authorization", "Te", "Trailer", "Upgrade"}

// handleFast proxies one HTTP/1.1 request.
func (p *Proxy) handleFast(ctx *fasthttp.RequestCtx) {
	if p.vhosts.Load() != nil && p.dispatchFast(ctx) {
		return
	}
	if p.closing.Load() {
		defer ctx.SetConnectionClose()
	}
	if ctx.Request.Header.ConnectionUpgrade() {
		p.handleUpgrade(ctx)
		return
	}
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
	m.inflight.Add(1)
	if cl := ctx.Request.Header.ContentLength(); cl > 0 {
		m.bytesIn.Add(uint64(cl))
	}
	p.prepareFastRequest(ctx)
	if t.mirror.Percent > 0 {
		p.maybeMirror(t, ctx, slot)
	}
	up := fasthttp.AcquireResponse()
	in, err := p.doFast(t, ctx, in, up)
	if err != nil {
		fasthttp.ReleaseResponse(up)
		m.inflight.Add(-1)
		p.fastError(ctx, m, start, statusForError(err))
		return
	}
	status := up.StatusCode()
	p.responded(in, status)
	cleanFastResponse(up)
	up.Header.CopyTo(&ctx.Response.Header)
	if d.setSticky || (fellBack && t.sticky != "") {
		ctx.Response.Header.Add("Set-Cookie", stickyCookie(t, slot))
	}
	m.observe(status, time.Since(start))
	p.relayBody(ctx, up, m)
}

// doFast sends the request to in; when in cannot be reached and the request has
// no streamed body, it retries once on another instance. It returns the instance
// that answered.
func (p *Proxy) doFast(t *table, ctx *fasthttp.RequestCtx, in *instance, up *fasthttp.Response) (*instance, error) {
	in.inflight.Add(1)
	err := p.doOnce(in, ctx, up)
	if replayable(&ctx.Request, err) {
		// fasthttp has sent it again already, on the next idle connection, and the
		// instance had closed that one too, as a restarted instance has closed
		// them all: drop the idle ones and send it on a new connection.
		in.hc.CloseIdleConnections()
		err = p.doOnce(in, ctx, up)
	}
	in.inflight.Add(-1)
	if err == nil || !isDialError(err) {
		return in, err
	}
	p.connFailed(in, err)
	if ctx.Request.IsBodyStream() {
		return in, err
	}
	alt := t.pools[slotIndex(in.slot)].pick(in)
	if alt == nil {
		return in, err
	}
	alt.inflight.Add(1)
	err = p.doOnce(alt, ctx, up)
	alt.inflight.Add(-1)
	if err != nil && isDialError(err) {
		p.connFailed(alt, err)
	}
	return alt, err
}

// upstreamAttempts is how often fasthttp sends an idempotent request whose
// connection the instance closed before answering (it takes the next idle
// connection each time); doFast then drops the instance's idle connections and
// lets fasthttp try that many times again.
const upstreamAttempts = 2

// replayable reports whether a request may be sent again after err: the instance
// closed the connection before answering (or reset it while the request was
// written) — a kept-alive connection it had already closed, as an instance does
// when it restarts or its idle timeout fires — and the request is idempotent with
// its body in memory (not streamed). fasthttp itself retries such a request, but
// on the next idle connections, which after a restart are closed as well.
func replayable(req *fasthttp.Request, err error) bool {
	closed := errors.Is(err, fasthttp.ErrConnectionClosed) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
	return closed && !req.IsBodyStream() && idempotentMethod(req.Header.Method())
}

// idempotentMethod reports whether a request with method m may be sent twice
// (RFC 9110 9.2.2).
func idempotentMethod(m []byte) bool {
	switch string(m) {
	case "GET", "HEAD", "OPTIONS", "TRACE", "PUT", "DELETE":
		return true
	}
	return false
}

// doOnce performs one upstream round trip, bounded by ResponseHeaderTimeout.
func (p *Proxy) doOnce(in *instance, ctx *fasthttp.RequestCtx, up *fasthttp.Response) error {
	if p.cfg.ResponseHeaderTimeout > 0 {
		return in.hc.DoTimeout(&ctx.Request, up, p.cfg.ResponseHeaderTimeout)
	}
	return in.hc.Do(&ctx.Request, up)
}

// fastError answers the client itself and counts a proxy error.
func (p *Proxy) fastError(ctx *fasthttp.RequestCtx, m *slotMetrics, start time.Time, status int) {
	ctx.Response.Reset()
	ctx.Response.SetStatusCode(status)
	ctx.Response.Header.SetContentType("text/plain; charset=utf-8")
	ctx.Response.SetBodyString(fasthttp.StatusMessage(status) + "\n")
	m.classes[classError].Add(1)
	m.observeLatency(time.Since(start))
}

// statusForError maps an upstream error to the status the client sees.
func statusForError(err error) int {
	if errors.Is(err, fasthttp.ErrTimeout) || errors.Is(err, fasthttp.ErrDialTimeout) {
		return fasthttp.StatusGatewayTimeout
	}
	return fasthttp.StatusBadGateway
}

// isDialError reports whether err means the instance could not be reached, so
// nothing was sent to it.
func isDialError(err error) bool {
	if errors.Is(err, fasthttp.ErrDialTimeout) {
		return true
	}
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial"
}

// prepareFastRequest strips hop-by-hop headers and adds X-Forwarded-*.
func (p *Proxy) prepareFastRequest(ctx *fasthttp.RequestCtx) {
	h := &ctx.Request.Header
	if conn := h.Peek("Connection"); len(conn) > 0 {
		removeConnectionTokens(conn, h.Del)
		h.Del("Connection")
	}
	h.ResetConnectionClose()
	for _, name := range hopHeaders {
		if len(h.Peek(name)) > 0 {
			h.Del(name)
		}
	}
	setForwarded(ctx)
}

// setForwarded appends the client to X-Forwarded-For and sets X-Forwarded-Proto
// and X-Forwarded-Host.
func setForwarded(ctx *fasthttp.RequestCtx) {
	h := &ctx.Request.Header
	var buf [64]byte
	b := buf[:0]
	if prior := h.Peek("X-Forwarded-For"); len(prior) > 0 {
		b = append(append(b, prior...), ", "...)
	}
	b = appendRemoteIP(b, ctx.RemoteAddr())
	h.SetBytesV("X-Forwarded-For", b)
	if ctx.IsTLS() {
		ctx.Request.URI().SetScheme("http") // instances speak plaintext
		h.Set("X-Forwarded-Proto", "https")
	} else {
		h.Set("X-Forwarded-Proto", "http")
	}
	h.SetBytesV("X-Forwarded-Host", h.Host())
}

// appendRemoteIP appends the IP of a TCP address without allocating.
func appendRemoteIP(b []byte, a net.Addr) []byte {
	if ta, ok := a.(*net.TCPAddr); ok {
		if ip, ok := netip.AddrFromSlice(ta.IP); ok {
			return ip.Unmap().AppendTo(b)
		}
	}
	return append(b, a.String()...)
}

// removeConnectionTokens deletes the headers named in a Connection header.
func removeConnectionTokens(v []byte, del func(string)) {
	start := 0
	for i := 0; i <= len(v); i++ {
		if i < len(v) && v[i] != ',' {
			continue
		}
		tok := trimSpace(v[start:i])
		start = i + 1
		if len(tok) == 0 || asciiEqualFold(tok, "close") || asciiEqualFold(tok, "keep-alive") {
			continue
		}
		del(string(tok))
	}
}

func trimSpace(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t') {
		b = b[1:]
	}
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\t') {
		b = b[:len(b)-1]
	}
	return b
}

func asciiEqualFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := range b {
		c := b[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != s[i] {
			return false
		}
	}
	return true
}

// cleanFastResponse strips hop-by-hop headers from an upstream response and keeps
// the client connection open whatever the instance said about its own.
func cleanFastResponse(r *fasthttp.Response) {
	h := &r.Header
	if conn := h.Peek("Connection"); len(conn) > 0 {
		removeConnectionTokens(conn, h.Del)
		h.Del("Connection")
	}
	h.ResetConnectionClose()
	for _, name := range hopHeaders {
		if len(h.Peek(name)) > 0 {
			h.Del(name)
		}
	}
}

// upstreamBody streams an upstream response body to the client, counting bytes
// and ending the request's in-flight time when the body is done.
type upstreamBody struct {
	up   *fasthttp.Response
	r    io.Reader
	m    *slotMetrics
	n    uint64
	done bool
}

func (b *upstreamBody) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	b.n += uint64(n)
	return n, err
}

// upstreamBodyPool recycles upstreamBody values; fasthttp closes a response body
// stream exactly once (and forgets it), so a closed value is free to reuse.
var upstreamBodyPool = sync.Pool{New: func() any { return new(upstreamBody) }}

// Close counts the bytes and releases the upstream response, which returns its
// connection to the pool when the body was read to the end.
func (b *upstreamBody) Close() error {
	if b.done {
		return nil
	}
	b.done = true
	b.m.bytesOut.Add(b.n)
	b.m.inflight.Add(-1)
	err := b.up.CloseBodyStream()
	fasthttp.ReleaseResponse(b.up)
	*b = upstreamBody{done: true}
	upstreamBodyPool.Put(b)
	return err
}

// relayBody hands the upstream body to the client response; the server closes the
// stream after writing it, which releases up.
func (p *Proxy) relayBody(ctx *fasthttp.RequestCtx, up *fasthttp.Response, m *slotMetrics) {
	if !up.IsBodyStream() {
		// No body (HEAD, 204, 304): keep the instance's Content-Length header.
		if body := up.Body(); len(body) > 0 {
			m.bytesOut.Add(uint64(len(body)))
			ctx.Response.SetBody(body)
		} else {
			ctx.Response.SkipBody = true
		}
		fasthttp.ReleaseResponse(up)
		m.inflight.Add(-1)
		return
	}
	size := up.Header.ContentLength()
	if size < 0 {
		size = -1 // chunked towards the client, whatever framing the instance used
	}
	b := upstreamBodyPool.Get().(*upstreamBody)
	*b = upstreamBody{up: up, r: up.BodyStream(), m: m}
	ctx.Response.SetBodyStream(b, size)
}
