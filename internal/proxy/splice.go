package proxy

import (
	"io"
	"net"
	"sync"
)

// closeWriter is a connection that can half-close its sending side.
type closeWriter interface{ CloseWrite() error }

// splice copies a→b and b→a until both directions end, half-closing where the
// connection supports it, and returns the bytes copied each way. aR and bR are
// the readers of a and b (they may hold bytes already buffered).
func splice(a net.Conn, aR io.Reader, b net.Conn, bR io.Reader) (aToB, bToA int64) {
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		aToB, _ = io.Copy(b, aR)
		halfClose(b)
	}()
	bToA, _ = io.Copy(a, bR)
	halfClose(a)
	wg.Wait()
	a.Close()
	b.Close()
	return aToB, bToA
}

// halfClose ends the sending side of c, or all of c when it cannot half-close.
func halfClose(c net.Conn) {
	if cw, ok := c.(closeWriter); ok {
		if cw.CloseWrite() == nil {
			return
		}
	}
	c.Close()
}
