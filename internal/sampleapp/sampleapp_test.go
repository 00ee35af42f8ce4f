package sampleapp

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestHandler(t *testing.T) {
	tests := []struct {
		name      string
		errorRate float64
		wantMin   int // of 1000 requests that fail
		wantMax   int
	}{
		{"good", 0, 0, 0},
		{"bad", 0.3, 250, 350},
		{"all-fail", 1, 1000, 1000},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(Handler(Config{Version: "v2", Slot: "blue", Instance: "1", ErrorRate: tc.errorRate, Seed: 7}))
			defer srv.Close()
			failed := 0
			for range 1000 {
				resp, err := http.Get(srv.URL + "/")
				if err != nil {
					t.Fatal(err)
				}
				var body Response
				if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				if body.Version != "v2" || body.Slot != "blue" || body.Instance != "1" || body.Status != resp.StatusCode {
					t.Fatalf("body %+v, status %d", body, resp.StatusCode)
				}
				if resp.StatusCode == http.StatusInternalServerError {
					failed++
				}
			}
			if failed < tc.wantMin || failed > tc.wantMax {
				t.Errorf("%d of 1000 failed, want %d..%d", failed, tc.wantMin, tc.wantMax)
			}
		})
	}
}

func TestSeedIsDeterministic(t *testing.T) {
	seq := func() string {
		h := Handler(Config{Version: "v1", ErrorRate: 0.5, Seed: 42})
		var b strings.Builder
		for range 64 {
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
			if rec.Code == 500 {
				b.WriteByte('x')
			} else {
				b.WriteByte('.')
			}
		}
		return b.String()
	}
	if a, b := seq(), seq(); a != b {
		t.Errorf("same seed, different sequences:\n%s\n%s", a, b)
	}
}

func TestHealthzAndVersion(t *testing.T) {
	h := Handler(Config{Version: "v9"})
	for path, want := range map[string]string{"/healthz": "ok\n", "/version": "v9\n"} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
		if rec.Code != 200 || rec.Body.String() != want {
			t.Errorf("%s: %d %q, want 200 %q", path, rec.Code, rec.Body.String(), want)
		}
	}
}

func TestRunServesAndStops(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	runCtx, stop := context.WithCancel(ctx)
	addrc := make(chan string, 1)
	errc := make(chan error, 1)
	go func() {
		errc <- Run(runCtx, Config{Version: "v3", StartupDelay: 50 * time.Millisecond, Log: io.Discard,
			Ready: func(a string) { addrc <- a }})
	}()
	var addr string
	select {
	case addr = <-addrc:
	case err := <-errc:
		t.Fatalf("Run returned early: %v", err)
	case <-ctx.Done():
		t.Fatal("Run never listened")
	}
	resp, err := http.Get("http://" + addr + "/version")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(b) != "v3\n" {
		t.Errorf("/version = %q", b)
	}
	stop()
	select {
	case err := <-errc:
		if err != nil {
			t.Errorf("Run after stop: %v", err)
		}
	case <-ctx.Done():
		t.Fatal("Run did not stop")
	}
}

func TestRunFailAtStartAndBadConfig(t *testing.T) {
	ctx := context.Background()
	if err := Run(ctx, Config{FailAtStart: true, Log: io.Discard}); !errors.Is(err, ErrFailAtStart) {
		t.Errorf("FailAtStart: %v", err)
	}
	if err := Run(ctx, Config{ErrorRate: 2}); err == nil || !strings.Contains(err.Error(), "error-rate") {
		t.Errorf("error-rate 2: %v", err)
	}
}

func TestRegisterFlags(t *testing.T) {
	t.Setenv("PORT", "4242")
	t.Setenv("SLOT", "green")
	cfg := DefaultConfig()
	fs := flag.NewFlagSet("sample-app", flag.ContinueOnError)
	cfg.RegisterFlags(fs)
	if err := fs.Parse([]string{"--version", "v2", "--error-rate", "0.3", "--latency", "20ms"}); err != nil {
		t.Fatal(err)
	}
	if cfg.Version != "v2" || cfg.ErrorRate != 0.3 || cfg.Latency != 20*time.Millisecond || cfg.Port != 4242 || cfg.Slot != "green" {
		t.Errorf("parsed %+v", cfg)
	}
}

func TestParseArgs(t *testing.T) {
	cfg, err := ParseArgs([]string{"--version", "v2", "--error-rate", "0.3", "--port", "8081", "--seed", "5"})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Version != "v2" || cfg.ErrorRate != 0.3 || cfg.Port != 8081 || cfg.Seed != 5 {
		t.Errorf("parsed %+v", cfg)
	}
	for _, args := range [][]string{{"--error-rate", "1.5"}, {"--nope"}, {"extra"}} {
		if _, err := ParseArgs(args); err == nil {
			t.Errorf("ParseArgs(%q): no error", args)
		}
	}
}

// TestEnvFlags: SAMPLE_APP_ variables set flags, which the command line overrides,
// and a bad value names its variable.
func TestEnvFlags(t *testing.T) {
	t.Setenv("SAMPLE_APP_ERROR_RATE", "0.25")
	t.Setenv("SAMPLE_APP_LATENCY", "15ms")
	t.Setenv("SAMPLE_APP_VERSION", "v9")
	cfg, err := ParseArgs([]string{"--version", "v3"})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.ErrorRate != 0.25 || cfg.Latency != 15*time.Millisecond || cfg.Version != "v3" {
		t.Errorf("parsed %+v", cfg)
	}
	t.Setenv("SAMPLE_APP_FAIL_RATE", "lots")
	if _, err := ParseArgs(nil); err == nil || !strings.Contains(err.Error(), "SAMPLE_APP_FAIL_RATE") {
		t.Errorf("bad env value: %v", err)
	}
}
