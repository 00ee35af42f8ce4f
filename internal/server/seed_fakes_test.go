package server

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// slotServer plays the pods of both slots of service shop, which the simulated
// nodes of the test control plane do not run: requests to /slot/<slot>/... are
// answered as that slot would answer (blue fails errorRate of its requests when
// told to), and /metrics exposes the counters the seed example's error-rate query
// reads, http_requests_total{service="shop",slot,code}, for Prometheus to scrape.
// It is where the environment's slotURL points the load test, and where the
// simulated users of the mesh send their requests.
type slotServer struct {
	*httptest.Server
	blueErrorRate float64

	mu     sync.Mutex
	counts map[[2]string]int // {slot, code} -> requests
}

func newSlotServer(t *testing.T, blueErrorRate float64) *slotServer {
	s := &slotServer{blueErrorRate: blueErrorRate, counts: map[[2]string]int{}}
	for _, slot := range []string{"green", "blue"} { // both codes exist from the first scrape: 0 errors is a value, not "no data"
		s.counts[[2]string{slot, "200"}] = 0
		s.counts[[2]string{slot, "500"}] = 0
	}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.Close)
	return s
}

func (s *slotServer) serve(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/metrics" {
		s.metrics(w)
		return
	}
	rest, ok := strings.CutPrefix(r.URL.Path, "/slot/")
	slot, _, _ := strings.Cut(rest, "/")
	if !ok || (slot != "green" && slot != "blue") {
		http.NotFound(w, r)
		return
	}
	code := http.StatusOK
	if slot == "blue" && rand.Float64() < s.blueErrorRate {
		code = http.StatusInternalServerError
	}
	s.mu.Lock()
	s.counts[[2]string{slot, fmt.Sprint(code)}]++
	s.mu.Unlock()
	w.WriteHeader(code)
	fmt.Fprintf(w, "shop %s\n", slot)
}

func (s *slotServer) metrics(w http.ResponseWriter) {
	s.mu.Lock()
	defer s.mu.Unlock()
	w.Header().Set("Content-Type", "text/plain; version=0.0.4")
	fmt.Fprintln(w, "# TYPE http_requests_total counter")
	for k, n := range s.counts {
		fmt.Fprintf(w, "http_requests_total{service=\"shop\",slot=%q,code=%q} %d\n", k[0], k[1], n)
	}
}

// served returns how many requests a slot answered with each code.
func (s *slotServer) served(slot string) (ok, failed int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.counts[[2]string{slot, "200"}], s.counts[[2]string{slot, "500"}]
}

// startPrometheus runs a Prometheus of the test's own (the binary scripts/prometheus.sh
// installs) scraping target every second; its own, so that two releases of service
// shop in parallel subtests do not share series. It returns the server's URL.
func startPrometheus(t *testing.T, target string) string {
	t.Helper()
	bin, err := exec.LookPath("prometheus")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("prometheus is not installed under CI=true; scripts/prometheus.sh start installs it")
		}
		t.Skip("prometheus is not installed: scripts/prometheus.sh start installs it")
	}
	dir := t.TempDir()
	conf := "global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: shop\n    static_configs:\n      - targets: ['" + target + "']\n"
	if err := os.WriteFile(filepath.Join(dir, "prometheus.yml"), []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	cmd := exec.Command(bin, "--config.file="+filepath.Join(dir, "prometheus.yml"),
		"--storage.tsdb.path="+filepath.Join(dir, "data"), "--web.listen-address="+addr)
	log, err := os.Create(filepath.Join(dir, "prometheus.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		t.Fatalf("start prometheus: %v", err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait(); log.Close() })
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		if resp, err := http.Get("http://" + addr + "/-/ready"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return "http://" + addr
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	b, _ := os.ReadFile(filepath.Join(dir, "prometheus.log"))
	t.Fatalf("prometheus on %s did not become ready:\n%s", addr, b)
	return ""
}

// fakeNerdGraph answers POST /graphql as New Relic's NerdGraph does
// (docs.newrelic.com, "NerdGraph tutorial: query your data using NRQL"): the NRQL
// query in variables.nrql, the API key in the API-Key header, rows in
// data.actor.account.nrql.results, and errors in an errors array with HTTP 200. An
// apdex() row holds the score with its satisfied, tolerating and frustrated counts.
func fakeNerdGraph(t *testing.T, key string, account int) (*httptest.Server, func() []string) {
	var mu sync.Mutex
	var seen []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var in struct {
			Variables struct {
				AccountID int    `json:"accountId"`
				NRQL      string `json:"nrql"`
			} `json:"variables"`
		}
		if r.Method != http.MethodPost || r.URL.Path != "/graphql" || json.NewDecoder(r.Body).Decode(&in) != nil {
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		switch {
		case r.Header.Get("API-Key") != key:
			w.Write([]byte(`{"errors":[{"message":"Invalid API key","extensions":{"errorClass":"UNAUTHORIZED"}}]}`))
			return
		case in.Variables.AccountID != account:
			w.Write([]byte(`{"data":{"actor":{"account":null}},"errors":[{"message":"Account not found or access denied"}]}`))
			return
		}
		mu.Lock()
		seen = append(seen, in.Variables.NRQL)
		mu.Unlock()
		row := map[string]any{"count": 120.0}
		if strings.Contains(in.Variables.NRQL, "apdex(duration)") {
			row = map[string]any{"score": 0.97, "s": 114.0, "t": 5.0, "f": 1.0, "count": 120.0}
		}
		json.NewEncoder(w).Encode(map[string]any{"data": map[string]any{"actor": map[string]any{"account": map[string]any{
			"nrql": map[string]any{"results": []any{row}}}}}})
	}))
	t.Cleanup(srv.Close)
	return srv, func() []string { mu.Lock(); defer mu.Unlock(); return append([]string(nil), seen...) }
}

// fakeSumoLogic follows the Search Job API (help.sumologic.com, "Search Job API"):
// basic auth with the access ID and key, POST /api/v1/search/jobs answers 202 with
// the job's Location and a node cookie that every later call sends back, a job is
// "GATHERING RESULTS" at its first poll and "DONE GATHERING RESULTS" after, and its
// messages are paged. The shop's logs hold no exception or panic, so every search
// finds no message.
func fakeSumoLogic(t *testing.T, id, key string) (*httptest.Server, func() []string) {
	var mu sync.Mutex
	var queries []string
	polls := map[string]int{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if u, p, ok := r.BasicAuth(); !ok || u != id || p != key {
			w.WriteHeader(http.StatusUnauthorized)
			w.Write([]byte(`{"status":401,"id":"X","code":"unauthorized","message":"Credential could not be verified."}`))
			return
		}
		mu.Lock()
		defer mu.Unlock()
		job, sub, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/api/v1/search/jobs/"), "/")
		switch {
		case r.URL.Path == "/api/v1/collectors":
			w.Write([]byte(`{"collectors":[{"id":1,"name":"shop"}]}`))
		case r.URL.Path == "/api/v1/search/jobs" && r.Method == http.MethodPost:
			var in struct{ Query string }
			json.NewDecoder(r.Body).Decode(&in)
			queries = append(queries, in.Query)
			job = fmt.Sprintf("J%d", len(queries))
			http.SetCookie(w, &http.Cookie{Name: "AWSALB", Value: "node-" + job, Path: "/"})
			w.Header().Set("Location", "http://"+r.Host+"/api/v1/search/jobs/"+job)
			w.WriteHeader(http.StatusAccepted)
			fmt.Fprintf(w, `{"id":%q,"link":{"rel":"self","href":"http://%s/api/v1/search/jobs/%s"}}`, job, r.Host, job)
		case !strings.HasPrefix(r.URL.Path, "/api/v1/search/jobs/"):
			http.NotFound(w, r)
		case cookieOf(r) != "node-"+job:
			w.WriteHeader(http.StatusNotFound)
			w.Write([]byte(`{"status":404,"id":"X","code":"searchjob.jobid.invalid","message":"The supplied search job ID is invalid."}`))
		case r.Method == http.MethodDelete:
			fmt.Fprintf(w, `{"id":%q}`, job)
		case sub == "":
			polls[job]++
			state := "GATHERING RESULTS"
			if polls[job] > 1 {
				state = "DONE GATHERING RESULTS"
			}
			fmt.Fprintf(w, `{"state":%q,"messageCount":0,"recordCount":0,"histogramBuckets":[],"pendingErrors":[],"pendingWarnings":[]}`, state)
		case sub == "messages":
			w.Write([]byte(`{"fields":[],"messages":[]}`))
		case sub == "records":
			w.Write([]byte(`{"fields":[],"records":[]}`))
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	return srv, func() []string { mu.Lock(); defer mu.Unlock(); return append([]string(nil), queries...) }
}

func cookieOf(r *http.Request) string {
	c, err := r.Cookie("AWSALB")
	if err != nil {
		return ""
	}
	return c.Value
}
