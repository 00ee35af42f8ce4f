package deploy

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
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	corev1 "k8s.io/api/core/v1"
)

// bootstrapToken is the token the test's Secret holds.
const bootstrapToken = "sluice_0123456789ab_" + "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQ"

var (
	buildOnce sync.Once
	binary    string
	buildErr  error
)

// sluiceBinary builds cmd/sluice once per test run, as the image tool does.
func sluiceBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "sluice-deploy-test-")
		if err != nil {
			buildErr = err
			return
		}
		binary = filepath.Join(dir, "sluice")
		cmd := exec.Command("go", "build", "-o", binary, "./cmd/sluice")
		cmd.Dir = repoRoot
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("build sluice: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binary
}

// postgresDSN returns a DSN on a fresh schema of the test PostgreSQL server;
// without one the test skips, or fails under CI=true.
func postgresDSN(t *testing.T) string {
	t.Helper()
	dsn := os.Getenv("SLUICE_TEST_POSTGRES_DSN")
	if dsn == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("SLUICE_TEST_POSTGRES_DSN is not set under CI=true: run the tests via make test")
		}
		t.Skip(`SLUICE_TEST_POSTGRES_DSN is not set: run eval "$(scripts/postgres.sh start)" first`)
	}
	schema := fmt.Sprintf("deploy_%d", time.Now().UnixNano()%1e9)
	sql := func(q string) {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, dsn)
		if err != nil {
			t.Fatalf("postgres: %v", err)
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, q); err != nil {
			t.Fatalf("postgres: %s: %v", q, err)
		}
	}
	sql("CREATE SCHEMA " + schema)
	t.Cleanup(func() { sql("DROP SCHEMA " + schema + " CASCADE") })
	sep := "?"
	if strings.Contains(dsn, "?") {
		sep = "&"
	}
	return dsn + sep + "search_path=" + schema
}

// TestServerStartsWithPodTemplate starts sluice with exactly the args and env of the
// pod templates — the chart's (SQLite; PostgreSQL with TLS) and the plain manifests'
// — with mounted files at local paths and the listen port free, and waits for
// /readyz; the Secret's bootstrap token must then be the admin token.
func TestServerStartsWithPodTemplate(t *testing.T) {
	t.Run("chart, SQLite", func(t *testing.T) {
		objs, err := render("sluice-system", map[string]any{"replicas": 1, "bootstrap": map[string]any{"existingSecret": "sluice-bootstrap"}})
		if err != nil {
			t.Fatal(err)
		}
		startPod(t, deployment(t, find(t, objs, "Deployment", "sluice")).Spec.Template.Spec, secrets(t, ""), nil)
	})
	t.Run("chart, PostgreSQL and TLS", func(t *testing.T) {
		objs, err := render("sluice-system", postgresValues())
		if err != nil {
			t.Fatal(err)
		}
		sec := secrets(t, postgresDSN(t))
		startPod(t, deployment(t, find(t, objs, "Deployment", "sluice")).Spec.Template.Spec, sec, sec["sluice-tls"]["ca.crt"])
	})
	t.Run("plain manifests", func(t *testing.T) {
		objs := manifests(t, "sluice.yaml")
		startPod(t, deployment(t, find(t, objs, "Deployment", "sluice")).Spec.Template.Spec, secrets(t, postgresDSN(t)), nil)
	})
}

// secrets are the Secrets the pod templates name, by name and key.
func secrets(t *testing.T, dsn string) map[string]map[string][]byte {
	t.Helper()
	ca, crt, key := certificate(t)
	return map[string]map[string][]byte{
		"sluice-bootstrap": {"token": []byte(bootstrapToken + "\n")},
		"sluice-database":  {"url": []byte(dsn)},
		"sluice-tls":       {"tls.crt": crt, "tls.key": key, "ca.crt": ca},
	}
}

// startPod runs the container of spec as its pod would, and checks it serves.
func startPod(t *testing.T, spec corev1.PodSpec, secrets map[string]map[string][]byte, caPEM []byte) {
	t.Helper()
	c := spec.Containers[0]
	mounts := mountLocally(t, spec, c, secrets)
	port := freePort(t)
	args := make([]string, len(c.Args))
	for i, a := range c.Args {
		args[i] = localPath(a, mounts)
		if i > 0 && c.Args[i-1] == "--addr" {
			host, _, _ := net.SplitHostPort(a)
			args[i] = net.JoinHostPort(host, port)
		}
	}
	env := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir()}
	for _, e := range c.Env {
		switch {
		case e.ValueFrom == nil:
			env = append(env, e.Name+"="+e.Value)
		case e.ValueFrom.SecretKeyRef != nil:
			r := e.ValueFrom.SecretKeyRef
			v, ok := secrets[r.Name][r.Key]
			if !ok {
				t.Fatalf("env %s names Secret %s key %s, which the test does not have", e.Name, r.Name, r.Key)
			}
			env = append(env, e.Name+"="+string(v))
		default:
			t.Fatalf("env %s: a source the test does not provide: %+v", e.Name, e.ValueFrom)
		}
	}
	t.Logf("sluice %s", strings.Join(args, " "))
	bin := sluiceBinary(t) // built before the clock of the start starts: a first build is slow
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	var stderr syncBuffer
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env, cmd.Stdout, cmd.Stderr = env, io.Discard, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	defer func() { cmd.Process.Kill(); <-exited }()
	base, client := baseURL(spec, port, caPEM)
	waitReady(ctx, t, client, base, exited, &stderr)
	checkAdmin(ctx, t, client, base)
	if strings.Contains(stderr.String(), strings.TrimSpace(bootstrapToken)) {
		t.Error("the server logged the bootstrap token")
	}
}

// mountLocally writes the Secret volumes the container mounts into local
// directories and returns them by mount path; other volumes are empty directories.
func mountLocally(t *testing.T, spec corev1.PodSpec, c corev1.Container, secrets map[string]map[string][]byte) map[string]string {
	t.Helper()
	vols := map[string]corev1.Volume{}
	for _, v := range spec.Volumes {
		vols[v.Name] = v
	}
	mounts := map[string]string{}
	for _, m := range c.VolumeMounts {
		dir := t.TempDir()
		mounts[m.MountPath] = dir
		s := vols[m.Name].Secret
		if s == nil {
			continue
		}
		data, ok := secrets[s.SecretName]
		if !ok {
			t.Fatalf("volume %s mounts Secret %s, which the test does not have", m.Name, s.SecretName)
		}
		files := map[string]string{}
		for k := range data {
			files[k] = k
		}
		if len(s.Items) > 0 {
			files = map[string]string{}
			for _, it := range s.Items {
				files[it.Key] = it.Path
			}
		}
		for k, p := range files {
			if err := os.WriteFile(filepath.Join(dir, p), data[k], 0o440); err != nil {
				t.Fatal(err)
			}
		}
	}
	return mounts
}

// localPath replaces a mount path at the start of an argument with its local directory.
func localPath(arg string, mounts map[string]string) string {
	for mp, dir := range mounts {
		if arg == mp || strings.HasPrefix(arg, mp+"/") {
			return dir + strings.TrimPrefix(arg, mp)
		}
	}
	return arg
}

func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	return port
}

// baseURL is where the readiness probe of spec reaches the server, and a client
// that trusts caPEM when the probe speaks HTTPS.
func baseURL(spec corev1.PodSpec, port string, caPEM []byte) (string, *http.Client) {
	probe := spec.Containers[0].ReadinessProbe.HTTPGet
	if probe.Scheme != corev1.URISchemeHTTPS {
		return "http://127.0.0.1:" + port, &http.Client{Timeout: 10 * time.Second}
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(caPEM)
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, ServerName: "sluice"}}
	return "https://127.0.0.1:" + port, &http.Client{Timeout: 10 * time.Second, Transport: tr}
}

// waitReady polls /readyz until it answers 200, the server exits, or ctx ends.
func waitReady(ctx context.Context, t *testing.T, c *http.Client, base string, exited <-chan error, stderr *syncBuffer) {
	t.Helper()
	for {
		res, err := c.Get(base + "/readyz")
		if err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return
			}
		}
		select {
		case err := <-exited:
			t.Fatalf("sluice exited before it was ready: %v\n%s", err, stderr.String())
		case <-ctx.Done():
			t.Fatalf("sluice not ready: %v\n%s", err, stderr.String())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// checkAdmin asserts auth is on and the bootstrap token is an admin's.
func checkAdmin(ctx context.Context, t *testing.T, c *http.Client, base string) {
	t.Helper()
	get := func(token string) (int, string) {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+"/api/v1/whoami", nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		res, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(b)
	}
	if code, _ := get(""); code != http.StatusUnauthorized {
		t.Errorf("whoami without a token: %d, want 401 (auth on)", code)
	}
	if code, body := get(bootstrapToken); code != http.StatusOK || !strings.Contains(body, `"admin"`) {
		t.Errorf("whoami with the Secret's token: %d %s, want the admin", code, body)
	}
	res, err := c.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusOK || !strings.Contains(string(b), "go_goroutines") {
		t.Errorf("/metrics: %d, want Prometheus metrics:\n%.300s", res.StatusCode, b)
	}
}

// certificate makes a CA and a server certificate for the name "sluice".
func certificate(t *testing.T) (caPEM, certPEM, keyPEM []byte) {
	t.Helper()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test CA"}, IsCA: true,
		BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "sluice"}, DNSNames: []string{"sluice"},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, caTmpl, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	kb, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}),
		pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb})
}

// syncBuffer collects a process's output: exec's goroutine writes it while the test
// reads it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
