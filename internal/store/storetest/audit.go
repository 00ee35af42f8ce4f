package storetest

import (
	"strings"
	"testing"

	"github.com/sluicehq/sluice/internal/audit"
)

// OpenAudit opens a fresh, empty audit log for one test.
type OpenAudit func(t *testing.T) audit.Store

// RunAudit runs the audit log's conformance suite (bounds, counts, paging, pruning)
// against stores made by open. internal/auth/authtest covers filtering.
func RunAudit(t *testing.T, open OpenAudit) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s audit.Store)
	}{
		{"BoundedEntry", testAuditBounded},
		{"Count", testAuditCount},
		{"Pages", testAuditPages},
		{"PruneExported", testAuditPrune},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, open(t)) })
	}
}

func appendN(t *testing.T, s audit.Store, n int) []audit.Entry {
	t.Helper()
	out := make([]audit.Entry, n)
	for i := range out {
		out[i] = audit.Entry{At: at(i), Actor: "ana", Action: "apply", Target: "workflow/web", Outcome: audit.OutcomeOK, Status: 200}
		if err := s.AppendAudit(ctxT(t), &out[i]); err != nil {
			t.Fatalf("append %d: %v", i, err)
		}
	}
	return out
}

// testAuditBounded: a huge URL or summary is stored cut, with a note saying so.
func testAuditBounded(t *testing.T, s audit.Store) {
	huge := "/api/v1/" + strings.Repeat("é", 100_000)
	e := audit.Entry{At: at(0), Actor: strings.Repeat("a", 10_000), Remote: "10.0.0.1:1", Action: "POST",
		Target: huge, Outcome: audit.OutcomeDenied, Status: 401, Summary: strings.Repeat("s", 1<<20)}
	if err := s.AppendAudit(ctxT(t), &e); err != nil {
		t.Fatal(err)
	}
	got, err := s.ListAudit(ctxT(t), audit.Filter{})
	if err != nil || len(got) != 1 {
		t.Fatalf("list: %d entries, %v", len(got), err)
	}
	g := got[0]
	for _, f := range []struct {
		name  string
		value string
		limit int
	}{{"actor", g.Actor, audit.MaxShortField}, {"target", g.Target, audit.MaxTarget}, {"summary", g.Summary, audit.MaxSummary}} {
		if len(f.value) > f.limit || !strings.Contains(f.value, audit.TruncatedMark) {
			t.Errorf("%s: %d bytes (limit %d), truncation note: %t", f.name, len(f.value), f.limit, strings.Contains(f.value, audit.TruncatedMark))
		}
	}
	if !strings.HasPrefix(g.Target, "/api/v1/éé") || !strings.HasSuffix(g.Target, "bytes]") {
		t.Errorf("target %q: want the start of the path and the note", g.Target)
	}
}

// testAuditCount: an entry stands for one request unless it counts more.
func testAuditCount(t *testing.T, s audit.Store) {
	one := audit.Entry{At: at(0), Actor: "ana", Action: "run", Outcome: audit.OutcomeOK, Status: 202}
	many := audit.Entry{At: at(60), Actor: "anonymous", Remote: "10.0.0.9", Action: audit.ActionRejected,
		Outcome: audit.OutcomeDenied, Status: 401, Count: 100_000}
	for _, e := range []*audit.Entry{&one, &many} {
		if err := s.AppendAudit(ctxT(t), e); err != nil {
			t.Fatal(err)
		}
	}
	got, err := s.ListAudit(ctxT(t), audit.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].Count != 1 || got[1].Count != 100_000 {
		t.Fatalf("got %+v, want counts 1 and 100000", got)
	}
}

// testAuditPages: After and Limit walk the log page by page, each entry once.
func testAuditPages(t *testing.T, s audit.Store) {
	want := appendN(t, s, 7)
	var got []audit.Entry
	var after int64
	for pages := 0; ; pages++ {
		if pages > 10 {
			t.Fatal("paging does not end")
		}
		page, err := s.ListAudit(ctxT(t), audit.Filter{After: after, Limit: 3})
		if err != nil {
			t.Fatal(err)
		}
		if len(page) > 3 {
			t.Fatalf("page of %d entries, limit 3", len(page))
		}
		if len(page) == 0 {
			break
		}
		got = append(got, page...)
		after = page[len(page)-1].Seq
	}
	if len(got) != len(want) {
		t.Fatalf("%d entries over the pages, want %d", len(got), len(want))
	}
	for i := range got {
		if got[i].Seq != want[i].Seq {
			t.Fatalf("entry %d: seq %d, want %d", i, got[i].Seq, want[i].Seq)
		}
	}
}

// testAuditPrune: pruning removes exactly the entries through the exported seq.
func testAuditPrune(t *testing.T, s audit.Store) {
	es := appendN(t, s, 5)
	n, err := s.PruneAudit(ctxT(t), es[2].Seq, "/var/lib/sluice/audit-export.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	if n != 3 {
		t.Errorf("removed %d, want 3", n)
	}
	got, err := s.ListAudit(ctxT(t), audit.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].Seq != es[3].Seq || got[1].Seq != es[4].Seq {
		t.Fatalf("left %+v, want the last two entries", got)
	}
	if n, err := s.PruneAudit(ctxT(t), es[2].Seq, "again"); err != nil || n != 0 {
		t.Errorf("pruning again: %d, %v; want 0, nil", n, err)
	}
	next := appendN(t, s, 1)[0]
	if next.Seq <= es[4].Seq {
		t.Errorf("seq %d after pruning, want above %d (seqs are never reused)", next.Seq, es[4].Seq)
	}
}
