package loki_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// entry is one stored log line.
type entry struct {
	labels map[string]string
	ts     int64
	line   string
}

// fakeLoki follows Loki's documented query API for a subset of LogQL: a stream
// selector of equality matchers, line filters |= != |~, and
// sum(count_over_time(<log query>[<range>])) as a metric query. Like a
// multi-tenant Loki it requires X-Scope-OrgID, answers parse errors as plain text
// with 400, and refuses a limit above max_entries_limit_per_query (5000).
type fakeLoki struct {
	tenant  string
	mu      sync.Mutex
	entries []entry
	calls   int
}

func newFakeLoki(t *testing.T, tenant string) (*fakeLoki, *httptest.Server) {
	f := &fakeLoki{tenant: tenant}
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	return f, srv
}

func (f *fakeLoki) push(labels map[string]string, at time.Time, line string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.entries = append(f.entries, entry{labels, at.UnixNano(), line})
}

func (f *fakeLoki) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	f.calls++
	f.mu.Unlock()
	if r.Header.Get("X-Scope-OrgID") != f.tenant {
		http.Error(w, "no org id", http.StatusUnauthorized)
		return
	}
	switch r.URL.Path {
	case "/loki/api/v1/labels":
		writeJSON(w, map[string]any{"status": "success", "data": []string{"app", "slot"}})
	case "/loki/api/v1/query_range":
		f.queryRange(w, r)
	case "/loki/api/v1/query":
		f.instant(w, r)
	default:
		http.NotFound(w, r)
	}
}

var (
	selectorRE = regexp.MustCompile(`^\{([^}]*)\}`)
	matcherRE  = regexp.MustCompile(`^\s*([a-zA-Z_]\w*)\s*=\s*"([^"]*)"\s*$`)
	filterRE   = regexp.MustCompile(`^\s*(\|=|!=|\|~)\s*"([^"]*)"`)
	countRE    = regexp.MustCompile(`^sum\(count_over_time\((.*)\[(\w+)\]\)\)$`)
)

// match parses a log query and returns a predicate over entries.
func match(q string) (func(entry) bool, error) {
	q = strings.TrimSpace(q)
	m := selectorRE.FindStringSubmatch(q)
	if m == nil {
		return nil, fmt.Errorf("parse error at line 1, col 1: syntax error: unexpected %q, expecting {", q[:min(len(q), 8)])
	}
	want := map[string]string{}
	for _, part := range strings.Split(m[1], ",") {
		mm := matcherRE.FindStringSubmatch(part)
		if mm == nil {
			return nil, fmt.Errorf("parse error : syntax error in matcher %q", part)
		}
		want[mm[1]] = mm[2]
	}
	var filters []func(string) bool
	for rest := q[len(m[0]):]; strings.TrimSpace(rest) != ""; {
		fm := filterRE.FindStringSubmatch(rest)
		if fm == nil {
			return nil, fmt.Errorf("parse error : syntax error: unexpected %q", strings.TrimSpace(rest))
		}
		op, arg := fm[1], fm[2]
		switch op {
		case "|=":
			filters = append(filters, func(l string) bool { return strings.Contains(l, arg) })
		case "!=":
			filters = append(filters, func(l string) bool { return !strings.Contains(l, arg) })
		default:
			re, err := regexp.Compile(arg)
			if err != nil {
				return nil, fmt.Errorf("parse error : %v", err)
			}
			filters = append(filters, re.MatchString)
		}
		rest = rest[len(fm[0]):]
	}
	return func(e entry) bool {
		for k, v := range want {
			if e.labels[k] != v {
				return false
			}
		}
		for _, f := range filters {
			if !f(e.line) {
				return false
			}
		}
		return true
	}, nil
}

func (f *fakeLoki) queryRange(w http.ResponseWriter, r *http.Request) {
	v := r.URL.Query()
	pred, err := match(v.Get("query"))
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	limit, _ := strconv.Atoi(v.Get("limit"))
	if limit == 0 {
		limit = 100
	}
	if limit > 5000 {
		http.Error(w, fmt.Sprintf("max entries limit per query exceeded, limit > max_entries_limit (%d > 5000)", limit), http.StatusBadRequest)
		return
	}
	start, _ := strconv.ParseInt(v.Get("start"), 10, 64)
	end, _ := strconv.ParseInt(v.Get("end"), 10, 64)
	f.mu.Lock()
	var hits []entry
	for _, e := range f.entries {
		if e.ts >= start && e.ts < end && pred(e) {
			hits = append(hits, e)
		}
	}
	f.mu.Unlock()
	sort.SliceStable(hits, func(i, j int) bool { return hits[i].ts < hits[j].ts })
	if v.Get("direction") != "forward" {
		sort.SliceStable(hits, func(i, j int) bool { return hits[i].ts > hits[j].ts })
	}
	hits = hits[:min(limit, len(hits))]
	streams := map[string]*struct {
		Stream map[string]string `json:"stream"`
		Values [][2]string       `json:"values"`
	}{}
	var order []string
	for _, e := range hits {
		key := fmt.Sprint(e.labels)
		s := streams[key]
		if s == nil {
			s = &struct {
				Stream map[string]string `json:"stream"`
				Values [][2]string       `json:"values"`
			}{Stream: e.labels}
			streams[key] = s
			order = append(order, key)
		}
		s.Values = append(s.Values, [2]string{strconv.FormatInt(e.ts, 10), e.line})
	}
	result := []any{}
	for _, k := range order {
		result = append(result, streams[k])
	}
	writeJSON(w, map[string]any{"status": "success", "data": map[string]any{
		"resultType": "streams", "result": result, "stats": map[string]any{"summary": map[string]any{"totalEntriesReturned": len(hits)}},
	}})
}

func (f *fakeLoki) instant(w http.ResponseWriter, r *http.Request) {
	v := r.URL.Query()
	m := countRE.FindStringSubmatch(strings.TrimSpace(v.Get("query")))
	if m == nil {
		http.Error(w, "parse error : only sum(count_over_time(...)) is supported by this fake", http.StatusBadRequest)
		return
	}
	pred, err := match(m[1])
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	d, err := time.ParseDuration(m[2])
	if err != nil {
		http.Error(w, "parse error : bad range", http.StatusBadRequest)
		return
	}
	at, _ := strconv.ParseInt(v.Get("time"), 10, 64)
	n := 0
	f.mu.Lock()
	for _, e := range f.entries {
		if e.ts > at-int64(d) && e.ts <= at && pred(e) {
			n++
		}
	}
	f.mu.Unlock()
	result := []any{}
	if n > 0 {
		result = append(result, map[string]any{"metric": map[string]string{}, "value": []any{float64(at) / 1e9, strconv.Itoa(n)}})
	}
	writeJSON(w, map[string]any{"status": "success", "data": map[string]any{"resultType": "vector", "result": result}})
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(v)
}
