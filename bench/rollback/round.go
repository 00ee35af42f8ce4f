package main

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strconv"
	"time"

	"github.com/sluicehq/sluice/internal/store"
)

// result is one round: one canary that went bad, judged by one judge.
type result struct {
	round        int
	judge        string
	status       store.Status
	delay        time.Duration // from the execution's start to the canary going bad
	firstBad     time.Time     // the first failed response after the canary went bad
	restored     time.Time     // the router first read back 0% on the canary after it
	failed       int           // user requests that failed in the round
	canaryServed int           // requests the canary answered in the round
	detected     bool          // rolled back after the canary went bad
	falseAlarm   bool          // rolled back before the canary went bad
	note         string
}

// toRestore is the time from the first failed response to 100% on the live slot.
func (r result) toRestore() time.Duration { return r.restored.Sub(r.firstBad) }

func (r result) String() string {
	if !r.detected {
		return fmt.Sprintf("round %d %-10s %s: not measured: %s", r.round, r.judge, r.status, r.note)
	}
	return fmt.Sprintf("round %d %-10s %s: bad after %s; first failed response to 100%% on live %s; %d user requests failed (canary answered %d)",
		r.round, r.judge, r.status, r.delay.Round(time.Millisecond), r.toRestore().Round(time.Millisecond), r.failed, r.canaryServed)
}

// round runs one canary that goes bad at a random moment and measures it.
func (b *bench) round(ctx context.Context, i int, judge string) (result, error) {
	workflow := workflowOf(judge)
	delay := b.o.minDelay + time.Duration(b.rng.Int64N(int64(b.spread())))
	start := time.Now()
	failFrom := start.Add(delay)
	ex, err := b.execute(ctx, workflow, map[string]string{"version": "v2",
		"fail_rate": strconv.FormatFloat(b.o.failRate, 'g', -1, 64), "fail_from": strconv.FormatInt(failFrom.UnixMilli(), 10)})
	if err != nil {
		return result{}, err
	}
	// Requests in flight at the rollback finish and the scale-down settles; and
	// every Prometheus scrapes the round's last counts, so that the next round's
	// first reading of the same slot does not count them as its canary's.
	time.Sleep(time.Second + b.longestScrape())
	r := measure(b.load.since(start), b.w.changes(), start, time.UnixMilli(failFrom.UnixMilli()))
	r.round, r.judge, r.status, r.delay = i+1, judge, ex.Status, delay
	switch {
	case ex.Status != store.StatusRolledBack:
		r.detected, r.note = false, "the canary was not rolled back: "+ex.Reason
	case !r.detected:
		r.note += ": " + ex.Reason
	}
	return r, nil
}

// measure finds, in a round's responses and weight changes, the first failed
// response after failFrom and the moment the canary's weight was read back as 0.
func measure(rs []response, ws []weightsSample, start, failFrom time.Time) result {
	var r result
	for _, x := range rs {
		if x.failed() {
			r.failed++
		}
		if x.version == "v2" {
			r.canaryServed++
		}
		if x.failed() && !x.sent.Before(failFrom) && (r.firstBad.IsZero() || x.done.Before(r.firstBad)) {
			r.firstBad = x.done
		}
	}
	canaryBlue, seen := false, false
	for _, w := range ws {
		if w.at.Before(start) {
			continue
		}
		if !seen && (w.blue == 10 || w.green == 10) {
			canaryBlue, seen = w.blue == 10, true
			continue
		}
		weight := w.green
		if canaryBlue {
			weight = w.blue
		}
		if seen && weight == 0 {
			r.restored = w.at
			break
		}
	}
	switch {
	case !r.restored.IsZero() && r.restored.Before(failFrom):
		r.note, r.falseAlarm = "rolled back before the canary went bad (a false rollback)", true
	case r.firstBad.IsZero():
		r.note = "no failed response after the canary went bad"
	case r.restored.IsZero():
		r.note = "the canary's weight never went back to 0"
	default:
		r.detected = true
	}
	return r
}

// report prints the summary of each judge and the ratio between them.
func report(w io.Writer, o options, judges []string, rs []result) {
	fmt.Fprintf(w, "\n%d requests/s, canary at 10%% failing %.0f%% of its requests; sequential judge every %s, fixed-interval judge every %s (error rate <= %g); seq-prom-<interval>: the sequential judge on Prometheus scraping the router every <interval>\n\n",
		o.rate, 100*o.failRate, o.seqInterval, o.fixedEvery, o.maxErrRate)
	fmt.Fprintln(w, "| judge | bad canaries rolled back | false rollbacks | first failed response to 100% on live: median (min-max) | failed user requests: median (min-max) |")
	fmt.Fprintln(w, "|---|---|---|---|---|")
	med := map[string][2]float64{}
	for _, judge := range judges {
		var ts, fs []float64
		n, alarms := 0, 0
		for _, r := range rs {
			if r.judge != judge {
				continue
			}
			n++
			if r.falseAlarm {
				alarms++
			}
			if r.detected {
				ts, fs = append(ts, r.toRestore().Seconds()), append(fs, float64(r.failed))
			}
		}
		if len(ts) == 0 {
			fmt.Fprintf(w, "| %s | 0 of %d | %d | | |\n", judge, n, alarms)
			continue
		}
		slices.Sort(ts)
		slices.Sort(fs)
		med[judge] = [2]float64{median(ts), median(fs)}
		fmt.Fprintf(w, "| %s | %d of %d | %d | %.2f s (%.2f-%.2f) | %.0f (%.0f-%.0f) |\n", judge, len(ts), n, alarms,
			median(ts), ts[0], ts[len(ts)-1], median(fs), fs[0], fs[len(fs)-1])
	}
	s, f := med["sequential"], med["fixed"]
	if s[0] > 0 && s[1] > 0 && f[0] > 0 {
		fmt.Fprintf(w, "\nfixed-interval / sequential: %.1fx the time, %.1fx the failed requests (medians)\n", f[0]/s[0], f[1]/s[1])
	}
	perSecond := float64(o.rate) * 0.1 * o.failRate
	fmt.Fprintf(w, "arithmetic for Flagger's defaults (interval 60 s, threshold N): 30 s + (N-1) x 60 s on average, %.0f failed requests per second of it (N=1: ~%.0f; N=5: ~%.0f)\n",
		perSecond, 30*perSecond, 270*perSecond)
}

func median(sorted []float64) float64 {
	n := len(sorted)
	if n%2 == 1 {
		return sorted[n/2]
	}
	return (sorted[n/2-1] + sorted[n/2]) / 2
}
