package engine

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/sluicehq/sluice/internal/platform"
	"github.com/sluicehq/sluice/internal/spec"
	"github.com/sluicehq/sluice/internal/traffic"
)

// ErrUnavailable says a step type is valid but the engine was built without its
// runner (Options.Steps: the server always gives verify and loadtest runners).
var ErrUnavailable = errors.New("not available in this build")

// stepFunc runs one attempt of one step. It must be safe to call again after a crash:
// side effects go through r.effect, timed waits keep their deadline in ss.
type stepFunc func(r *run, ctx context.Context, s *spec.Step, ss *StepState) error

// stepRunners maps each step type to its runner.
var stepRunners = map[spec.StepType]stepFunc{
	spec.StepDeploy:    (*run).deploy,
	spec.StepService:   (*run).service,
	spec.StepTraffic:   (*run).traffic,
	spec.StepPromote:   (*run).promote,
	spec.StepScaleDown: (*run).scaleDown,
	spec.StepWait:      (*run).wait,
	spec.StepApproval:  (*run).approval,
	spec.StepWebhook:   (*run).webhook,
}

// runStep dispatches to the runner of the step's type.
func (r *run) runStep(ctx context.Context, s *spec.Step, ss *StepState) error {
	if sr, ok := r.e.opt.Steps[s.Type()]; ok {
		return extensionStep(sr)(r, ctx, s, ss)
	}
	fn, ok := stepRunners[s.Type()]
	if !ok {
		return fmt.Errorf("step type %q: %w", s.Type(), ErrUnavailable)
	}
	return fn(r, ctx, s, ss)
}

// deadline is when a timed step ends: d after the attempt started. It derives from
// the journaled start, so a resumed step waits only for what is left.
func (r *run) deadline(ss *StepState, d time.Duration) time.Time {
	t := ss.StartedAt.Add(d)
	ss.Deadline = &t
	return t
}

func (r *run) deploy(ctx context.Context, s *spec.Step, ss *StepState) error {
	d := s.Deploy
	slot := r.state.slot(d.Slot)
	if !slot.Valid() {
		return fmt.Errorf("deploy: there is no %s slot", d.Slot)
	}
	artifact := orDefault(d.Artifact, r.wf.Spec.Service.Artifact)
	n, how, err := r.instances(ctx, d.Instances)
	if err != nil {
		return err
	}
	ref := platform.SlotRef{Service: r.ex.Service, Slot: slot}
	svc := r.wf.Spec.Service
	dep := platform.Deployment{
		Ref: ref, Artifact: artifact, Instances: n, Port: svc.Port, Env: spec.EnvValues(svc.Env),
		Secrets:     spec.SecretEnvValues(svc.Env),
		Labels:      map[string]string{"sluice.dev/execution": r.ex.ID},
		ServiceType: r.serviceType(),
	}
	if svc.Health != nil {
		dep.Health = platform.HealthCheck{Path: svc.Health.Path, Status: svc.Health.Status, Timeout: svc.Health.Timeout.Std()}
	}
	if dep.Workload, err = Workload(svc); err != nil {
		return err
	}
	err = r.effect(ctx, r.attemptKey(ss)+"/deploy", func(ctx context.Context, key string) error {
		r.console(ss.Key, "info", "deploying %s to %s: %d instances (%s)", artifact, slot, n, how)
		dep.Key = key
		if err := r.rt.Platform.Deploy(ctx, dep); err != nil {
			return fmt.Errorf("deploy %s: %w", ref, err)
		}
		return nil
	})
	if err != nil {
		return err
	}
	return r.awaitReady(ctx, ss, ref, n, ss.StartedAt.Add(timeoutOr(s.Timeout, 5*time.Minute)))
}

// serviceType is the type the workflow's first service step with one asks for; the
// platform writes the stable Service when it deploys, before that step runs.
func (r *run) serviceType() string {
	for _, ph := range r.wf.Spec.Phases {
		for _, st := range ph.Steps {
			if st.Service != nil && st.Service.Type != "" {
				return st.Service.Type
			}
		}
	}
	return ""
}

// instances turns a quantity into a count: a percentage is of the live slot's
// instances (rounded up, at least 1).
func (r *run) instances(ctx context.Context, q spec.Quantity) (int, string, error) {
	if !q.Percent {
		return q.Value, "as the workflow says", nil
	}
	live, from := r.wf.Spec.Service.Instances, "service.instances, as nothing is live yet"
	if live <= 0 {
		live = 1
	}
	if slot := r.state.slot(spec.RoleLive); slot.Valid() {
		st, err := r.rt.Platform.Status(ctx, platform.SlotRef{Service: r.ex.Service, Slot: slot})
		if err != nil {
			return 0, "", fmt.Errorf("status of live slot %s: %w", slot, err)
		}
		live, from = st.Desired, "live slot "+string(slot)
	}
	n := max((q.Value*live+99)/100, 1)
	return n, fmt.Sprintf("%d%% of %d in %s", q.Value, live, from), nil
}

// route is what a service step asks the router for; A/B match rules send requests to
// the new slot.
func (r *run) route(s *spec.ServiceStep) traffic.Route {
	rt := traffic.Route{
		Service: traffic.ServiceRef{Service: r.ex.Service}, Port: r.wf.Spec.Service.Port,
		Hosts: s.Hosts, Gateway: s.Gateway, Type: s.Type, Live: r.state.slot(spec.RoleLive),
	}
	if rg := s.Routing; rg != nil {
		rt.MatchSlot, rt.Sticky = r.state.NewSlot, rg.Sticky
		for _, m := range rg.Match {
			rt.Match = append(rt.Match, traffic.Match{Header: m.Header, Cookie: m.Cookie, Value: m.Value})
		}
	}
	return rt
}

func (r *run) service(ctx context.Context, s *spec.Step, ss *StepState) error {
	rt := r.route(s.Service)
	return r.effect(ctx, r.attemptKey(ss)+"/ensure", func(ctx context.Context, key string) error {
		r.console(ss.Key, "info", "setting up service %s (hosts %v)", r.ex.Service, rt.Hosts)
		if len(rt.Match) > 0 {
			r.console(ss.Key, "info", "requests matching %v go to %s whatever the weights", rt.Match, rt.MatchSlot)
		}
		rt.Key = key
		if err := r.rt.Router.Ensure(ctx, rt); err != nil {
			return fmt.Errorf("ensure route: %w", err)
		}
		return nil
	})
}

func (r *run) traffic(ctx context.Context, s *spec.Step, ss *StepState) error {
	pct := int(s.Traffic.Weight)
	if r.state.slot(spec.RoleLive) == "" && pct < 100 {
		r.console(ss.Key, "warn", "no live slot yet (first release): sending all traffic to %s instead of %d%%", r.state.NewSlot, pct)
		pct = 100
	}
	return r.setWeights(ctx, ss.Key, r.attemptKey(ss)+"/weights", traffic.Split(r.state.NewSlot, pct))
}

func (r *run) promote(ctx context.Context, s *spec.Step, ss *StepState) error {
	st, err := r.rt.Platform.Status(ctx, platform.SlotRef{Service: r.ex.Service, Slot: r.state.NewSlot})
	if err != nil {
		return fmt.Errorf("status of %s: %w", r.state.NewSlot, err)
	}
	r.svc = r.serviceState(r.state.NewSlot, st.Desired)
	err = r.setWeights(ctx, ss.Key, r.attemptKey(ss)+"/promote", traffic.All(r.state.NewSlot))
	if err != nil {
		r.svc = nil
		return err
	}
	if err := r.promoted(ctx, ss); err != nil {
		return err
	}
	if !r.state.Promoted {
		r.state.Promoted = true
		r.console(ss.Key, "info", "%s is now live for %s", r.state.NewSlot, r.ex.Service)
		return r.commit(ctx, nil)
	}
	return nil
}

func (r *run) scaleDown(ctx context.Context, s *spec.Step, ss *StepState) error {
	role := s.ScaleDown.Slot
	if role == "" {
		role = spec.RoleOld
	}
	slot := r.state.slot(role)
	if !slot.Valid() {
		r.console(ss.Key, "info", "no %s slot to scale down", role)
		return nil
	}
	if d := s.ScaleDown.Delay.Std(); d > 0 {
		until := r.deadline(ss, d)
		r.console(ss.Key, "info", "scaling %s down at %s; until then a switch back is instant", slot, until.Format(time.TimeOnly))
		if err := r.flush(ctx); err != nil {
			return err
		}
		if err := r.block(ctx, until, nil); err != nil {
			return err
		}
	}
	if slot == r.state.LiveSlot && !r.state.Promoted {
		return fmt.Errorf("scaledown: %s still serves users; promote first", slot)
	}
	if err := r.scaleTo(ctx, ss.Key, r.attemptKey(ss)+"/scale", slot, 0); err != nil {
		return err
	}
	if slot == r.state.LiveSlot && !r.state.OldScaledDown {
		r.state.OldScaledDown = true
		return r.commit(ctx, nil)
	}
	return nil
}

func (r *run) wait(ctx context.Context, s *spec.Step, ss *StepState) error {
	until := r.deadline(ss, s.Wait.Duration.Std())
	if left := until.Sub(r.e.opt.Now()); left > 0 {
		r.console(ss.Key, "info", "waiting %s", left.Round(time.Millisecond))
	}
	if err := r.flush(ctx); err != nil {
		return err
	}
	return r.block(ctx, until, nil)
}

func (r *run) webhook(ctx context.Context, s *spec.Step, ss *StepState) error {
	w := s.Webhook
	if w.Condition != "" {
		return fmt.Errorf("webhook condition: %w: expressions arrive with verification support", ErrUnavailable)
	}
	if err := r.flush(ctx); err != nil { // the call may take a while: show the step first
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, timeoutOr(s.Timeout, 30*time.Second))
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, orDefault(w.Method, http.MethodPost), w.URL, strings.NewReader(w.Body))
	if err != nil {
		return fmt.Errorf("webhook: %w", err)
	}
	// A webhook is at-least-once (a crash after the call repeats it); the key lets
	// the receiver drop a repeat.
	req.Header.Set("Idempotency-Key", r.attemptKey(ss))
	for k, v := range w.Headers {
		req.Header.Set(k, v)
	}
	start := time.Now()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("webhook %s %s: %w", req.Method, req.URL.Redacted(), err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	r.console(ss.Key, "info", "%s %s answered %d in %s", req.Method, req.URL.Redacted(), resp.StatusCode, time.Since(start).Round(time.Millisecond))
	ok := resp.StatusCode/100 == 2
	if len(w.ExpectStatus) > 0 {
		ok = slices.Contains(w.ExpectStatus, resp.StatusCode)
	}
	if !ok {
		return fmt.Errorf("webhook answered %d: %s", resp.StatusCode, strings.TrimSpace(string(body)))
	}
	return nil
}

func timeoutOr(d spec.Duration, def time.Duration) time.Duration {
	if d > 0 {
		return d.Std()
	}
	return def
}

func orDefault(s, def string) string {
	if s != "" {
		return s
	}
	return def
}
