package routerd_test

import (
	"crypto/tls"
	"crypto/x509"
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/sluicehq/sluice/internal/platform"
	"github.com/sluicehq/sluice/internal/traffic"
)

// TestServicesBySNI: with mode: tcp, two services share the listen address, chosen
// by the TLS ClientHello's server name; TLS passes through untouched, so each client
// checks its own service's certificate against that service's CA (the router holds
// no certificate). A third service claiming a name is refused.
func TestServicesBySNI(t *testing.T) {
	for _, process := range processes {
		t.Run(process, func(t *testing.T) {
			shopCA, shopAddr := tlsInstance(t, "shop.test", "shop")
			cartCA, cartAddr := tlsInstance(t, "cart.test", "cart")
			src := staticSource{
				{Service: "shop", Slot: platform.Green}: {shopAddr},
				{Service: "cart", Slot: platform.Blue}:  {cartAddr},
			}
			r, listen := envRouter(t, process, ", mode: tcp", src)
			ensure(t, r, traffic.Route{Service: shop, Hosts: []string{"shop.test"}}, traffic.All(platform.Green))
			ensure(t, r, traffic.Route{Service: traffic.ServiceRef{Service: "cart"}, Hosts: []string{"cart.test"}}, traffic.All(platform.Blue))
			for _, tc := range []struct {
				name, want string
				ca         *x509.CertPool
			}{{"shop.test", "shop", shopCA}, {"cart.test", "cart", cartCA}, {"shop.test", "shop", shopCA}} {
				hc := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
					TLSClientConfig: &tls.Config{RootCAs: tc.ca, ServerName: tc.name}}}
				resp, err := hc.Get("https://" + listen + "/")
				if err != nil {
					t.Fatalf("%s through the router: %v", tc.name, err)
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				hc.CloseIdleConnections() // the router's Close waits for open connections
				if string(body) != tc.want || resp.TLS.PeerCertificates[0].Subject.CommonName != tc.name {
					t.Fatalf("%s: %q from %s, want %s", tc.name, body, resp.TLS.PeerCertificates[0].Subject.CommonName, tc.want)
				}
			}
			err := r.Ensure(t.Context(), traffic.Route{Service: traffic.ServiceRef{Service: "pay"}, Hosts: []string{"cart.test"}})
			if err == nil || !contains(err.Error(), "cart.test") {
				t.Fatalf("a third service claiming cart.test: %v", err)
			}
			// no default service: a connection without a name we serve is closed
			c, err := tls.Dial("tcp", listen, &tls.Config{ServerName: "other.test", InsecureSkipVerify: true})
			if err == nil {
				c.Close()
				t.Fatal("a TLS connection for other.test completed a handshake; want it closed")
			}
		})
	}
}

// tlsInstance serves HTTPS answering body with a certificate for name from a CA of
// its own, and returns that CA and the address.
func tlsInstance(t *testing.T, name, body string) (*x509.CertPool, string) {
	t.Helper()
	ca, certFile, keyFile := testCertificates(t, name)
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, body)
	}), ReadHeaderTimeout: 5 * time.Second, TLSConfig: &tls.Config{Certificates: []tls.Certificate{cert}}}
	go srv.ServeTLS(ln, "", "") //nolint:errcheck // ends at Close
	t.Cleanup(func() { srv.Close() })
	return ca, ln.Addr().String()
}
