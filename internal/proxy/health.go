package proxy

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"time"
)

// connFailed records that an instance could not be reached and ejects it.
func (p *Proxy) connFailed(in *instance, err error) {
	if in.eject(p.cfg.EjectDuration) {
		p.cfg.Logger.Warn("proxy: instance ejected", "service", p.cfg.Service, "slot", in.slot, "instance", in.addr, "err", err)
	}
}

// responded records an instance's response status for passive health: a run of
// FailureThreshold 5xx ejects it unless it is the last healthy one of its slot.
func (p *Proxy) responded(in *instance, status int) {
	if status < 500 {
		if in.fails.Load() != 0 {
			in.fails.Store(0)
		}
		return
	}
	if p.cfg.FailureThreshold < 0 || int(in.fails.Add(1)) < p.cfg.FailureThreshold {
		return
	}
	if p.table.Load().pools[slotIndex(in.slot)].healthyCount() <= 1 {
		return
	}
	if in.eject(p.cfg.EjectDuration) {
		p.cfg.Logger.Warn("proxy: instance ejected after 5xx", "service", p.cfg.Service, "slot", in.slot, "instance", in.addr, "status", status)
	}
}

// probeLoop restores ejected instances whose ejection has expired and that answer
// a probe, until the proxy closes.
func (p *Proxy) probeLoop() {
	defer p.wg.Done()
	tick := time.NewTicker(p.cfg.ProbeInterval)
	defer tick.Stop()
	for {
		select {
		case <-p.done:
			return
		case <-tick.C:
		}
		t := p.table.Load()
		now := time.Now().UnixNano()
		for _, pl := range t.pools {
			for _, in := range pl.instances {
				if !in.ejected.Load() || in.ejectedUntil.Load() > now {
					continue
				}
				if err := p.probe(in); err != nil {
					in.ejectedUntil.Store(time.Now().Add(p.cfg.EjectDuration).UnixNano())
					continue
				}
				in.restore()
				p.cfg.Logger.Info("proxy: instance restored", "service", p.cfg.Service, "slot", in.slot, "instance", in.addr)
			}
		}
	}
}

// probe checks one instance: a TCP connect, or a GET of HealthPath when configured.
func (p *Proxy) probe(in *instance) error {
	ctx, cancel := context.WithTimeout(context.Background(), p.cfg.DialTimeout)
	defer cancel()
	if p.cfg.HealthPath == "" {
		var d net.Dialer
		c, err := d.DialContext(ctx, "tcp", in.addr)
		if err != nil {
			return fmt.Errorf("probe %s: %w", in.addr, err)
		}
		return c.Close()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+in.addr+p.cfg.HealthPath, nil)
	if err != nil {
		return fmt.Errorf("probe %s: %w", in.addr, err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("probe %s: %w", in.addr, err)
	}
	resp.Body.Close()
	if resp.StatusCode >= 400 {
		return fmt.Errorf("probe %s: status %d", in.addr, resp.StatusCode)
	}
	return nil
}
