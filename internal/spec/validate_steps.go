package spec

import (
	"fmt"
	"strings"
)

// step checks one step: exactly one type block, and that block's fields.
func (v *validator) step(path string, s *Step) {
	if s.Name != "" {
		v.name(path+".name", "step name", s.Name)
	}
	v.failure(path+".onFailure", s.OnFailure)
	v.stepTimeout(path, s)
	v.webhookCondition(path+".webhook", s.Webhook)
	blocks := s.blocks()
	switch {
	case len(blocks) == 0 && !v.badUnder(path):
		names := make([]string, len(StepTypes))
		for i, t := range StepTypes {
			names[i] = string(t)
		}
		v.report(path, "step has no type; give it one of: %s", strings.Join(names, ", "))
	case len(blocks) > 1:
		names := make([]string, len(blocks))
		for i, t := range blocks {
			names[i] = string(t)
		}
		v.report(path, "step has %d type blocks (%s); a step does one thing, so split it into %d steps",
			len(blocks), strings.Join(names, ", "), len(blocks))
	}
	v.deploy(path+".deploy", s.Deploy)
	v.serviceStep(path+".service", s.Service)
	v.verify(path+".verify", s.Verify)
	v.loadTest(path+".loadtest", s.LoadTest)
	v.approval(path+".approval", s.Approval)
	v.webhook(path+".webhook", s.Webhook)
	if s.Wait != nil && s.Wait.Duration <= 0 {
		v.report(path+".wait", "wait needs a duration longer than 0, e.g. wait: 30s")
	}
	if s.ScaleDown != nil {
		if s.ScaleDown.Slot == RoleLive {
			v.report(path+".scaledown.slot", "scaling down the live slot would take the service down; use old (after a promote) or new")
		} else {
			v.oneOf(path+".scaledown.slot", "scaledown slot", string(s.ScaleDown.Slot), "old", "new")
		}
	}
}

func (v *validator) deploy(path string, d *DeployStep) {
	if d == nil {
		return
	}
	v.oneOf(path+".slot", "deploy slot", string(d.Slot), "new", "live")
	if d.Instances.Value < 1 {
		v.report(path+".instances", "deploy needs at least 1 instance (a count like 3 or a share of the live slot like 100%%)")
	}
}

func (v *validator) serviceStep(path string, s *ServiceStep) {
	if s == nil {
		return
	}
	v.oneOf(path+".type", "service type", s.Type, "ClusterIP", "LoadBalancer", "NodePort")
	for i, h := range s.Hosts {
		hp := fmt.Sprintf("%s.hosts[%d]", path, i)
		if h == "" || strings.Contains(h, "/") || strings.ContainsAny(h, " \t") {
			v.report(hp, "host %q must be a host name such as shop.example.com, not a URL", h)
		}
	}
	if s.Routing != nil {
		for i, m := range s.Routing.Match {
			v.routeMatch(fmt.Sprintf("%s.routing.match[%d]", path, i), m)
		}
	}
}

// routeMatch checks one routing rule: exactly one of header and cookie, each a valid
// name, and a value a request can carry.
func (v *validator) routeMatch(path string, m RouteMatch) {
	switch {
	case m.Header == "" && m.Cookie == "":
		v.report(path, "routing rule needs a header or a cookie to match, e.g. {header: X-Canary, value: \"true\"}")
	case m.Header != "" && m.Cookie != "":
		v.report(path, "routing rule has both header %q and cookie %q; one rule matches one of them, so write two rules", m.Header, m.Cookie)
	case m.Header != "" && !isToken(m.Header):
		v.report(path+".header", "header name %q may hold only letters, digits and !#$%%&'*+-.^_`|~", m.Header)
	case m.Cookie != "" && !isToken(m.Cookie):
		v.report(path+".cookie", "cookie name %q may hold only letters, digits and !#$%%&'*+-.^_`|~", m.Cookie)
	}
	switch {
	case m.Value == "":
		if v.present(path + ".value") {
			v.report(path+".value", "routing rule needs a value to match exactly; an empty value matches nothing")
		}
	case strings.ContainsFunc(m.Value, func(r rune) bool { return r < 0x20 || r == 0x7f }):
		v.report(path+".value", "value %q holds control characters, which no request carries", m.Value)
	case m.Cookie != "" && strings.ContainsAny(m.Value, " \t\";,\\"):
		v.report(path+".value", "cookie value %q may not hold spaces, quotes, commas, semicolons or backslashes", m.Value)
	}
}

// isToken reports whether s is an HTTP token (RFC 9110), as header and cookie names are.
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if r >= 0x80 || !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("!#$%&'*+-.^_`|~", r)) {
			return false
		}
	}
	return true
}

var (
	judges     = []string{"threshold", "mannwhitney", "sequential"}
	noDataRule = []string{"inconclusive", "failed", "successful"}
	// MetricUnits are the units a metric's `unit:` may name; verify writes
	// values in each.
	MetricUnits = []string{"percent", "ratio", "ms", "s", "count", "rps", "bytes"}
)

func (v *validator) verify(path string, vs *VerifyStep) {
	if vs == nil {
		return
	}
	if len(vs.Metrics) == 0 && len(vs.Logs) == 0 && !v.badUnder(path) {
		v.report(path, "verify step has no metrics or logs to check")
	}
	if vs.Count < 0 {
		v.report(path+".count", "count must not be negative")
	}
	if vs.Duration > 0 && vs.Interval > vs.Duration {
		v.report(path+".interval", "interval %s is longer than the step's duration %s; the duration bounds the step, so measure at most every %s",
			vs.Interval, vs.Duration, vs.Duration)
	}
	v.oneOf(path+".onProviderError", "onProviderError action", vs.OnProviderError, ProviderErrorActions...)
	names := map[string]bool{}
	for i := range vs.Metrics {
		m := &vs.Metrics[i]
		mp := fmt.Sprintf("%s.metrics[%d]", path, i)
		v.checkName(mp, "metric", m.Name, names)
		v.nonEmpty(mp+".provider", "metric "+m.Name+" needs a provider (a provider name from the environment)", m.Provider)
		v.nonEmpty(mp+".query", "metric "+m.Name+" needs a query", m.Query)
		v.oneOf(mp+".judge", "judge", m.Judge, judges...)
		v.oneOf(mp+".noData", "noData rule", m.NoData, noDataRule...)
		v.oneOf(mp+".unit", "unit", m.Unit, MetricUnits...)
		if (m.Judge == "" || m.Judge == "threshold") && m.SuccessCondition == "" && m.FailureCondition == "" {
			v.report(mp, "metric %s needs successCondition or failureCondition for the threshold judge", m.Name)
		}
		if m.FailureLimit < 0 || m.InconclusiveLimit < 0 || m.ConsecutiveErrorLimit < 0 {
			v.report(mp, "metric %s: limits must not be negative", m.Name)
		}
		v.metricJudge(mp, m)
		v.metricCounts(mp, m)
		v.metricScore(mp, m, vs.Score != nil)
	}
	v.judgeParams(path, "verify step", vs.Window, vs.Direction, vs.Confidence, vs.EffectSize, vs.Alpha)
	v.score(path+".score", vs)
	for i := range vs.Logs {
		l := &vs.Logs[i]
		lp := fmt.Sprintf("%s.logs[%d]", path, i)
		v.checkName(lp, "log check", l.Name, names)
		v.nonEmpty(lp+".provider", "log check "+l.Name+" needs a provider (a provider name from the environment)", l.Provider)
		v.nonEmpty(lp+".query", "log check "+l.Name+" needs a query", l.Query)
		if l.MaxMatches < 0 {
			v.report(lp+".maxMatches", "maxMatches must not be negative")
		}
		v.logJudge(lp, l)
	}
}

var (
	directions = []string{"increase", "decrease", "either"}
	logJudges  = []string{"count", "compare"}
)

// judgeParams checks the judges' parameters where they are written, on a step or
// a metric: window, direction, confidence, effectSize and alpha.
func (v *validator) judgeParams(path, what string, window Duration, dir string, conf Ratio, effect *Ratio, alpha Ratio) {
	if v.present(path+".window") && window <= 0 {
		v.report(path+".window", "%s: window must be longer than 0, e.g. 30s", what)
	}
	v.oneOf(path+".direction", "direction", dir, directions...)
	if v.present(path+".confidence") && (conf <= 0 || conf >= 1) {
		v.report(path+".confidence", "%s: confidence %g must be between 0 and 1 (exclusive), e.g. 0.95 or 95%%", what, float64(conf))
	}
	if effect != nil && *effect < 0 {
		v.report(path+".effectSize", "%s: effectSize %g must not be negative (0.1 or 10%% allows a 10%% change)", what, float64(*effect))
	}
	if v.present(path+".alpha") && (alpha <= 0 || alpha >= 1) {
		v.report(path+".alpha", "%s: alpha %g must be between 0 and 1 (exclusive), e.g. 0.01 or 1%%", what, float64(alpha))
	}
}

// metricJudge checks a metric's judge parameters and that its judge uses them.
func (v *validator) metricJudge(path string, m *MetricCheck) {
	what := "metric " + m.Name
	v.judgeParams(path, what, m.Window, m.Direction, m.Confidence, m.EffectSize, m.Alpha)
	judge := m.Judge
	if judge == "" {
		judge = "threshold"
	}
	if judge == "sequential" && v.present(path+".window") {
		v.report(path+".window", "%s: the sequential judge sums one window per evaluation (every second); leave window out", what)
	}
	for _, f := range []string{"direction", "confidence", "effectSize"} {
		if judge != "mannwhitney" && v.present(path+"."+f) {
			v.report(path+"."+f, "%s: %s is used by the mannwhitney judge only (this metric's judge is %s)", what, f, judge)
		}
	}
	if m.MinRequests < 0 {
		v.report(path+".minRequests", "%s: minRequests must not be negative", what)
	}
	if m.MinSamples < 0 {
		v.report(path+".minSamples", "%s: minSamples must not be negative", what)
	}
	if judge == "mannwhitney" && v.present(path+".minRequests") {
		v.report(path+".minRequests", "%s: minRequests is used by the sequential and threshold judges (mannwhitney counts points: minSamples)", what)
	}
	if judge != "mannwhitney" && v.present(path+".minSamples") {
		v.report(path+".minSamples", "%s: minSamples is used by the mannwhitney judge only (this metric's judge is %s; use minRequests)", what, judge)
	}
	if judge != "sequential" && v.present(path+".alpha") {
		v.report(path+".alpha", "%s: alpha is used by the sequential judge only (this metric's judge is %s; mannwhitney uses confidence)", what, judge)
	}
}

// metricScore checks a metric's place in the step's score.
func (v *validator) metricScore(path string, m *MetricCheck, scored bool) {
	what := "metric " + m.Name
	if m.Group != "" {
		v.name(path+".group", "group", m.Group)
	}
	if v.present(path+".weight") && m.Weight <= 0 {
		v.report(path+".weight", "%s: weight %g must be greater than 0", what, float64(m.Weight))
	}
	if scored {
		return
	}
	for _, f := range []string{"critical", "group", "weight"} {
		if v.present(path + "." + f) {
			v.report(path+"."+f, "%s sets %s, which only counts in a score: add score: {pass: 95, marginal: 75} to the verify step", what, f)
		}
	}
}

// score checks the step's score thresholds and that the metrics of a group agree
// on its weight.
func (v *validator) score(path string, vs *VerifyStep) {
	if vs.Score == nil {
		return
	}
	pass, marginal := Number(95), Number(75)
	if p := vs.Score.Pass; p != nil {
		pass = *p
		if pass <= 0 || pass > 100 {
			v.report(path+".pass", "score pass %g must be above 0 and at most 100", float64(pass))
		}
	}
	if m := vs.Score.Marginal; m != nil {
		marginal = *m
		if marginal < 0 || marginal > 100 {
			v.report(path+".marginal", "score marginal %g must be between 0 and 100", float64(marginal))
		}
	}
	if marginal > pass {
		v.report(path, "score marginal %g is above pass %g; a marginal score lies between marginal and pass", float64(marginal), float64(pass))
	}
	weights := map[string]*MetricCheck{}
	for i := range vs.Metrics {
		m := &vs.Metrics[i]
		if m.Group == "" || m.Weight == 0 {
			continue
		}
		if first := weights[m.Group]; first != nil && first.Weight != m.Weight {
			v.report(fmt.Sprintf("%s.metrics[%d].weight", parentPath(path), i),
				"metric %s gives group %s weight %g, but metric %s (line %d) gave it %g; a group has one weight",
				m.Name, m.Group, float64(m.Weight), first.Name, first.Pos.Line, float64(first.Weight))
		} else if first == nil {
			weights[m.Group] = m
		}
	}
}

// logJudge checks a log check's judge and the fields it uses.
func (v *validator) logJudge(path string, l *LogCheck) {
	v.oneOf(path+".judge", "log judge", l.Judge, logJudges...)
	switch {
	case l.Judge == "compare" && v.present(path+".maxMatches"):
		v.report(path+".maxMatches", "log check %s: maxMatches is used by the count judge only; the compare judge fails on error templates new in the canary", l.Name)
	case l.Judge == "compare" && v.present(path+".baseline") && !l.Baseline:
		v.report(path+".baseline", "log check %s: the compare judge compares with the baseline; it cannot be false", l.Name)
	case l.Judge != "compare" && l.Baseline:
		v.report(path+".baseline", "log check %s: the count judge looks at the new slot only; use judge: compare to compare with the baseline", l.Name)
	}
}

// checkName checks a check's name and that it is unique within its step.
func (v *validator) checkName(path, what, name string, seen map[string]bool) {
	v.name(path+".name", what+" name", name)
	if seen[name] && name != "" {
		v.report(path+".name", "%s name %q is used twice in this verify step", what, name)
	}
	seen[name] = true
}

// nonEmpty reports msg at path when s is empty but was written.
func (v *validator) nonEmpty(path, msg, s string) {
	if strings.TrimSpace(s) == "" {
		v.report(path, "%s", msg)
	}
}

func (v *validator) loadTest(path string, l *LoadTestStep) {
	if l == nil {
		return
	}
	v.oneOf(path+".target", "loadtest target", string(l.Target), "new", "live")
	if l.Duration <= 0 {
		v.report(path+".duration", "loadtest needs a duration longer than 0")
	}
	if l.Rate < 0 || l.Concurrency < 0 {
		v.report(path, "loadtest rate and concurrency must not be negative")
	}
	if l.Path != "" && !strings.HasPrefix(l.Path, "/") {
		v.report(path+".path", "loadtest path %q must start with /", l.Path)
	}
	v.oneOf(path+".method", "HTTP method", l.Method, httpMethods...)
	v.loadTestURL(path, l)
}

func (v *validator) approval(path string, a *ApprovalStep) {
	if a == nil {
		return
	}
	groups := 0
	for i, name := range a.Approvers {
		g, isGroup := strings.CutPrefix(name, "group:")
		if isGroup {
			groups++
		}
		if strings.TrimSpace(g) == "" {
			v.report(fmt.Sprintf("%s.approvers[%d]", path, i), "approver must be a user name or group:<name>")
		}
	}
	switch {
	case len(a.Approvers) == 0:
		v.report(path+".approvers", "approval has no approvers: list user names or group:<name>")
	case a.Required < 0:
		v.report(path+".required", "required must not be negative")
	case a.Required > len(a.Approvers) && groups == 0:
		v.report(path+".required", "approval requires %d approvals but lists only %d %s", a.Required, len(a.Approvers), plural(len(a.Approvers), "approver"))
	}
	v.oneOf(path+".onTimeout", "onTimeout action", string(a.OnTimeout), "rollback", "continue", "fail")
}

func (v *validator) webhook(path string, w *WebhookStep) {
	if w == nil {
		return
	}
	if v.present(path + ".url") {
		v.httpURL(path+".url", "webhook url", w.URL)
	}
	v.oneOf(path+".method", "HTTP method", w.Method, httpMethods...)
	for i, code := range w.ExpectStatus {
		if code < 100 || code > 599 {
			v.report(fmt.Sprintf("%s.expectStatus[%d]", path, i), "%d is not an HTTP status 100-599", code)
		}
	}
}

// order checks, in phase order, that nothing sends traffic or load to the new slot,
// verifies it or promotes it before a step deploys it, and that the old slot is only
// scaled down after a promote.
func (v *validator) order(phases []Phase) {
	deployed, promoted := false, false
	for i := range phases {
		p := &phases[i]
		for j := range p.Steps {
			s := &p.Steps[j]
			path := fmt.Sprintf("spec.phases[%d].steps[%d]", i, j)
			never := "no earlier step deploys it"
			if promoted {
				never = "no step since the last promote deploys a new slot"
			}
			switch s.Type() {
			case StepDeploy:
				if s.Deploy.Slot == "" || s.Deploy.Slot == RoleNew {
					deployed = true
				}
			case StepTraffic:
				if s.Traffic.Weight > 0 && !deployed {
					v.report(path, "phase %s sends traffic to the new slot, but %s", p.Name, never)
				}
			case StepLoadTest:
				if s.LoadTest.URL == "" && (s.LoadTest.Target == "" || s.LoadTest.Target == RoleNew) && !deployed {
					v.report(path, "phase %s sends load to the new slot, but %s", p.Name, never)
				}
			case StepVerify:
				if !deployed && !promoted {
					v.report(path, "phase %s verifies the new slot, but %s", p.Name, never)
				}
			case StepPromote:
				if !deployed {
					v.report(path, "phase %s promotes the new slot, but %s", p.Name, never)
				}
				deployed, promoted = false, true
			case StepScaleDown:
				v.orderScaleDown(path, p.Name, s.ScaleDown, promoted)
				if s.ScaleDown.Slot == RoleNew {
					deployed = false
				}
			}
		}
	}
}

func (v *validator) orderScaleDown(path, phase string, s *ScaleDownStep, promoted bool) {
	if (s.Slot == "" || s.Slot == RoleOld) && !promoted {
		v.report(path, "phase %s scales down the old slot, but no earlier step promotes the new one (there is no old slot before a promote)", phase)
	}
}

// plural returns word with an "s" unless n is 1.
func plural(n int, word string) string {
	if n == 1 {
		return word
	}
	return word + "s"
}
