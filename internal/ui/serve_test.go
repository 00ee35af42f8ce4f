package ui_test

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/internal/server"
)

// runServer runs server.Run with cfg on a free loopback port until the test ends,
// and returns the address it listens on.
func runServer(t *testing.T, cfg server.Config) string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	ready, done := make(chan string, 1), make(chan error, 1)
	cfg.Addr, cfg.Ready = "127.0.0.1:0", func(a string) { ready <- a }
	go func() { done <- server.Run(ctx, cfg) }()
	var addr string
	select {
	case addr = <-ready:
	case err := <-done:
		t.Fatalf("server did not start: %v", err)
	case <-time.After(20 * time.Second):
		t.Fatal("server did not start")
	}
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("server: %v", err)
		}
	})
	return addr
}

// bootstrapToken reads the admin token a server with authentication wrote to path.
func bootstrapToken(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("bootstrap token: %v", err)
	}
	return strings.TrimSpace(string(b))
}

// callJSON makes one API request to url with the header name set to value (and
// Content-Type to ctype, when not empty), fails the test on an answer of 300 or more,
// and decodes the JSON answer into out.
func callJSON(t *testing.T, method, url, name, value, ctype, body string, out any) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set(name, value)
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if res.StatusCode >= 300 {
		var e any
		json.NewDecoder(res.Body).Decode(&e)
		t.Fatalf("%s %s: HTTP %d: %v", method, url, res.StatusCode, e)
	}
	if out != nil {
		if err := json.NewDecoder(res.Body).Decode(out); err != nil {
			t.Fatalf("%s %s: decode: %v", method, url, err)
		}
	}
}
