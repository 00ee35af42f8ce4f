package main

import (
	"bytes"
	"context"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestRouterCommandRefuses: `sluice router` without a directory, without a listen
// address (and no earlier settings) or on a corrupt state file stops with a
// message saying why, naming the file.
func TestRouterCommandRefuses(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	free := ln.Addr().String()
	ln.Close()
	corrupt := t.TempDir()
	if err := os.WriteFile(filepath.Join(corrupt, "state.json"), []byte(`{"sha256": "00", "state": {"services": {}}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		args []string
		want []string
	}{
		{"no dir", []string{"router", "--listen", free}, []string{"--dir is required"}},
		{"no listen", []string{"router", "--dir", t.TempDir()}, []string{"--listen is required"}},
		{"corrupt state", []string{"router", "--dir", corrupt, "--listen", free}, []string{"corrupt", filepath.Join(corrupt, "state.json"), "checksum mismatch"}},
		{"bad mode", []string{"router", "--dir", t.TempDir(), "--listen", free, "--mode", "udp"}, []string{`mode "udp"`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			code := run(context.Background(), tc.args, nil, &out, &errb, func(string) string { return "" })
			if code == 0 {
				t.Fatalf("exit 0, want a refusal; stderr:\n%s", errb.String())
			}
			for _, w := range tc.want {
				if !strings.Contains(errb.String(), w) {
					t.Errorf("stderr %q does not name %q", errb.String(), w)
				}
			}
		})
	}
}
