package sampleapp

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// failures counts the 500s among n requests to h.
func failures(h http.Handler, n int) int {
	failed := 0
	for range n {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
		if rec.Code == http.StatusInternalServerError {
			failed++
		}
	}
	return failed
}

func TestFailFrom(t *testing.T) {
	past, future := time.Now().Add(-time.Second), time.Now().Add(time.Hour)
	tests := []struct {
		name     string
		cfg      Config
		min, max int // failures of 1000
	}{
		{"before fail-from: the error rate", Config{ErrorRate: 0, FailRate: 1, FailFrom: future}, 0, 0},
		{"after fail-from: the fail rate", Config{ErrorRate: 0, FailRate: 1, FailFrom: past}, 1000, 1000},
		{"a share after fail-from", Config{FailRate: 0.2, FailFrom: past}, 150, 250},
		{"before fail-after", Config{FailRate: 1, FailAfter: time.Hour}, 0, 0},
		{"no fail rate: the error rate throughout", Config{ErrorRate: 0.5, FailFrom: past}, 400, 600},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.cfg.Seed = 3
			if got := failures(Handler(tc.cfg), 1000); got < tc.min || got > tc.max {
				t.Fatalf("%d of 1000 failed, want %d..%d", got, tc.min, tc.max)
			}
		})
	}
}

func TestFailAfterStartsOnTime(t *testing.T) {
	h := Handler(Config{FailRate: 1, FailAfter: 50 * time.Millisecond, Seed: 1})
	if n := failures(h, 10); n != 0 {
		t.Fatalf("%d failures before fail-after", n)
	}
	time.Sleep(60 * time.Millisecond)
	if n := failures(h, 10); n != 10 {
		t.Fatalf("%d of 10 failed after fail-after, want all", n)
	}
}

func TestFailFlags(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string // an error substring; "" is no error
	}{
		{"unix milliseconds", []string{"--fail-rate", "0.2", "--fail-from", "1764115200000"}, ""},
		{"rfc 3339", []string{"--fail-rate", "0.2", "--fail-from", "2026-11-26T00:00:00Z"}, ""},
		{"after a delay", []string{"--fail-rate", "0.2", "--fail-after", "5s"}, ""},
		{"a bad instant", []string{"--fail-rate", "0.2", "--fail-from", "soon"}, "Unix milliseconds or an RFC 3339 time"},
		{"a rate out of range", []string{"--fail-rate", "2", "--fail-after", "1s"}, "fail-rate 2"},
		{"a rate without a moment", []string{"--fail-rate", "0.2"}, "needs fail-from or fail-after"},
		{"both moments", []string{"--fail-rate", "0.2", "--fail-after", "1s", "--fail-from", "1764115200000"}, "not both"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := ParseArgs(tc.args)
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("unexpected error: %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("error %v, want one mentioning %q", err, tc.want)
			case tc.want == "" && cfg.FailRate != 0.2:
				t.Fatalf("fail rate %v", cfg.FailRate)
			}
		})
	}
	cfg, _ := ParseArgs([]string{"--fail-rate", "0.2", "--fail-from", "1764115200000"})
	if !cfg.FailFrom.Equal(time.UnixMilli(1764115200000)) {
		t.Fatalf("fail-from %s", cfg.FailFrom)
	}
}
