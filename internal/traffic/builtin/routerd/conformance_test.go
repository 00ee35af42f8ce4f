package routerd_test

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/sluicehq/sluice/internal/platform/local/localtest"

	"github.com/sluicehq/sluice/internal/traffic"
	"github.com/sluicehq/sluice/internal/traffic/builtin/routerd"
	"github.com/sluicehq/sluice/internal/traffic/traffictest"
)

// TestConformance runs the router contract against a Client driving a router
// process.
func TestConformance(t *testing.T) {
	addrs := map[traffic.Router]string{}
	traffictest.Run(t, func(t *testing.T) traffic.Router {
		listen := localtest.FreeAddr(t)
		exe, _ := os.Executable()
		c, err := routerd.NewClient(routerd.ClientOptions{Dir: filepath.Join(t.TempDir(), "router"), Settings: routerd.Settings{Listen: listen}, Executable: exe})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close(context.Background()) })
		if err := c.Restore(t.Context()); err != nil {
			t.Fatal(err)
		}
		stopRouterAtEnd(t, c)
		addrs[c] = listen
		return c
	}, traffictest.Config{
		NeedsEnsure: true,
		AfterRelease: func(t *testing.T, r traffic.Router, svc traffic.ServiceRef) {
			c, err := net.DialTimeout("tcp", addrs[r], time.Second)
			if err == nil {
				c.Close()
				t.Fatalf("%s still accepts connections after Release", addrs[r])
			}
		},
	})
}
