package audit

import (
	"fmt"
	"unicode/utf8"
)

// Field limits, in bytes, of a stored entry. A longer value is cut at a rune boundary
// and ends with TruncatedMark and the original length, so a reader sees it was cut.
const (
	MaxShortField = 256  // actor, method, token id, remote, action, environment, outcome
	MaxTarget     = 512  // the target, which for a rejected request is its URL path
	MaxSummary    = 2048 // the summary
)

// TruncatedMark starts the note that ends a cut field.
const TruncatedMark = "…[truncated from "

// Bound cuts every text field of e to its limit, so one entry never takes more than
// about 4 KiB however long the request's URL or headers were.
func Bound(e *Entry) {
	for _, f := range []*string{&e.Actor, &e.Method, &e.TokenID, &e.Remote, &e.Action, &e.Environment, &e.Outcome} {
		*f = truncate(*f, MaxShortField)
	}
	e.Target = truncate(e.Target, MaxTarget)
	e.Summary = truncate(e.Summary, MaxSummary)
}

// truncate returns s when it fits in limit bytes, or its longest prefix that fits
// together with the truncation note.
func truncate(s string, limit int) string {
	if len(s) <= limit {
		return s
	}
	note := fmt.Sprintf("%s%d bytes]", TruncatedMark, len(s))
	cut := limit - len(note)
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:max(cut, 0)] + note
}
