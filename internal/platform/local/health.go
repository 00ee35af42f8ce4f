package local

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/sluicehq/sluice/internal/platform"
)

// probeClient keeps no idle connections: every probe opens its own, so a probe never
// reuses a socket to a process that has since been replaced on the same port.
var probeClient = &http.Client{
	Transport: &http.Transport{DisableKeepAlives: true, Proxy: nil},
	CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	},
}

// probe checks one instance once: an HTTP GET of hc.Path answering hc.Status (any 2xx
// when zero), or a TCP connect when hc.Path is empty.
func probe(ctx context.Context, addr string, hc platform.HealthCheck, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	if hc.Path == "" {
		var d net.Dialer
		c, err := d.DialContext(ctx, "tcp", addr)
		if err != nil {
			return fmt.Errorf("tcp connect %s: %w", addr, err)
		}
		return c.Close()
	}
	path := hc.Path
	if !strings.HasPrefix(path, "/") {
		path = "/" + path
	}
	url := "http://" + addr + path
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return fmt.Errorf("health check %s: %w", url, err)
	}
	resp, err := probeClient.Do(req)
	if err != nil {
		return fmt.Errorf("health check: %w", err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	ok := resp.StatusCode == hc.Status || (hc.Status == 0 && resp.StatusCode/100 == 2)
	if !ok {
		want := "2xx"
		if hc.Status != 0 {
			want = fmt.Sprint(hc.Status)
		}
		return fmt.Errorf("health check GET %s: status %d, want %s", url, resp.StatusCode, want)
	}
	return nil
}
