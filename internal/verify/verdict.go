package verify

import "fmt"

// Verdict is the outcome of one measurement, one metric or a whole verify step.
type Verdict int

// Verdicts, ordered from best to worst so that the worst of several is the maximum.
const (
	Successful Verdict = iota
	Inconclusive
	Failed
	Error
)

var verdictNames = [...]string{"Successful", "Inconclusive", "Failed", "Error"}

// String returns the verdict's name.
func (v Verdict) String() string {
	if v < 0 || int(v) >= len(verdictNames) {
		return fmt.Sprintf("Verdict(%d)", int(v))
	}
	return verdictNames[v]
}

// MarshalText writes the verdict's name.
func (v Verdict) MarshalText() ([]byte, error) { return []byte(v.String()), nil }

// UnmarshalText reads a verdict's name.
func (v *Verdict) UnmarshalText(b []byte) error {
	for i, n := range verdictNames {
		if n == string(b) {
			*v = Verdict(i)
			return nil
		}
	}
	return fmt.Errorf("unknown verdict %q", b)
}

// Worst returns the worse of two verdicts.
func Worst(a, b Verdict) Verdict { return max(a, b) }

// NoDataRule says which verdict a measurement without data gets.
type NoDataRule string

// No-data rules; the default is inconclusive, and no data is never silently a pass:
// successful must be asked for.
const (
	NoDataInconclusive NoDataRule = "inconclusive"
	NoDataFailed       NoDataRule = "failed"
	NoDataSuccessful   NoDataRule = "successful"
)

// Verdict returns the verdict of a measurement without data.
func (r NoDataRule) Verdict() Verdict {
	switch r {
	case NoDataFailed:
		return Failed
	case NoDataSuccessful:
		return Successful
	default:
		return Inconclusive
	}
}
