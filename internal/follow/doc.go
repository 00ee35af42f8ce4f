// Package follow renders an execution for `sluice run --follow` and `sluice logs -f`
// in a terminal: the phase/step tree with status symbols, durations and progress of
// long steps, the traffic split, and the console lines, redrawn in place as events
// arrive. Output that is not a terminal keeps plain console lines (ConsoleText).
package follow
