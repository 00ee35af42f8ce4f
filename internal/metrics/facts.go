package metrics

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/sluicehq/sluice/internal/events"
	"github.com/sluicehq/sluice/internal/store"
)

// eventPage is how many events one store read returns.
const eventPage = 500

// execution is what the metrics need to know about one execution, accumulated from
// its row and its events.
type execution struct {
	workflow, environment, service string
	status                         store.Status
	createdAt, updatedAt           time.Time
	version                        int64
	newSlot                        string
	steps                          []stepFact

	seq             int64             // the last event read
	verdicts        map[[2]string]int // metric, verdict -> measurements
	providerErrors  map[string]int    // metric -> measurements whose provider failed
	rollbacks       int               // times the execution started rolling back
	rollbackStarted time.Time         // when the open rollback began; zero when none
	restores        []float64         // seconds from rollback start to 100/0 read back
	promotedAt      time.Time         // when the router first read back 100% on the new slot
}

// stepFact is one finished step attempt.
type stepFact struct {
	typ, status string
	seconds     float64
}

// engineState is the part of the engine's State (store.Execution.State) read here.
type engineState struct {
	NewSlot string `json:"newSlot"`
	Phases  []struct {
		Steps []struct {
			Type       string     `json:"type"`
			Status     string     `json:"status"`
			StartedAt  *time.Time `json:"startedAt"`
			FinishedAt *time.Time `json:"finishedAt"`
		} `json:"steps"`
	} `json:"phases"`
}

// terminal reports whether an execution has finished for good.
func terminal(s store.Status) bool {
	switch s {
	case store.StatusSucceeded, store.StatusFailed, store.StatusRolledBack, store.StatusAborted:
		return true
	}
	return false
}

// update takes the row's fields and state, then reads the events written since the
// last call.
func (e *execution) update(ctx context.Context, src Source, ex store.Execution) error {
	e.workflow, e.environment, e.service = ex.Workflow, ex.Environment, ex.Service
	e.status, e.createdAt, e.updatedAt, e.version = ex.Status, ex.CreatedAt, ex.UpdatedAt, ex.Version
	if err := e.readState(ex.State); err != nil {
		return fmt.Errorf("metrics: execution %s: %w", ex.ID, err)
	}
	for {
		evs, err := src.Events(ctx, ex.ID, e.seq, eventPage)
		if err != nil {
			return fmt.Errorf("metrics: events of %s: %w", ex.ID, err)
		}
		for _, ev := range evs {
			e.observe(ev)
			e.seq = ev.Seq
		}
		if len(evs) < eventPage {
			return nil
		}
	}
}

// readState takes the new slot and the finished steps from the engine's state.
func (e *execution) readState(raw json.RawMessage) error {
	e.steps = e.steps[:0]
	if len(raw) == 0 {
		return nil
	}
	var st engineState
	if err := json.Unmarshal(raw, &st); err != nil {
		return fmt.Errorf("decode state: %w", err)
	}
	e.newSlot = st.NewSlot
	for _, p := range st.Phases {
		for _, s := range p.Steps {
			if s.StartedAt == nil || s.FinishedAt == nil {
				continue
			}
			e.steps = append(e.steps, stepFact{typ: s.Type, status: s.Status, seconds: s.FinishedAt.Sub(*s.StartedAt).Seconds()})
		}
	}
	return nil
}

// observe takes one event's facts. Events whose data does not decode are skipped:
// they are the console's, not the metrics'.
func (e *execution) observe(ev store.Event) {
	switch events.Type(ev.Type) {
	case events.TypeStatus:
		var d events.StatusData
		if json.Unmarshal(ev.Data, &d) == nil && d.Status == store.StatusRollingBack {
			e.rollbacks++
			e.rollbackStarted = ev.At
		}
	case events.TypeWeights:
		e.observeWeights(ev)
	case events.TypeMeasurement:
		e.observeMeasurement(ev)
	}
}

// observeWeights closes an open rollback when the router reads back all traffic on
// one slot, and notes the promotion when it first reads back 100% on the new slot.
func (e *execution) observeWeights(ev store.Event) {
	var w events.WeightsData
	if json.Unmarshal(ev.Data, &w) != nil {
		return
	}
	all := w.Blue == 100 || w.Green == 100
	if ev.Step == "rollback" {
		if all && !e.rollbackStarted.IsZero() {
			e.restores = append(e.restores, ev.At.Sub(e.rollbackStarted).Seconds())
			e.rollbackStarted = time.Time{}
		}
		return
	}
	onNew := (e.newSlot == "blue" && w.Blue == 100) || (e.newSlot == "green" && w.Green == 100)
	if onNew && e.promotedAt.IsZero() {
		e.promotedAt = ev.At
	}
}

// observeMeasurement counts one judged measurement and, when its provider failed,
// one provider error.
func (e *execution) observeMeasurement(ev store.Event) {
	var m struct {
		Metric  string `json:"metric"`
		Verdict string `json:"verdict"`
		Error   string `json:"error"`
	}
	if json.Unmarshal(ev.Data, &m) != nil || m.Verdict == "" {
		return
	}
	if e.verdicts == nil {
		e.verdicts = map[[2]string]int{}
	}
	e.verdicts[[2]string{m.Metric, m.Verdict}]++
	if m.Error != "" {
		if e.providerErrors == nil {
			e.providerErrors = map[string]int{}
		}
		e.providerErrors[m.Metric]++
	}
}

// leadTime is the time from the execution's start to its new version taking all
// traffic, or to its success when the router never reported that.
func (e *execution) leadTime() float64 {
	end := e.promotedAt
	if end.IsZero() {
		end = e.updatedAt
	}
	return end.Sub(e.createdAt).Seconds()
}
