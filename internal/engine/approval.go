package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/sluicehq/sluice/internal/events"
	"github.com/sluicehq/sluice/internal/spec"
	"github.com/sluicehq/sluice/internal/store"
)

// forced is a step failure that carries its own action, overriding the strategy.
type forced struct {
	action spec.FailureAction
	err    error
}

func (f *forced) Error() string { return f.err.Error() }
func (f *forced) Unwrap() error { return f.err }

// approval waits for enough approvals from allowed people, a rejection, or the timeout.
func (r *run) approval(ctx context.Context, s *spec.Step, ss *StepState) error {
	a := s.Approval
	need := max(a.Required, 1)
	if done, err := r.approvalOutcome(ss.Key, need); done {
		return err
	}
	if r.timedOut(ss.Key) {
		return r.approvalTimedOut(ctx, ss, a)
	}
	var until = r.e.opt.Now().AddDate(100, 0, 0)
	if a.Timeout > 0 {
		until = r.deadline(ss, a.Timeout.Std()) // stored with the status, for the UI's timer
	}
	if r.ex.Status != store.StatusWaiting {
		r.console(ss.Key, "info", "waiting for approval from %s (%d needed)%s", strings.Join(a.Approvers, ", "), need, prefixed(": ", a.Message))
		reason := "waiting for approval of " + ss.Name
		if note := r.evidenceNote(ctx); note != "" {
			r.console(ss.Key, "warn", "before you approve: %s", note)
			reason += "; " + note
		}
		if err := r.setStatus(ctx, store.StatusWaiting, reason); err != nil {
			return err
		}
	}
	err := r.block(ctx, until, func(d Decision) (bool, error) { return r.decide(ctx, ss, a, need, d) })
	switch {
	case errors.Is(err, errDecided):
		_, err = r.approvalOutcome(ss.Key, need)
	case err == nil:
		err = r.approvalTimedOut(ctx, ss, a)
	}
	if err == nil || !isInterrupt(err) {
		if serr := r.setStatus(ctx, store.StatusRunning, ""); serr != nil {
			return serr
		}
	}
	return err
}

func isInterrupt(err error) bool {
	var in *interrupt
	return errors.As(err, &in)
}

// approvalDecider returns the decision handler of the approval step under the cursor,
// or nil when the cursor is not on a running approval.
func (r *run) approvalDecider(ctx context.Context) func(Decision) (bool, error) {
	if r.state.Phase >= len(r.wf.Spec.Phases) || r.state.Step >= len(r.wf.Spec.Phases[r.state.Phase].Steps) {
		return nil
	}
	s, ss := &r.wf.Spec.Phases[r.state.Phase].Steps[r.state.Step], r.state.current()
	if s.Approval == nil || ss.Status != store.StatusRunning {
		return nil
	}
	need := max(s.Approval.Required, 1)
	return func(d Decision) (bool, error) { return r.decide(ctx, ss, s.Approval, need, d) }
}

// approvalOutcome reports whether the recorded decisions settle the step, and how.
func (r *run) approvalOutcome(step string, need int) (bool, error) {
	n := 0
	for _, rec := range r.state.Approvals {
		if rec.Step != step || rec.Timeout {
			continue
		}
		if !rec.Approve {
			return true, &interrupt{kind: ctrlRollback, by: rec.By, reason: "approval rejected" + prefixed(": ", rec.Comment)}
		}
		n++
	}
	return n >= need, nil
}

// decide checks and records one person's decision; it reports whether the step is settled.
func (r *run) decide(ctx context.Context, ss *StepState, a *spec.ApprovalStep, need int, d Decision) (bool, error) {
	if !mayApprove(a.Approvers, d) {
		return false, fmt.Errorf("%w: %s may not decide on %s; approvers are %s", ErrForbidden, orAnonymous(d.By), ss.Name, strings.Join(a.Approvers, ", "))
	}
	if d.Approve && a.ForbidSelfApproval && d.By == r.ex.StartedBy {
		return false, fmt.Errorf("%w: %s started this execution and may not approve it (forbidSelfApproval)", ErrForbidden, d.By)
	}
	for _, rec := range r.state.Approvals {
		if rec.Step == ss.Key && rec.By == d.By {
			return false, fmt.Errorf("%w: %s already decided on %s", ErrInvalidState, d.By, ss.Name)
		}
	}
	rec := ApprovalRecord{Step: ss.Key, Approve: d.Approve, By: d.By, Comment: d.Comment, At: r.e.opt.Now().UTC()}
	r.state.Approvals = append(r.state.Approvals, rec)
	verb := "approved"
	if !d.Approve {
		verb = "rejected"
	}
	r.eventAt(events.LevelInfo, events.TypeDecision, ss.Key, fmt.Sprintf("%s by %s%s", verb, d.By, prefixed(": ", d.Comment)), rec)
	if err := r.commit(ctx, nil, r.journal(r.attemptKey(ss)+"/decision", events.KindDecision, rec)); err != nil {
		r.state.Approvals = r.state.Approvals[:len(r.state.Approvals)-1]
		return false, err
	}
	done, _ := r.approvalOutcome(ss.Key, need)
	return done, nil
}

// mayApprove reports whether the decider is named among the approvers, as a user or
// through a group ("group:<name>").
func mayApprove(approvers []string, d Decision) bool {
	if d.By == "" {
		return false
	}
	for _, a := range approvers {
		if g, ok := strings.CutPrefix(a, "group:"); ok {
			if slices.Contains(d.Groups, g) {
				return true
			}
		} else if a == d.By {
			return true
		}
	}
	return false
}

// approvalTimedOut applies the step's explicit timeout action.
func (r *run) approvalTimedOut(ctx context.Context, ss *StepState, a *spec.ApprovalStep) error {
	action := a.OnTimeout
	if action == "" {
		action = spec.TimeoutRollback
	}
	if !r.timedOut(ss.Key) {
		if err := r.recordTimeout(ctx, ss, a, action); err != nil {
			return err
		}
	}
	switch action {
	case spec.TimeoutContinue:
		return nil
	case spec.TimeoutFail:
		return &forced{action: spec.ActionFail, err: errors.New("approval timed out")}
	default:
		return &interrupt{kind: ctrlRollback, by: "timeout", reason: "approval timed out"}
	}
}

// timedOut reports whether the step's timeout was already recorded (before a restart).
func (r *run) timedOut(step string) bool {
	return slices.ContainsFunc(r.state.Approvals, func(a ApprovalRecord) bool { return a.Step == step && a.Timeout })
}

// recordTimeout journals that nobody decided in time.
func (r *run) recordTimeout(ctx context.Context, ss *StepState, a *spec.ApprovalStep, action spec.TimeoutAction) error {
	rec := ApprovalRecord{Step: ss.Key, Approve: action == spec.TimeoutContinue, By: "timeout", Comment: "no decision within " + a.Timeout.Std().String(), At: r.e.opt.Now().UTC(), Timeout: true}
	r.state.Approvals = append(r.state.Approvals, rec)
	r.eventAt(events.LevelWarn, events.TypeDecision, ss.Key, fmt.Sprintf("no decision on %s within %s: %s", ss.Name, a.Timeout.Std(), action), rec)
	return r.commit(ctx, nil, r.journal(r.attemptKey(ss)+"/timeout", events.KindDecision, rec))
}

func prefixed(prefix, s string) string {
	if s == "" {
		return ""
	}
	return prefix + s
}

// evidenceNote says where the measurements of the current phase lack the
// evidence for a pass (Options.EvidenceNote), or "".
func (r *run) evidenceNote(ctx context.Context) string {
	if r.e.opt.EvidenceNote == nil {
		return ""
	}
	journal, err := r.e.store.Journal(ctx, r.ex.ID)
	if err != nil {
		r.log.Warn("cannot read measurements for the approval", "err", err)
		return ""
	}
	phase := fmt.Sprintf("%s/p%d.", r.ex.ID, r.state.Phase+1)
	whole := fmt.Sprintf("%s/%s/", r.ex.ID, workflowScope)
	var ms []json.RawMessage
	for _, j := range journal {
		if events.Kind(j.Kind) == events.RecordKind(events.TypeMeasurement) && (strings.HasPrefix(j.Key, phase) || strings.HasPrefix(j.Key, whole)) {
			ms = append(ms, j.Data)
		}
	}
	return r.e.opt.EvidenceNote(ms)
}
