package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/sluicehq/sluice/internal/store"
)

const requestColumns = `execution_id, seq, kind, by_name, reason, data, at, answered, refusal, outcome, answered_at`

// requestColumnsR is requestColumns of the table aliased r.
const requestColumnsR = `r.execution_id, r.seq, r.kind, r.by_name, r.reason, r.data, r.at, r.answered, r.refusal,
	r.outcome, r.answered_at`

// RequestChannel is the LISTEN/NOTIFY channel on which AddRequest announces a new
// request with the owner of its execution as payload.
const RequestChannel = "sluice_requests"

// AnswerChannel is the LISTEN/NOTIFY channel on which AnswerRequest announces a
// request's first answer with "<execution>/<seq>" as payload, so the server where the
// request came in returns the answer at once.
const AnswerChannel = "sluice_answers"

// AddRequest stores a request to a non-terminal execution and assigns its Seq; the
// execution row is locked so concurrent requests get consecutive numbers.
func (s *Store) AddRequest(ctx context.Context, r *store.Request) error {
	data, err := encodeJSON("data", r.Data)
	if err != nil {
		return fmt.Errorf("postgres: add request: %w", err)
	}
	done, err := s.begin(ctx)
	if err != nil {
		return fmt.Errorf("postgres: add request to %s: %w", r.ExecutionID, err)
	}
	defer done()
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var status, owner string
		err := tx.QueryRow(ctx, `SELECT status, owner FROM executions WHERE id = $1 FOR UPDATE`, r.ExecutionID).Scan(&status, &owner)
		if err != nil {
			return notFound(err)
		}
		if store.Status(status).Terminal() {
			return fmt.Errorf("%w: it is %s", store.ErrFinished, status)
		}
		if err := tx.QueryRow(ctx, `INSERT INTO requests (execution_id, seq, kind, by_name, reason, data, at)
			SELECT $1, COALESCE(MAX(seq), 0) + 1, $2, $3, $4, $5, $6 FROM requests WHERE execution_id = $1
			RETURNING seq`, r.ExecutionID, r.Kind, r.By, r.Reason, data, encodeTime(r.At)).Scan(&r.Seq); err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `SELECT pg_notify($1, $2)`, RequestChannel, owner)
		return err
	})
	if err != nil {
		return fmt.Errorf("postgres: add request to %s: %w", r.ExecutionID, err)
	}
	return nil
}

// Requests returns an execution's requests after a sequence number.
func (s *Store) Requests(ctx context.Context, executionID string, after int64) ([]store.Request, error) {
	out, err := s.queryRequests(ctx, `SELECT `+requestColumns+` FROM requests
		WHERE execution_id = $1 AND seq > $2 ORDER BY seq`, executionID, after)
	if err != nil {
		return nil, fmt.Errorf("postgres: requests of %s: %w", executionID, err)
	}
	return out, nil
}

// PendingRequests returns the unanswered requests of the executions owner drives.
func (s *Store) PendingRequests(ctx context.Context, owner string) ([]store.Request, error) {
	out, err := s.queryRequests(ctx, `SELECT `+requestColumnsR+` FROM requests r
		JOIN executions e ON e.id = r.execution_id
		WHERE NOT r.answered AND e.owner = $1 AND e.`+notTerminal+`
		ORDER BY r.execution_id, r.seq`, owner)
	if err != nil {
		return nil, fmt.Errorf("postgres: pending requests of %s: %w", owner, err)
	}
	return out, nil
}

// AnswerRequest records a request's first outcome and returns the stored request.
func (s *Store) AnswerRequest(ctx context.Context, a store.RequestAnswer) (store.Request, error) {
	_, err := s.pool.Exec(ctx, `WITH answered AS (UPDATE requests SET answered = true, refusal = $1, outcome = $2, answered_at = $3
		WHERE execution_id = $4 AND seq = $5 AND NOT answered RETURNING execution_id)
		SELECT pg_notify($6, $4 || '/' || $5::text) FROM answered`,
		a.Refusal, a.Outcome, encodeTime(a.At), a.ExecutionID, a.Seq, AnswerChannel)
	if err != nil {
		return store.Request{}, fmt.Errorf("postgres: answer request %s#%d: %w", a.ExecutionID, a.Seq, err)
	}
	rs, err := s.Requests(ctx, a.ExecutionID, a.Seq-1)
	if err != nil {
		return store.Request{}, err
	}
	if len(rs) == 0 || rs[0].Seq != a.Seq {
		return store.Request{}, fmt.Errorf("postgres: answer request %s#%d: %w", a.ExecutionID, a.Seq, store.ErrNotFound)
	}
	return rs[0], nil
}

func (s *Store) queryRequests(ctx context.Context, q string, args ...any) ([]store.Request, error) {
	rows, err := s.pool.Query(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (store.Request, error) {
		var r store.Request
		var data []byte
		var at, answeredAt string
		if err := row.Scan(&r.ExecutionID, &r.Seq, &r.Kind, &r.By, &r.Reason, &data, &at,
			&r.Answered, &r.Refusal, &r.Outcome, &answeredAt); err != nil {
			return r, err
		}
		r.Data = decodeJSON(data)
		var err error
		if r.At, err = decodeTime(at); err != nil {
			return r, err
		}
		if answeredAt != "" {
			if r.AnsweredAt, err = decodeTime(answeredAt); err != nil {
				return r, err
			}
		}
		return r, nil
	})
}
