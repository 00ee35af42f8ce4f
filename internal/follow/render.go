package follow

import (
	"fmt"
	"strings"
	"time"

	"github.com/sluicehq/sluice/internal/store"
)

// spinner frames turn while a step runs; one frame per 100ms of wall time.
var spinner = []rune("⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏")

// symbols mark a status that does not turn.
var symbols = map[store.Status]string{
	store.StatusPending: "·", store.StatusWaiting: "⏸", store.StatusPaused: "‖",
	store.StatusSucceeded: "✓", store.StatusFailed: "✗", store.StatusSkipped: "↷",
	store.StatusRollingBack: "↺", store.StatusRolledBack: "↺", store.StatusAborted: "■",
}

// colours are the ANSI SGR codes of each status's symbol in a colour terminal.
var colours = map[store.Status]string{
	store.StatusRunning: "36", store.StatusWaiting: "33", store.StatusPaused: "33",
	store.StatusSucceeded: "32", store.StatusFailed: "31", store.StatusRollingBack: "31",
	store.StatusRolledBack: "31", store.StatusAborted: "31", store.StatusPending: "2", store.StatusSkipped: "2",
}

// barWidth is the number of cells of a progress or traffic bar.
const barWidth = 20

// Lines draws the view at now, each line at most width cells, the status symbols in
// ANSI colour when colour is true.
func (v *View) Lines(now time.Time, width int, colour bool) []string {
	r := renderer{now: now, width: width, colour: colour}
	head := fmt.Sprintf("%s v%d · %s · %s in %s", v.Workflow, v.Version, v.ID, v.Service, v.Environment)
	r.line("", v.Status, head+" · "+strings.ReplaceAll(string(v.Status), "_", " "))
	r.plain(v.traffic())
	if v.Reason != "" && terminalOrWaiting(v.Status) {
		r.plain("  " + v.Reason)
	}
	nameWidth := 0
	for _, p := range v.Phases {
		for _, s := range p.Steps {
			nameWidth = max(nameWidth, len([]rune(s.Name)))
		}
	}
	for _, p := range v.Phases {
		r.line("", p.Status, p.Name)
		for _, s := range p.Steps {
			st := v.stepStatus(s)
			r.line("  ", st, r.step(s, st, nameWidth))
		}
	}
	return r.out
}

// stepStatus is a step's status as a person sees it: the running step of a waiting
// or paused execution waits or is paused too.
func (v *View) stepStatus(s *Step) store.Status {
	if s.Status == store.StatusRunning && (v.Status == store.StatusWaiting || v.Status == store.StatusPaused) {
		return v.Status
	}
	return s.Status
}

func terminalOrWaiting(s store.Status) bool {
	switch s {
	case store.StatusRunning, store.StatusPending:
		return false
	}
	return true
}

// traffic is the split as a bar, with which slot is live and which is staged.
func (v *View) traffic() string {
	slots := ""
	if v.LiveSlot != "" {
		slots += " · live " + v.LiveSlot
	} else if v.NewSlot != "" {
		slots += " · live none yet"
	}
	if v.NewSlot != "" {
		slots += " · staging " + v.NewSlot
	}
	if v.Weights == nil {
		return "traffic  not set yet" + slots
	}
	total := max(v.Weights.Green+v.Weights.Blue, 1)
	blue := (v.Weights.Blue*barWidth + total/2) / total
	bar := "[" + strings.Repeat("█", barWidth-blue) + strings.Repeat("▒", blue) + "]"
	return fmt.Sprintf("traffic  %s %s%s", bar, v.Weights, slots)
}

type renderer struct {
	now    time.Time
	width  int
	colour bool
	out    []string
}

// plain adds a line without a status symbol.
func (r *renderer) plain(s string) {
	r.out = append(r.out, truncate(s, r.width))
}

// line adds indent, the status's symbol and text, cut to the width.
func (r *renderer) line(indent string, s store.Status, text string) {
	sym := symbols[s]
	if s == store.StatusRunning || s == store.StatusRollingBack {
		sym = string(spinner[(r.now.UnixMilli()/100)%int64(len(spinner))])
	}
	if sym == "" {
		sym = "?"
	}
	rest := truncate(text, r.width-len([]rune(indent))-2)
	if r.colour && colours[s] != "" {
		sym = "\x1b[" + colours[s] + "m" + sym + "\x1b[0m"
	}
	r.out = append(r.out, indent+sym+" "+rest)
}

// step is a step's name, type, duration and, while it runs, its progress.
func (r *renderer) step(s *Step, status store.Status, nameWidth int) string {
	name := s.Name + strings.Repeat(" ", nameWidth-len([]rune(s.Name)))
	text := fmt.Sprintf("%s  %-9s", name, s.Type)
	switch {
	case s.StartedAt.IsZero():
		return strings.TrimRight(text, " ")
	case !s.Finished.IsZero() && s.Status != store.StatusRunning && s.Status != store.StatusWaiting:
		return text + "  " + duration(s.Finished.Sub(s.StartedAt))
	}
	elapsed := r.now.Sub(s.StartedAt)
	if !s.Deadline.IsZero() && s.Deadline.After(s.StartedAt) {
		total := s.Deadline.Sub(s.StartedAt)
		text += "  " + bar(float64(elapsed)/float64(total)) + " " + duration(elapsed) + " / " + duration(total)
		if status == store.StatusWaiting {
			text += " (times out in " + duration(s.Deadline.Sub(r.now)) + ")"
		}
	} else {
		text += "  " + duration(elapsed)
	}
	if s.Detail != "" {
		text += " · " + s.Detail
	}
	return text
}

// bar is a progress bar for a share 0..1.
func bar(share float64) string {
	share = min(max(share, 0), 1)
	n := int(share * barWidth)
	return "[" + strings.Repeat("█", n) + strings.Repeat("░", barWidth-n) + "]"
}

// duration rounds d for a person: 12ms, 3.4s, 2m05s, 1h02m.
func duration(d time.Duration) string {
	switch {
	case d < 0:
		return "0s"
	case d < time.Second:
		return d.Round(time.Millisecond).String()
	case d < 10*time.Second:
		return d.Round(100 * time.Millisecond).String()
	case d < time.Minute:
		return d.Round(time.Second).String()
	case d < time.Hour:
		d = d.Round(time.Second)
		return fmt.Sprintf("%dm%02ds", int(d.Minutes()), int(d.Seconds())%60)
	}
	d = d.Round(time.Minute)
	return fmt.Sprintf("%dh%02dm", int(d.Hours()), int(d.Minutes())%60)
}

// truncate cuts s to at most n cells (one per rune), marking the cut with "…".
func truncate(s string, n int) string {
	rs := []rune(s)
	if n <= 0 {
		return ""
	}
	if len(rs) <= n {
		return s
	}
	return string(rs[:n-1]) + "…"
}
