// Command restart measures what users see while sluice's server is killed and
// restarted and the builtin router is upgraded: an open-loop load goes through the
// router for the whole run and every answer is classified. It runs the same
// schedule for the router in its own process (the default) and for the router
// inside the server, and prints one line per mode. See README.md.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"
)

// options are the benchmark's flags.
type options struct {
	sluice   string
	rate     int
	restarts int
	upgrades int
	modes    string
	between  time.Duration
	keep     bool
}

func main() {
	var o options
	flag.StringVar(&o.sluice, "sluice", "", "the sluice binary (run.sh builds it); it runs the server, the router and the sample app")
	flag.IntVar(&o.rate, "rate", 500, "requests per second through the router, open loop")
	flag.IntVar(&o.restarts, "server-restarts", 20, "how often the server is killed with SIGKILL and started again")
	flag.IntVar(&o.upgrades, "router-upgrades", 5, "how often the router process is upgraded (sluice router --upgrade); separate mode only")
	flag.StringVar(&o.modes, "modes", "separate,inprocess", "router.builtin.process values to measure, in this order")
	flag.DurationVar(&o.between, "between", time.Second, "load between two disruptions")
	flag.BoolVar(&o.keep, "keep", false, "keep the temporary directories (server and router logs)")
	flag.Parse()
	if o.sluice == "" {
		fmt.Fprintln(os.Stderr, "restart: -sluice is required")
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	fmt.Printf("rate %d req/s open loop; %d server SIGKILL+restarts; %d router upgrades (separate mode)\n", o.rate, o.restarts, o.upgrades)
	fmt.Printf("load average at start: %s\n", loadAverage())
	fmt.Printf("%-10s %8s %8s %8s %8s %8s %8s %10s %10s\n", "router", "sent", "ok", "failed", "refused", "5xx", "other", "p50", "p99")
	for _, mode := range strings.Split(o.modes, ",") {
		res, err := runMode(ctx, o, strings.TrimSpace(mode))
		if err != nil {
			fmt.Fprintln(os.Stderr, "restart:", mode+":", err)
			os.Exit(1)
		}
		fmt.Printf("%-10s %8d %8d %8d %8d %8d %8d %10s %10s\n", mode, res.sent, res.ok, res.failed(), res.refused, res.status5xx, res.other,
			res.p50.Round(10*time.Microsecond), res.p99.Round(10*time.Microsecond))
		if res.firstErr != "" {
			fmt.Printf("%-10s first failure: %s\n", "", res.firstErr)
		}
	}
	fmt.Printf("load average at end: %s\n", loadAverage())
}

// loadAverage returns the 1, 5 and 15 minute load averages, for the record.
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}
