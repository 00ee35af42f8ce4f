package release_test

import (
	"os"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/internal/release/argocdtest"
)

// TestArgoCDHealth evaluates deploy/argocd/release-health.lua with a Lua interpreter
// on Release statuses of each phase, as the controller writes them.
func TestArgoCDHealth(t *testing.T) {
	for _, tc := range []struct{ file, status, message string }{
		{"none", "Progressing", "Waiting for sluice to start the release"},
		{"pending", "Progressing", "starting the run"},
		{"progressing", "Progressing", "execution e1 is running"},
		{"waiting", "Suspended", "execution e1 is waiting"},
		{"succeeded", "Healthy", "execution e1 is succeeded"},
		{"rolledback", "Degraded", "verification failed: error rate 2.6%"},
		{"stale", "Progressing", "new spec"},
	} {
		t.Run(tc.file, func(t *testing.T) {
			b, err := os.ReadFile("testdata/release-" + tc.file + ".json")
			if err != nil {
				t.Fatal(err)
			}
			status, msg := argocdtest.Health(t, "../../deploy/argocd/release-health.lua", argocdtest.FromJSON(t, b))
			if status != tc.status || !strings.Contains(msg, tc.message) {
				t.Fatalf("health %s %q, want %s with %q", status, msg, tc.status, tc.message)
			}
		})
	}
}
