package proxy

import (
	"bytes"
	"crypto/tls"
	"net"
	"sync"
	"time"
)

// h2Preface is what an HTTP/2 client with prior knowledge sends first.
const h2Preface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"

// sniffTimeout bounds the wait for a new connection's first bytes.
const sniffTimeout = 10 * time.Second

// serveHTTPConn finds out what a client speaks from its first bytes and hands the
// connection to the right server: TLS is terminated here (ALPN h2 goes to net/http,
// anything else to the fast path), an h2c preface goes to net/http, everything
// else is HTTP/1.1 for the fast path.
func (p *Proxy) serveHTTPConn(c net.Conn) {
	pc, kind := sniff(c, p.cfg.TLS != nil)
	switch kind {
	case kindClosed:
		c.Close()
	case kindTLS:
		cfg := p.cfg.TLS.Clone()
		cfg.NextProtos = []string{"h2", "http/1.1"}
		tc := tls.Server(pc, cfg)
		tc.SetDeadline(time.Now().Add(sniffTimeout))
		if err := tc.Handshake(); err != nil {
			c.Close()
			return
		}
		tc.SetDeadline(time.Time{})
		if tc.ConnectionState().NegotiatedProtocol == "h2" {
			p.stdLn.handOff(tc)
			return
		}
		p.fast.ServeConn(tc) //nolint:errcheck // the connection's end is its only outcome
	case kindH2C:
		p.stdLn.handOff(pc)
	default:
		p.fast.ServeConn(pc) //nolint:errcheck // the connection's end is its only outcome
	}
}

// Connection kinds found by sniff.
const (
	kindHTTP1 = iota
	kindH2C
	kindTLS
	kindClosed
)

// sniff reads just enough of c to classify it and returns a connection that
// replays those bytes.
func sniff(c net.Conn, tlsOK bool) (net.Conn, int) {
	c.SetReadDeadline(time.Now().Add(sniffTimeout))
	defer c.SetReadDeadline(time.Time{})
	buf := make([]byte, 0, len(h2Preface))
	for {
		n, err := c.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if len(buf) > 0 {
			if kind, ok := classify(buf, tlsOK); ok {
				return &peekedConn{Conn: c, head: buf}, kind
			}
		}
		if err != nil {
			return c, kindClosed
		}
	}
}

// classify decides a kind from the first bytes, or reports that more are needed.
func classify(b []byte, tlsOK bool) (int, bool) {
	if b[0] == 0x16 && tlsOK {
		return kindTLS, true
	}
	n := min(len(b), len(h2Preface))
	if !bytes.Equal(b[:n], []byte(h2Preface[:n])) {
		return kindHTTP1, true
	}
	if n == len(h2Preface) {
		return kindH2C, true
	}
	return 0, false
}

// peekedConn replays the sniffed bytes before reading on from the connection.
type peekedConn struct {
	net.Conn
	head []byte
}

func (c *peekedConn) Read(b []byte) (int, error) {
	if len(c.head) > 0 {
		n := copy(b, c.head)
		c.head = c.head[n:]
		return n, nil
	}
	return c.Conn.Read(b)
}

// CloseWrite half-closes the underlying connection when it supports it.
func (c *peekedConn) CloseWrite() error {
	if cw, ok := c.Conn.(closeWriter); ok {
		return cw.CloseWrite()
	}
	return c.Conn.Close()
}

// chanListener is a net.Listener fed by handOff, so net/http can serve
// connections that the sniffer accepted.
type chanListener struct {
	ch    chan net.Conn
	done  chan struct{}
	once  sync.Once
	dummy net.Addr
}

func newChanListener() *chanListener {
	return &chanListener{ch: make(chan net.Conn), done: make(chan struct{}), dummy: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)}}
}

// handOff gives c to the listener's server, or closes it when the listener is
// closed.
func (l *chanListener) handOff(c net.Conn) {
	select {
	case l.ch <- c:
	case <-l.done:
		c.Close()
	}
}

func (l *chanListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.ch:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

func (l *chanListener) Close() error {
	l.once.Do(func() { close(l.done) })
	return nil
}

func (l *chanListener) Addr() net.Addr { return l.dummy }
