package proxy

import (
	"bufio"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/internal/platform"
	"github.com/sluicehq/sluice/internal/traffic"
)

// TestTCPModeSNIPassThrough serves two TLS services and a plaintext default on one
// TCP-mode address: each TLS connection reaches the service of its SNI name with
// its TLS untouched (the instance's own certificate answers), a name no service
// claims and a plaintext connection reach the default, and without a default such a
// connection is closed.
func TestTCPModeSNIPassThrough(t *testing.T) {
	tlsService := func(name string) *Proxy {
		srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprintf(w, "%s saw %s", name, r.TLS.ServerName)
		}))
		t.Cleanup(srv.Close)
		p := New(Config{Service: name, Mode: ModeTCP})
		must(t, p.SetEndpoints(platform.Green, []string{srv.Listener.Addr().String()}))
		must(t, p.SetWeights(traffic.All(platform.Green)))
		t.Cleanup(func() { p.Close() })
		return p
	}
	plain := New(Config{Service: "plain", Mode: ModeTCP})
	must(t, plain.SetEndpoints(platform.Green, []string{lineEcho(t, "plain")}))
	must(t, plain.SetWeights(traffic.All(platform.Green)))
	t.Cleanup(func() { plain.Close() })
	front := New(Config{Service: "front", Mode: ModeTCP})
	front.SetHosts(map[string]*Proxy{"a.example.com": tlsService("a"), "b.example.com": tlsService("b")}, plain)
	addr := startProxy(t, front)

	for _, name := range []string{"a.example.com", "B.example.com", "a.example.com", "b.example.com"} {
		want := strings.ToLower(name[:1]) + " saw " + name
		if got := getOverTLS(t, addr, name); got != want {
			t.Errorf("TLS to %s: %q, want %q", name, got, want)
		}
	}
	if got := echoLine(t, addr); got != "plain:ping\n" {
		t.Errorf("plaintext connection: %q, want the default service's answer", got)
	}
	// a TLS name no service claims goes to the default, which is no TLS server
	c, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", addr,
		&tls.Config{ServerName: "c.example.com", InsecureSkipVerify: true})
	if err == nil {
		c.Close()
		t.Error("TLS to an unclaimed name completed a handshake; want the plaintext default service")
	}

	front.SetHosts(map[string]*Proxy{"a.example.com": tlsService("a2")}, nil)
	if got := getOverTLS(t, addr, "a.example.com"); got != "a2 saw a.example.com" {
		t.Errorf("after the new table: %q", got)
	}
	conn, err := net.Dial("tcp", addr)
	must(t, err)
	defer conn.Close()
	fmt.Fprintf(conn, "ping\n")
	conn.SetReadDeadline(time.Now().Add(30 * time.Second))
	if b, err := io.ReadAll(conn); err != nil || len(b) != 0 {
		t.Errorf("plaintext without a default: read %q %v, want the connection closed", b, err)
	}
}

// getOverTLS sends one HTTPS request through addr with SNI name and returns the body.
func getOverTLS(t *testing.T, addr, name string) string {
	t.Helper()
	client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{
		DialContext:     (&net.Dialer{}).DialContext,
		TLSClientConfig: &tls.Config{ServerName: name, InsecureSkipVerify: true}, // the test servers' certificates
	}}
	defer client.CloseIdleConnections()
	resp, err := client.Get("https://" + addr + "/")
	if err != nil {
		t.Fatalf("GET with SNI %s: %v", name, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	must(t, err)
	return string(b)
}

// lineEcho serves a TCP service that answers one line with "name:line".
func lineEcho(t *testing.T, name string) string {
	return tcpServer(t, func(c net.Conn) {
		line, _ := bufio.NewReader(c).ReadString('\n')
		fmt.Fprintf(c, "%s:%s", name, line)
	})
}

// echoLine sends "ping" over plaintext TCP and returns the whole answer.
func echoLine(t *testing.T, addr string) string {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	must(t, err)
	defer c.Close()
	fmt.Fprintf(c, "ping\n")
	c.SetReadDeadline(time.Now().Add(30 * time.Second))
	b, err := io.ReadAll(c)
	must(t, err)
	return string(b)
}
