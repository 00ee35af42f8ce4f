package report

import (
	"fmt"
	"strings"
	"time"
)

// Markdown writes the report as one Markdown page.
func (r *Report) Markdown() string {
	var b strings.Builder
	fmt.Fprintf(&b, "# Release report: %s v%d in %s — %s\n\n", r.Workflow, r.WorkflowVersion, r.Environment, words(string(r.Status)))
	r.summary(&b)
	r.rollbackSection(&b)
	r.verdictSection(&b)
	r.approvalSection(&b)
	r.trafficSection(&b)
	r.stepSection(&b)
	fmt.Fprintf(&b, "\n_Generated %s._\n", stamp(r.Generated))
	return b.String()
}

func (r *Report) summary(b *strings.Builder) {
	rows := [][2]string{
		{"Execution", "`" + r.ID + "`"},
		{"Workflow", fmt.Sprintf("%s v%d", r.Workflow, r.WorkflowVersion)},
		{"Environment", fmt.Sprintf("%s v%d", r.Environment, r.EnvironmentVersion)},
		{"Service", r.Service},
		{"Started by", fmt.Sprintf("%s at %s", orDash(r.StartedBy), stamp(r.Started))},
	}
	if len(r.Variables) > 0 {
		var vs []string
		for _, k := range sortedKeys(r.Variables) {
			vs = append(vs, fmt.Sprintf("%s=%s", k, r.Variables[k]))
		}
		rows = append(rows, [2]string{"Variables", strings.Join(vs, ", ")})
	}
	if r.LiveSlot != "" || r.NewSlot != "" {
		rows = append(rows, [2]string{"Slots", fmt.Sprintf("live %s, new %s", orDash(r.LiveSlot), orDash(r.NewSlot))})
	}
	outcome := words(string(r.Status))
	if r.Reason != "" {
		outcome += ": " + r.Reason
	}
	if r.Ended != nil {
		outcome += fmt.Sprintf(" (at %s, after %s)", stamp(*r.Ended), Duration(r.Ended.Sub(r.Started)))
	}
	rows = append(rows, [2]string{"Outcome", outcome})
	b.WriteString("| | |\n|---|---|\n")
	for _, row := range rows {
		fmt.Fprintf(b, "| %s | %s |\n", row[0], cell(row[1]))
	}
}

func (r *Report) rollbackSection(b *strings.Builder) {
	rb := r.Rollback
	if rb == nil {
		return
	}
	b.WriteString("\n## Rollback\n\n")
	fmt.Fprintf(b, "- **Cause:** %s\n", line(rb.Cause))
	if rb.Step != "" {
		fmt.Fprintf(b, "- **Failed step:** %s (%s)\n", orDash(rb.StepName), rb.Step)
	}
	if rb.Evidence != "" {
		fmt.Fprintf(b, "- **Evidence:** %s, measured at %s\n", line(rb.Evidence), stamp(*rb.EvidenceAt))
	}
	if rb.Began != nil {
		fmt.Fprintf(b, "- **Rollback began:** %s\n", stamp(*rb.Began))
	}
	switch {
	case rb.ToFull != nil:
		fmt.Fprintf(b, "- **Time to 100/0:** %s — the router confirmed 100%% on %s at %s", rb.ToFull, rb.LiveSlot, stamp(*rb.Restored))
		if rb.SinceEvidence != nil {
			fmt.Fprintf(b, ", %s after the failing measurement", rb.SinceEvidence)
		}
		b.WriteString("\n")
	case rb.LiveSlot == "":
		b.WriteString("- **Time to 100/0:** none — a first release has no live slot to send traffic back to\n")
	default:
		fmt.Fprintf(b, "- **Time to 100/0:** not confirmed — no read-back of 100%% on %s was recorded\n", rb.LiveSlot)
	}
	fmt.Fprintf(b, "- **Rollback status:** %s\n", words(string(rb.Status)))
	if rb.NeedsPerson != "" {
		fmt.Fprintf(b, "- **Needs a person:** %s\n", line(rb.NeedsPerson))
	}
}

func (r *Report) verdictSection(b *strings.Builder) {
	if !tableSection(b, "Verdicts", len(r.Verdicts), "No verification ran.", "Step", "Metric", "Verdict", "Measurements", "In words") {
		return
	}
	for _, v := range r.Verdicts {
		counts := fmt.Sprintf("%d (%d failed, %d inconclusive, %d errors)", v.Measurements, v.Failed, v.Inconclusive, v.Errors)
		fmt.Fprintf(b, "| %s | %s | %s | %s | %s |\n", cell(orDash(v.StepName)), cell(v.Metric), v.Verdict, counts, cell(v.Text))
	}
}

func (r *Report) approvalSection(b *strings.Builder) {
	if !tableSection(b, "Approvals", len(r.Approvals), "No approval was asked for or given.", "Step", "Decision", "By", "When", "Why") {
		return
	}
	for _, a := range r.Approvals {
		d := map[bool]string{true: "approved", false: "rejected"}[a.Approve]
		if a.Timeout {
			d += " (timeout)"
		}
		fmt.Fprintf(b, "| %s | %s | %s | %s | %s |\n", cell(orDash(a.StepName)), d, cell(a.By), stamp(a.At), cell(orDash(a.Comment)))
	}
}

func (r *Report) trafficSection(b *strings.Builder) {
	if !tableSection(b, "Traffic", len(r.Traffic), "Traffic never moved.", "When", "Step", "green", "blue") {
		return
	}
	for _, m := range r.Traffic {
		fmt.Fprintf(b, "| %s | %s | %d%% | %d%% |\n", stamp(m.At), cell(orDash(m.StepName)), m.Green, m.Blue)
	}
}

func (r *Report) stepSection(b *strings.Builder) {
	b.WriteString("\n## Steps\n\n| Phase | Step | Type | Status | Started | Took | Message |\n|---|---|---|---|---|---|---|\n")
	for _, s := range r.Steps {
		started, took := "-", "-"
		if s.Started != nil {
			started = stamp(*s.Started)
			if s.Finished != nil {
				took = Duration(s.Finished.Sub(*s.Started)).String()
			}
		}
		fmt.Fprintf(b, "| %s | %s | %s | %s | %s | %s | %s |\n", cell(s.Phase), cell(s.Name), s.Type, words(string(s.Status)),
			started, took, cell(orDash(s.Message)))
	}
}

// cell makes text safe inside a Markdown table cell: one line, pipes escaped.
func cell(s string) string { return strings.ReplaceAll(line(s), "|", `\|`) }

// line joins a text's lines.
func line(s string) string { return strings.Join(strings.Fields(strings.ReplaceAll(s, "\r", "")), " ") }

func words(s string) string { return strings.ReplaceAll(s, "_", " ") }

func stamp(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05.000Z") }

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// tableSection starts the section title: with rows, the header of a table of the
// columns, and true; without, the sentence none and false.
func tableSection(b *strings.Builder, title string, rows int, none string, columns ...string) bool {
	b.WriteString("\n## " + title + "\n\n")
	if rows == 0 {
		b.WriteString(none + "\n")
		return false
	}
	b.WriteString("| " + strings.Join(columns, " | ") + " |\n|" + strings.Repeat("---|", len(columns)) + "\n")
	return true
}
