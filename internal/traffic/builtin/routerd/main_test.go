package routerd_test

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"testing"

	"github.com/sluicehq/sluice/internal/platform"
	"github.com/sluicehq/sluice/internal/traffic"
	"github.com/sluicehq/sluice/internal/traffic/builtin"
	"github.com/sluicehq/sluice/internal/traffic/builtin/routerd"
)

// The test binary is its own `sluice router` (first argument "router") and its own
// stand-in server (first argument "server"), so tests run both as real processes.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 {
		switch os.Args[1] {
		case "router":
			os.Exit(routerMain(os.Args[2:]))
		case "server":
			os.Exit(serverMain(os.Args[2:]))
		}
	}
	os.Exit(m.Run())
}

// routerMain parses the flags routerd.Settings.Args writes and runs a router.
func routerMain(args []string) int {
	o, err := routerd.ParseArgs(args)
	if err != nil {
		fmt.Fprintln(os.Stderr, "error:", err)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	if err := routerd.Run(ctx, o); err != nil {
		fmt.Fprintln(os.Stderr, "error:", err)
		return 1
	}
	return 0
}

// serverMain plays the server: it starts (or adopts) the router of DIR through a
// Client, ensures service shop with GREEN and BLUE as its slots' endpoints, sets
// WEIGHT percent on blue, prints "ready" and waits to be killed.
// Arguments: DIR LISTEN GREEN BLUE WEIGHT.
func serverMain(args []string) int {
	if len(args) != 5 {
		fmt.Fprintln(os.Stderr, "server: want DIR LISTEN GREEN BLUE WEIGHT")
		return 2
	}
	src := staticSource{
		{Service: "shop", Slot: platform.Green}: {args[2]},
		{Service: "shop", Slot: platform.Blue}:  {args[3]},
	}
	c, err := routerd.NewClient(routerd.ClientOptions{Dir: args[0], Settings: routerd.Settings{Listen: args[1]}, Executable: os.Args[0], Source: src})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	ctx := context.Background()
	var blue int
	fmt.Sscan(args[4], &blue)
	svc := traffic.ServiceRef{Service: "shop"}
	err = c.Restore(ctx)
	if err == nil {
		err = c.Ensure(ctx, traffic.Route{Service: svc})
	}
	if err == nil {
		err = c.SetWeights(ctx, svc, traffic.Weights{Green: 100 - blue, Blue: blue}, "k1")
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	fmt.Println("ready")
	select {}
}

// staticSource serves fixed endpoints.
type staticSource map[platform.SlotRef][]string

func (s staticSource) Endpoints(ref platform.SlotRef) []string { return s[ref] }

var _ builtin.EndpointSource = staticSource{}

// contains reports whether s contains every part.
func contains(s string, parts ...string) bool {
	for _, p := range parts {
		if !strings.Contains(s, p) {
			return false
		}
	}
	return true
}
