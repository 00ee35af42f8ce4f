package main

import (
	"strings"
	"testing"
)

// TestAuditPages: `sluice audit` prints one page and the command for the next,
// --after continues from that cursor, --all prints every entry, and a page larger
// than the server's maximum is refused before any request.
func TestAuditPages(t *testing.T) {
	c, admin := newAuthCLI(t)
	c.env["SLUICE_TOKEN"] = admin
	for _, u := range []string{"u1", "u2", "u3", "u4", "u5"} {
		c.ok("", "token", "create", u)
	}
	code, first, errb := c.sluice("", "audit", "--action", "token.create", "--limit", "2")
	out := first
	if code != 0 || strings.Count(out, "token.create") != 2 || !strings.Contains(errb, "more entries: sluice audit --after ") {
		t.Fatalf("first page: %d\n%s%s", code, out, errb)
	}
	cursor := strings.Fields(strings.SplitN(errb, "--after ", 2)[1])[0]
	lines := strings.Split(strings.TrimSpace(first), "\n")
	if last := strings.Fields(lines[len(lines)-1]); last[0] != cursor {
		t.Fatalf("cursor %s, want the seq of the page's last entry:\n%s", cursor, first)
	}
	code, out, errb = c.sluice("", "audit", "--action", "token.create", "--limit", "2", "--after", cursor)
	if code != 0 || strings.Count(out, "token.create") != 2 || strings.Contains(out, "\n"+cursor+" ") {
		t.Fatalf("second page after %s: %d\n%s%s", cursor, code, out, errb)
	}
	if out := c.ok("", "audit", "--action", "token.create", "--all"); strings.Count(out, "token.create") != 5 {
		t.Fatalf("--all:\n%s", out)
	}
	if out := c.ok("", "audit", "--action", "token.create", "--all", "--limit", "3"); strings.Count(out, "token.create") != 3 {
		t.Fatalf("--all --limit 3:\n%s", out)
	}
	if out := c.ok("", "audit", "--action", "token.create", "-o", "jsonl"); strings.Count(out, "\n") != 5 {
		t.Fatalf("-o jsonl:\n%s", out)
	}
	if code, _, errb := c.sluice("", "audit", "--limit", "5000"); code == 0 || !strings.Contains(errb, "--limit 5000") {
		t.Fatalf("--limit 5000: %d %s", code, errb)
	}
}
