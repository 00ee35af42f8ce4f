package metrics

import (
	"testing"
	"time"

	"github.com/sluicehq/sluice/internal/store"
)

// TestDORAWindow counts every finished release in the counters but only those of
// the trailing window in the DORA figures, and leaves aborted ones out of the
// failure rate.
func TestDORAWindow(t *testing.T) {
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	at := func(d time.Duration) time.Time { return now.Add(-d) }
	execs := map[string]*execution{
		"old":     {environment: "prod", service: "shop", status: store.StatusRolledBack, updatedAt: at(40 * 24 * time.Hour)},
		"ok1":     {environment: "prod", service: "shop", status: store.StatusSucceeded, createdAt: at(3 * time.Hour), promotedAt: at(2 * time.Hour), updatedAt: at(time.Hour)},
		"ok2":     {environment: "prod", service: "shop", status: store.StatusSucceeded, createdAt: at(5 * time.Hour), updatedAt: at(4 * time.Hour)},
		"bad":     {environment: "prod", service: "shop", status: store.StatusRolledBack, updatedAt: at(time.Hour), rollbacks: 1, restores: []float64{1.5}},
		"stopped": {environment: "prod", service: "shop", status: store.StatusAborted, updatedAt: at(time.Hour)},
	}
	s := summarise(execs, now, 30*24*time.Hour)
	k := key{"prod", "shop"}
	for name, c := range map[string]struct{ got, want float64 }{
		"frequency":        {s.gauges[descFrequency][k], 2.0 / 30},
		"failure rate":     {s.gauges[descFailureRate][k], 1.0 / 3},
		"lead time":        {s.gauges[descLeadTime][k], 3600}, // median of 1h (to promotion) and 1h (to the end)
		"time to restore":  {s.gauges[descRestoreTime][k], 1.5},
		"rolled back ever": {s.counters[descReleases][key{"prod", "shop", "rolled_back"}], 2},
		"aborted ever":     {s.counters[descReleases][key{"prod", "shop", "aborted"}], 1},
	} {
		if c.got != c.want {
			t.Errorf("%s = %v, want %v", name, c.got, c.want)
		}
	}
}

func TestMedian(t *testing.T) {
	for _, c := range []struct {
		in   []float64
		want float64
	}{{[]float64{3}, 3}, {[]float64{5, 1, 3}, 3}, {[]float64{4, 1, 3, 2}, 2.5}} {
		if got := median(c.in); got != c.want {
			t.Errorf("median(%v) = %v, want %v", c.in, got, c.want)
		}
	}
}
