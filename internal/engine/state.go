package engine

import (
	"fmt"
	"time"

	"github.com/sluicehq/sluice/internal/events"
	"github.com/sluicehq/sluice/internal/platform"
	"github.com/sluicehq/sluice/internal/spec"
	"github.com/sluicehq/sluice/internal/store"
	"github.com/sluicehq/sluice/internal/traffic"
)

// State is the engine's progress record of one execution, stored as JSON in
// store.Execution.State and shown as-is by the API.
type State struct {
	// LiveSlot is the slot that served users when the execution began; empty on a
	// service's first release.
	LiveSlot platform.Slot `json:"liveSlot"`
	// LiveArtifact and LiveInstances are what the live slot ran when the execution
	// began, so a rollback after the promotion says truly what is live again.
	LiveArtifact  string `json:"liveArtifact,omitempty"`
	LiveInstances int    `json:"liveInstances,omitempty"`
	// NewSlot is the slot the execution stages the new version in.
	NewSlot platform.Slot `json:"newSlot"`
	// Promoted is true once the new slot became live.
	Promoted bool `json:"promoted"`
	// OldScaledDown is true once the previously live slot was scaled down, after which
	// an instant switch back is no longer possible.
	OldScaledDown bool `json:"oldScaledDown,omitempty"`
	// Weights is the last split the router confirmed.
	Weights *traffic.Weights `json:"weights,omitempty"`

	// Phase and Step point at the step being run (or next to run).
	Phase int `json:"phase"`
	Step  int `json:"step"`

	Phases []PhaseState `json:"phases"`
	// Rollback is the progress of the rollback, once one started.
	Rollback *RollbackState `json:"rollback,omitempty"`
	// Approvals records every decision taken on approval steps.
	Approvals []ApprovalRecord `json:"approvals,omitempty"`
	// PausedFor says why the execution is paused: "request" or "failure".
	PausedFor string `json:"pausedFor,omitempty"`
	// RequestsDone is the number of the last stored request the execution acted on;
	// it is written with the request's effect, so a server that takes the execution
	// over delivers exactly the later ones.
	RequestsDone int64 `json:"requestsDone,omitempty"`
	// Analyses are the background analyses started so far, by scope key
	// ("analysis" for the workflow's, "p2.analysis" for phase 2's).
	Analyses map[string]*AnalysisState `json:"analyses,omitempty"`
}

// PhaseState is the status of one phase.
type PhaseState struct {
	Name   string       `json:"name"`
	Status store.Status `json:"status"`
	Steps  []StepState  `json:"steps"`
}

// StepState is the status of one step.
type StepState struct {
	Key        string       `json:"key"` // p1.s2: phase 1, step 2
	Name       string       `json:"name"`
	Type       string       `json:"type"`
	Status     store.Status `json:"status"`
	Attempt    int          `json:"attempt,omitempty"`
	StartedAt  *time.Time   `json:"startedAt,omitempty"`
	FinishedAt *time.Time   `json:"finishedAt,omitempty"`
	// Deadline is when a timed step (wait, approval, retry backoff) ends; kept so a
	// resumed execution waits only for what is left.
	Deadline *time.Time `json:"deadline,omitempty"`
	Message  string     `json:"message,omitempty"`
}

// RollbackState is the progress of a rollback.
type RollbackState struct {
	Reason      string       `json:"reason"`
	Status      store.Status `json:"status"`
	Step        int          `json:"step"` // next explicit rollback step
	Attempts    int          `json:"attempts,omitempty"`
	Traffic     bool         `json:"traffic,omitempty"`    // traffic restored and read back
	ScaledDown  bool         `json:"scaledDown,omitempty"` // the new slot scaled to zero
	NeedsPerson string       `json:"needsAttention,omitempty"`
}

// ApprovalRecord is one decision on an approval step.
type ApprovalRecord = events.DecisionData

// stepKey names a step within its execution: phase and step, 1-based.
func stepKey(phase, step int) string { return fmt.Sprintf("p%d.s%d", phase+1, step+1) }

// newState lays out the phases and steps of a workflow, all pending.
func newState(wf *spec.Workflow) State {
	st := State{Phases: make([]PhaseState, len(wf.Spec.Phases))}
	for i, ph := range wf.Spec.Phases {
		ps := PhaseState{Name: ph.Name, Status: store.StatusPending, Steps: make([]StepState, len(ph.Steps))}
		for j := range ph.Steps {
			s := &ph.Steps[j]
			ps.Steps[j] = StepState{Key: stepKey(i, j), Name: s.DisplayName(), Type: string(s.Type()), Status: store.StatusPending}
		}
		st.Phases[i] = ps
	}
	return st
}

// current returns the state of the step under the cursor.
func (s *State) current() *StepState { return &s.Phases[s.Phase].Steps[s.Step] }

// slot resolves a role to a colour at this point of the execution.
func (s *State) slot(role spec.SlotRole) platform.Slot {
	switch role {
	case spec.RoleLive:
		if s.Promoted {
			return s.NewSlot
		}
		return s.LiveSlot
	case spec.RoleOld:
		return s.LiveSlot
	default:
		return s.NewSlot
	}
}
