package prometheus_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluicehq/sluice/internal/spec"
	"github.com/sluicehq/sluice/internal/verify"
	"github.com/sluicehq/sluice/internal/verify/verifytest"
)

type oneProvider struct{ p verify.Provider }

func (o oneProvider) Provider(ctx context.Context, envName string, env *spec.Environment, name string) (verify.Provider, error) {
	return o.p, nil
}

// analyse runs a real verify step against p with one metric, in real time.
func analyse(t *testing.T, p verify.Provider, m spec.MetricCheck, count int, io *verifytest.IO) error {
	m.Name, m.Provider = "ratio", "prom"
	vs := &spec.VerifyStep{Interval: spec.Duration(time.Second), Count: count, Metrics: []spec.MetricCheck{m}}
	s := verify.NewStep(oneProvider{p}, verify.WithErrorRetry(300*time.Millisecond), verify.WithQueryTimeout(2*time.Second))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	return s.Analyse(ctx, verify.Job{Verify: vs, Service: "shop", Canary: "blue", Baseline: "green", Started: time.Now()}, io)
}

// TestLateData serves a metric to the script's Prometheus only after a delay: the
// first measurements have no data (Inconclusive, within the limit), the later
// ones judge the value.
func TestLateData(t *testing.T) {
	url := serverURL(t)
	addr := os.Getenv("SLUICE_TEST_PROMETHEUS_EXPORTER")
	if addr == "" {
		t.Fatal("SLUICE_TEST_PROMETHEUS_EXPORTER is not set; scripts/prometheus.sh start prints it")
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("listen on the exporter address: %v", err)
	}
	start := time.Now()
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if time.Since(start) > 2500*time.Millisecond {
			fmt.Fprintln(w, `sluice_live_error_ratio{slot="blue"} 0.001`)
		}
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	io := verifytest.NewIO(false, time.Time{})
	m := spec.MetricCheck{Query: `sum(sluice_live_error_ratio{slot="{{slot}}"})`, SuccessCondition: "result < 0.01", InconclusiveLimit: 4}
	if err := analyse(t, newProvider(t, url, nil), m, 7, io); err != nil {
		t.Fatalf("%v\n%s", err, io.Text())
	}
	ms := io.Measurements(t)
	if !ms[0].Canary.NoData || ms[0].Verdict != verify.Inconclusive {
		t.Fatalf("first measurement %+v, want no data before the first scrape\n%s", ms[0], io.Text())
	}
	if last := ms[len(ms)-1]; last.Verdict != verify.Successful || last.Canary.Value == nil || *last.Canary.Value != 0.001 {
		t.Fatalf("last measurement %+v\n%s", last, io.Text())
	}
}

// server is a Prometheus the test owns, so it can stop it.
type server struct {
	bin, dir, addr string
	cmd            *exec.Cmd
}

// startServer starts a Prometheus of the test's own that scrapes target (if any)
// every second.
func startServer(t *testing.T, target string) *server {
	bin, err := exec.LookPath("prometheus")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("prometheus is not installed; scripts/prometheus.sh start installs it")
		}
		t.Skip("prometheus is not installed: scripts/prometheus.sh start installs it")
	}
	dir := t.TempDir()
	cfg := filepath.Join(dir, "prometheus.yml")
	conf := "global:\n  scrape_interval: 1m\n"
	if target != "" {
		conf = "global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: router\n    static_configs:\n      - targets: ['" + target + "']\n"
	}
	if err := os.WriteFile(cfg, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &server{bin: bin, dir: dir, addr: ln.Addr().String()}
	ln.Close()
	s.start(t)
	t.Cleanup(s.stop)
	return s
}

func (s *server) start(t *testing.T) {
	s.cmd = exec.Command(s.bin, "--config.file="+filepath.Join(s.dir, "prometheus.yml"),
		"--storage.tsdb.path="+filepath.Join(s.dir, "data"), "--web.listen-address="+s.addr)
	s.cmd.Stdout, s.cmd.Stderr = nil, nil
	if err := s.cmd.Start(); err != nil {
		t.Errorf("start prometheus: %v", err)
		return
	}
	for range 120 {
		resp, err := http.Get("http://" + s.addr + "/-/ready")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return
			}
		}
		time.Sleep(250 * time.Millisecond)
	}
	t.Errorf("prometheus on %s did not become ready", s.addr)
}

func (s *server) stop() {
	if s.cmd != nil && s.cmd.Process != nil {
		s.cmd.Process.Kill()
		s.cmd.Wait()
		s.cmd = nil
	}
}

// TestStoppedMidAnalysis stops a real Prometheus after two measurements: the
// measurements while it is down are Error verdicts retried sooner than the
// interval; when it comes back the analysis recovers, and when it does not the
// step ends in Error.
func TestStoppedMidAnalysis(t *testing.T) {
	tests := []struct {
		name    string
		restart bool
		limit   int
		want    error
	}{
		{"recovers", true, 20, nil},
		{"stays down", false, 3, &verify.VerdictError{Verdict: verify.Error}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := startServer(t, "")
			io := verifytest.NewIO(false, time.Time{})
			var stopped atomic.Bool
			done := make(chan struct{})
			go func() {
				defer close(done)
				for i := 0; i < 400 && len(io.Measurements(t)) < 2; i++ {
					time.Sleep(25 * time.Millisecond)
				}
				s.stop()
				stopped.Store(true)
				if tt.restart {
					time.Sleep(1500 * time.Millisecond)
					s.start(t)
				}
			}()
			m := spec.MetricCheck{Query: "vector(0.001)", SuccessCondition: "result < 0.01", ConsecutiveErrorLimit: tt.limit}
			err := analyse(t, newProvider(t, "http://"+s.addr, nil), m, 8, io)
			<-done
			var ve *verify.VerdictError
			switch {
			case tt.want == nil && err != nil:
				t.Fatalf("%v\n%s", err, io.Text())
			case tt.want != nil && (!errors.As(err, &ve) || ve.Verdict != verify.Error):
				t.Fatalf("got %v, want an Error verdict\n%s", err, io.Text())
			}
			errs := 0
			for _, m := range io.Measurements(t) {
				if m.Verdict == verify.Error {
					errs++
				}
			}
			if errs == 0 || !stopped.Load() {
				t.Fatalf("no Error measurement while Prometheus was down\n%s", io.Text())
			}
			t.Logf("%d error measurement(s); %v", errs, err)
		})
	}
}
