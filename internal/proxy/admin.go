package proxy

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/sluicehq/sluice/internal/platform"
	"github.com/sluicehq/sluice/internal/traffic"
)

// InstanceHealth is what the admin endpoint reports about one instance.
type InstanceHealth struct {
	// Slot is the slot the instance serves.
	Slot platform.Slot `json:"slot"`
	// Addr is the instance's host:port.
	Addr string `json:"addr"`
	// Healthy is false while passive health keeps the instance out of rotation.
	Healthy bool `json:"healthy"`
	// InFlight counts requests waiting for the instance's response headers.
	InFlight int64 `json:"inFlight"`
	// Ejections counts how often passive health took the instance out.
	Ejections uint64 `json:"ejections"`
	// EjectedUntil is when the next probe may restore an ejected instance.
	EjectedUntil *time.Time `json:"ejectedUntil,omitempty"`
}

// Instances returns the health of every instance, green first.
func (p *Proxy) Instances() []InstanceHealth {
	t := p.table.Load()
	var out []InstanceHealth
	for _, pl := range t.pools {
		for _, in := range pl.instances {
			h := InstanceHealth{Slot: in.slot, Addr: in.addr, Healthy: in.healthy(), InFlight: in.inflight.Load(), Ejections: in.ejections.Load()}
			if !h.Healthy {
				u := time.Unix(0, in.ejectedUntil.Load()).UTC()
				h.EjectedUntil = &u
			}
			out = append(out, h)
		}
	}
	return out
}

// weightsView is the JSON of GET /weights.
type weightsView struct {
	Service string          `json:"service"`
	Weights traffic.Weights `json:"weights"`
	Rules   []Rule          `json:"rules"`
	Mirror  Mirror          `json:"mirror"`
}

// AdminHandler serves GET /metrics (Prometheus text format), /weights (JSON: the
// weights, rules and mirror in force) and /instances (JSON: instance health).
func (p *Proxy) AdminHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /metrics", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
		bw := bufio.NewWriter(w)
		p.WritePrometheus(bw)
		bw.Flush()
	})
	mux.HandleFunc("GET /weights", func(w http.ResponseWriter, r *http.Request) {
		t := p.table.Load()
		writeJSON(w, weightsView{Service: p.cfg.Service, Weights: t.weights, Rules: append([]Rule{}, t.rules...), Mirror: t.mirror})
	})
	mux.HandleFunc("GET /instances", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, p.Instances())
	})
	return mux
}

// writeJSON writes v as an indented JSON response.
func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(v) //nolint:errcheck // the client went away; nothing to do
}

// WritePrometheus writes every metric in Prometheus text exposition format.
func (p *Proxy) WritePrometheus(w io.Writer) {
	snap := p.Snapshot()
	svc := strconv.Quote(p.cfg.Service)
	type counter struct {
		name, help string
		get        func(SlotMetrics) uint64
	}
	fmt.Fprintln(w, "# HELP sluice_proxy_requests_total Requests by slot and status class (error: answered by the proxy).")
	fmt.Fprintln(w, "# TYPE sluice_proxy_requests_total counter")
	for _, s := range slots {
		sm := snap.Slot(s)
		for c, name := range classNames {
			fmt.Fprintf(w, "sluice_proxy_requests_total{service=%s,slot=%q,class=%q} %d\n", svc, s, name, sm.Classes[c])
		}
	}
	p.writeHistogram(w, snap, svc)
	counters := []counter{
		{"sluice_proxy_received_bytes_total", "Request body bytes received from clients.", func(s SlotMetrics) uint64 { return s.BytesIn }},
		{"sluice_proxy_sent_bytes_total", "Response body bytes sent to clients.", func(s SlotMetrics) uint64 { return s.BytesOut }},
		{"sluice_proxy_fallbacks_total", "Requests for a slot without healthy instances sent to the other slot.", func(s SlotMetrics) uint64 { return s.Fallbacks }},
		{"sluice_proxy_mirrored_total", "Mirrored copies answered by the slot.", func(s SlotMetrics) uint64 { return s.Mirrored }},
		{"sluice_proxy_mirror_dropped_total", "Mirrored copies dropped because the queue was full.", func(s SlotMetrics) uint64 { return s.MirrorDropped }},
		{"sluice_proxy_connections_total", "TCP-mode connections proxied.", func(s SlotMetrics) uint64 { return s.Connections }},
	}
	for _, c := range counters {
		fmt.Fprintf(w, "# HELP %s %s\n# TYPE %s counter\n", c.name, c.help, c.name)
		for _, s := range slots {
			fmt.Fprintf(w, "%s{service=%s,slot=%q} %d\n", c.name, svc, s, c.get(snap.Slot(s)))
		}
	}
	fmt.Fprintln(w, "# HELP sluice_proxy_in_flight Requests (TCP mode: connections) open now.")
	fmt.Fprintln(w, "# TYPE sluice_proxy_in_flight gauge")
	for _, s := range slots {
		fmt.Fprintf(w, "sluice_proxy_in_flight{service=%s,slot=%q} %d\n", svc, s, snap.Slot(s).InFlight)
	}
	fmt.Fprintln(w, "# HELP sluice_proxy_weight Share of traffic in percent.")
	fmt.Fprintln(w, "# TYPE sluice_proxy_weight gauge")
	for _, s := range slots {
		fmt.Fprintf(w, "sluice_proxy_weight{service=%s,slot=%q} %d\n", svc, s, snap.Weights.Of(s))
	}
	fmt.Fprintln(w, "# HELP sluice_proxy_instance_healthy 1 while the instance is in rotation.")
	fmt.Fprintln(w, "# TYPE sluice_proxy_instance_healthy gauge")
	for _, in := range p.Instances() {
		v := 0
		if in.Healthy {
			v = 1
		}
		fmt.Fprintf(w, "sluice_proxy_instance_healthy{service=%s,slot=%q,instance=%q} %d\n", svc, in.Slot, in.Addr, v)
	}
}

// writeHistogram writes the latency histogram with cumulative buckets.
func (p *Proxy) writeHistogram(w io.Writer, snap MetricsSnapshot, svc string) {
	const name = "sluice_proxy_request_duration_seconds"
	fmt.Fprintf(w, "# HELP %s Time to response headers.\n# TYPE %s histogram\n", name, name)
	for _, s := range slots {
		sm := snap.Slot(s)
		var cum uint64
		for i, c := range sm.Buckets {
			cum += c
			le := "+Inf"
			if i < len(latencyBounds) {
				le = strconv.FormatFloat(latencyBounds[i].Seconds(), 'g', -1, 64)
			}
			fmt.Fprintf(w, "%s_bucket{service=%s,slot=%q,le=%q} %d\n", name, svc, s, le, cum)
		}
		fmt.Fprintf(w, "%s_sum{service=%s,slot=%q} %g\n", name, svc, s, sm.LatencySum.Seconds())
		fmt.Fprintf(w, "%s_count{service=%s,slot=%q} %d\n", name, svc, s, cum)
	}
}
