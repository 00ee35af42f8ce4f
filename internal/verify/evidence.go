package verify

import (
	"encoding/json"
	"fmt"
	"strings"
)

// defaultMinRequests is the fewest requests a threshold measurement of a rate
// (a result with counts) needs before it may pass: with fewer, one request moves
// the rate by more than 10 points, so 0 of 1 says nothing about a 5% limit.
const defaultMinRequests = 10

// Evidence is how much traffic a judge has seen on the canary against how much
// it needs before it may answer Successful.
type Evidence struct {
	Requests float64 `json:"requests"` // canary requests (trials) judged so far
	Needed   float64 `json:"needed"`   // the fewest a pass needs
}

// Short reports whether there is not enough evidence for a pass.
func (e *Evidence) Short() bool { return e != nil && e.Requests < e.Needed }

// String says how much evidence there is, in words.
func (e *Evidence) String() string {
	if e.Short() {
		return fmt.Sprintf("not enough evidence: %g requests on the canary (%g needed)", e.Requests, e.Needed)
	}
	return fmt.Sprintf("%g requests on the canary (%g needed)", e.Requests, e.Needed)
}

// EvidenceNote says, for an approval gate or a report, which metrics' latest
// measurements lack the evidence for a pass, e.g. "errors-vs-live: not enough
// evidence: 9 requests on the canary (57 needed)"; empty when none does. ms are
// a phase's recorded measurements in order.
func EvidenceNote(ms []Measurement) string {
	latest := map[string]*Evidence{}
	var order []string
	for _, m := range ms {
		if m.Evidence == nil {
			continue
		}
		if _, seen := latest[m.Metric]; !seen {
			order = append(order, m.Metric)
		}
		latest[m.Metric] = m.Evidence
	}
	var parts []string
	for _, name := range order {
		if e := latest[name]; e.Short() {
			parts = append(parts, name+": "+e.String())
		}
	}
	return strings.Join(parts, "; ")
}

// EvidenceNoteJSON is EvidenceNote of recorded measurements as the journal holds
// them (engine.Options.EvidenceNote); records that do not decode are skipped.
func EvidenceNoteJSON(raws []json.RawMessage) string {
	ms := make([]Measurement, 0, len(raws))
	for _, raw := range raws {
		var m Measurement
		if json.Unmarshal(raw, &m) == nil {
			ms = append(ms, m)
		}
	}
	return EvidenceNote(ms)
}
