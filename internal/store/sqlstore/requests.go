package sqlstore

import (
	"context"
	"fmt"

	"github.com/sluicehq/sluice/internal/store"
)

const requestColumns = `execution_id, seq, kind, by_name, reason, data, at, answered, refusal, outcome, answered_at`

// requestColumnsR is requestColumns of the table aliased r.
const requestColumnsR = `r.execution_id, r.seq, r.kind, r.by_name, r.reason, r.data, r.at, r.answered, r.refusal,
	r.outcome, r.answered_at`

// AddRequest stores a request to a non-terminal execution and assigns its Seq. The
// execution row is read FOR UPDATE where the dialect locks rows, so concurrent requests
// get consecutive numbers; c.Requested, when set, runs in the same transaction.
func (c *Core) AddRequest(ctx context.Context, r *store.Request) error {
	data, err := EncodeJSON("data", r.Data)
	if err != nil {
		return c.Dialect.errorf("add request: %w", err)
	}
	var seq int64
	err = c.write(ctx, func(ctx context.Context, tx DB) error {
		var status, owner string
		if err := tx.QueryRow(ctx, `SELECT status, owner FROM executions WHERE id = ?`+c.Dialect.ForUpdate,
			r.ExecutionID).Scan(&status, &owner); err != nil {
			return err
		}
		if store.Status(status).Terminal() {
			return fmt.Errorf("%w: it is %s", store.ErrFinished, status)
		}
		if err := tx.QueryRow(ctx, `INSERT INTO requests (execution_id, seq, kind, by_name, reason, data, at)
			SELECT ?, COALESCE(MAX(seq), 0) + 1, ?, ?, ?, ?, ? FROM requests WHERE execution_id = ?
			RETURNING seq`, r.ExecutionID, r.Kind, r.By, r.Reason, data, EncodeTime(r.At), r.ExecutionID).Scan(&seq); err != nil {
			return err
		}
		if c.Requested == nil {
			return nil
		}
		return c.Requested(ctx, tx, owner)
	})
	if err != nil {
		return c.Dialect.errorf("add request to %s: %w", r.ExecutionID, err)
	}
	r.Seq = seq
	return nil
}

// AnswerRequest records a request's first outcome and returns the stored request;
// c.Answered, when set, runs in the same transaction when this was the first answer.
func (c *Core) AnswerRequest(ctx context.Context, a store.RequestAnswer) (store.Request, error) {
	err := c.write(ctx, func(ctx context.Context, tx DB) error {
		n, err := tx.Exec(ctx, `UPDATE requests SET answered = TRUE, refusal = ?, outcome = ?, answered_at = ?
			WHERE execution_id = ? AND seq = ? AND NOT answered`,
			a.Refusal, a.Outcome, EncodeTime(a.At), a.ExecutionID, a.Seq)
		if err != nil || n == 0 || c.Answered == nil {
			return err
		}
		return c.Answered(ctx, tx, a)
	})
	if err != nil {
		return store.Request{}, c.Dialect.errorf("answer request %s#%d: %w", a.ExecutionID, a.Seq, err)
	}
	rs, err := c.Requests(ctx, a.ExecutionID, a.Seq-1)
	if err != nil {
		return store.Request{}, err
	}
	if len(rs) == 0 || rs[0].Seq != a.Seq {
		return store.Request{}, c.Dialect.errorf("answer request %s#%d: %w", a.ExecutionID, a.Seq, store.ErrNotFound)
	}
	return rs[0], nil
}

// Requests returns an execution's requests after a sequence number.
func (c *Core) Requests(ctx context.Context, executionID string, after int64) ([]store.Request, error) {
	out, err := query(ctx, c.reader(), scanRequest, `SELECT `+requestColumns+` FROM requests
		WHERE execution_id = ? AND seq > ? ORDER BY seq`, executionID, after)
	if err != nil {
		return nil, c.Dialect.errorf("requests of %s: %w", executionID, err)
	}
	return out, nil
}

// PendingRequests returns the unanswered requests of the executions owner drives.
func (c *Core) PendingRequests(ctx context.Context, owner string) ([]store.Request, error) {
	out, err := query(ctx, c.reader(), scanRequest, `SELECT `+requestColumnsR+` FROM requests r
		JOIN executions e ON e.id = r.execution_id
		WHERE NOT r.answered AND e.owner = ? AND e.`+NotTerminal+`
		ORDER BY r.execution_id, r.seq`, owner)
	if err != nil {
		return nil, c.Dialect.errorf("pending requests of %s: %w", owner, err)
	}
	return out, nil
}

func scanRequest(row Row) (store.Request, error) {
	var r store.Request
	var data []byte
	var at, answeredAt string
	if err := row.Scan(&r.ExecutionID, &r.Seq, &r.Kind, &r.By, &r.Reason, &data, &at,
		&r.Answered, &r.Refusal, &r.Outcome, &answeredAt); err != nil {
		return r, err
	}
	r.Data = decodeJSON(data)
	var err error
	if r.At, err = DecodeTime(at); err != nil {
		return r, err
	}
	r.AnsweredAt, err = decodeOptTime(answeredAt)
	return r, err
}
