package follow

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/sluicehq/sluice/internal/api"
	"github.com/sluicehq/sluice/internal/engine"
	"github.com/sluicehq/sluice/internal/events"
	"github.com/sluicehq/sluice/internal/store"
	"github.com/sluicehq/sluice/internal/verify"
)

// View is what the terminal shows of one execution, kept up to date by events and
// by the execution record.
type View struct {
	ID, Workflow, Environment, Service string
	Version                            int64
	Status                             store.Status
	Reason                             string
	LiveSlot, NewSlot                  string
	// Weights is the last split the router read back; nil before the first.
	Weights *Weights
	Phases  []*Phase
	steps   map[string]*Step
}

// Weights is a traffic split in percent.
type Weights struct {
	Green int `json:"green"`
	Blue  int `json:"blue"`
}

// Phase is one phase of the tree.
type Phase struct {
	Name   string
	Status store.Status
	Steps  []*Step
}

// Step is one step of the tree.
type Step struct {
	Key, Name, Type     string
	Status              store.Status
	StartedAt, Finished time.Time
	Deadline            time.Time
	// Detail is the step's latest record (load test progress, a measurement).
	Detail string
}

// NewView returns a view of an execution as its record says.
func NewView(ex api.Execution) *View {
	v := &View{steps: map[string]*Step{}}
	v.SetExecution(ex)
	return v
}

// SetExecution merges the execution record: statuses, times and deadlines of every
// step, the slots and the confirmed traffic split. Details from events are kept.
func (v *View) SetExecution(ex api.Execution) {
	v.ID, v.Workflow, v.Environment, v.Service = ex.ID, ex.Workflow, ex.Environment, ex.Service
	v.Version, v.Status, v.Reason = ex.WorkflowVersion, ex.Status, ex.Reason
	var st engine.State
	if len(ex.State) == 0 || json.Unmarshal(ex.State, &st) != nil {
		return
	}
	v.LiveSlot, v.NewSlot = string(st.LiveSlot), string(st.NewSlot)
	if st.Promoted { // the new slot serves now: it is the live one, nothing is staged
		v.LiveSlot, v.NewSlot = string(st.NewSlot), ""
	}
	if st.Weights != nil {
		v.Weights = &Weights{Green: st.Weights.Green, Blue: st.Weights.Blue}
	}
	phases := make([]*Phase, 0, len(st.Phases))
	for _, ps := range st.Phases {
		p := &Phase{Name: ps.Name, Status: ps.Status}
		if p.Status == store.StatusRunning && ex.Status != store.StatusRunning {
			p.Status = ex.Status // a phase under way reads as its execution: paused, waiting, aborted
		}
		for _, ss := range ps.Steps {
			p.Steps = append(p.Steps, v.mergeStep(ss))
		}
		phases = append(phases, p)
	}
	v.Phases = phases
}

func (v *View) mergeStep(ss engine.StepState) *Step {
	s := v.steps[ss.Key]
	if s == nil {
		s = &Step{Key: ss.Key}
		v.steps[ss.Key] = s
	}
	s.Name, s.Type, s.Status = ss.Name, ss.Type, ss.Status
	s.StartedAt, s.Finished, s.Deadline = deref(ss.StartedAt), deref(ss.FinishedAt), deref(ss.Deadline)
	return s
}

func deref(t *time.Time) time.Time {
	if t == nil {
		return time.Time{}
	}
	return *t
}

// Apply updates the view with one event and reports whether the execution record
// should be read again (a step or the execution changed status, so deadlines and
// phase statuses may have too).
func (v *View) Apply(e api.Event) bool {
	switch e.Type {
	case events.TypeStatus:
		var d events.StatusData
		if json.Unmarshal(e.Data, &d) == nil && d.Status != "" {
			v.Status, v.Reason = d.Status, d.Reason
		}
		return true
	case events.TypeStep:
		v.applyStep(e)
		return true
	case events.TypeWeights:
		var w events.WeightsData
		if json.Unmarshal(e.Data, &w) == nil {
			v.Weights = &Weights{Blue: w.Blue, Green: w.Green}
		}
	case events.TypeLoadTest, events.TypeMeasurement:
		if s := v.steps[e.Step]; s != nil {
			if d := detailOf(e); d != "" {
				s.Detail = d
			}
		}
	}
	return false
}

func (v *View) applyStep(e api.Event) {
	s := v.steps[e.Step]
	if s == nil {
		return
	}
	var d events.StepData
	if json.Unmarshal(e.Data, &d) != nil || d.Status == "" {
		return
	}
	was := s.Status
	s.Status = d.Status
	switch {
	case s.Status != store.StatusRunning:
		s.Finished = e.At
	case was != store.StatusRunning:
		// A new attempt; a record read since may already carry its start and deadline.
		s.StartedAt, s.Finished, s.Deadline, s.Detail = e.At, time.Time{}, time.Time{}, ""
	}
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	return s
}

// ConsoleText formats one console event as HH:MM:SS [step] message in loc, or ""
// for events without a message (data for charts, such as measurements).
func ConsoleText(e api.Event, loc *time.Location) string {
	if e.Message == "" {
		return ""
	}
	var b strings.Builder
	b.WriteString(e.At.In(loc).Format("15:04:05"))
	if e.Step != "" {
		b.WriteString(" [" + e.Step + "]")
	}
	switch e.Level {
	case "warn", "error":
		b.WriteString(" " + strings.ToUpper(e.Level) + ":")
	}
	b.WriteString(" " + e.Message)
	return b.String()
}

// String is the split as "green 90% · blue 10%".
func (w Weights) String() string {
	return fmt.Sprintf("green %d%% · blue %d%%", w.Green, w.Blue)
}

// detailOf is an event's line for its step: its message, or for a measurement
// (recorded without one) the verdict in plain words.
func detailOf(e api.Event) string {
	if e.Message != "" {
		return firstLine(e.Message)
	}
	var ms verify.Measurement
	if e.Type != events.TypeMeasurement || json.Unmarshal(e.Data, &ms) != nil || ms.Metric == "" {
		return ""
	}
	return verify.Describe(ms)
}
