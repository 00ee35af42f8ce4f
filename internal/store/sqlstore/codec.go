package sqlstore

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/sluicehq/sluice/internal/store"
)

// TimeFormat is fixed-width UTC with nanoseconds, so text order is time order. Both
// stores keep times as text in it (PostgreSQL's timestamptz keeps only microseconds).
const TimeFormat = "2006-01-02T15:04:05.000000000Z07:00"

// EncodeTime encodes t as stored.
func EncodeTime(t time.Time) string { return t.UTC().Format(TimeFormat) }

// DecodeTime decodes a stored time.
func DecodeTime(s string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("decode time %q: %w", s, err)
	}
	return t, nil
}

// OptTime encodes a time that may be zero (a lease end, an expiry, a revocation): the
// zero time is the empty string, before every other time.
func OptTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return EncodeTime(t)
}

// decodeOptTime decodes what OptTime encoded; the empty string is the zero time.
func decodeOptTime(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	return DecodeTime(s)
}

// EncodeJSON validates raw JSON of the named field; empty means NULL.
func EncodeJSON(field string, raw json.RawMessage) (any, error) {
	if len(raw) == 0 {
		return nil, nil
	}
	if !json.Valid(raw) {
		return nil, fmt.Errorf("%s: invalid JSON", field)
	}
	return string(raw), nil
}

// decodeJSON returns a scanned JSON column; NULL (nil) stays nil.
func decodeJSON(b []byte) json.RawMessage {
	if b == nil {
		return nil
	}
	return json.RawMessage(b)
}

// encodeRun encodes the variables (a JSON object; nil means NULL) and the opaque state
// of an execution or a pipeline run.
func encodeRun(vars map[string]string, state json.RawMessage) (varsArg, stateArg any, err error) {
	if vars != nil {
		b, err := json.Marshal(vars)
		if err != nil {
			return nil, nil, fmt.Errorf("encode variables: %w", err)
		}
		varsArg = string(b)
	}
	stateArg, err = EncodeJSON("state", state)
	return varsArg, stateArg, err
}

// runText holds the columns an execution and a pipeline run both keep encoded.
type runText struct {
	vars, state                     []byte
	created, updated, status, lease string
}

// decoded is a run's decoded runText.
type decoded struct {
	vars                       map[string]string
	state                      json.RawMessage
	status                     store.Status
	created, updated, leaseEnd time.Time
}

// decode decodes the columns of the run id.
func (t *runText) decode(id string) (decoded, error) {
	d := decoded{status: store.Status(t.status), state: decodeJSON(t.state)}
	if t.vars != nil {
		if err := json.Unmarshal(t.vars, &d.vars); err != nil {
			return d, fmt.Errorf("decode variables of %s: %w", id, err)
		}
	}
	var errs [3]error
	d.created, errs[0] = DecodeTime(t.created)
	d.updated, errs[1] = DecodeTime(t.updated)
	d.leaseEnd, errs[2] = decodeOptTime(t.lease)
	return d, errors.Join(errs[:]...)
}
