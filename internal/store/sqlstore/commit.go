package sqlstore

import (
	"fmt"

	"github.com/sluicehq/sluice/internal/store"
)

// The statements of a Commit. Each store runs them its own way (SQLite as statements
// prepared once on its writer connection, PostgreSQL in one batch round trip).
const (
	// InsertExecution's arguments are id, Prepared.ExecArgs, the journal and event
	// counts, then Prepared.Lease.
	InsertExecution = `INSERT INTO executions (id, workflow, workflow_version, environment, environment_version,
		service, variables, started_by, created_at, updated_at, status, reason, state, version, journal_seq, event_seq,
		owner, lease_until)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1, ?, ?, ?, ?)`
	// UpdateExecution's arguments are Prepared.UpdateArgs.
	UpdateExecution = `UPDATE executions SET workflow = ?, workflow_version = ?, environment = ?,
		environment_version = ?, service = ?, variables = ?, started_by = ?, updated_at = ?, status = ?,
		reason = ?, state = ?, version = version + 1, journal_seq = journal_seq + ?, event_seq = event_seq + ?
		WHERE id = ? AND version = ? RETURNING version, journal_seq, event_seq`
	// BumpSeqs advances the counters of an execution a Commit adds rows to without
	// changing it; its arguments are the journal and event counts, then the id.
	BumpSeqs = `UPDATE executions SET journal_seq = journal_seq + ?, event_seq = event_seq + ?
		WHERE id = ? RETURNING version, journal_seq, event_seq`
	// InsertJournal's and InsertEvent's arguments are id, seq, then a row of
	// Prepared.Journal or Prepared.Events.
	InsertJournal = `INSERT INTO journal (execution_id, seq, key, kind, data, at) VALUES (?, ?, ?, ?, ?, ?)`
	InsertEvent   = `INSERT INTO events (execution_id, seq, at, type, step, level, message, data)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)`
	// UpsertService's arguments are ServiceArgs.
	UpsertService = `INSERT INTO services (environment, service, live_slot, artifact, instances, execution_id, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (environment, service) DO UPDATE SET live_slot = excluded.live_slot,
		artifact = excluded.artifact, instances = excluded.instances,
		execution_id = excluded.execution_id, updated_at = excluded.updated_at`
	// ServiceHolder finds the other unfinished execution of a service; its arguments
	// are environment, service and the committing execution's id.
	ServiceHolder = `SELECT id FROM executions WHERE environment = ? AND service = ? AND id <> ?
		AND ` + NotTerminal + ` LIMIT 1`
	// ExecutionVersion reads the stored version of an execution by id.
	ExecutionVersion = `SELECT version FROM executions WHERE id = ?`
)

// Prepared is a Commit validated and encoded before any SQL runs, so a store spends
// its transaction (or SQLite its writer goroutine) on SQL only.
type Prepared struct {
	C        *store.Commit
	ID       string
	ExecArgs []any // workflow .. state, in InsertExecution order after id
	Lease    []any // owner and lease_until, written on create only
	Journal  [][]any
	Events   [][]any
}

// PrepareCommit validates c and encodes its rows.
func PrepareCommit(c *store.Commit) (*Prepared, error) {
	id, err := c.Check()
	if err != nil {
		return nil, err
	}
	p := &Prepared{C: c, ID: id}
	if e := c.Execution; e != nil {
		vars, state, err := encodeRun(e.Variables, e.State)
		if err != nil {
			return nil, err
		}
		p.ExecArgs = []any{e.Workflow, e.WorkflowVersion, e.Environment, e.EnvironmentVersion, e.Service,
			vars, e.StartedBy, EncodeTime(e.CreatedAt), EncodeTime(e.UpdatedAt), string(e.Status), e.Reason, state}
		p.Lease = []any{e.Owner, OptTime(e.LeaseUntil)}
	}
	for i, j := range c.Journal {
		data, err := EncodeJSON(fmt.Sprintf("journal[%d].data", i), j.Data)
		if err != nil {
			return nil, err
		}
		p.Journal = append(p.Journal, []any{j.Key, j.Kind, data, EncodeTime(j.At)})
	}
	for i, ev := range c.Events {
		data, err := EncodeJSON(fmt.Sprintf("events[%d].data", i), ev.Data)
		if err != nil {
			return nil, err
		}
		p.Events = append(p.Events, []any{EncodeTime(ev.At), ev.Type, ev.Step, ev.Level, ev.Message, data})
	}
	return p, nil
}

// InsertArgs are InsertExecution's arguments.
func (p *Prepared) InsertArgs() []any {
	return append(append(append([]any{p.ID}, p.ExecArgs...), int64(len(p.Journal)), int64(len(p.Events))), p.Lease...)
}

// UpdateArgs are UpdateExecution's arguments: every column but created_at, the counts,
// then id and the version the caller read.
func (p *Prepared) UpdateArgs() []any {
	args := append(append([]any{}, p.ExecArgs[:7]...), p.ExecArgs[8:]...)
	return append(args, int64(len(p.Journal)), int64(len(p.Events)), p.ID, p.C.Execution.Version)
}

// ServiceArgs are UpsertService's arguments for sv.
func ServiceArgs(sv *store.ServiceState) []any {
	return []any{sv.Environment, sv.Service, sv.LiveSlot, sv.Artifact, sv.Instances, sv.ExecutionID, EncodeTime(sv.UpdatedAt)}
}

// Publish copies what the store assigned into the caller's Commit: the execution's
// new version, and seqs that follow firstJ and firstE.
func (p *Prepared) Publish(version, firstJ, firstE int64) {
	c := p.C
	if c.Execution != nil {
		c.Execution.Version = version
	}
	for i := range c.Journal {
		c.Journal[i].Seq = firstJ + int64(i) + 1
	}
	for i := range c.Events {
		c.Events[i].ExecutionID = p.ID
		c.Events[i].Seq = firstE + int64(i) + 1
	}
}
