// Command sluiceproxy runs sluice's built-in proxy (internal/proxy) with a fixed
// green/blue split, for the benchmark against nginx; -no-event-loop measures the
// fasthttp path instead of the HTTP/1.1 event loop, -no-coalesce the event loop
// without coalescing.
package main

import (
	"context"
	"flag"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime/pprof"
	"strings"
	"syscall"

	"github.com/sluicehq/sluice/internal/platform"
	"github.com/sluicehq/sluice/internal/proxy"
	"github.com/sluicehq/sluice/internal/traffic"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:8081", "proxy listen address")
	admin := flag.String("admin", "", "admin (metrics) listen address; empty disables")
	green := flag.String("green", "127.0.0.1:9001", "comma-separated green instances")
	blue := flag.String("blue", "127.0.0.1:9002", "comma-separated blue instances")
	bluePct := flag.Int("blue-weight", 10, "percent of requests for blue")
	cpuProfile := flag.String("cpuprofile", "", "write a CPU profile to this file until exit")
	noLoop := flag.Bool("no-event-loop", false, "serve HTTP/1.1 on the fasthttp path only (the path before the event loop)")
	noCoalesce := flag.Bool("no-coalesce", false, "the event loop looks for events at once after every round, also when busy (the loop before coalescing)")
	flag.Parse()
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		check(err)
		check(pprof.StartCPUProfile(f))
		defer pprof.StopCPUProfile()
	}

	p := proxy.New(proxy.Config{Service: "bench", DisableEventLoop: *noLoop, DisableCoalescing: *noCoalesce})
	check(p.SetEndpoints(platform.Green, strings.Split(*green, ",")))
	check(p.SetEndpoints(platform.Blue, strings.Split(*blue, ",")))
	check(p.SetWeights(traffic.Split(platform.Blue, *bluePct)))
	ln, err := net.Listen("tcp", *listen)
	check(err)
	if *admin != "" {
		go func() { log.Println(http.ListenAndServe(*admin, p.AdminHandler())) }()
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := p.Serve(ctx, ln); err != nil && ctx.Err() == nil {
		log.Printf("sluiceproxy: %v", err)
	}
	s := p.Snapshot()
	log.Printf("served green=%d blue=%d requests (errors green=%d blue=%d)",
		s.Green.Requests(), s.Blue.Requests(), s.Green.ProxyErrors()+s.Green.ServerErrors(), s.Blue.ProxyErrors()+s.Blue.ServerErrors())
}

func check(err error) {
	if err != nil {
		log.Fatalf("sluiceproxy: %v", err)
	}
}
