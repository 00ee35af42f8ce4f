package metrics

import (
	"slices"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sluicehq/sluice/internal/store"
)

// Buckets of the histograms, in seconds.
var (
	stepBuckets    = []float64{0.1, 0.5, 1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600}
	restoreBuckets = []float64{0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300}
)

// Descriptions of every metric; docs/metrics.md explains each one.
var (
	descExecutions = prometheus.NewDesc("sluice_executions",
		"Executions in the store by workflow, environment and status.", []string{"workflow", "environment", "status"}, nil)
	descApprovals = prometheus.NewDesc("sluice_approvals_waiting",
		"Executions waiting for an approval now.", []string{"workflow", "environment"}, nil)
	descSteps = prometheus.NewDesc("sluice_step_duration_seconds",
		"Duration of finished step attempts by workflow, step type and status.", []string{"workflow", "type", "status"}, nil)
	descVerdicts = prometheus.NewDesc("sluice_verdicts_total",
		"Judged verification measurements by workflow, metric and verdict.", []string{"workflow", "metric", "verdict"}, nil)
	descProviderErrors = prometheus.NewDesc("sluice_provider_errors_total",
		"Verification measurements whose provider (or condition) returned an error.", []string{"workflow", "metric"}, nil)
	descRollbacks = prometheus.NewDesc("sluice_rollbacks_total",
		"Rollbacks started, by workflow and environment.", []string{"workflow", "environment"}, nil)
	descRestore = prometheus.NewDesc("sluice_rollback_traffic_restored_seconds",
		"Time from a rollback's start to the router reading back all traffic on the live slot (100/0).", []string{"workflow", "environment"}, nil)
	descReleases = prometheus.NewDesc("sluice_releases_total",
		"Finished executions by environment, service and outcome.", []string{"environment", "service", "outcome"}, nil)
	descFrequency = prometheus.NewDesc("sluice_dora_release_frequency_per_day",
		"DORA release frequency: successful releases per day over the trailing window.", []string{"environment", "service"}, nil)
	descLeadTime = prometheus.NewDesc("sluice_dora_lead_time_seconds",
		"DORA lead time: median time from an execution's start to its version taking all traffic, over the trailing window.", []string{"environment", "service"}, nil)
	descFailureRate = prometheus.NewDesc("sluice_dora_change_failure_rate",
		"DORA change failure rate: rolled-back or failed releases over all finished releases (aborted ones excluded) in the trailing window.", []string{"environment", "service"}, nil)
	descRestoreTime = prometheus.NewDesc("sluice_dora_time_to_restore_seconds",
		"DORA time to restore: median time from a rollback's start to 100/0 on the live slot, over the trailing window.", []string{"environment", "service"}, nil)
)

// key names one label combination.
type key [3]string

// histogram is the observations of one label combination.
type histogram []float64

// snapshot is the numbers of one refresh; it is never changed once made.
type snapshot struct {
	gauges     map[*prometheus.Desc]map[key]float64
	counters   map[*prometheus.Desc]map[key]float64
	histograms map[*prometheus.Desc]map[key]histogram
	buckets    map[*prometheus.Desc][]float64
}

func newSnapshot() *snapshot {
	return &snapshot{
		gauges:     map[*prometheus.Desc]map[key]float64{},
		counters:   map[*prometheus.Desc]map[key]float64{},
		histograms: map[*prometheus.Desc]map[key]histogram{},
		buckets:    map[*prometheus.Desc][]float64{descSteps: stepBuckets, descRestore: restoreBuckets},
	}
}

func add(m map[*prometheus.Desc]map[key]float64, d *prometheus.Desc, k key, v float64) {
	if m[d] == nil {
		m[d] = map[key]float64{}
	}
	m[d][k] += v
}

func (s *snapshot) observe(d *prometheus.Desc, k key, v ...float64) {
	if len(v) == 0 {
		return
	}
	if s.histograms[d] == nil {
		s.histograms[d] = map[key]histogram{}
	}
	s.histograms[d][k] = append(s.histograms[d][k], v...)
}

// summarise adds up the facts of every execution.
func summarise(execs map[string]*execution, now time.Time, window time.Duration) *snapshot {
	s := newSnapshot()
	dora := map[key]*doraFacts{}
	for _, e := range execs {
		s.addExecution(e)
		if terminal(e.status) && now.Sub(e.updatedAt) <= window {
			k := key{e.environment, e.service}
			if dora[k] == nil {
				dora[k] = &doraFacts{}
			}
			dora[k].add(e)
		}
	}
	for k, f := range dora {
		f.emit(s, k, window)
	}
	return s
}

// addExecution adds one execution's facts to the snapshot.
func (s *snapshot) addExecution(e *execution) {
	add(s.gauges, descExecutions, key{e.workflow, e.environment, string(e.status)}, 1)
	if e.status == store.StatusWaiting {
		add(s.gauges, descApprovals, key{e.workflow, e.environment}, 1)
	}
	for _, st := range e.steps {
		s.observe(descSteps, key{e.workflow, st.typ, st.status}, st.seconds)
	}
	for mv, n := range e.verdicts {
		add(s.counters, descVerdicts, key{e.workflow, mv[0], mv[1]}, float64(n))
	}
	for m, n := range e.providerErrors {
		add(s.counters, descProviderErrors, key{e.workflow, m}, float64(n))
	}
	if e.rollbacks > 0 {
		add(s.counters, descRollbacks, key{e.workflow, e.environment}, float64(e.rollbacks))
	}
	s.observe(descRestore, key{e.workflow, e.environment}, e.restores...)
	if terminal(e.status) {
		add(s.counters, descReleases, key{e.environment, e.service, string(e.status)}, 1)
	}
}

// doraFacts gathers the finished executions of one environment and service within
// the window.
type doraFacts struct {
	succeeded, failed int
	leadTimes         []float64
	restores          []float64
}

func (f *doraFacts) add(e *execution) {
	switch e.status {
	case store.StatusSucceeded:
		f.succeeded++
		f.leadTimes = append(f.leadTimes, e.leadTime())
	case store.StatusRolledBack, store.StatusFailed:
		f.failed++
	}
	f.restores = append(f.restores, e.restores...)
}

// emit writes the four DORA figures of one environment and service.
func (f *doraFacts) emit(s *snapshot, k key, window time.Duration) {
	add(s.gauges, descFrequency, k, float64(f.succeeded)/(window.Hours()/24))
	if n := f.succeeded + f.failed; n > 0 {
		add(s.gauges, descFailureRate, k, float64(f.failed)/float64(n))
	}
	if len(f.leadTimes) > 0 {
		add(s.gauges, descLeadTime, k, median(f.leadTimes))
	}
	if len(f.restores) > 0 {
		add(s.gauges, descRestoreTime, k, median(f.restores))
	}
}

// median returns the middle value of vs (the mean of the two middle ones for an
// even count).
func median(vs []float64) float64 {
	v := slices.Clone(vs)
	slices.Sort(v)
	n := len(v)
	if n%2 == 1 {
		return v[n/2]
	}
	return (v[n/2-1] + v[n/2]) / 2
}

// collect sends every metric of the snapshot.
func (s *snapshot) collect(ch chan<- prometheus.Metric) {
	for d, m := range s.gauges {
		for k, v := range m {
			ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels(d, k)...)
		}
	}
	for d, m := range s.counters {
		for k, v := range m {
			ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, v, labels(d, k)...)
		}
	}
	for d, m := range s.histograms {
		for k, obs := range m {
			ch <- constHistogram(d, s.buckets[d], k, obs)
		}
	}
}

// constHistogram counts obs into cumulative buckets.
func constHistogram(d *prometheus.Desc, bounds []float64, k key, obs histogram) prometheus.Metric {
	buckets := make(map[float64]uint64, len(bounds))
	sum := 0.0
	for _, v := range obs {
		sum += v
		for _, b := range bounds {
			if v <= b {
				buckets[b]++
			}
		}
	}
	return prometheus.MustNewConstHistogram(d, uint64(len(obs)), sum, buckets, labels(d, k)...)
}

// labels returns as many label values of k as d has labels.
func labels(d *prometheus.Desc, k key) []string {
	n := labelCount[d]
	return k[:n]
}

// labelCount is the number of variable labels of each description.
var labelCount = map[*prometheus.Desc]int{
	descExecutions: 3, descApprovals: 2, descSteps: 3, descVerdicts: 3, descProviderErrors: 2,
	descRollbacks: 2, descRestore: 2, descReleases: 3, descFrequency: 2, descLeadTime: 2,
	descFailureRate: 2, descRestoreTime: 2,
}
