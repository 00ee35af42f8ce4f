package follow

import (
	"fmt"
	"io"
	"strings"
	"time"
)

// keptLines is how many console lines a Screen keeps to draw again after a resize.
const keptLines = 500

// SizeFunc reports the terminal's width and height in cells.
type SizeFunc func() (width, height int, err error)

// Screen draws a View on a terminal: the tree in the top rows, redrawn in place, and
// the console lines scrolling in the region beneath it (an ANSI scrolling region).
type Screen struct {
	w      io.Writer
	size   SizeFunc
	colour bool

	width, height int // size at the last full draw; 0 before it
	rows          int // rows the tree takes, separator included
	history       []string
	buf           strings.Builder
}

// NewScreen returns a Screen writing to w, a terminal whose size reports size.
func NewScreen(w io.Writer, size SizeFunc, colour bool) *Screen {
	return &Screen{w: w, size: size, colour: colour}
}

// Draw redraws the tree for now. A new terminal size or tree height clears the
// screen and draws everything again, the latest console lines included.
func (s *Screen) Draw(v *View, now time.Time) error {
	w, h, err := s.size()
	if err != nil || w < 20 || h < 6 {
		w, h = max(w, 80), max(h, 24)
	}
	lines := v.Lines(now, w, s.colour)
	if limit := h - 3; len(lines) > limit {
		more := len(lines) - limit + 1
		lines = append(lines[:limit-1], fmt.Sprintf("  … %d more lines (enlarge the terminal to see them)", more))
	}
	if w != s.width || h != s.height || len(lines)+1 != s.rows {
		s.width, s.height, s.rows = w, h, len(lines)+1
		s.full()
	}
	for i, l := range lines {
		fmt.Fprintf(&s.buf, "\x1b[%d;1H%s\x1b[K", i+1, l)
	}
	return s.flush()
}

// full clears the screen, sets the scrolling region beneath the tree, draws the
// separator and prints the kept console lines that fit.
func (s *Screen) full() {
	fmt.Fprintf(&s.buf, "\x1b[?25l\x1b[r\x1b[H\x1b[2J\x1b[%d;%dr", s.rows+1, s.height)
	sep := "── console "
	fmt.Fprintf(&s.buf, "\x1b[%d;1H%s%s", s.rows, sep, strings.Repeat("─", max(s.width-len([]rune(sep)), 0)))
	tail := s.history[max(len(s.history)-(s.height-s.rows), 0):]
	for _, l := range tail {
		s.line(l)
	}
}

// line writes one console line at the bottom of the scrolling region, which moves
// the lines above it up by one.
func (s *Screen) line(l string) {
	fmt.Fprintf(&s.buf, "\x1b[%d;1H\n%s", s.height, l)
}

// Print adds console lines beneath the tree.
func (s *Screen) Print(lines ...string) error {
	for _, l := range lines {
		s.history = append(s.history, l)
		if s.height > 0 {
			s.line(l)
		}
	}
	if over := len(s.history) - keptLines; over > 0 {
		s.history = append(s.history[:0], s.history[over:]...)
	}
	return s.flush()
}

// Close draws the view a last time, gives the whole screen back to scrolling and
// leaves the cursor on the last row with the cursor shown.
func (s *Screen) Close(v *View, now time.Time) error {
	if err := s.Draw(v, now); err != nil {
		return err
	}
	fmt.Fprintf(&s.buf, "\x1b[r\x1b[%d;1H\x1b[?25h\n", s.height)
	return s.flush()
}

func (s *Screen) flush() error {
	if s.buf.Len() == 0 {
		return nil
	}
	_, err := io.WriteString(s.w, s.buf.String())
	s.buf.Reset()
	if err != nil {
		return fmt.Errorf("follow: draw: %w", err)
	}
	return nil
}
