package spec

import (
	"fmt"
	"sort"
	"strings"
)

// String formats the position as file:line:column, leaving out parts that are unknown.
func (p Pos) String() string {
	var b strings.Builder
	b.WriteString(p.File)
	if p.Line > 0 {
		fmt.Fprintf(&b, ":%d", p.Line)
		if p.Column > 0 {
			fmt.Fprintf(&b, ":%d", p.Column)
		}
	}
	return b.String()
}

// before reports whether p sorts before q (file, then line, then column).
func (p Pos) before(q Pos) bool {
	if p.File != q.File {
		return p.File < q.File
	}
	if p.Line != q.Line {
		return p.Line < q.Line
	}
	return p.Column < q.Column
}

// Problem is one thing wrong with a document, at a place in it.
type Problem struct {
	Pos     Pos
	Path    string // e.g. spec.phases[1].steps[0].traffic.weight
	Message string
}

// String formats the problem as "file:line:col: message (at path)".
func (p Problem) String() string {
	s := p.Message
	if pos := p.Pos.String(); pos != "" {
		s = pos + ": " + s
	}
	if p.Path != "" {
		s += " (at " + p.Path + ")"
	}
	return s
}

// Problems is every problem found in one pass; it is an error.
type Problems []Problem

// Error lists every problem, one per line.
func (ps Problems) Error() string {
	lines := make([]string, len(ps))
	for i, p := range ps {
		lines[i] = p.String()
	}
	return strings.Join(lines, "\n")
}

// Err returns ps sorted by position as an error, or nil when there are none.
func (ps Problems) Err() error {
	if len(ps) == 0 {
		return nil
	}
	ps.Sort()
	return ps.dedupe()
}

// dedupe drops a problem that repeats another at the same place, as happens when an
// alias makes one piece of YAML appear in several places.
func (ps Problems) dedupe() Problems {
	type key struct {
		pos Pos
		msg string
	}
	seen := map[key]bool{}
	var out Problems
	for _, p := range ps {
		k := key{p.Pos, p.Message}
		if !seen[k] {
			seen[k] = true
			out = append(out, p)
		}
	}
	return out
}

// Sort orders the problems by position, keeping the order of problems at one place.
func (ps Problems) Sort() {
	sort.SliceStable(ps, func(i, j int) bool { return ps[i].Pos.before(ps[j].Pos) })
}
