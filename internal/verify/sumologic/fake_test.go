package sumologic_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// message is one stored log message.
type message struct {
	at       time.Time
	category string
	raw      string
}

// job is a search job in the fake.
type job struct {
	query      string
	from, to   int64
	polls      int
	lastPoll   time.Time
	cancelled  bool
	deleted    bool
	matches    []message
	aggregated bool
}

// fakeSumo follows the Search Job API's documented behaviour: POST
// /api/v1/search/jobs answers 202 with a Location and sets a node cookie that
// later calls must send back (otherwise the job is unknown, as on another node);
// a job gathers results over a few polls, is cancelled when not polled within
// keepAlive, and has records (for "| count") or messages (paged). Errors are
// {"status","code","message"}; the first create can be rate limited with 429.
// With perSecond set it enforces the documented rate limit (four requests a
// second per user: a request with perSecond others in the second before it is
// answered 429). A status holds the warnings that accumulated since the previous
// status call: warnings[i] are those new at poll i+1.
type fakeSumo struct {
	id, key   string
	keepAlive time.Duration
	limitOnce bool
	perSecond int
	warnings  [][]string
	recent    []time.Time // starts of the requests of the last second
	rejected  int         // requests answered 429 for the rate limit

	mu       sync.Mutex
	messages []message
	jobs     map[string]*job
	next     int
	limited  int
}

func newFakeSumo(t *testing.T) (*fakeSumo, *httptest.Server) {
	f := &fakeSumo{id: "suABCDEF", key: "sumo-key-0123456789", keepAlive: 2 * time.Second, jobs: map[string]*job{}}
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	return f, srv
}

func (f *fakeSumo) add(category string, at time.Time, raw string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.messages = append(f.messages, message{at, category, raw})
}

func sumoError(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]any{"status": status, "id": "ABC12-DEF34", "code": code, "message": msg})
}

func (f *fakeSumo) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if id, key, ok := r.BasicAuth(); !ok || id != f.id || key != f.key {
		sumoError(w, http.StatusUnauthorized, "unauthorized", "Credential could not be verified.")
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.overLimit() {
		f.rejected++
		sumoError(w, http.StatusTooManyRequests, "rate.limit.exceeded", "Rate limit exceeded.")
		return
	}
	switch {
	case r.URL.Path == "/api/v1/collectors":
		w.Write([]byte(`{"collectors":[{"id":1,"name":"shop"}]}`))
	case r.URL.Path == "/api/v1/search/jobs" && r.Method == http.MethodPost:
		f.create(w, r)
	case strings.HasPrefix(r.URL.Path, "/api/v1/search/jobs/"):
		f.jobCall(w, r)
	default:
		http.NotFound(w, r)
	}
}

func (f *fakeSumo) create(w http.ResponseWriter, r *http.Request) {
	if f.limitOnce && f.limited == 0 {
		f.limited++
		sumoError(w, http.StatusTooManyRequests, "rate.limit.exceeded", "Rate limit exceeded.")
		return
	}
	var in struct {
		Query    string
		From, To int64
	}
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil || in.Query == "" || in.From >= in.To {
		sumoError(w, http.StatusBadRequest, "searchjob.invalid.timestamp.from", "The 'from' field contains an invalid time.")
		return
	}
	search, agg, _ := strings.Cut(in.Query, "|")
	agg = strings.TrimSpace(agg)
	if agg != "" && agg != "count" {
		sumoError(w, http.StatusBadRequest, "searchjob.invalid.query", "Unexpected operator: "+agg)
		return
	}
	j := &job{query: in.Query, from: in.From, to: in.To, lastPoll: time.Now(), aggregated: agg == "count"}
	terms := strings.Fields(search)
	for _, m := range f.messages {
		if ms := m.at.UnixMilli(); ms >= in.From && ms < in.To && matches(m, terms) {
			j.matches = append(j.matches, m)
		}
	}
	f.next++
	id := fmt.Sprintf("%X", 0x1000+f.next)
	f.jobs[id] = j
	http.SetCookie(w, &http.Cookie{Name: "AWSALB", Value: "node-" + id, Path: "/"})
	w.Header().Set("Location", "http://"+r.Host+"/api/v1/search/jobs/"+id)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusAccepted)
	fmt.Fprintf(w, `{"id":%q,"link":{"rel":"self","href":"http://%s/api/v1/search/jobs/%s"}}`, id, r.Host, id)
}

func matches(m message, terms []string) bool {
	for _, t := range terms {
		if k, v, ok := strings.Cut(t, "="); ok && k == "_sourceCategory" {
			if m.category != v {
				return false
			}
		} else if !strings.Contains(strings.ToLower(m.raw), strings.ToLower(t)) {
			return false
		}
	}
	return true
}

func (f *fakeSumo) jobCall(w http.ResponseWriter, r *http.Request) {
	rest := strings.TrimPrefix(r.URL.Path, "/api/v1/search/jobs/")
	id, sub, _ := strings.Cut(rest, "/")
	j := f.jobs[id]
	if c, err := r.Cookie("AWSALB"); j == nil || j.deleted || err != nil || c.Value != "node-"+id {
		sumoError(w, http.StatusNotFound, "searchjob.jobid.invalid", "The supplied search job ID is invalid.")
		return
	}
	if time.Since(j.lastPoll) > f.keepAlive {
		j.cancelled = true
	}
	j.lastPoll = time.Now()
	w.Header().Set("Content-Type", "application/json")
	switch {
	case r.Method == http.MethodDelete:
		j.deleted = true
		w.Write([]byte(`{"id":"` + id + `"}`))
	case sub == "":
		j.polls++
		state := "GATHERING RESULTS"
		switch {
		case j.cancelled:
			state = "CANCELLED"
		case j.polls >= 3:
			state = "DONE GATHERING RESULTS"
		}
		records := 0
		if j.aggregated && len(j.matches) > 0 {
			records = 1
		}
		warnings := []string{}
		if j.polls <= len(f.warnings) {
			warnings = append(warnings, f.warnings[j.polls-1]...)
		}
		json.NewEncoder(w).Encode(map[string]any{"state": state, "messageCount": len(j.matches), "recordCount": records,
			"histogramBuckets": []any{}, "pendingErrors": []string{}, "pendingWarnings": warnings})
	case sub == "records":
		recs := []any{}
		if j.aggregated && len(j.matches) > 0 {
			recs = append(recs, map[string]any{"map": map[string]string{"_count": strconv.Itoa(len(j.matches))}})
		}
		json.NewEncoder(w).Encode(map[string]any{"fields": []any{map[string]any{"name": "_count", "fieldType": "int", "keyField": false}}, "records": recs})
	case sub == "messages":
		off, _ := strconv.Atoi(r.URL.Query().Get("offset"))
		lim, _ := strconv.Atoi(r.URL.Query().Get("limit"))
		page := []any{}
		for i := off; i < min(off+lim, len(j.matches)); i++ {
			m := j.matches[i]
			page = append(page, map[string]any{"map": map[string]string{"_raw": m.raw, "_messagetime": strconv.FormatInt(m.at.UnixMilli(), 10), "_sourcecategory": m.category}})
		}
		json.NewEncoder(w).Encode(map[string]any{"fields": []any{}, "messages": page})
	default:
		http.NotFound(w, r)
	}
}

// limitWindow is the fake's second: a little shorter, for the jitter between a
// request leaving the client and reaching the server.
const limitWindow = 950 * time.Millisecond

// overLimit records a request and says whether it breaks the rate limit.
func (f *fakeSumo) overLimit() bool {
	if f.perSecond == 0 {
		return false
	}
	now := time.Now()
	keep := f.recent[:0]
	for _, at := range f.recent {
		if now.Sub(at) < limitWindow {
			keep = append(keep, at)
		}
	}
	f.recent = append(keep, now)
	return len(keep) >= f.perSecond
}

// open counts the jobs not deleted.
func (f *fakeSumo) open() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, j := range f.jobs {
		if !j.deleted {
			n++
		}
	}
	return n
}
