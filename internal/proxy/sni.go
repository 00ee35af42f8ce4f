package proxy

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"time"
)

// tlsHandshakeRecord is the first byte of a TLS connection: a handshake record.
const tlsHandshakeRecord = 0x16

// serveTCPByName serves a ModeTCP connection of a front proxy that has names to
// choose from: a TLS connection goes, untouched, to the proxy of its ClientHello's
// server name (SNI pass-through: the instances terminate TLS); anything else, or a
// name no service claims, to the default service. A connection no proxy serves is
// closed.
func (v *vhosts) serveTCPByName(c net.Conn) {
	if len(v.byHost) == 0 && v.def != nil {
		v.def.serveTCP(c) // nothing to choose: keep the kernel's splice path
		return
	}
	name, r := peekServerName(c)
	q := v.def
	if name != "" {
		q = v.pick(name)
	}
	if q == nil {
		c.Close()
		return
	}
	q.serveTCPFrom(c, r)
}

// peekServerName reads the client's first bytes and, when they start a TLS
// ClientHello, returns its server name. The reader replays every byte read, so the
// connection can be passed on as the client sent it.
func peekServerName(c net.Conn) (string, io.Reader) {
	c.SetReadDeadline(time.Now().Add(sniffTimeout))
	defer c.SetReadDeadline(time.Time{})
	br := bufio.NewReader(c)
	first, err := br.Peek(1)
	if err != nil || first[0] != tlsHandshakeRecord {
		return "", br
	}
	var seen bytes.Buffer
	name := clientHelloName(io.TeeReader(br, &seen))
	return name, io.MultiReader(&seen, br)
}

// errHelloRead stops a handshake once the ClientHello has been read.
var errHelloRead = errors.New("client hello read")

// clientHelloName parses a ClientHello from r with crypto/tls, which stops at the
// hello (nothing is ever written to the client), and returns its server name.
func clientHelloName(r io.Reader) string {
	var name string
	cfg := &tls.Config{GetConfigForClient: func(h *tls.ClientHelloInfo) (*tls.Config, error) {
		name = h.ServerName
		return nil, errHelloRead
	}}
	tls.Server(readOnlyConn{r: r}, cfg).Handshake() //nolint:errcheck // errHelloRead, or a hello that is not TLS
	return name
}

// readOnlyConn lets crypto/tls read a ClientHello from a reader; it writes nothing.
type readOnlyConn struct {
	net.Conn // nil: only the methods below are called
	r        io.Reader
}

func (c readOnlyConn) Read(b []byte) (int, error)       { return c.r.Read(b) }
func (c readOnlyConn) Write(b []byte) (int, error)      { return 0, io.ErrClosedPipe }
func (c readOnlyConn) Close() error                     { return nil }
func (c readOnlyConn) SetDeadline(time.Time) error      { return nil }
func (c readOnlyConn) SetReadDeadline(time.Time) error  { return nil }
func (c readOnlyConn) SetWriteDeadline(time.Time) error { return nil }
func (c readOnlyConn) LocalAddr() net.Addr              { return &net.TCPAddr{} }
func (c readOnlyConn) RemoteAddr() net.Addr             { return &net.TCPAddr{} }
