package verifytest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluicehq/sluice/internal/events"
	"github.com/sluicehq/sluice/internal/verify"
)

// ErrCrash is what IO.Record returns once FailAt records exist, to simulate a
// process that dies mid-step.
var ErrCrash = errors.New("verifytest: simulated crash")

// IO stands in for the engine's StepContext (verify.StepIO). With Virtual set,
// Sleep only moves its clock, so analyses of minutes run at once; otherwise it
// really sleeps.
type IO struct {
	Virtual bool
	// FailAt makes Record fail once this many records exist; 0 never.
	FailAt int
	// SleepErr is returned by Sleep when set, as an interruption would be.
	SleepErr error

	mu      sync.Mutex
	now     time.Time
	console []string
	records []json.RawMessage
	kinds   []events.Type // the kind of each record
}

var _ verify.StepIO = (*IO)(nil)

// NewIO returns an IO whose virtual clock starts at start.
func NewIO(virtual bool, start time.Time) *IO { return &IO{Virtual: virtual, now: start} }

// Now is the IO's clock: virtual time, or time.Now.
func (f *IO) Now() time.Time {
	if !f.Virtual {
		return time.Now()
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.now
}

// Console keeps a console line.
func (f *IO) Console(level, format string, args ...any) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.console = append(f.console, level+" "+fmt.Sprintf(format, args...))
}

// Sleep waits until t (virtually or really), or returns SleepErr.
func (f *IO) Sleep(ctx context.Context, t time.Time) error {
	f.mu.Lock()
	if f.SleepErr != nil {
		defer f.mu.Unlock()
		return f.SleepErr
	}
	if f.Virtual {
		defer f.mu.Unlock()
		if t.After(f.now) {
			f.now = t
		}
		return nil
	}
	f.mu.Unlock()
	timer := time.NewTimer(time.Until(t))
	defer timer.Stop()
	select {
	case <-timer.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Record keeps a record, or fails with ErrCrash once FailAt records exist.
func (f *IO) Record(ctx context.Context, kind events.Type, message string, data any) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.FailAt > 0 && len(f.records) >= f.FailAt {
		return ErrCrash
	}
	b, err := json.Marshal(data)
	if err != nil {
		return fmt.Errorf("record %s: %w", kind, err)
	}
	f.records = append(f.records, b)
	f.kinds = append(f.kinds, kind)
	return nil
}

// Records returns the kept records of a kind.
func (f *IO) Records(ctx context.Context, kind events.Type) ([]json.RawMessage, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []json.RawMessage
	for i, r := range f.records {
		if f.kinds[i] == kind {
			out = append(out, r)
		}
	}
	return out, nil
}

// Measurements decodes the kept records.
func (f *IO) Measurements(t testing.TB) []verify.Measurement {
	t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []verify.Measurement
	for i, r := range f.records {
		if f.kinds[i] != "measurement" {
			continue
		}
		var m verify.Measurement
		if err := json.Unmarshal(r, &m); err != nil {
			t.Fatal(err)
		}
		out = append(out, m)
	}
	return out
}

// Text returns the console so far, one line per entry.
func (f *IO) Text() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return strings.Join(f.console, "\n")
}
