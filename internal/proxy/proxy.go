package proxy

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/sluicehq/sluice/internal/platform"
	"github.com/sluicehq/sluice/internal/traffic"
)

// ErrClosed is returned by Serve after Close or Shutdown.
var ErrClosed = errors.New("proxy: closed")

// Proxy is the weighted reverse proxy of one service. Its methods are safe for
// concurrent use.
type Proxy struct {
	cfg   Config
	table atomic.Pointer[table]
	mu    sync.Mutex // serialises writers of table

	metrics [2]slotMetrics

	fast    *fasthttp.Server
	std     *http.Server
	stdLn   *chanListener
	h1rp    http.Handler // net/http path to HTTP/1.1 instances
	h2rp    http.Handler // net/http path to h2c instances
	mirrorQ chan mirrorJob

	vhosts atomic.Pointer[vhosts] // set by SetHosts: a front proxy's dispatch table

	startOnce sync.Once
	draining  atomic.Bool // set by Shutdown and Close: Serve loops end with ErrClosed
	closing   atomic.Bool // set by Drain: HTTP/1.1 responses close their connection
	done      chan struct{}
	closeOnce sync.Once
	wg        sync.WaitGroup

	connMu    sync.Mutex
	conns     map[net.Conn]struct{}
	listeners map[net.Listener]struct{}

	loops     eventLoops   // the HTTP/1.1 event loops (Linux), started by the first Serve
	loopConns atomic.Int64 // client connections the loops serve
}

// New returns a proxy with weights 100% green and no endpoints. It starts nothing:
// Serve does.
func New(cfg Config) *Proxy {
	p := &Proxy{
		cfg:       cfg.withDefaults(),
		done:      make(chan struct{}),
		conns:     make(map[net.Conn]struct{}),
		listeners: make(map[net.Listener]struct{}),
	}
	p.table.Store(&table{weights: traffic.All(platform.Green), pools: [2]*pool{{}, {}}, sticky: p.cfg.StickyCookie})
	p.mirrorQ = make(chan mirrorJob, p.cfg.MirrorQueue)
	p.fast = p.newFastServer()
	p.stdLn = newChanListener()
	p.std, p.h1rp, p.h2rp = p.newStdServer()
	return p
}

// update applies f to a copy of the current table and publishes the copy.
func (p *Proxy) update(f func(t *table)) {
	p.mu.Lock()
	defer p.mu.Unlock()
	old := p.table.Load()
	t := &table{weights: old.weights, pools: old.pools, rules: old.rules, mirror: old.mirror, sticky: old.sticky}
	f(t)
	p.table.Store(t)
}

// SetWeights changes the split for new requests (and, in ModeTCP, new connections)
// at once; requests in flight finish where they started.
func (p *Proxy) SetWeights(w traffic.Weights) error {
	if err := w.Validate(); err != nil {
		return fmt.Errorf("proxy: set weights: %w", err)
	}
	p.update(func(t *table) { t.weights = w })
	return nil
}

// Weights returns the split the data plane applies now.
func (p *Proxy) Weights() traffic.Weights { return p.table.Load().weights }

// SetEndpoints replaces the instances of a slot. Addresses that stay keep their
// connection pools and health; requests in flight on removed instances complete.
func (p *Proxy) SetEndpoints(slot platform.Slot, addrs []string) error {
	if !slot.Valid() {
		return fmt.Errorf("proxy: set endpoints: invalid slot %q", slot)
	}
	p.update(func(t *table) {
		old := t.pools[slotIndex(slot)]
		known := make(map[string]*instance, len(old.instances))
		for _, in := range old.instances {
			known[in.addr] = in
		}
		np := &pool{}
		for _, a := range addrs {
			in := known[a]
			if in == nil {
				in = p.newInstance(slot, a)
				known[a] = in
			}
			np.instances = append(np.instances, in)
		}
		t.pools[slotIndex(slot)] = np
	})
	return nil
}

// SetRules replaces the header and cookie rules; the first matching rule wins.
func (p *Proxy) SetRules(rules []Rule) error {
	for i, r := range rules {
		if !r.Slot.Valid() || (r.Header == "") == (r.Cookie == "") {
			return fmt.Errorf("proxy: set rules: rule %d: need a valid slot and exactly one of header and cookie", i)
		}
	}
	rs := append([]Rule(nil), rules...)
	p.update(func(t *table) { t.rules = rs })
	return nil
}

// Rules returns a copy of the header and cookie rules in force.
func (p *Proxy) Rules() []Rule { return append([]Rule(nil), p.table.Load().rules...) }

// SetSticky turns sticky sessions on with the cookie name (see Config.StickyCookie),
// or off when name is empty, for new requests.
func (p *Proxy) SetSticky(name string) error {
	if strings.ContainsAny(name, " \t\r\n;,=\"") {
		return fmt.Errorf("proxy: set sticky: cookie name %q is not a token", name)
	}
	p.update(func(t *table) { t.sticky = name })
	return nil
}

// Sticky returns the name of the sticky-session cookie in force; empty when off.
func (p *Proxy) Sticky() string { return p.table.Load().sticky }

// SetMirror copies a share of the other slot's requests to m.Slot (see Mirror);
// Percent 0 stops mirroring.
func (p *Proxy) SetMirror(m Mirror) error {
	if m.Percent < 0 || m.Percent > 100 || (m.Percent > 0 && !m.Slot.Valid()) {
		return fmt.Errorf("proxy: set mirror: slot %q percent %d: need a valid slot and 0-100", m.Slot, m.Percent)
	}
	p.update(func(t *table) { t.mirror = m })
	return nil
}

// Snapshot copies both slots' counters; two snapshots subtract (Sub) into a window.
func (p *Proxy) Snapshot() MetricsSnapshot {
	return MetricsSnapshot{
		At:      time.Now(),
		Weights: p.Weights(),
		Green:   p.metrics[0].snapshot(),
		Blue:    p.metrics[1].snapshot(),
	}
}

// newInstance builds an instance with its HTTP/1.1 pools; it dials nothing yet.
func (p *Proxy) newInstance(slot platform.Slot, addr string) *instance {
	dial := func(a string) (net.Conn, error) { return fasthttp.DialTimeout(a, p.cfg.DialTimeout) }
	hc := &fasthttp.HostClient{
		Addr:                          addr,
		Dial:                          dial,
		MaxConns:                      p.cfg.MaxConnsPerInstance,
		MaxIdleConnDuration:           p.cfg.IdleTimeout,
		StreamResponseBody:            true,
		DisablePathNormalizing:        true,
		NoDefaultUserAgentHeader:      true,
		DisableHeaderNamesNormalizing: true,
		MaxConnWaitTimeout:            p.cfg.DialTimeout,
		MaxIdemponentCallAttempts:     upstreamAttempts,
		ReadBufferSize:                8 << 10,
		WriteBufferSize:               8 << 10,
	}
	mirror := &fasthttp.HostClient{
		Addr:                      addr,
		Dial:                      dial,
		MaxConns:                  p.cfg.MirrorWorkers * 2,
		MaxIdleConnDuration:       p.cfg.IdleTimeout,
		ReadTimeout:               5 * time.Second,
		WriteTimeout:              5 * time.Second,
		MaxResponseBodySize:       1 << 20,
		DisablePathNormalizing:    true,
		NoDefaultUserAgentHeader:  true,
		MaxIdemponentCallAttempts: 1,
	}
	return &instance{addr: addr, slot: slot, hc: hc, mirror: mirror}
}

// start launches the background goroutines once: prober, mirror workers and the
// net/http server for HTTP/2.
func (p *Proxy) start() {
	p.startOnce.Do(func() {
		p.wg.Add(1)
		go p.probeLoop()
		for i := 0; i < p.cfg.MirrorWorkers; i++ {
			p.wg.Add(1)
			go p.mirrorLoop()
		}
		if p.cfg.Mode == ModeHTTP {
			go p.std.Serve(p.stdLn) //nolint:errcheck // returns when stdLn closes
		}
	})
}

// Serve accepts connections on ln until ctx is done, Close is called or ln fails.
// It may be called for several listeners. It closes ln when it returns. On Linux,
// the connections of a TCP listener in ModeHTTP start on the event loops.
func (p *Proxy) Serve(ctx context.Context, ln net.Listener) error {
	if p.draining.Load() {
		return ErrClosed
	}
	p.start()
	sl := &servedListener{Listener: ln, stop: make(chan struct{})}
	p.connMu.Lock()
	p.listeners[sl] = struct{}{}
	p.connMu.Unlock()
	defer func() {
		p.connMu.Lock()
		delete(p.listeners, sl)
		p.connMu.Unlock()
		sl.Close()
	}()
	stop := context.AfterFunc(ctx, func() { sl.Close() })
	defer stop()
	if handled := p.serveLoop(ln, sl.stop); handled {
		if ctx.Err() != nil && !p.draining.Load() {
			return ctx.Err()
		}
		return ErrClosed
	}
	for {
		c, err := ln.Accept()
		if err != nil {
			if p.draining.Load() {
				return ErrClosed
			}
			if ctx.Err() != nil {
				return ctx.Err()
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				time.Sleep(5 * time.Millisecond)
				continue
			}
			return fmt.Errorf("proxy: accept: %w", err)
		}
		if !p.track(c, true) {
			c.Close()
			return ErrClosed
		}
		go p.serveConn(c)
	}
}

// servedListener is a listener Serve serves; closing it also ends the event
// loops' accepting on it.
type servedListener struct {
	net.Listener
	once sync.Once
	stop chan struct{}
}

func (l *servedListener) Close() error {
	l.once.Do(func() { close(l.stop) })
	return l.Listener.Close()
}

// track adds (add) or removes a client connection from the set Close closes; it
// reports false when the proxy is closed.
func (p *Proxy) track(c net.Conn, add bool) bool {
	p.connMu.Lock()
	defer p.connMu.Unlock()
	if !add {
		delete(p.conns, c)
		return true
	}
	select {
	case <-p.done:
		return false
	default:
	}
	p.conns[c] = struct{}{}
	return true
}

// serveConn serves one client connection in the configured mode.
func (p *Proxy) serveConn(c net.Conn) {
	defer p.track(c, false)
	if p.cfg.Mode == ModeTCP {
		if v := p.vhosts.Load(); v != nil {
			v.serveTCPByName(c)
			return
		}
		p.serveTCP(c)
		return
	}
	p.serveHTTPConn(c)
}

// Shutdown stops accepting, waits until no request is in flight or ctx is done,
// then closes everything.
func (p *Proxy) Shutdown(ctx context.Context) error {
	p.closeListeners()
	t := time.NewTicker(10 * time.Millisecond)
	defer t.Stop()
	for p.metrics[0].inflight.Load()+p.metrics[1].inflight.Load() > 0 {
		select {
		case <-ctx.Done():
			p.Close()
			return fmt.Errorf("proxy: shutdown: %w", ctx.Err())
		case <-t.C:
		}
	}
	return p.Close()
}

// closeListeners stops every Serve loop.
func (p *Proxy) closeListeners() {
	p.draining.Store(true)
	p.connMu.Lock()
	defer p.connMu.Unlock()
	for ln := range p.listeners {
		ln.Close()
	}
}

// Close stops every listener and closes every connection at once, in-flight
// requests included, and stops the background goroutines.
func (p *Proxy) Close() error {
	p.closeOnce.Do(func() {
		p.draining.Store(true)
		p.connMu.Lock()
		close(p.done)
		for ln := range p.listeners {
			ln.Close()
		}
		for c := range p.conns {
			c.Close()
		}
		p.connMu.Unlock()
		p.stdLn.Close()
		p.std.Close()
		for _, l := range p.loops.loops {
			l.stopAll()
		}
		p.wg.Wait()
	})
	return nil
}
