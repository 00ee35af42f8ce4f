package proxy

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/valyala/fasthttp"
)

// vhosts is the dispatch table of a front proxy: the service proxy of each Host
// name, and the one that serves every other name (nil: none, answered 404).
type vhosts struct {
	byHost map[string]*Proxy
	def    *Proxy
}

// pick returns the proxy serving host (a Host header or an SNI name, with or
// without a port), or nil.
func (v *vhosts) pick(host string) *Proxy {
	if len(v.byHost) > 0 {
		if h, _, err := net.SplitHostPort(host); err == nil {
			host = h
		}
		if q := v.byHost[strings.ToLower(strings.TrimSuffix(host, "."))]; q != nil {
			return q
		}
	}
	return v.def
}

// pickBytes is pick for a fast-path Host header, without allocating for names
// that are already lower case.
func (v *vhosts) pickBytes(host []byte) *Proxy {
	if len(v.byHost) == 0 {
		return v.def
	}
	if i := bytes.LastIndexByte(host, ':'); i >= 0 && bytes.IndexByte(host[i:], ']') < 0 {
		host = host[:i] // a port (an IPv6 literal's colons are inside brackets)
	}
	host = bytes.TrimSuffix(host, []byte("."))
	for _, c := range host {
		if 'A' <= c && c <= 'Z' {
			return v.pick(string(host))
		}
	}
	if q := v.byHost[string(host)]; q != nil {
		return q
	}
	return v.def
}

// SetHosts makes p a front proxy: it keeps its listeners, TLS and protocol
// detection, and hands each request (in ModeTCP, each connection) to the proxy of
// its Host name in byHost, or to def for any other name. Names are matched without
// port, case-insensitively. A request no proxy serves is answered 404. The targets
// are never served directly; SetHosts starts their background work (probes,
// mirroring). SetHosts(nil, nil) turns dispatch off.
func (p *Proxy) SetHosts(byHost map[string]*Proxy, def *Proxy) {
	if byHost == nil && def == nil {
		p.vhosts.Store(nil)
		return
	}
	v := &vhosts{byHost: map[string]*Proxy{}, def: def}
	for h, q := range byHost {
		v.byHost[strings.ToLower(strings.TrimSuffix(h, "."))] = q
		q.start()
	}
	if def != nil {
		def.start()
	}
	p.vhosts.Store(v)
}

// dispatchFast hands a fast-path request to the proxy of its Host; it reports
// false when p serves it itself (no dispatch table).
func (p *Proxy) dispatchFast(ctx *fasthttp.RequestCtx) bool {
	v := p.vhosts.Load()
	if v == nil {
		return false
	}
	if p.closing.Load() {
		defer ctx.SetConnectionClose()
	}
	q := v.pickBytes(ctx.Host())
	if q == nil {
		ctx.Error(fmt.Sprintf("no service for host %q\n", ctx.Host()), fasthttp.StatusNotFound)
		return true
	}
	q.handleFast(ctx)
	return true
}

// Drain hands the connections over gracefully, for a restart that passed the
// listening sockets to another process: it stops accepting, answers every further
// HTTP/1.1 request with "Connection: close" so clients reconnect (to the new
// process) after their current response, waits until every connection has ended
// or ctx is done, then closes what is left and stops like Close.
func (p *Proxy) Drain(ctx context.Context) error {
	p.closing.Store(true)
	p.closeListeners()
	go p.std.Shutdown(ctx) //nolint:errcheck // Close below ends what Shutdown leaves
	t := time.NewTicker(10 * time.Millisecond)
	defer t.Stop()
	for p.openConns() > 0 {
		select {
		case <-ctx.Done():
			p.Close()
			return fmt.Errorf("proxy: drain: %d connections left: %w", p.openConns(), ctx.Err())
		case <-t.C:
		}
	}
	return p.Close()
}

// openConns counts the client connections being served.
func (p *Proxy) openConns() int {
	p.connMu.Lock()
	defer p.connMu.Unlock()
	return len(p.conns) + int(p.loopConns.Load())
}
