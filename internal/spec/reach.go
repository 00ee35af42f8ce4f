package spec

import (
	"fmt"
	"maps"
	"net/url"
	"slices"
	"strings"
)

// loadTestURL checks a load test's url and headers: a url replaces the target
// slot and the path, and every header is a valid HTTP field.
func (v *validator) loadTestURL(path string, l *LoadTestStep) {
	if l.URL != "" {
		u, err := url.Parse(l.URL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			v.report(path+".url", "loadtest url %q is not an http(s) URL with a host", l.URL)
		}
		if l.Target != "" {
			v.report(path+".target", "loadtest sets both target and url; the url is where the load goes, so leave target out")
		}
		if l.Path != "" {
			v.report(path+".path", "loadtest sets both path and url; put the path in the url")
		}
	}
	for _, name := range slices.Sorted(maps.Keys(l.Headers)) {
		if !isToken(name) {
			v.report(path+".headers", "loadtest header name %q is not a valid HTTP header name", name)
		}
		if strings.ContainsAny(l.Headers[name], "\r\n\x00") {
			v.report(path+".headers."+name, "loadtest header %s has a line break or NUL in its value", name)
		}
	}
}

var countModes = []string{"window", "cumulative"}

// metricCounts checks the query pair of a sequential metric: total and counts
// belong to the sequential judge, counts to a metric with a total.
func (v *validator) metricCounts(path string, m *MetricCheck) {
	v.oneOf(path+".counts", "counts", m.Counts, countModes...)
	if m.Total != "" && m.Judge != "sequential" {
		v.report(path+".total", "metric %s: total is the sequential judge's count of all requests; this metric's judge is %s", m.Name, orDefault(m.Judge, "threshold"))
	}
	if m.Counts != "" && m.Total == "" {
		v.report(path+".counts", "metric %s: counts says what query and total answer; add total: (a query counting every request)", m.Name)
	}
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// reachProblems reports what a step needs from where sluice runs that the
// environment cannot give: a load test whose target slot's Service sluice cannot
// reach, and a sequential metric whose provider cannot give it counts.
func reachProblems(env *Environment, path string, s *Step) []Problem {
	var out []Problem
	if lt := s.LoadTest; lt != nil && lt.URL == "" {
		if why := unreachableTarget(env); why != "" {
			out = append(out, Problem{Pos: s.Pos, Path: path + ".loadtest.target", Message: fmt.Sprintf(
				"loadtest target %s is the slot's Service inside the cluster, which sluice cannot reach: %s; set url: instead "+
					"(for example the ingress gateway's address with a header rule that routes to the new slot), "+
					"or tell the environment how sluice reaches a slot from outside (platform.kubernetes.slotURL)",
				orDefault(string(lt.Target), string(RoleNew)), why)})
		}
	}
	if s.Verify == nil {
		return out
	}
	for i := range s.Verify.Metrics {
		m := &s.Verify.Metrics[i]
		if msg := sequentialCounts(env, m); msg != "" {
			out = append(out, Problem{Pos: m.Pos, Path: fmt.Sprintf("%s.verify.metrics[%d]", path, i), Message: msg})
		}
	}
	return out
}

// unreachableTarget says why a load test's target slot is out of reach from
// sluice, or "" when sluice can send load to it: on the kubernetes platform,
// sluice reaches a slot's Service by its cluster DNS name only from inside the
// cluster, and an environment that names a kubeconfig is reached from outside,
// unless it says how in slotURL.
func unreachableTarget(env *Environment) string {
	k := env.Spec.Platform.Kubernetes
	if env.Spec.Platform.Type != "kubernetes" || k == nil || k.Kubeconfig == "" || k.SlotURL != "" {
		return ""
	}
	return fmt.Sprintf("environment %s reaches its cluster through kubeconfig %s, so sluice runs outside it", env.Metadata.Name, k.Kubeconfig)
}

// sequentialCounts says what a sequential metric lacks to get counts of events
// among requests from its provider, or "".
func sequentialCounts(env *Environment, m *MetricCheck) string {
	if m.Judge != "sequential" {
		return ""
	}
	typ := ""
	for _, p := range env.Spec.Providers {
		if p.Name == m.Provider {
			typ = p.Type
		}
	}
	switch {
	case typ == "" || typ == "builtin":
		return ""
	case m.Total == "":
		return fmt.Sprintf("metric %s: the sequential judge needs counts of failed and of all requests; provider %s (%s) answers numbers, "+
			"so let query count the failed requests and add total: counting every request", m.Name, m.Provider, typ)
	case typ == "prometheus" && m.Counts != "cumulative":
		return fmt.Sprintf("metric %s: on Prometheus, set counts: cumulative and query the counters themselves "+
			"(e.g. sum(istio_requests_total{...})): increase() over the sequential judge's one-second windows needs two scrapes inside each window", m.Name)
	}
	return ""
}
