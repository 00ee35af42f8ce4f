package api_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluicehq/sluice/internal/api"
	"github.com/sluicehq/sluice/internal/audit"
	"github.com/sluicehq/sluice/internal/auth"
	"github.com/sluicehq/sluice/internal/store/sqlite"
)

// floodRequests is how many anonymous bad requests TestAuditFlood sends.
const floodRequests = 100_000

// TestAuditFlood: 100,000 anonymous requests with bad or no credentials and long URLs,
// from 50 addresses over several minutes, grow the SQLite database by under 1 MB,
// and the audit log still accounts for every one of them.
//
//	go test ./internal/api -run TestAuditFlood -v
func TestAuditFlood(t *testing.T) {
	dir := t.TempDir()
	st, err := sqlite.Open(context.Background(), filepath.Join(dir, "sluice.db"))
	if err != nil {
		t.Fatal(err)
	}
	closed := false
	t.Cleanup(func() {
		if !closed {
			_ = st.Close()
		}
	})
	var ms atomic.Int64 // the clock moves 4 ms a request: 100,000 requests span 7 minutes
	now := func() time.Time { return clock.Add(time.Duration(ms.Load()) * time.Millisecond) }
	rej := audit.NewRejections(st, now, nil)
	h := api.New(api.Deps{Store: st, Engine: &engineSpy{}, Auth: auth.New(st), Audit: st, Rejections: rej, Now: now})
	before := fileBytes(t, filepath.Join(dir, "sluice.db"))

	target, err := url.Parse("/api/v1/workflows/" + strings.Repeat("x", 8<<10) + "/run")
	if err != nil {
		t.Fatal(err)
	}
	credentials := []string{"", "Authorization: Bearer sl_" + strings.Repeat("0", 40), "Cookie: " + api.SessionCookie + "=forged"}
	start := time.Now()
	for i := range floodRequests {
		ms.Add(4)
		req := floodRequest(target, fmt.Sprintf("198.51.100.%d:%d", i%50, 1024+i%50000))
		if c := credentials[i%len(credentials)]; c != "" {
			k, v, _ := strings.Cut(c, ": ")
			req.Header.Set(k, v)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusUnauthorized {
			t.Fatalf("request %d: %d %s, want 401", i, rec.Code, rec.Body)
		}
	}
	if err := rej.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	elapsed := time.Since(start).Round(time.Millisecond)
	entries, err := st.ListAudit(context.Background(), audit.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	// Closing checkpoints the write-ahead log into the database file and removes it:
	// what is left is what the requests added for good.
	wal := fileBytes(t, filepath.Join(dir, "sluice.db-wal"))
	closed = true
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	grew := fileBytes(t, filepath.Join(dir, "sluice.db")) - before
	t.Logf("%d anonymous bad requests in %v grew the database by %d bytes (write-ahead log before closing: %d bytes)",
		floodRequests, elapsed, grew, wal)
	if grew >= 1<<20 {
		t.Errorf("database grew by %d bytes, want under 1 MB", grew)
	}

	var counted int64
	for _, e := range entries {
		if e.Action != audit.ActionRejected || e.Status != http.StatusUnauthorized || len(e.Target) > audit.MaxTarget {
			t.Fatalf("entry %+v: want a bounded count of rejected requests", e)
		}
		counted += e.Count
	}
	if counted != floodRequests || len(entries) > 50*9 {
		t.Errorf("%d entries count %d requests; want at most one per source and minute (450), counting %d",
			len(entries), counted, floodRequests)
	}
}

// floodRequest is a POST as the server would read it off the wire, without parsing the
// long URL again for each request.
func floodRequest(target *url.URL, remote string) *http.Request {
	u := *target
	return &http.Request{Method: http.MethodPost, URL: &u, RequestURI: u.RequestURI(), Proto: "HTTP/1.1",
		ProtoMajor: 1, ProtoMinor: 1, Header: http.Header{"Content-Type": {"application/json"}},
		Body: io.NopCloser(strings.NewReader(`{"variables":{}}`)), Host: "127.0.0.1:7070", RemoteAddr: remote}
}

// fileBytes is the size of a file, 0 when there is none.
func fileBytes(t *testing.T, path string) int64 {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		return 0
	}
	return fi.Size()
}

// TestAuditPages: the audit listing answers bounded pages with a cursor that reaches
// every entry once, and refuses a page larger than audit.MaxPage.
func TestAuditPages(t *testing.T) {
	h := newAuthHarness(t)
	h.user("root", auth.RoleAdmin, "*")
	for i := range 5 {
		e := audit.Entry{At: clock, Actor: "ana", Action: "apply", Target: fmt.Sprintf("workflow/w%d", i), Outcome: audit.OutcomeOK}
		if err := h.sqlite.AppendAudit(context.Background(), &e); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct{ order, cursor, want string }{
		{"", "after", "workflow/w0,workflow/w1,workflow/w2,workflow/w3,workflow/w4"},
		{"newest", "before", "workflow/w4,workflow/w3,workflow/w2,workflow/w1,workflow/w0"},
	} {
		if got := auditPages(t, h, "/api/v1/audit?limit=2&action=apply&order="+tc.order+"&"+tc.cursor+"="); got != tc.want {
			t.Errorf("order %q: pages held %s, want %s", tc.order, got, tc.want)
		}
	}
	code, b := h.as("root", "GET", fmt.Sprintf("/api/v1/audit?limit=%d", audit.MaxPage+1), "")
	if code != http.StatusBadRequest || !strings.Contains(string(b), "limit") {
		t.Errorf("limit above the page size: %d %s, want 400 naming limit", code, b)
	}
	code, b = h.as("root", "GET", "/api/v1/audit?order=sideways", "")
	if code != http.StatusBadRequest || !strings.Contains(string(b), "order") {
		t.Errorf("unknown order: %d %s, want 400 naming order", code, b)
	}
}

// auditPages follows the cursor from url (which ends with the cursor's name and =)
// to the last page and returns the targets it saw, in order.
func auditPages(t *testing.T, h *authHarness, url string) string {
	t.Helper()
	var seen []string
	cursor := ""
	for pages := 0; ; pages++ {
		if pages > 5 {
			t.Fatal("the cursor does not end")
		}
		code, b := h.as("root", "GET", url+cursor, "")
		if code != http.StatusOK {
			t.Fatalf("page: %d %s", code, b)
		}
		var page api.AuditList
		if err := json.Unmarshal(b, &page); err != nil {
			t.Fatal(err)
		}
		if len(page.Items) > 2 {
			t.Fatalf("page of %d, limit 2", len(page.Items))
		}
		for _, e := range page.Items {
			seen = append(seen, e.Target)
		}
		if page.Next == "" {
			break
		}
		cursor = page.Next
	}
	return strings.Join(seen, ",")
}
