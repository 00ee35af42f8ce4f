package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/sluicehq/sluice/internal/store"
)

const requestColumns = `execution_id, seq, kind, by_name, reason, data, at, answered, refusal, outcome, answered_at`

// requestColumnsR is requestColumns of the table aliased r.
const requestColumnsR = `r.execution_id, r.seq, r.kind, r.by_name, r.reason, r.data, r.at, r.answered, r.refusal,
	r.outcome, r.answered_at`

// AddRequest stores a request to a non-terminal execution and assigns its Seq.
func (s *Store) AddRequest(ctx context.Context, r *store.Request) error {
	data, err := encodeJSON("data", r.Data)
	if err != nil {
		return fmt.Errorf("sqlite: add request: %w", err)
	}
	var seq int64
	err = s.write(ctx, func(ctx context.Context, tx *sql.Tx) (func(), error) {
		var status string
		if err := tx.QueryRowContext(ctx, `SELECT status FROM executions WHERE id = ?`, r.ExecutionID).Scan(&status); err != nil {
			if errors.Is(err, sql.ErrNoRows) {
				return nil, store.ErrNotFound
			}
			return nil, err
		}
		if store.Status(status).Terminal() {
			return nil, fmt.Errorf("%w: it is %s", store.ErrFinished, status)
		}
		var n int64
		err := tx.QueryRowContext(ctx, `INSERT INTO requests (execution_id, seq, kind, by_name, reason, data, at)
			SELECT ?, COALESCE(MAX(seq), 0) + 1, ?, ?, ?, ?, ? FROM requests WHERE execution_id = ?
			RETURNING seq`, r.ExecutionID, r.Kind, r.By, r.Reason, data, encodeTime(r.At), r.ExecutionID).Scan(&n)
		return func() { seq = n }, err
	})
	if err != nil {
		return fmt.Errorf("sqlite: add request to %s: %w", r.ExecutionID, err)
	}
	r.Seq = seq
	return nil
}

// Requests returns an execution's requests after a sequence number.
func (s *Store) Requests(ctx context.Context, executionID string, after int64) ([]store.Request, error) {
	out, err := s.queryRequests(ctx, `SELECT `+requestColumns+` FROM requests
		WHERE execution_id = ? AND seq > ? ORDER BY seq`, executionID, after)
	if err != nil {
		return nil, fmt.Errorf("sqlite: requests of %s: %w", executionID, err)
	}
	return out, nil
}

// PendingRequests returns the unanswered requests of the executions owner drives.
func (s *Store) PendingRequests(ctx context.Context, owner string) ([]store.Request, error) {
	out, err := s.queryRequests(ctx, `SELECT `+requestColumnsR+` FROM requests r
		JOIN executions e ON e.id = r.execution_id
		WHERE r.answered = 0 AND e.owner = ? AND e.`+notTerminal+`
		ORDER BY r.execution_id, r.seq`, owner)
	if err != nil {
		return nil, fmt.Errorf("sqlite: pending requests of %s: %w", owner, err)
	}
	return out, nil
}

// AnswerRequest records a request's first outcome and returns the stored request.
func (s *Store) AnswerRequest(ctx context.Context, a store.RequestAnswer) (store.Request, error) {
	err := s.write(ctx, func(ctx context.Context, tx *sql.Tx) (func(), error) {
		_, err := tx.ExecContext(ctx, `UPDATE requests SET answered = 1, refusal = ?, outcome = ?, answered_at = ?
			WHERE execution_id = ? AND seq = ? AND answered = 0`,
			a.Refusal, a.Outcome, encodeTime(a.At), a.ExecutionID, a.Seq)
		return nil, err
	})
	if err != nil {
		return store.Request{}, fmt.Errorf("sqlite: answer request %s#%d: %w", a.ExecutionID, a.Seq, err)
	}
	rs, err := s.Requests(ctx, a.ExecutionID, a.Seq-1)
	if err != nil {
		return store.Request{}, err
	}
	if len(rs) == 0 || rs[0].Seq != a.Seq {
		return store.Request{}, fmt.Errorf("sqlite: answer request %s#%d: %w", a.ExecutionID, a.Seq, store.ErrNotFound)
	}
	return rs[0], nil
}

func (s *Store) queryRequests(ctx context.Context, q string, args ...any) ([]store.Request, error) {
	rows, err := s.r.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []store.Request
	for rows.Next() {
		var r store.Request
		var data sql.NullString
		var at, answeredAt string
		var answered int
		if err := rows.Scan(&r.ExecutionID, &r.Seq, &r.Kind, &r.By, &r.Reason, &data, &at,
			&answered, &r.Refusal, &r.Outcome, &answeredAt); err != nil {
			return nil, err
		}
		r.Data, r.Answered = decodeJSON(data), answered != 0
		if r.At, err = decodeTime(at); err != nil {
			return nil, err
		}
		if answeredAt != "" {
			if r.AnsweredAt, err = decodeTime(answeredAt); err != nil {
				return nil, err
			}
		}
		out = append(out, r)
	}
	return out, rows.Err()
}
