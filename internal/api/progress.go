package api

import (
	"context"
	"encoding/json"
	"time"

	"github.com/sluicehq/sluice/internal/engine"
	"github.com/sluicehq/sluice/internal/spec"
	"github.com/sluicehq/sluice/internal/store"
)

// Progress is where an execution of a list stands: its current step, the share of
// traffic on the new slot, the artifact it releases, and when it ended.
type Progress struct {
	Phase      string `json:"phase,omitempty"`
	Step       string `json:"step,omitempty"`
	StepType   string `json:"stepType,omitempty"`
	StepStatus string `json:"stepStatus,omitempty"`
	// Traffic is the percent the router last confirmed on the new slot; nil before any
	// weight was written.
	Traffic  *int   `json:"traffic,omitempty"`
	NewSlot  string `json:"newSlot,omitempty"`
	Promoted bool   `json:"promoted"`
	Artifact string `json:"artifact,omitempty"`
	// Approvers may decide the approval the execution waits for (empty: anyone who
	// holds approver); set only while it waits on one.
	Approvers  []string   `json:"approvers,omitempty"`
	EndedAt    *time.Time `json:"endedAt,omitempty"`
	DurationMs int64      `json:"durationMs"`
}

// progressOf reads an execution's progress from its state and workflow version.
func (h *handler) progressOf(ctx context.Context, e store.Execution, c workflowCache) *Progress {
	p := &Progress{}
	end := h.Now()
	if e.Status.Terminal() {
		end = e.UpdatedAt
		p.EndedAt = &end
	}
	p.DurationMs = max(0, end.Sub(e.CreatedAt).Milliseconds())
	var cw *spec.Workflow
	if wf := h.workflow(ctx, c, e.Workflow, e.WorkflowVersion); wf != nil {
		cw, _, _ = wf.Instantiate(e.Variables)
	}
	if cw != nil {
		p.Artifact = cw.Spec.Service.Artifact
	}
	var st engine.State
	if len(e.State) == 0 || json.Unmarshal(e.State, &st) != nil {
		return p
	}
	p.NewSlot, p.Promoted = string(st.NewSlot), st.Promoted
	if st.Weights != nil && st.NewSlot.Valid() {
		t := st.Weights.Of(st.NewSlot)
		p.Traffic = &t
	}
	if st.Phase < 0 || st.Phase >= len(st.Phases) {
		return p
	}
	ph := st.Phases[st.Phase]
	p.Phase = ph.Name
	if st.Step < 0 || st.Step >= len(ph.Steps) {
		return p
	}
	s := ph.Steps[st.Step]
	p.Step, p.StepType, p.StepStatus = s.Name, s.Type, string(s.Status)
	if e.Status == store.StatusWaiting && cw != nil && st.Phase < len(cw.Spec.Phases) && st.Step < len(cw.Spec.Phases[st.Phase].Steps) {
		if a := cw.Spec.Phases[st.Phase].Steps[st.Step].Approval; a != nil {
			p.Approvers = append([]string{}, a.Approvers...)
		}
	}
	return p
}
