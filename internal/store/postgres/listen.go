package postgres

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// RequestChannel is the LISTEN/NOTIFY channel on which AddRequest announces a new
// request with the owner of its execution as payload.
const RequestChannel = "sluice_requests"

// AnswerChannel is the LISTEN/NOTIFY channel on which AnswerRequest announces a
// request's first answer with "<execution>/<seq>" as payload, so the server where the
// request came in returns the answer at once.
const AnswerChannel = "sluice_answers"

// ListenerApplication prefixes the application_name of a request listener's
// connection, followed by its owner, so operators (and tests) find it in
// pg_stat_activity.
const ListenerApplication = "sluice-listen:"

// RequestListener says how ListenRequests wakes a server.
type RequestListener struct {
	// Owner is the server's name in execution leases; only requests to executions
	// it drives wake it.
	Owner string
	// Wake is called for each such request, and after every (re)connection, since
	// requests stored while nobody listened were not announced. It must not block.
	Wake func()
	// Answered, when set, is called with each request's execution and number when
	// some server stores its answer (AnswerRequest), so the server where a person's
	// request came in returns the answer at once. It must not block.
	Answered func(execution string, seq int64)
	// Logger reports lost connections; nil discards.
	Logger *slog.Logger
	// Retry is the first delay before reconnecting a lost connection, doubled on
	// each failure up to MaxRetry; defaults 100ms and 5s.
	Retry, MaxRetry time.Duration
}

// ListenRequests keeps a connection of its own LISTENing on RequestChannel and calls
// l.Wake whenever AddRequest (on any server sharing the database) stores a request
// for an execution l.Owner drives, and on AnswerChannel for l.Answered, until ctx
// ends. A lost connection is reopened with
// backoff; meanwhile the server's own polling delivers requests, only later.
func (s *Store) ListenRequests(ctx context.Context, l RequestListener) {
	if l.Logger == nil {
		l.Logger = slog.New(slog.DiscardHandler)
	}
	if l.Retry <= 0 {
		l.Retry = 100 * time.Millisecond
	}
	if l.MaxRetry <= 0 {
		l.MaxRetry = 5 * time.Second
	}
	l.MaxRetry = max(l.MaxRetry, l.Retry)
	backoff := l.Retry
	for {
		err := s.listenOnce(ctx, l, func() { backoff = l.Retry })
		if ctx.Err() != nil {
			return
		}
		l.Logger.Warn("request listener lost its connection; polling until it is back", "err", err, "retry_in", backoff)
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		backoff = min(2*backoff, l.MaxRetry)
	}
}

// listenOnce connects, LISTENs and wakes for its owner's requests until the
// connection fails or ctx ends; listening is called once LISTEN took effect.
func (s *Store) listenOnce(ctx context.Context, l RequestListener, listening func()) error {
	cfg := s.pool.Config().ConnConfig.Copy()
	cfg.RuntimeParams["application_name"] = truncate(ListenerApplication+l.Owner, 63)
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return fmt.Errorf("postgres: listen: connect: %w", err)
	}
	defer func() {
		closing, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
		defer cancel()
		conn.Close(closing)
	}()
	channels := []string{RequestChannel}
	if l.Answered != nil {
		channels = append(channels, AnswerChannel)
	}
	for _, ch := range channels {
		if _, err := conn.Exec(ctx, "LISTEN "+pgx.Identifier{ch}.Sanitize()); err != nil {
			return fmt.Errorf("postgres: listen: %w", err)
		}
	}
	listening()
	l.Wake() // requests stored while nobody listened
	for {
		n, err := conn.WaitForNotification(ctx)
		if err != nil {
			return fmt.Errorf("postgres: listen: %w", err)
		}
		switch {
		case n.Channel == RequestChannel && n.Payload == l.Owner:
			l.Wake()
		case n.Channel == AnswerChannel:
			if execution, seq, ok := answerOf(n.Payload); ok {
				l.Answered(execution, seq)
			}
		}
	}
}

// answerOf parses the payload of an AnswerChannel notification.
func answerOf(payload string) (string, int64, bool) {
	i := strings.LastIndexByte(payload, '/')
	if i < 0 {
		return "", 0, false
	}
	seq, err := strconv.ParseInt(payload[i+1:], 10, 64)
	return payload[:i], seq, err == nil
}

// truncate cuts s to at most n bytes, as PostgreSQL does to identifiers.
func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}
