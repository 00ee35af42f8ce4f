package report

import (
	"encoding/json"
	"fmt"
	"sort"
	"time"

	"github.com/sluicehq/sluice/internal/engine"
	"github.com/sluicehq/sluice/internal/events"
	"github.com/sluicehq/sluice/internal/store"
	"github.com/sluicehq/sluice/internal/traffic"
	"github.com/sluicehq/sluice/internal/verify"
)

// Report is the release report of one execution.
type Report struct {
	ID                 string            `json:"id"`
	Workflow           string            `json:"workflow"`
	WorkflowVersion    int64             `json:"workflowVersion"`
	Environment        string            `json:"environment"`
	EnvironmentVersion int64             `json:"environmentVersion"`
	Service            string            `json:"service"`
	Variables          map[string]string `json:"variables,omitempty"`
	StartedBy          string            `json:"startedBy"`
	Started            time.Time         `json:"started"`
	// Ended is when the execution reached its final status; nil while it runs.
	Ended  *time.Time   `json:"ended,omitempty"`
	Status store.Status `json:"status"`
	Reason string       `json:"reason,omitempty"`
	// LiveSlot served users when the execution began; NewSlot held the new version.
	LiveSlot  string           `json:"liveSlot,omitempty"`
	NewSlot   string           `json:"newSlot,omitempty"`
	Promoted  bool             `json:"promoted"`
	Steps     []Step           `json:"steps"`
	Verdicts  []Verdict        `json:"verdicts"`
	Approvals []Approval       `json:"approvals"`
	Traffic   []Move           `json:"traffic"`
	Rollback  *Rollback        `json:"rollback,omitempty"`
	Generated time.Time        `json:"generated"`
	Weights   *traffic.Weights `json:"weights,omitempty"` // the last split the router confirmed
}

// Step is one step of the workflow and how it went.
type Step struct {
	Phase    string       `json:"phase"`
	Key      string       `json:"key"`
	Name     string       `json:"name"`
	Type     string       `json:"type"`
	Status   store.Status `json:"status"`
	Started  *time.Time   `json:"started,omitempty"`
	Finished *time.Time   `json:"finished,omitempty"`
	Message  string       `json:"message,omitempty"`
}

// Verdict is a metric's outcome in one verify step: its last measurement in
// numbers and words, and how its measurements went.
type Verdict struct {
	Step         string          `json:"step"`
	StepName     string          `json:"stepName"`
	Metric       string          `json:"metric"`
	Judge        string          `json:"judge"`
	Verdict      verify.Verdict  `json:"verdict"` // the last measurement's
	At           time.Time       `json:"at"`
	Measurements int             `json:"measurements"`
	Failed       int             `json:"failed"`
	Inconclusive int             `json:"inconclusive"`
	Errors       int             `json:"errors"`
	Summary      *verify.Summary `json:"summary,omitempty"`
	Text         string          `json:"text"`
}

// Approval is one decision on an approval step.
type Approval struct {
	Step     string    `json:"step"`
	StepName string    `json:"stepName"`
	Approve  bool      `json:"approve"`
	By       string    `json:"by"`
	Comment  string    `json:"comment,omitempty"`
	At       time.Time `json:"at"`
	Timeout  bool      `json:"timeout,omitempty"`
}

// Move is a split of traffic the router confirmed.
type Move struct {
	At   time.Time `json:"at"`
	Step string    `json:"step,omitempty"`
	// StepName is the step's name, or "rollback".
	StepName string `json:"stepName,omitempty"`
	Green    int    `json:"green"`
	Blue     int    `json:"blue"`
}

// Rollback says why traffic went back and how fast.
type Rollback struct {
	Cause string `json:"cause"`
	// Step is the step whose failure caused it, when one did.
	Step     string `json:"step,omitempty"`
	StepName string `json:"stepName,omitempty"`
	// Evidence is the failing measurement in words, when a verdict caused it.
	Evidence   string     `json:"evidence,omitempty"`
	EvidenceAt *time.Time `json:"evidenceAt,omitempty"`
	Began      *time.Time `json:"began,omitempty"`
	// Restored is when the router confirmed 100% on the live slot (100/0).
	Restored *time.Time `json:"restored,omitempty"`
	LiveSlot string     `json:"liveSlot,omitempty"`
	// ToFull is Restored minus Began: the rollback's time to 100/0.
	ToFull *Duration `json:"timeTo100,omitempty"`
	// SinceEvidence is Restored minus the failing measurement's time.
	SinceEvidence *Duration    `json:"sinceEvidence,omitempty"`
	Status        store.Status `json:"status"`
	NeedsPerson   string       `json:"needsAttention,omitempty"`
}

// Duration is a time.Duration written in JSON as milliseconds and words.
type Duration time.Duration

// MarshalJSON writes {"ms": 1234, "text": "1.234s"}.
func (d Duration) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		MS   int64  `json:"ms"`
		Text string `json:"text"`
	}{time.Duration(d).Milliseconds(), d.String()})
}

// String writes the duration rounded to milliseconds.
func (d Duration) String() string { return time.Duration(d).Round(time.Millisecond).String() }

// Build makes the report of an execution from its record and its console
// events (every event, in order); now stamps it.
func Build(ex store.Execution, evs []store.Event, now time.Time) (*Report, error) {
	var st engine.State
	if len(ex.State) > 0 {
		if err := json.Unmarshal(ex.State, &st); err != nil {
			return nil, fmt.Errorf("report: execution %s: state: %w", ex.ID, err)
		}
	}
	r := &Report{ID: ex.ID, Workflow: ex.Workflow, WorkflowVersion: ex.WorkflowVersion, Environment: ex.Environment,
		EnvironmentVersion: ex.EnvironmentVersion, Service: ex.Service, Variables: ex.Variables, StartedBy: ex.StartedBy,
		Started: ex.CreatedAt, Status: ex.Status, Reason: ex.Reason, LiveSlot: string(st.LiveSlot), NewSlot: string(st.NewSlot),
		Promoted: st.Promoted, Weights: st.Weights, Generated: now.UTC(),
		Steps: []Step{}, Verdicts: []Verdict{}, Approvals: []Approval{}, Traffic: []Move{}}
	names := r.steps(st)
	r.approvals(st, names)
	r.events(evs, names)
	if ex.Status.Terminal() {
		end := ex.UpdatedAt
		r.Ended = &end
	}
	r.rollback(st, evs, names)
	return r, nil
}

// steps lists the steps of every phase and returns their names by key.
func (r *Report) steps(st engine.State) map[string]string {
	names := map[string]string{}
	for _, p := range st.Phases {
		for _, s := range p.Steps {
			names[s.Key] = s.Name
			r.Steps = append(r.Steps, Step{Phase: p.Name, Key: s.Key, Name: s.Name, Type: s.Type, Status: s.Status,
				Started: s.StartedAt, Finished: s.FinishedAt, Message: s.Message})
		}
	}
	return names
}

func (r *Report) approvals(st engine.State, names map[string]string) {
	for _, a := range st.Approvals {
		r.Approvals = append(r.Approvals, Approval{Step: a.Step, StepName: names[a.Step], Approve: a.Approve, By: a.By,
			Comment: a.Comment, At: a.At, Timeout: a.Timeout})
	}
}

// events reads traffic moves and measurements from the console, in order.
func (r *Report) events(evs []store.Event, names map[string]string) {
	byMetric := map[string]*Verdict{}
	var order []string
	for _, e := range evs {
		switch events.Type(e.Type) {
		case events.TypeWeights:
			var w traffic.Weights
			if json.Unmarshal(e.Data, &w) == nil {
				r.Traffic = append(r.Traffic, Move{At: e.At, Step: e.Step, StepName: orString(names[e.Step], e.Step), Green: w.Green, Blue: w.Blue})
			}
		case events.TypeMeasurement:
			var ms verify.Measurement
			if json.Unmarshal(e.Data, &ms) != nil || ms.Metric == "" {
				continue
			}
			key := e.Step + "\x00" + ms.Metric
			v := byMetric[key]
			if v == nil {
				v = &Verdict{Step: e.Step, StepName: names[e.Step], Metric: ms.Metric, Judge: ms.Judge}
				byMetric[key] = v
				order = append(order, key)
			}
			v.add(ms)
		}
	}
	for _, k := range order {
		r.Verdicts = append(r.Verdicts, *byMetric[k])
	}
}

// add counts one measurement; the last one is the metric's verdict.
func (v *Verdict) add(ms verify.Measurement) {
	v.Measurements++
	switch ms.Verdict {
	case verify.Failed:
		v.Failed++
	case verify.Inconclusive:
		v.Inconclusive++
	case verify.Error:
		v.Errors++
	}
	v.Verdict, v.At, v.Summary, v.Text = ms.Verdict, ms.At, ms.Summary, verify.Describe(ms)
}

// rollback finds why and when traffic went back to the live slot.
func (r *Report) rollback(st engine.State, evs []store.Event, names map[string]string) {
	if st.Rollback == nil {
		return
	}
	rb := &Rollback{Cause: st.Rollback.Reason, Status: st.Rollback.Status, NeedsPerson: st.Rollback.NeedsPerson, LiveSlot: string(st.LiveSlot)}
	r.Rollback = rb
	began := -1
	for i, e := range evs {
		if events.Type(e.Type) == events.TypeStatus && statusOf(e) == store.StatusRollingBack {
			at := e.At
			rb.Began, began = &at, i
			break
		}
	}
	if began < 0 {
		return
	}
	rb.failedStep(evs[:began], names)
	for _, e := range evs[began:] {
		var w traffic.Weights
		if events.Type(e.Type) != events.TypeWeights || json.Unmarshal(e.Data, &w) != nil || st.LiveSlot == "" || w.Of(st.LiveSlot) != 100 {
			continue
		}
		at := e.At
		rb.Restored = &at
		d := Duration(at.Sub(*rb.Began))
		rb.ToFull = &d
		if rb.EvidenceAt != nil {
			s := Duration(at.Sub(*rb.EvidenceAt))
			rb.SinceEvidence = &s
		}
		break
	}
}

// failedStep finds the last step that failed before the rollback began and, in
// it, the last measurement that did not pass.
func (rb *Rollback) failedStep(evs []store.Event, names map[string]string) {
	for i := len(evs) - 1; i >= 0; i-- {
		e := evs[i]
		if events.Type(e.Type) == events.TypeStep && statusOf(e) == store.StatusFailed {
			rb.Step, rb.StepName = e.Step, names[e.Step]
			break
		}
	}
	if rb.Step == "" {
		return
	}
	for i := len(evs) - 1; i >= 0; i-- {
		e := evs[i]
		var ms verify.Measurement
		if events.Type(e.Type) != events.TypeMeasurement || e.Step != rb.Step || json.Unmarshal(e.Data, &ms) != nil || ms.Verdict == verify.Successful {
			continue
		}
		rb.Evidence = verify.Describe(ms)
		at := ms.At
		if at.IsZero() {
			at = e.At
		}
		rb.EvidenceAt = &at
		return
	}
}

// statusOf is the status a status or step event moves to, or "".
func statusOf(e store.Event) store.Status {
	if events.Type(e.Type) == events.TypeStep {
		var d events.StepData
		_ = json.Unmarshal(e.Data, &d)
		return d.Status
	}
	var d events.StatusData
	_ = json.Unmarshal(e.Data, &d)
	return d.Status
}

// sortedKeys returns a map's keys in order.
func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func orString(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
