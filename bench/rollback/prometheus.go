package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// promServer is a Prometheus server the benchmark started, scraping the builtin
// router's admin listener (its per-slot counters) at one interval.
type promServer struct {
	interval time.Duration
	url      string
	cmd      *exec.Cmd
	done     chan error
}

// startPrometheus starts the prometheus binary with a configuration that scrapes
// target every interval, its data under dir, and waits until it answers.
func startPrometheus(ctx context.Context, bin, dir, target string, interval time.Duration) (*promServer, error) {
	if err := os.MkdirAll(filepath.Join(dir, "data"), 0o755); err != nil {
		return nil, err
	}
	cfg := fmt.Sprintf(`global:
  scrape_interval: %[1]s
  scrape_timeout: %[2]s
  evaluation_interval: %[1]s
scrape_configs:
  - job_name: sluice-router
    static_configs:
      - targets: ['%[3]s']
`, interval, min(interval, 10*time.Second), target)
	if err := os.WriteFile(filepath.Join(dir, "prometheus.yml"), []byte(cfg), 0o644); err != nil {
		return nil, err
	}
	addr, err := freeLoopback()
	if err != nil {
		return nil, err
	}
	logf, err := os.Create(filepath.Join(dir, "prometheus.log"))
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, "--config.file="+filepath.Join(dir, "prometheus.yml"),
		"--storage.tsdb.path="+filepath.Join(dir, "data"), "--web.listen-address="+addr)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, fmt.Errorf("start %s (apt-get install prometheus, or -prometheus-bin): %w", bin, err)
	}
	p := &promServer{interval: interval, url: "http://" + addr, cmd: cmd, done: make(chan error, 1)}
	go func() { p.done <- cmd.Wait(); logf.Close() }()
	if err := p.waitReady(ctx); err != nil {
		p.stop()
		return nil, fmt.Errorf("prometheus (%s scrapes): %w; see %s", interval, err, filepath.Join(dir, "prometheus.log"))
	}
	return p, nil
}

// waitReady waits until the server answers /-/ready, for up to a minute.
func (p *promServer) waitReady(ctx context.Context) error {
	deadline := time.Now().Add(time.Minute)
	for time.Now().Before(deadline) {
		select {
		case err := <-p.done:
			return fmt.Errorf("exited: %v", err)
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
		resp, err := http.Get(p.url + "/-/ready")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
	}
	return errors.New("not ready after a minute")
}

// waitSeries waits until the server holds a series of query (its first scrapes).
func (p *promServer) waitSeries(ctx context.Context, query string) error {
	deadline := time.Now().Add(p.interval*3 + 30*time.Second)
	for time.Now().Before(deadline) {
		resp, err := http.Get(p.url + "/api/v1/query?query=" + url.QueryEscape(query))
		if err == nil {
			var a struct {
				Data struct {
					Result []json.RawMessage `json:"result"`
				} `json:"data"`
			}
			err = json.NewDecoder(resp.Body).Decode(&a)
			resp.Body.Close()
			if err == nil && len(a.Data.Result) > 0 {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
	}
	return fmt.Errorf("prometheus (%s scrapes) has no %s yet", p.interval, query)
}

// stop ends the server this benchmark started.
func (p *promServer) stop() {
	if p.cmd.Process == nil {
		return
	}
	_ = p.cmd.Process.Signal(os.Interrupt)
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

// parseIntervals reads a comma-separated list of scrape intervals.
func parseIntervals(s string) ([]time.Duration, error) {
	var out []time.Duration
	for f := range strings.SplitSeq(s, ",") {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		d, err := time.ParseDuration(f)
		if err != nil || d < time.Second {
			return nil, fmt.Errorf("scrape interval %q: want a duration of 1s or more", f)
		}
		out = append(out, d)
	}
	return out, nil
}

// promJudge names the judge that reads Prometheus scraping every interval.
func promJudge(interval time.Duration) string { return "seq-prom-" + interval.String() }
