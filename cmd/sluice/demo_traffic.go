package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/sluicehq/sluice/internal/traffic"
)

// demoTraffic sends a little steady traffic through the router, as users would, and
// counts the answers by the version that gave them.
type demoTraffic struct {
	url    string
	client *http.Client

	mu     sync.Mutex
	window map[string]*answers // since the last report
}

// answers counts one version's responses.
type answers struct{ ok, failed int }

func newDemoTraffic(url string) *demoTraffic {
	return &demoTraffic{
		url: url, client: &http.Client{Timeout: 2 * time.Second},
		window: map[string]*answers{},
	}
}

// run sends about rate requests per second until ctx is done.
func (d *demoTraffic) run(ctx context.Context, rate int) {
	t := time.NewTicker(time.Second / time.Duration(rate))
	defer t.Stop()
	var wg sync.WaitGroup
	defer wg.Wait()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			wg.Go(func() { d.one(ctx) })
		}
	}
}

func (d *demoTraffic) one(ctx context.Context) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, d.url, nil)
	if err != nil {
		return
	}
	version, ok := "no answer", false
	resp, err := d.client.Do(req)
	if err == nil {
		io.Copy(io.Discard, resp.Body) //nolint:errcheck // only the status matters
		resp.Body.Close()
		if v := resp.Header.Get("X-Sample-Version"); v != "" {
			version = v
		}
		ok = resp.StatusCode < 500
	} else if ctx.Err() != nil {
		return
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	a := d.window[version]
	if a == nil {
		a = &answers{}
		d.window[version] = a
	}
	if ok {
		a.ok++
	} else {
		a.failed++
	}
}

// report returns the answers since the last report, as "v1 36 ok · v2 4 ok 0 failed".
func (d *demoTraffic) report() string {
	d.mu.Lock()
	defer d.mu.Unlock()
	versions := make([]string, 0, len(d.window))
	for v := range d.window {
		versions = append(versions, v)
	}
	sort.Strings(versions)
	parts := make([]string, 0, len(versions))
	for _, v := range versions {
		a := d.window[v]
		s := fmt.Sprintf("%s %d ok", v, a.ok)
		if a.failed > 0 {
			s += fmt.Sprintf(" %d failed", a.failed)
		}
		parts = append(parts, s)
	}
	d.window = map[string]*answers{}
	if len(parts) == 0 {
		return "no answers"
	}
	return strings.Join(parts, " · ")
}

// routerWeights reads the split the router applies from its admin endpoint.
func routerWeights(ctx context.Context, admin string) (traffic.Weights, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+admin+"/weights", nil)
	if err != nil {
		return traffic.Weights{}, err
	}
	c := &http.Client{Timeout: 2 * time.Second}
	resp, err := c.Do(req)
	if err != nil {
		return traffic.Weights{}, fmt.Errorf("router weights: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return traffic.Weights{}, fmt.Errorf("router weights: %s", resp.Status)
	}
	var v struct {
		Weights traffic.Weights `json:"weights"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&v); err != nil {
		return traffic.Weights{}, fmt.Errorf("router weights: %w", err)
	}
	return v.Weights, nil
}

// showSplit prints the router's split and what the users' traffic saw, every period,
// until ctx is done; it stays silent while quiet says a prompt waits for an answer.
func showSplit(ctx context.Context, out io.Writer, admin string, d *demoTraffic, period time.Duration, quiet func() bool) {
	t := time.NewTicker(period)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if quiet() { // a prompt waits for an answer: keep it the last line
			continue
		}
		split := "router not listening yet"
		if w, err := routerWeights(ctx, admin); err == nil {
			split = fmt.Sprintf("green %d%% · blue %d%%", w.Green, w.Blue)
		}
		fmt.Fprintf(out, "         ~ traffic split %s | users saw in %s: %s\n", split, period, d.report())
	}
}
