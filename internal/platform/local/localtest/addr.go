package localtest

import (
	"net"
	"testing"
)

// FreeAddr returns a loopback address that nothing listened on a moment ago, for
// a router or an instance a test starts.
func FreeAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}
