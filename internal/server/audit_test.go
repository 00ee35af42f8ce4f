package server

import (
	"context"
	"errors"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/internal/store/sqlite"
)

// TestSecondServerOnDataDir: a server whose data directory another process holds
// stops before it opens the database, naming the holder's PID.
func TestSecondServerOnDataDir(t *testing.T) {
	dir := t.TempDir()
	held, err := sqlite.LockDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer held.Unlock() //nolint:errcheck // the test's end
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err = Run(ctx, Config{Addr: "127.0.0.1:0", DataDir: dir, Ready: func(string) { t.Error("second server started") }})
	if !errors.Is(err, sqlite.ErrLocked) || !strings.Contains(err.Error(), "process "+strconv.Itoa(os.Getpid())) {
		t.Fatalf("second server: %v, want the data directory's holder named", err)
	}
	if _, err := os.Stat(dir + "/sluice.db"); err == nil {
		t.Error("the second server opened the database")
	}
}

// TestAuditRetentionSettings: a retention below the minimum, or with nowhere to
// export to, is refused before the server starts; the default export is in the data
// directory.
func TestAuditRetentionSettings(t *testing.T) {
	for _, tc := range []struct {
		cfg       Config
		want, err string
	}{
		{Config{}, "", ""},
		{Config{AuditRetention: time.Minute, DataDir: "/d"}, "", "at least 1h0m0s"},
		{Config{AuditRetention: 24 * time.Hour, DatabaseURL: "postgres://x"}, "", "needs --audit-export"},
		{Config{AuditRetention: 24 * time.Hour, DataDir: "/d"}, "/d/" + AuditExportFile, ""},
		{Config{AuditRetention: 24 * time.Hour, DataDir: "/d", AuditExport: "/var/log/a.jsonl"}, "/var/log/a.jsonl", ""},
	} {
		got, err := checkAuditRetention(tc.cfg)
		if got != tc.want || (err == nil) != (tc.err == "") || err != nil && !strings.Contains(err.Error(), tc.err) {
			t.Errorf("%+v: %q, %v; want %q, error %q", tc.cfg, got, err, tc.want, tc.err)
		}
	}
}
