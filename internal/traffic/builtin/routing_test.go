package builtin_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"testing"

	"github.com/sluicehq/sluice/internal/platform/local/localtest"

	"github.com/sluicehq/sluice/internal/platform"
	"github.com/sluicehq/sluice/internal/sampleapp"
	"github.com/sluicehq/sluice/internal/traffic"
	"github.com/sluicehq/sluice/internal/traffic/builtin"
)

// abRoute sends requests with X-Canary: true or the cookie canary=1 to blue.
func abRoute(sticky bool) traffic.Route {
	return traffic.Route{
		Service: traffic.ServiceRef{Service: "shop"},
		Match: []traffic.Match{
			{Header: "X-Canary", Value: "true"},
			{Cookie: "canary", Value: "1"},
		},
		MatchSlot: platform.Blue,
		Sticky:    sticky,
	}
}

// versionOf sends one GET with the given header and cookie and returns the version
// that answered.
func versionOf(t *testing.T, c *http.Client, url string, header, cookie [2]string) string {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if header[0] != "" {
		req.Header.Set(header[0], header[1])
	}
	if cookie[0] != "" {
		req.AddCookie(&http.Cookie{Name: cookie[0], Value: cookie[1]})
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %s %v", url, resp.StatusCode, b, err)
	}
	var r sampleapp.Response
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatal(err)
	}
	return r.Version
}

// TestHeaderAndCookieRouting sends real requests through the router's proxy: with all
// weight on green, requests that carry the header or the cookie reach blue and the
// rest reach green; a later Ensure without rules removes them; a restarted router
// restores them.
func TestHeaderAndCookieRouting(t *testing.T) {
	green, blue := startBackend(t, "v1"), startBackend(t, "v2")
	src := staticSource{
		{Service: "shop", Slot: platform.Green}: {green},
		{Service: "shop", Slot: platform.Blue}:  {blue},
	}
	opts := builtin.Options{Listen: localtest.FreeAddr(t), Source: src, StateFile: t.TempDir() + "/router.json"}
	r := newRouter(t, opts)
	if err := r.Ensure(t.Context(), abRoute(false)); err != nil {
		t.Fatal(err)
	}
	url := "http://" + r.Addr("shop") + "/"
	tests := []struct {
		name           string
		header, cookie [2]string
		want           string
	}{
		{"no header", [2]string{}, [2]string{}, "v1"},
		{"header", [2]string{"X-Canary", "true"}, [2]string{}, "v2"},
		{"header in lower case", [2]string{"x-canary", "true"}, [2]string{}, "v2"},
		{"header with another value", [2]string{"X-Canary", "false"}, [2]string{}, "v1"},
		{"cookie", [2]string{}, [2]string{"canary", "1"}, "v2"},
		{"cookie with another value", [2]string{}, [2]string{"canary", "0"}, "v1"},
	}
	check := func(t *testing.T, wantMatched string) {
		t.Helper()
		for _, tc := range tests {
			want := tc.want
			if want == "v2" {
				want = wantMatched
			}
			for range 20 {
				if got := versionOf(t, client, url, tc.header, tc.cookie); got != want {
					t.Fatalf("%s: answered by %s, want %s", tc.name, got, want)
				}
			}
		}
	}
	t.Run("rules", func(t *testing.T) { check(t, "v2") })

	if err := r.Close(t.Context()); err != nil {
		t.Fatal(err)
	}
	restored := newRouter(t, opts)
	if err := restored.Restore(t.Context()); err != nil {
		t.Fatal(err)
	}
	t.Run("restored", func(t *testing.T) { check(t, "v2") })

	if err := restored.Ensure(t.Context(), traffic.Route{Service: traffic.ServiceRef{Service: "shop"}}); err != nil {
		t.Fatal(err)
	}
	t.Run("removed", func(t *testing.T) { check(t, "v1") })
}

// TestMatchedSlotWithoutInstancesFallsBack checks that matched requests reach the
// other slot when the matched one has no instance (after a rollback scaled it down).
func TestMatchedSlotWithoutInstancesFallsBack(t *testing.T) {
	green := startBackend(t, "v1")
	src := staticSource{{Service: "shop", Slot: platform.Green}: {green}}
	r := newRouter(t, builtin.Options{Source: src})
	if err := r.Ensure(t.Context(), abRoute(false)); err != nil {
		t.Fatal(err)
	}
	if got := versionOf(t, client, "http://"+r.Addr("shop")+"/", [2]string{"X-Canary", "true"}, [2]string{}); got != "v1" {
		t.Fatalf("matched request with no blue instance answered by %s, want v1", got)
	}
}

// TestStickySessions checks that, at 50/50, a client with a cookie jar stays on the
// slot it first got, and that a route without sticky turns it off again.
func TestStickySessions(t *testing.T) {
	green, blue := startBackend(t, "v1"), startBackend(t, "v2")
	src := staticSource{
		{Service: "shop", Slot: platform.Green}: {green},
		{Service: "shop", Slot: platform.Blue}:  {blue},
	}
	r := newRouter(t, builtin.Options{Source: src})
	svc := traffic.ServiceRef{Service: "shop"}
	if err := r.Ensure(t.Context(), abRoute(true)); err != nil {
		t.Fatal(err)
	}
	if err := r.SetWeights(t.Context(), svc, traffic.Split(platform.Blue, 50), "k"); err != nil {
		t.Fatal(err)
	}
	url := "http://" + r.Addr("shop") + "/"
	seen := map[string]bool{}
	for range 10 {
		jar, err := cookiejar.New(nil)
		if err != nil {
			t.Fatal(err)
		}
		c := &http.Client{Jar: jar, Timeout: client.Timeout}
		first := versionOf(t, c, url, [2]string{}, [2]string{})
		seen[first] = true
		for range 20 {
			if got := versionOf(t, c, url, [2]string{}, [2]string{}); got != first {
				t.Fatalf("sticky client moved from %s to %s", first, got)
			}
		}
	}
	if len(seen) != 2 {
		t.Logf("10 clients all started on %v (chance 1 in 512)", seen)
	}
	if err := r.Ensure(t.Context(), traffic.Route{Service: svc}); err != nil {
		t.Fatal(err)
	}
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	c := &http.Client{Jar: jar, Timeout: client.Timeout}
	got := map[string]int{}
	for range 200 {
		got[versionOf(t, c, url, [2]string{}, [2]string{})]++
	}
	if got["v1"] < 50 || got["v2"] < 50 {
		t.Fatalf("without sticky sessions a client got %v over 200 requests at 50/50", got)
	}
}

func TestEnsureRejectsBadRules(t *testing.T) {
	r := newRouter(t, builtin.Options{})
	rt := abRoute(false)
	rt.MatchSlot = ""
	if err := r.Ensure(t.Context(), rt); err == nil {
		t.Fatal("Ensure with rules but no slot succeeded")
	}
	rt = abRoute(false)
	rt.Match[0].Cookie = "both"
	if err := r.Ensure(t.Context(), rt); err == nil {
		t.Fatal("Ensure with a rule naming a header and a cookie succeeded")
	}
}
