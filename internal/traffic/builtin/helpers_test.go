package builtin_test

import (
	"encoding/json"
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/sluicehq/sluice/internal/sampleapp"
)

// startBackend serves the sample application in process and returns its address.
func startBackend(t *testing.T, version string) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: sampleapp.Handler(sampleapp.Config{Version: version}), ReadHeaderTimeout: time.Second}
	go srv.Serve(ln) //nolint:errcheck // ends at Close
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().String()
}

var client = &http.Client{Timeout: 5 * time.Second}

// get returns the body of a GET that must answer 200.
func get(t *testing.T, url string) string {
	t.Helper()
	resp, err := client.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s: %s", url, resp.Status, b)
	}
	return string(b)
}

// countVersions sends n requests to url and counts the versions that answered.
func countVersions(t *testing.T, url string, n int) map[string]int {
	t.Helper()
	out := map[string]int{}
	for range n {
		var r sampleapp.Response
		if err := json.Unmarshal([]byte(get(t, url)), &r); err != nil {
			t.Fatal(err)
		}
		out[r.Version]++
	}
	return out
}
