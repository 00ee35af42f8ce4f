package sqlstore

import (
	"encoding/json"
	"fmt"
	"time"
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

// encodeVariables encodes variables as a JSON object; nil means NULL.
func encodeVariables(vars map[string]string) (any, error) {
	if vars == nil {
		return nil, nil
	}
	b, err := json.Marshal(vars)
	if err != nil {
		return nil, fmt.Errorf("encode variables: %w", err)
	}
	return string(b), nil
}

// decodeVariables decodes the variables of the row id; NULL (nil) leaves them nil.
func decodeVariables(id string, b []byte, vars *map[string]string) error {
	if b == nil {
		return nil
	}
	if err := json.Unmarshal(b, vars); err != nil {
		return fmt.Errorf("decode variables of %s: %w", id, err)
	}
	return nil
}
