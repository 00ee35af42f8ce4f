package client

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"iter"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/sluicehq/sluice/internal/api"
)

// MaxFollowRetries is how many reconnections in a row Follow tries without receiving
// anything before it gives up.
const MaxFollowRetries = 8

// errStopped says the consumer of Follow stopped iterating.
var errStopped = errors.New("client: follow stopped by consumer")

// Follow streams an execution's console events with Seq > after over Server-Sent
// Events, in order and each once, reconnecting with Last-Event-ID when the connection
// drops. The sequence ends when the execution has ended and every event was yielded;
// an error (an API error, ctx's error, or too many failed reconnections) is yielded
// last with a zero Event.
func (c *Client) Follow(ctx context.Context, id string, after int64) iter.Seq2[api.Event, error] {
	return c.follow(ctx, id, executionPath(id, "events"), after)
}

// FollowPipelineRun streams a pipeline run's events (the lines of its log: Seq is a
// line's place from 1, Type one of the events.TypePipeline... types) with Seq > after,
// exactly as Follow streams an execution's.
func (c *Client) FollowPipelineRun(ctx context.Context, id string, after int64) iter.Seq2[api.Event, error] {
	return c.follow(ctx, id, "/api/v1/pipeline-runs/"+url.PathEscape(id)+"/events", after)
}

// follow streams the events at path, of what id names.
func (c *Client) follow(ctx context.Context, id, path string, after int64) iter.Seq2[api.Event, error] {
	return func(yield func(api.Event, error) bool) {
		last, failures, backoff := after, 0, 100*time.Millisecond
		for {
			before := last
			done, err := c.followOnce(ctx, id, path, &last, yield)
			switch {
			case errors.Is(err, errStopped):
				return
			case done && err == nil:
				return
			case done, ctx.Err() != nil:
				yield(api.Event{}, errors.Join(err, ctx.Err()))
				return
			}
			if last > before {
				failures, backoff = 0, 100*time.Millisecond
			}
			if failures++; failures > MaxFollowRetries {
				yield(api.Event{}, fmt.Errorf("client: follow %s: gave up after %d attempts: %w", id, failures, err))
				return
			}
			select {
			case <-ctx.Done():
				yield(api.Event{}, ctx.Err())
				return
			case <-time.After(backoff):
				backoff = min(2*backoff, 5*time.Second)
			}
		}
	}
}

// followOnce reads one SSE connection. done says not to reconnect: the stream ended,
// the consumer stopped, or the API refused the request.
func (c *Client) followOnce(ctx context.Context, id, path string, last *int64, yield func(api.Event, error) bool) (done bool, err error) {
	h := http.Header{"Accept": {"text/event-stream"}}
	if *last > 0 {
		h.Set("Last-Event-ID", strconv.FormatInt(*last, 10))
	}
	req, err := c.newRequest(ctx, request{method: http.MethodGet, path: path,
		query: url.Values{"after": {strconv.FormatInt(*last, 10)}}, header: h})
	if err != nil {
		return true, err
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return false, fmt.Errorf("client: follow %s: %w", id, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 300 {
		return resp.StatusCode < 500, decodeError(resp)
	}
	return readStream(resp.Body, last, yield)
}

// sseEvent is one dispatched Server-Sent Event.
type sseEvent struct {
	id, event string
	data      strings.Builder
}

// readStream yields the stream's events until `end` or the connection's end.
func readStream(r io.Reader, last *int64, yield func(api.Event, error) bool) (done bool, err error) {
	br := bufio.NewReaderSize(r, 64<<10)
	var ev sseEvent
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			if errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF // a stream that ends without `end` was dropped
			}
			return false, fmt.Errorf("client: read event stream: %w", err)
		}
		line = strings.TrimRight(line, "\r\n")
		if line != "" {
			ev.field(line)
			continue
		}
		switch ev.event {
		case "end":
			return true, nil
		case "error":
			return false, fmt.Errorf("client: server ended the stream: %s", ev.data.String())
		case "", "message":
			if ev.data.Len() == 0 {
				break
			}
			var e api.Event
			if err := json.Unmarshal([]byte(ev.data.String()), &e); err != nil {
				return true, fmt.Errorf("client: decode event %s: %w", ev.id, err)
			}
			if e.Seq <= *last {
				break
			}
			if !yield(e, nil) {
				return true, errStopped
			}
			*last = e.Seq
		}
		ev = sseEvent{}
	}
}

// field applies one "name: value" line; comments (heartbeats) are ignored.
func (ev *sseEvent) field(line string) {
	if strings.HasPrefix(line, ":") {
		return
	}
	name, value, _ := strings.Cut(line, ":")
	value = strings.TrimPrefix(value, " ")
	switch name {
	case "id":
		ev.id = value
	case "event":
		ev.event = value
	case "data":
		if ev.data.Len() > 0 {
			ev.data.WriteByte('\n')
		}
		ev.data.WriteString(value)
	}
}
