package pipeline

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/sluicehq/sluice/internal/auth"
	"github.com/sluicehq/sluice/internal/engine"
	"github.com/sluicehq/sluice/internal/events"
	"github.com/sluicehq/sluice/internal/spec"
	"github.com/sluicehq/sluice/internal/store"
)

// tick is one look at one run.
type tick struct {
	r   *Runner
	run *store.PipelineRun
	p   *spec.Pipeline
	st  *State
	now time.Time
	// logged is how many lines of st.Log are stored (and published).
	logged int
}

// reconcile looks at a run once and takes its next steps; it reports whether the
// run has ended (or is no longer this server's).
func (r *Runner) reconcile(ctx context.Context, id string) (bool, error) {
	run, err := r.st.GetPipelineRun(ctx, id)
	if err != nil {
		return errors.Is(err, store.ErrNotFound), err
	}
	if run.Status.Terminal() || run.Owner != r.opt.Owner {
		return true, nil
	}
	_, p, err := r.definition(ctx, run.Pipeline, run.PipelineVersion)
	if err != nil {
		return false, err
	}
	var st State
	if err := json.Unmarshal(run.State, &st); err != nil {
		return false, fmt.Errorf("pipeline run %s: decode state: %w", id, err)
	}
	t := &tick{r: r, run: &run, p: p, st: &st, now: r.opt.Now().UTC(), logged: len(st.Log)}
	if err := t.observe(ctx); err != nil {
		return false, err
	}
	switch {
	case st.Abort != nil:
		return t.windDown(ctx, true)
	case st.Failed != "":
		return t.windDown(ctx, false)
	}
	return t.advance(ctx)
}

// save writes the run; the next write needs the version it returns.
func (t *tick) save(ctx context.Context) error {
	raw, err := json.Marshal(t.st)
	if err != nil {
		return fmt.Errorf("pipeline run %s: encode state: %w", t.run.ID, err)
	}
	t.run.State, t.run.UpdatedAt = raw, t.now
	if err := t.r.st.UpdatePipelineRun(ctx, t.run); err != nil {
		return err
	}
	t.r.publish(t.run.ID, t.st.Log, t.logged)
	t.logged = len(t.st.Log)
	return nil
}

// log appends a line to the run's log and returns it, for a payload (with).
func (s *State) log(at time.Time, kind events.Type, level, stage, format string, args ...any) *Line {
	s.Log = append(s.Log, Line{At: at, Kind: kind, Level: level, Stage: stage, Message: fmt.Sprintf(format, args...)})
	return &s.Log[len(s.Log)-1]
}

// with sets the line's payload (a struct of package events, which always encodes).
func (l *Line) with(v any) {
	l.Data, _ = json.Marshal(v)
}

// observe brings the stages' view of their executions up to date and saves it when
// anything changed.
func (t *tick) observe(ctx context.Context) error {
	changed := false
	for i := range t.st.Stages {
		ss := &t.st.Stages[i]
		var c bool
		var err error
		switch {
		case ss.Status == StageRunning || (ss.Status == StageStarting && ss.Execution != ""):
			c, err = t.observeStage(ctx, ss)
		case ss.Status == StageUndoing && ss.UndoExecution != "":
			c, err = t.observeUndo(ctx, ss)
		}
		if err != nil {
			return err
		}
		changed = changed || c
	}
	if !changed {
		return nil
	}
	return t.save(ctx)
}

// observeStage follows a stage's execution to its end.
func (t *tick) observeStage(ctx context.Context, ss *StageState) (bool, error) {
	ex, err := t.r.st.GetExecution(ctx, ss.Execution)
	if err != nil {
		return false, fmt.Errorf("stage %s: %w", ss.Name, err)
	}
	if ex.Status == ss.ExecStatus && ss.Status == StageRunning {
		return false, nil
	}
	ss.Status, ss.ExecStatus, ss.Service = StageRunning, ex.Status, ex.Service
	if !ex.Status.Terminal() {
		return true, nil
	}
	ss.FinishedAt = t.now
	if ex.Status == store.StatusSucceeded {
		ss.Status, ss.Variables = StageSucceeded, ex.Variables
		t.st.log(t.now, events.TypePipelineStageFinished, "info", ss.Name, "stage %s succeeded: execution %s released %s in %s", ss.Name, ex.ID, ex.Variables["artifact"], ex.Environment)
		return true, nil
	}
	t.failStage(ss, fmt.Sprintf("execution %s %s%s", ex.ID, strings.ReplaceAll(string(ex.Status), "_", " "), prefixed(": ", ex.Reason)))
	return true, nil
}

// observeUndo follows the execution that undoes a stage.
func (t *tick) observeUndo(ctx context.Context, ss *StageState) (bool, error) {
	ex, err := t.r.st.GetExecution(ctx, ss.UndoExecution)
	if err != nil {
		return false, fmt.Errorf("stage %s: undo: %w", ss.Name, err)
	}
	if !ex.Status.Terminal() {
		return false, nil
	}
	// a switch back rolls the stage's own execution back; a redeploy must succeed
	ok := (ex.ID == ss.Execution && ex.Status == store.StatusRolledBack) || (ex.ID != ss.Execution && ex.Status == store.StatusSucceeded)
	if ok {
		ss.Status = StageUndone
		t.st.log(t.now, events.TypePipelineUndo, "info", ss.Name, "stage %s undone: execution %s put the previous release back in %s", ss.Name, ex.ID, ss.Environment)
	} else {
		ss.Status, ss.Reason = StageUndoFailed, fmt.Sprintf("undo execution %s ended %s%s", ex.ID, ex.Status, prefixed(": ", ex.Reason))
		t.st.log(t.now, events.TypePipelineUndo, "error", ss.Name, "stage %s could not be undone: %s", ss.Name, ss.Reason)
	}
	return true, nil
}

// failStage marks a stage failed; the first failure makes the run wind down.
func (t *tick) failStage(ss *StageState, reason string) {
	ss.Status, ss.Reason, ss.FinishedAt = StageFailed, reason, t.now
	t.st.log(t.now, events.TypePipelineStageFinished, "error", ss.Name, "stage %s failed: %s", ss.Name, reason)
	if t.st.Failed == "" {
		t.st.Failed = ss.Name
	}
}

// advance opens gates and starts the stages whose stages before have succeeded.
func (t *tick) advance(ctx context.Context) (bool, error) {
	for i := range t.st.Stages {
		ss := &t.st.Stages[i]
		s := t.p.Stage(ss.Name)
		if s == nil {
			return false, fmt.Errorf("stage %s is not in pipeline %s v%d", ss.Name, t.run.Pipeline, t.run.PipelineVersion)
		}
		var err error
		switch ss.Status {
		case StagePending:
			if t.needsMet(ss) {
				err = t.openGates(ctx, ss, s)
			}
		case StageGated:
			err = t.gate(ctx, ss, s)
		case StageStarting:
			err = t.start(ctx, ss, s)
		}
		if err != nil {
			return false, err
		}
		if t.st.Failed != "" {
			return t.windDown(ctx, false)
		}
	}
	return t.settle(ctx)
}

// settle ends the run when every stage succeeded, and keeps its status (running or
// waiting for an approval) current otherwise.
func (t *tick) settle(ctx context.Context) (bool, error) {
	all, waiting := true, ""
	for i := range t.st.Stages {
		ss := &t.st.Stages[i]
		all = all && ss.Status == StageSucceeded
		if ss.Status == StageGated && ss.Gate < len(ss.Gates) && ss.Gates[ss.Gate].Kind == "approval" && waiting == "" {
			waiting = ss.Name
		}
	}
	status, reason := store.StatusRunning, ""
	switch {
	case all:
		status = store.StatusSucceeded
	case waiting != "":
		status, reason = store.StatusWaiting, "waiting for approval before stage "+waiting
	}
	if status == t.run.Status && reason == t.run.Reason {
		return false, nil
	}
	if all {
		t.setStatus(status, reason, events.TypePipelineFinished, "info", "pipeline %s succeeded: every stage released", t.run.Pipeline)
	} else {
		t.setStatus(status, reason, events.TypePipelineStatus, "info", "run is %s", cmp.Or(reason, string(status)))
	}
	return all, t.save(ctx)
}

// setStatus changes the run's status and logs it with a line of kind (TypePipelineStatus
// or TypePipelineFinished) carrying the change, so streams and their readers see it.
func (t *tick) setStatus(status store.Status, reason string, kind events.Type, level, format string, args ...any) {
	from := t.run.Status
	t.run.Status, t.run.Reason = status, reason
	t.st.log(t.now, kind, level, "", format, args...).with(events.StatusData{From: from, Reason: reason, Status: status})
}

// needsMet reports whether every stage this one comes after has succeeded.
func (t *tick) needsMet(ss *StageState) bool {
	for _, n := range ss.Needs {
		if up := t.st.stage(n); up == nil || up.Status != StageSucceeded {
			return false
		}
	}
	return true
}

// openGates puts a stage behind its first gate, or starts it when it has none.
func (t *tick) openGates(ctx context.Context, ss *StageState, s *spec.Stage) error {
	if len(s.Gates) == 0 {
		return t.start(ctx, ss, s)
	}
	ss.Status, ss.Gate, ss.GateSince = StageGated, 0, t.now
	t.logGate(ss, s)
	if err := t.save(ctx); err != nil {
		return err
	}
	return t.gate(ctx, ss, s)
}

func (t *tick) logGate(ss *StageState, s *spec.Stage) {
	g := s.Gates[ss.Gate]
	if a := g.Approval; a != nil {
		t.st.log(t.now, events.TypePipelineGateWaiting, "info", ss.Name, "stage %s waits for approval from %s (%d needed)%s",
			ss.Name, strings.Join(a.Approvers, ", "), max(a.Required, 1), prefixed(": ", a.Message))
		return
	}
	if g.Verify != nil {
		t.st.log(t.now, events.TypePipelineGateWaiting, "info", ss.Name, "stage %s waits for the verification of %s", ss.Name, strings.Join(ss.Needs, ", "))
		return
	}
	t.st.log(t.now, events.TypePipelineGateWaiting, "info", ss.Name, "stage %s soaks for %s", ss.Name, g.Soak)
}

// gate checks the gate holding a stage and passes or fails it.
func (t *tick) gate(ctx context.Context, ss *StageState, s *spec.Stage) error {
	g := s.Gates[ss.Gate]
	var pass bool
	var fail string
	switch {
	case g.Approval != nil:
		pass, fail = t.approval(ss, g.Approval)
	case g.Verify != nil:
		pass, fail = t.verifyGate(ss, g.Verify)
	default:
		var err error
		if pass, fail, err = t.soak(ctx, ss, g.Soak.Std()); err != nil {
			return err
		}
	}
	switch {
	case fail != "":
		t.st.log(t.now, events.TypePipelineGateFailed, "error", ss.Name, "gate %d of stage %s failed: %s", ss.Gate+1, ss.Name, fail)
		t.failStage(ss, fail)
		return t.save(ctx)
	case !pass:
		return nil
	}
	ss.Gates[ss.Gate].Passed = true
	t.st.log(t.now, events.TypePipelineGatePassed, "info", ss.Name, "gate %d of stage %s (%s) passed", ss.Gate+1, ss.Name, g.Kind())
	ss.Gate++
	ss.GateSince = t.now
	if ss.Gate < len(s.Gates) {
		t.logGate(ss, s)
		return t.save(ctx)
	}
	return t.start(ctx, ss, s)
}

// approval reads the decisions on the stage's current gate.
func (t *tick) approval(ss *StageState, a *spec.ApprovalStep) (pass bool, fail string) {
	n := 0
	for _, d := range ss.Decisions {
		if d.Gate != ss.Gate {
			continue
		}
		if !d.Approve {
			return false, "approval rejected by " + d.By + prefixed(": ", d.Comment)
		}
		n++
	}
	if n >= max(a.Required, 1) {
		return true, ""
	}
	if a.Timeout > 0 && !t.now.Before(ss.GateSince.Add(a.Timeout.Std())) {
		if a.OnTimeout == spec.TimeoutContinue {
			t.st.log(t.now, events.TypePipelineGatePassed, "warn", ss.Name, "no decision within %s: continuing (onTimeout: continue)", a.Timeout)
			return true, ""
		}
		return false, fmt.Sprintf("no decision within %s", a.Timeout)
	}
	return false, ""
}

// soak passes once d has gone by since the gate opened, and fails when a service of
// the stages before was rolled back or changed by another release meanwhile.
func (t *tick) soak(ctx context.Context, ss *StageState, d time.Duration) (bool, string, error) {
	for _, n := range ss.Needs {
		up := t.st.stage(n)
		if up == nil || up.Service == "" {
			continue
		}
		svc, err := t.r.st.GetService(ctx, up.Environment, up.Service)
		if err != nil {
			return false, "", fmt.Errorf("stage %s: soak: %w", ss.Name, err)
		}
		if svc.ExecutionID != up.Execution {
			return false, fmt.Sprintf("during the soak, service %s in %s was changed by execution %s", up.Service, up.Environment, svc.ExecutionID), nil
		}
	}
	return !t.now.Before(ss.GateSince.Add(d)), "", nil
}

// marker names a run's stage in the cause of the executions it starts, so that a
// resumed run finds an execution it started just before a crash.
func marker(runID, stage string) string {
	return fmt.Sprintf("pipeline run %s, stage %s", runID, stage)
}

// start writes the intent to start a stage, then starts its execution as the person
// who started the run; a stage whose intent was written before a restart first looks
// for the execution it may have started.
func (t *tick) start(ctx context.Context, ss *StageState, s *spec.Stage) error {
	if ss.Status == StageStarting {
		ex, found, err := t.adopt(ctx, s.Workflow, s.Environment, "", ss.StartAt, marker(t.run.ID, ss.Name))
		if err != nil {
			return err
		}
		if found {
			ss.Execution, ss.Service, ss.Status, ss.ExecStatus = ex.ID, ex.Service, StageRunning, ex.Status
			return t.save(ctx)
		}
	} else {
		id := auth.Identity{User: t.run.StartedBy, Groups: t.st.Groups}
		if a := t.r.opt.Authorize; a != nil {
			if err := a(ctx, id, s.Environment, fmt.Sprintf("running stage %s of pipeline %s", s.Name, t.run.Pipeline)); err != nil {
				t.failStage(ss, err.Error())
				return t.save(ctx)
			}
		}
		vars, version, err := t.stageVariables(ctx, s)
		if err != nil {
			t.failStage(ss, err.Error())
			return t.save(ctx)
		}
		ss.Status, ss.StartAt, ss.Variables, ss.WorkflowVersion = StageStarting, t.now, vars, version
		if err := t.save(ctx); err != nil {
			return err
		}
	}
	ex, err := t.r.opt.Engine.Start(ctx, engine.StartRequest{Workflow: s.Workflow, Version: ss.WorkflowVersion, Variables: ss.Variables,
		StartedBy: t.run.StartedBy, Cause: marker(t.run.ID, ss.Name)})
	if err != nil {
		t.failStage(ss, "cannot start: "+err.Error())
		return t.save(ctx)
	}
	ss.Execution, ss.Service, ss.Status, ss.ExecStatus = ex.ID, ex.Service, StageRunning, ex.Status
	t.st.log(t.now, events.TypePipelineStageStarted, "info", ss.Name, "stage %s started execution %s of %s in %s", ss.Name, ex.ID, ex.Workflow, ex.Environment)
	return t.save(ctx)
}

// stageVariables computes what a stage's workflow runs with: the pipeline's values
// for every variable the workflow declares, the environment variable when the
// workflow takes its environment from one, and the stage's own values; and the
// workflow version they were checked against, which the stage then runs.
func (t *tick) stageVariables(ctx context.Context, s *spec.Stage) (map[string]string, int64, error) {
	earlier := map[string]map[string]string{}
	for _, ss := range t.st.Stages {
		if ss.Status == StageSucceeded {
			earlier[ss.Name] = ss.Variables
		}
	}
	own, err := s.Resolve(t.run.Variables, earlier)
	if err != nil {
		return nil, 0, err
	}
	def, err := t.r.st.GetDefinition(ctx, store.KindWorkflow, s.Workflow, 0)
	if err != nil {
		return nil, 0, fmt.Errorf("workflow %s: %w", s.Workflow, err)
	}
	wf, err := spec.ParseWorkflow(s.Workflow, []byte(def.Source))
	if err != nil {
		return nil, 0, err
	}
	vars := map[string]string{}
	for _, v := range wf.Spec.Variables {
		if val, ok := t.run.Variables[v.Name]; ok {
			vars[v.Name] = val
		}
	}
	if ev := wf.EnvironmentVariable(); ev != "" {
		vars[ev] = s.Environment
	}
	for k, v := range own {
		vars[k] = v
	}
	inst, _, err := wf.Instantiate(vars)
	if err != nil {
		return nil, 0, err
	}
	if inst.Spec.Environment != s.Environment {
		return nil, 0, fmt.Errorf("workflow %s would deploy to %s, not to the stage's environment %s", s.Workflow, inst.Spec.Environment, s.Environment)
	}
	return vars, def.Version, nil
}

// adopt finds an execution started for this pipeline step at or after since: the
// engine names the cause in an execution's first console line.
func (t *tick) adopt(ctx context.Context, workflow, env, service string, since time.Time, cause string) (store.Execution, bool, error) {
	exs, err := t.r.st.ListExecutions(ctx, store.ExecutionFilter{Workflow: workflow, Environment: env, Service: service})
	if err != nil {
		return store.Execution{}, false, fmt.Errorf("find started execution: %w", err)
	}
	for _, ex := range exs {
		if ex.CreatedAt.Before(since.Add(-time.Second)) {
			break // newest first
		}
		evs, err := t.r.st.Events(ctx, ex.ID, 0, 1)
		if err != nil {
			return store.Execution{}, false, fmt.Errorf("find started execution: %w", err)
		}
		if len(evs) > 0 && strings.Contains(evs[0].Message, cause) {
			return ex, true, nil
		}
	}
	return store.Execution{}, false, nil
}

func prefixed(prefix, s string) string {
	if s == "" {
		return ""
	}
	return prefix + s
}
