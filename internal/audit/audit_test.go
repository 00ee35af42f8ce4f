package audit_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/sluicehq/sluice/internal/audit"
	"github.com/sluicehq/sluice/internal/store/sqlite"
)

var t0 = time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)

func openStore(t *testing.T) *sqlite.Store {
	t.Helper()
	s, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "sluice.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// TestRetentionExportsThenPrunes: entries older than the retention are appended to
// the export file, then removed; younger ones stay; a second run finds nothing.
func TestRetentionExportsThenPrunes(t *testing.T) {
	s := openStore(t)
	ctx := context.Background()
	for i := range 5 {
		e := audit.Entry{At: t0.Add(time.Duration(i) * time.Hour), Actor: "ana", Action: fmt.Sprintf("a%d", i), Outcome: audit.OutcomeOK}
		if err := s.AppendAudit(ctx, &e); err != nil {
			t.Fatal(err)
		}
	}
	dest := filepath.Join(t.TempDir(), "export.jsonl")
	r := &audit.Retention{Store: s, Keep: 2 * time.Hour, Dest: dest, Now: func() time.Time { return t0.Add(5 * time.Hour) }}
	n, err := r.Prune(ctx)
	if err != nil || n != 3 {
		t.Fatalf("prune: %d, %v; want 3 entries removed", n, err)
	}
	var exported []string
	f, err := os.Open(dest)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for sc := bufio.NewScanner(f); sc.Scan(); {
		var e audit.Entry
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			t.Fatalf("export line %q: %v", sc.Text(), err)
		}
		exported = append(exported, e.Action)
	}
	if fmt.Sprint(exported) != "[a0 a1 a2]" {
		t.Errorf("exported %v, want [a0 a1 a2]", exported)
	}
	if fi, err := os.Stat(dest); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("export file mode: %v, %v; want 0600", fi.Mode(), err)
	}
	left, err := s.ListAudit(ctx, audit.Filter{})
	if err != nil || len(left) != 2 || left[0].Action != "a3" {
		t.Fatalf("left %+v, %v; want a3 and a4", left, err)
	}
	if n, err := r.Prune(ctx); err != nil || n != 0 {
		t.Errorf("second prune: %d, %v; want nothing", n, err)
	}
}

// TestRejectionsPerSourceAndMinute: requests are counted per source (whatever the
// port), status and minute, and sources beyond MaxSources share one entry.
func TestRejectionsPerSourceAndMinute(t *testing.T) {
	s := openStore(t)
	now := t0
	r := audit.NewRejections(s, func() time.Time { return now }, nil)
	for i := range 10 {
		r.Add(fmt.Sprintf("192.0.2.1:%d", 4000+i), "anonymous", 401, "POST", "/api/v1/apply")
	}
	r.Add("192.0.2.1:5000", "anonymous", 429, "POST", "/api/v1/apply")
	for i := range audit.MaxSources + 5 {
		r.Add(fmt.Sprintf("10.%d.%d.1:80", i/256, i%256), "anonymous", 401, "POST", "/x")
	}
	now = t0.Add(time.Minute)
	r.Add("192.0.2.1:4000", "anonymous", 401, "POST", "/api/v1/apply")
	if err := r.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	entries, err := s.ListAudit(context.Background(), audit.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	counts := map[string]int64{}
	for _, e := range entries {
		counts[fmt.Sprintf("%s %s %d", e.At.Format("15:04"), e.Remote, e.Status)] += e.Count
	}
	for key, want := range map[string]int64{
		"12:00 192.0.2.1 401": 10, "12:00 192.0.2.1 429": 1, "12:01 192.0.2.1 401": 1,
		"12:00 " + audit.OtherSource + " 401": 7, // 1,005 sources, 2 keys taken by 192.0.2.1
	} {
		if counts[key] != want {
			t.Errorf("%s: counted %d, want %d", key, counts[key], want)
		}
	}
	if len(entries) != audit.MaxSources+2 {
		t.Errorf("%d entries, want %d (MaxSources keys in the first minute, one in the second)", len(entries), audit.MaxSources+2)
	}
}
