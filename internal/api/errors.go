package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"strings"

	"github.com/sluicehq/sluice/internal/auth"
	"github.com/sluicehq/sluice/internal/engine"
	"github.com/sluicehq/sluice/internal/secrets"
	"github.com/sluicehq/sluice/internal/spec"
	"github.com/sluicehq/sluice/internal/store"
)

// apiError is an error with its HTTP status and JSON detail.
type apiError struct {
	status   int
	code     string
	msg      string
	field    string
	problems []Problem
}

func (e *apiError) Error() string { return e.msg }

func badRequest(field, format string, args ...any) *apiError {
	return &apiError{status: http.StatusBadRequest, code: CodeBadRequest, field: field, msg: fmt.Sprintf(format, args...)}
}

// toAPIError maps an error from the store, the engine or the spec to a response.
func toAPIError(err error) *apiError {
	var ae *apiError
	var ps spec.Problems
	var busy *store.BusyError
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &ae):
		return ae
	case errors.As(err, &ps):
		return problemsError(ps)
	case errors.As(err, &tooBig):
		return &apiError{status: http.StatusRequestEntityTooLarge, code: CodeTooLarge,
			msg: fmt.Sprintf("request body is larger than %d bytes", tooBig.Limit)}
	case errors.As(err, &busy):
		return &apiError{status: http.StatusConflict, code: CodeBusy, msg: busy.Error()}
	case errors.Is(err, store.ErrBusy):
		return &apiError{status: http.StatusConflict, code: CodeBusy, msg: err.Error()}
	case errors.Is(err, store.ErrNotFound):
		return &apiError{status: http.StatusNotFound, code: CodeNotFound, msg: err.Error()}
	case errors.Is(err, store.ErrConflict):
		return &apiError{status: http.StatusConflict, code: CodeConflict, msg: err.Error()}
	case errors.Is(err, engine.ErrInvalidState):
		return &apiError{status: http.StatusConflict, code: CodeInvalidState, msg: err.Error()}
	case errors.Is(err, engine.ErrRequestPending):
		return &apiError{status: http.StatusAccepted, code: CodeRequestPending, msg: err.Error()}
	case errors.Is(err, auth.ErrInvalid):
		return &apiError{status: http.StatusBadRequest, code: CodeBadRequest, msg: strings.TrimSuffix(err.Error(), ": invalid")}
	case errors.Is(err, engine.ErrForbidden):
		return &apiError{status: http.StatusForbidden, code: CodeForbidden, msg: err.Error()}
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return &apiError{status: http.StatusServiceUnavailable, code: CodeUnavailable, msg: err.Error()}
	}
	return &apiError{status: http.StatusInternalServerError, code: CodeInternal, msg: err.Error()}
}

// problemsError reports every problem of a document; the field is the first one's path.
func problemsError(ps spec.Problems) *apiError {
	e := &apiError{status: http.StatusBadRequest, code: CodeInvalid, problems: make([]Problem, 0, len(ps))}
	for _, p := range ps {
		e.problems = append(e.problems, Problem{File: p.Pos.File, Line: p.Pos.Line, Column: p.Pos.Column,
			Path: p.Path, Message: p.Message})
	}
	switch len(ps) {
	case 0:
		e.msg = "invalid document"
	case 1:
		e.msg = ps[0].Message
		e.field = ps[0].Path
	default:
		e.msg = fmt.Sprintf("%d problems, the first: %s", len(ps), ps[0].Message)
		e.field = ps[0].Path
	}
	return e
}

// fail writes err as a JSON error response and logs server-side failures.
func (h *handler) fail(w http.ResponseWriter, r *http.Request, err error) {
	ae := toAPIError(err)
	if n := note(r.Context()); n.summary == "" || ae.status == http.StatusForbidden || ae.status == http.StatusUnauthorized {
		n.summary = ae.msg // why it was refused or failed
	}
	if ae.status >= 500 {
		h.log.Error("api: request failed", "method", r.Method, "path", r.URL.Path, "err", secrets.Default.Error(err))
	}
	writeError(w, ae)
}

func writeError(w http.ResponseWriter, e *apiError) {
	writeJSON(w, e.status, ErrorBody{Error: ErrorDetail{Code: e.code, Message: e.msg, Field: e.field, Problems: e.problems}})
}

// writeJSON answers v as indented JSON with every known secret masked.
func writeJSON(w http.ResponseWriter, status int, v any) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		status, buf = http.StatusInternalServerError, bytes.Buffer{}
		fmt.Fprintf(&buf, "{\"error\":{\"code\":%q,\"message\":\"encode answer\"}}\n", CodeInternal)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_, _ = w.Write(secrets.Default.Bytes(buf.Bytes())) // the status is sent; a failed write means the client went away
}

// jsonKind names a Go type the way a JSON author thinks of it.
func jsonKind(t reflect.Type) string {
	switch t.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "an integer"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "a boolean"
	case reflect.Map, reflect.Struct:
		return "an object"
	case reflect.Slice, reflect.Array:
		return "an array"
	}
	return t.String()
}

// readBody reads a request body up to MaxBodyBytes.
func readBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBodyBytes))
	if err != nil {
		return nil, fmt.Errorf("read body: %w", err)
	}
	return b, nil
}

// decodeJSON decodes an optional JSON body into v, naming the field or offset of a
// mistake. An empty body leaves v as it is.
func decodeJSON(w http.ResponseWriter, r *http.Request, v any) error {
	b, err := readBody(w, r)
	if err != nil {
		return err
	}
	if len(strings.TrimSpace(string(b))) == 0 {
		return nil
	}
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return jsonError(err)
	}
	if dec.More() {
		return badRequest("", "invalid JSON body at offset %d: more than one value", dec.InputOffset())
	}
	return nil
}

func jsonError(err error) *apiError {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		return badRequest("", "invalid JSON body at offset %d: %v", syn.Offset, syn)
	case errors.As(err, &typ):
		return badRequest(typ.Field, "%s: expected %s, got JSON %s (offset %d)", typ.Field, jsonKind(typ.Type), typ.Value, typ.Offset)
	case errors.Is(err, io.ErrUnexpectedEOF):
		return badRequest("", "invalid JSON body: unexpected end of input")
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		field := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		return badRequest(field, "unknown field %q", field)
	}
	return badRequest("", "invalid JSON body: %v", err)
}
