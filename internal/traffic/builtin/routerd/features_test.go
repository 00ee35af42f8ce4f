package routerd_test

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluicehq/sluice/internal/platform/local/localtest"

	"github.com/sluicehq/sluice/internal/platform"
	"github.com/sluicehq/sluice/internal/spec"
	"github.com/sluicehq/sluice/internal/traffic"
	"github.com/sluicehq/sluice/internal/traffic/builtin"
	"github.com/sluicehq/sluice/internal/traffic/builtin/routerd"
)

// envRouter parses an Environment whose router.builtin block ends with extra
// (e.g. ", mode: tcp") and returns its router serving src, in the test process
// ("inprocess") or as a router process driven by a Client ("separate").
func envRouter(t *testing.T, process, extra string, src staticSource) (traffic.Router, string) {
	t.Helper()
	listen := localtest.FreeAddr(t)
	doc := fmt.Sprintf(`apiVersion: sluice.dev/v1alpha1
kind: Environment
metadata: {name: test}
spec:
  platform: {type: local}
  router: {type: builtin, builtin: {listen: "%s"%s}}
`, listen, extra)
	env, err := spec.ParseEnvironment("env.yaml", []byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	settings := routerd.SettingsOf(*env.Spec.Router.Builtin)
	if process == "separate" {
		exe, _ := os.Executable()
		c, err := routerd.NewClient(routerd.ClientOptions{Dir: filepath.Join(t.TempDir(), "router"), Settings: settings, Executable: exe, Source: src})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close(context.Background()) })
		if err := c.Restore(t.Context()); err != nil {
			t.Fatal(err)
		}
		stopRouterAtEnd(t, c)
		return c, listen
	}
	cfg, err := settings.ProxyConfig()
	if err != nil {
		t.Fatal(err)
	}
	r, err := builtin.New(builtin.Options{Listen: listen, Proxy: cfg, Mirror: settings.Mirror(), Source: src})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close(context.Background()) })
	return r, listen
}

// ensure sets a service up with weights.
func ensure(t *testing.T, r traffic.Router, rt traffic.Route, w traffic.Weights) {
	t.Helper()
	if err := r.Ensure(t.Context(), rt); err != nil {
		t.Fatal(err)
	}
	if err := r.SetWeights(t.Context(), rt.Service, w, ""); err != nil {
		t.Fatal(err)
	}
}

var processes = []string{"inprocess", "separate"}

// TestTCPMode: mode: tcp splits connections; an echo service answers through it.
func TestTCPMode(t *testing.T) {
	for _, process := range processes {
		t.Run(process, func(t *testing.T) {
			src := staticSource{
				{Service: "echo", Slot: platform.Green}: {echoServer(t, "green:")},
				{Service: "echo", Slot: platform.Blue}:  {echoServer(t, "blue:")},
			}
			r, listen := envRouter(t, process, ", mode: tcp", src)
			ensure(t, r, traffic.Route{Service: traffic.ServiceRef{Service: "echo"}}, traffic.All(platform.Blue))
			c, err := net.DialTimeout("tcp", listen, 5*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			c.SetDeadline(time.Now().Add(10 * time.Second))
			fmt.Fprintf(c, "hello\n")
			line, err := bufio.NewReader(c).ReadString('\n')
			if err != nil || line != "blue:hello\n" {
				t.Fatalf("echo through the router: %q, %v; want blue:hello", line, err)
			}
		})
	}
}

// TestTLSListener: tls: {cert, key} terminates TLS with the environment's
// certificate (checked against a test CA); plaintext still works.
func TestTLSListener(t *testing.T) {
	for _, process := range processes {
		t.Run(process, func(t *testing.T) {
			ca, cert, key := testCertificates(t, "shop.test")
			src := staticSource{{Service: "shop", Slot: platform.Green}: {backend(t, "v1")}}
			r, listen := envRouter(t, process, fmt.Sprintf(", tls: {cert: %q, key: %q}", cert, key), src)
			ensure(t, r, traffic.Route{Service: shop}, traffic.All(platform.Green))
			hc := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: ca, ServerName: "shop.test"}}}
			resp, err := hc.Get("https://" + listen + "/")
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 || string(body) != "v1" || resp.TLS == nil {
				t.Fatalf("over TLS: %d %q (tls %v)", resp.StatusCode, body, resp.TLS != nil)
			}
			if status, body, err := get(http.DefaultClient, "http://"+listen+"/"); err != nil || status != 200 || body != "v1" {
				t.Fatalf("plaintext next to TLS: %d %q %v", status, body, err)
			}
			untrusted := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{ServerName: "shop.test"}}}
			if _, err := untrusted.Get("https://" + listen + "/"); err == nil {
				t.Fatal("a client without the test CA accepted the certificate")
			}
		})
	}
}

// TestMirror: mirror: {to: blue, percent: 100} copies every request routed to
// green to blue; the copies are counted at blue, the users' answers come from
// green.
func TestMirror(t *testing.T) {
	for _, process := range processes {
		t.Run(process, func(t *testing.T) {
			var copies atomic.Int64
			src := staticSource{
				{Service: "shop", Slot: platform.Green}: {backend(t, "v1")},
				{Service: "shop", Slot: platform.Blue}:  {countingBackend(t, "v2", &copies)},
			}
			r, listen := envRouter(t, process, ", mirror: {to: blue, percent: 100}", src)
			ensure(t, r, traffic.Route{Service: shop}, traffic.All(platform.Green))
			for range 20 {
				if status, body, err := get(http.DefaultClient, "http://"+listen+"/"); err != nil || status != 200 || body != "v1" {
					t.Fatalf("user request: %d %q %v; want v1 from green", status, body, err)
				}
			}
			waitFor(t, "20 mirrored requests at blue", func() bool { return copies.Load() >= 20 })
			if n := copies.Load(); n != 20 {
				t.Fatalf("blue received %d copies, want 20", n)
			}
		})
	}
}

// TestServicesByHost: two services share the listen address, chosen by Host
// (also over TLS); another name is answered 404.
func TestServicesByHost(t *testing.T) {
	for _, process := range processes {
		t.Run(process, func(t *testing.T) {
			src := staticSource{
				{Service: "shop", Slot: platform.Green}: {backend(t, "shop")},
				{Service: "cart", Slot: platform.Green}: {backend(t, "cart")},
			}
			r, listen := envRouter(t, process, "", src)
			ensure(t, r, traffic.Route{Service: shop, Hosts: []string{"shop.test"}}, traffic.All(platform.Green))
			ensure(t, r, traffic.Route{Service: traffic.ServiceRef{Service: "cart"}, Hosts: []string{"Cart.Test"}}, traffic.All(platform.Green))
			for host, want := range map[string]string{"shop.test": "shop", "cart.test:80": "cart", "CART.test": "cart"} {
				status, body := getHost(t, listen, host)
				if status != 200 || body != want {
					t.Errorf("Host %s: %d %q, want %s", host, status, body, want)
				}
			}
			if status, _ := getHost(t, listen, "other.test"); status != http.StatusNotFound {
				t.Errorf("unknown host: %d, want 404", status)
			}
			err := r.Ensure(t.Context(), traffic.Route{Service: traffic.ServiceRef{Service: "pay"}, Hosts: []string{"shop.test"}})
			if err == nil || !contains(err.Error(), "shop.test") {
				t.Fatalf("a third service claiming shop.test: %v", err)
			}
			if err := r.Release(t.Context(), traffic.ServiceRef{Service: "cart"}); err != nil {
				t.Fatal(err)
			}
			if status, body := getHost(t, listen, "shop.test"); status != 200 || body != "shop" {
				t.Fatalf("shop after cart's release: %d %q", status, body)
			}
		})
	}
}

// getHost sends a GET with a Host header.
func getHost(t *testing.T, listen, host string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, "http://"+listen+"/", nil)
	req.Host = host
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// echoServer answers each line with prefix + line.
func echoServer(t *testing.T, prefix string) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				br := bufio.NewReader(c)
				for {
					line, err := br.ReadString('\n')
					if err != nil {
						return
					}
					io.WriteString(c, prefix+line)
				}
			}()
		}
	}()
	return ln.Addr().String()
}

// countingBackend is backend that counts its requests.
func countingBackend(t *testing.T, version string, n *atomic.Int64) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		io.WriteString(w, version)
	}), ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(ln) //nolint:errcheck // ends at Close
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().String()
}

// testCertificates writes a test CA's certificate for name (and 127.0.0.1) and
// its key to files; it returns the CA pool and the files.
func testCertificates(t *testing.T, name string) (*x509.CertPool, string, string) {
	t.Helper()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "sluice test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	caCert, _ := x509.ParseCertificate(caDER)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: name}, DNSNames: []string{name},
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
		NotBefore:   time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, caCert, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, _ := x509.MarshalECPrivateKey(key)
	dir := t.TempDir()
	cert, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	os.WriteFile(cert, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), 0o600)
	pool := x509.NewCertPool()
	pool.AddCert(caCert)
	return pool, cert, keyFile
}
