package server

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/internal/api"
	"github.com/sluicehq/sluice/internal/engine"
	"github.com/sluicehq/sluice/internal/store"
	"github.com/sluicehq/sluice/internal/store/sqlite"
)

func TestLoopbackRule(t *testing.T) {
	for _, tc := range []struct {
		addr string
		sec  Security
		ok   bool
	}{
		{"127.0.0.1:7070", Security{}, true},
		{"[::1]:7070", Security{}, true},
		{"localhost:7070", Security{}, true},
		{":7070", Security{}, false},
		{"0.0.0.0:7070", Security{}, false},
		{"10.1.2.3:7070", Security{}, false},
		{"sluice.internal:7070", Security{}, false},
		{":7070", Security{InsecureNoAuth: true}, true},
		{"0.0.0.0:7070", Security{Auth: true}, true},
	} {
		err := checkListen(tc.addr, tc.sec)
		if (err == nil) != tc.ok || (err != nil && !errors.Is(err, ErrInsecureListen)) {
			t.Errorf("%s %+v: %v, want ok=%v", tc.addr, tc.sec, err, tc.ok)
		}
	}
}

// TestSetupSecurity bootstraps once, prints nothing the second time, and serves TLS.
func TestSetupSecurity(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "sluice.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var logs, out bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	cert, key := selfSigned(t)
	s := Security{Auth: true, BootstrapOutput: &out, TLSCertFile: cert, TLSKeyFile: key}
	sec, err := setupSecurity(ctx, s, "0.0.0.0:0", st, log)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "sluice_") {
		t.Fatalf("no bootstrap token printed: %q", out.String())
	}
	first := out.String()
	out.Reset()
	if _, err := setupSecurity(ctx, s, "0.0.0.0:0", st, log); err != nil || out.Len() > 0 {
		t.Fatalf("second start printed %q (%v)", out.String(), err)
	}
	secret := strings.Fields(strings.SplitN(first, "once:", 2)[1])[0]

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	d := api.Deps{Store: st, Engine: noEngine{}}
	sec.apply(&d)
	srv := &http.Server{Handler: api.New(d), ReadHeaderTimeout: time.Second}
	go srv.Serve(sec.listener(ln))
	defer srv.Close()
	c := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	for _, tc := range []struct {
		token string
		want  int
	}{{"", http.StatusUnauthorized}, {secret, http.StatusOK}} {
		req, _ := http.NewRequest("GET", "https://"+ln.Addr().String()+"/api/v1/whoami", nil)
		if tc.token != "" {
			req.Header.Set("Authorization", "Bearer "+tc.token)
		}
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tc.want || resp.TLS == nil {
			t.Fatalf("token %q: %d (tls %v), want %d", tc.token, resp.StatusCode, resp.TLS != nil, tc.want)
		}
	}
	if _, err := setupSecurity(ctx, Security{TLSCertFile: cert}, "127.0.0.1:0", st, log); err == nil {
		t.Fatal("a certificate without a key was accepted")
	}
}

func selfSigned(t *testing.T) (string, string) {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "sluice test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		t.Fatal(err)
	}
	kb, err := x509.MarshalECPrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	cert, key := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(cert, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(key, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600); err != nil {
		t.Fatal(err)
	}
	return cert, key
}

// noEngine is an api.Engine for tests that start nothing.
type noEngine struct{}

func (noEngine) Start(context.Context, engine.StartRequest) (store.Execution, error) {
	return store.Execution{}, errors.New("no engine")
}
func (noEngine) Decide(context.Context, string, engine.Decision) error  { return nil }
func (noEngine) Rollback(context.Context, string, string, string) error { return nil }
func (noEngine) Abort(context.Context, string, string, string) error    { return nil }
func (noEngine) Pause(context.Context, string, string) error            { return nil }
func (noEngine) Resume(context.Context, string, string) error           { return nil }
func (noEngine) Retry(context.Context, string, string) error            { return nil }
