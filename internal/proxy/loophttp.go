package proxy

import (
	"bytes"
	"errors"
)

// This file holds the HTTP/1.1 framing the event loop needs (loop_linux.go): it
// parses heads in place, rewrites them for the other side and finds where a body
// ends, without allocating. Anything it does not handle is reported, and the loop
// hands the connection to the fasthttp path instead.

// maxLoopHeaders bounds the header lines a head may have on the loop path; a head
// with more is handed to the general path.
const maxLoopHeaders = 64

// field is one header line of a head: name and value as offsets into the head.
type field struct{ name, value span }

// span is a half-open byte range of a buffer.
type span struct{ from, to int }

func (s span) of(b []byte) []byte { return b[s.from:s.to] }

// trimmed returns s without the spaces and tabs at its ends.
func (s span) trimmed(b []byte) span {
	for s.from < s.to && (b[s.from] == ' ' || b[s.from] == '\t') {
		s.from++
	}
	for s.to > s.from && (b[s.to-1] == ' ' || b[s.to-1] == '\t') {
		s.to--
	}
	return s
}

// head is a parsed request or response head.
type head struct {
	buf    []byte // the head's bytes, from the first line through the blank line
	first  span   // the request or status line, without its line end
	fields [maxLoopHeaders]field
	n      int // fields used

	contentLength int64 // -1: none
	chunked       bool  // Transfer-Encoding: chunked (alone)
	otherTE       bool  // a Transfer-Encoding other than chunked
	connClose     bool  // Connection: close
	upgrade       bool  // Connection: upgrade or an Upgrade header
	expect        bool  // an Expect header
	host          span
	xff           []span // X-Forwarded-For values
	connTokens    []span // header names the Connection field lists
	toks          []span // scratch for one Connection field's tokens, kept across heads
}

// headEnd returns the length of the head at the start of b (through its blank
// line), or -1 when b does not hold a whole head yet.
func headEnd(b []byte) int {
	i := bytes.Index(b, []byte("\r\n\r\n"))
	if i < 0 {
		return -1
	}
	return i + 4
}

// parseHead splits b (a whole head, as headEnd measured it) into its lines. It
// reports false for what the loop does not take: bare LF line ends, folded lines,
// lines without a colon, too many fields, or a bad Content-Length.
func (h *head) parse(b []byte) bool {
	xff, conn, toks := h.xff[:0], h.connTokens[:0], h.toks[:0]
	*h = head{buf: b, contentLength: -1, xff: xff, connTokens: conn, toks: toks}
	eol := bytes.Index(b, []byte("\r\n"))
	h.first = span{0, eol}
	if eol <= 0 || bytes.ContainsAny(b[:eol], "\r\n\x00") {
		return false
	}
	pos := eol + 2
	for pos < len(b)-2 {
		end := bytes.Index(b[pos:], []byte("\r\n"))
		if end <= 0 || h.n == maxLoopHeaders {
			return false
		}
		line := b[pos : pos+end]
		if line[0] == ' ' || line[0] == '\t' || bytes.IndexByte(line, '\n') >= 0 {
			return false
		}
		colon := bytes.IndexByte(line, ':')
		if colon <= 0 || !isToken(line[:colon]) || bytes.IndexByte(line, '\r') >= 0 || bytes.IndexByte(line, 0) >= 0 {
			return false // "Name : v" and control bytes are how requests get smuggled
		}
		f := field{name: span{pos, pos + colon}, value: span{pos + colon + 1, pos + end}.trimmed(b)}
		h.fields[h.n] = f
		h.n++
		if !h.note(f) {
			return false
		}
		pos += end + 2
	}
	return true
}

// note records what one field means for framing and forwarding.
func (h *head) note(f field) bool {
	name, value := f.name.of(h.buf), f.value.of(h.buf)
	switch {
	case foldEq(name, "content-length"):
		n, ok := parseLength(value)
		if !ok || (h.contentLength >= 0 && h.contentLength != n) {
			return false
		}
		h.contentLength = n
	case foldEq(name, "transfer-encoding"):
		if foldEq(value, "chunked") {
			h.chunked = true
		} else {
			h.otherTE = true
		}
	case foldEq(name, "connection"):
		h.toks = appendTokens(h.toks[:0], f.value, h.buf)
		for _, tok := range h.toks {
			switch t := tok.of(h.buf); {
			case foldEq(t, "close"):
				h.connClose = true
			case foldEq(t, "keep-alive"):
			case foldEq(t, "upgrade"):
				h.upgrade = true
			default:
				h.connTokens = append(h.connTokens, tok)
			}
		}
	case foldEq(name, "upgrade"):
		h.upgrade = true
	case foldEq(name, "expect"):
		h.expect = true
	case foldEq(name, "host"):
		if h.host != (span{}) {
			return false // two Host fields: the general path refuses the request
		}
		h.host = f.value
	case foldEq(name, "x-forwarded-for"):
		h.xff = append(h.xff, f.value)
	}
	return true
}

// isToken reports whether b is a field name: visible ASCII without separators
// (RFC 9110 5.6.2).
func isToken(b []byte) bool {
	for _, c := range b {
		if c <= ' ' || c >= 0x7f || bytes.IndexByte([]byte("\"(),/:;<=>?@[\\]{}"), c) >= 0 {
			return false
		}
	}
	return len(b) > 0
}

// parseLength parses a Content-Length value.
func parseLength(b []byte) (int64, bool) {
	if len(b) == 0 || len(b) > 18 {
		return 0, false
	}
	var n int64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	return n, true
}

// appendTokens appends the comma-separated tokens of a header value to out.
func appendTokens(out []span, v span, b []byte) []span {
	from := v.from
	for i := v.from; i <= v.to; i++ {
		if i < v.to && b[i] != ',' {
			continue
		}
		if t := (span{from, i}).trimmed(b); t.from < t.to {
			out = append(out, t)
		}
		from = i + 1
	}
	return out
}

// foldEq reports whether b equals s, ignoring ASCII case on both sides.
func foldEq(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := range b {
		x, y := b[i], s[i]
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}

// hopByHop reports whether a field is not forwarded: the hop-by-hop headers of
// RFC 9110 7.6.1 and the headers its Connection field names.
func (h *head) hopByHop(f field) bool {
	name := f.name.of(h.buf)
	if foldEq(name, "connection") {
		return true
	}
	for _, hop := range hopHeaders {
		if foldEq(name, hop) {
			return true
		}
	}
	for _, tok := range h.connTokens {
		if foldEq(name, string(tok.of(h.buf))) {
			return true
		}
	}
	return false
}

// requestLine returns the method and whether the version is HTTP/1.1.
func (h *head) requestLine() (method []byte, ok bool) {
	line := h.first.of(h.buf)
	sp := bytes.IndexByte(line, ' ')
	if sp <= 0 || !bytes.HasSuffix(line, []byte(" HTTP/1.1")) {
		return nil, false
	}
	return line[:sp], true
}

// status returns the status code of a response head, or 0 when it is malformed.
func (h *head) status() int {
	line := h.first.of(h.buf)
	if len(line) < 12 || !bytes.HasPrefix(line, []byte("HTTP/1.")) || line[8] != ' ' {
		return 0
	}
	c := line[9:12]
	if c[0] < '1' || c[0] > '5' || c[1] < '0' || c[1] > '9' || c[2] < '0' || c[2] > '9' {
		return 0
	}
	return int(c[0]-'0')*100 + int(c[1]-'0')*10 + int(c[2]-'0')
}

// header returns the value of the first field called name (case-insensitive).
func (h *head) header(name string) []byte {
	for i := 0; i < h.n; i++ {
		if foldEq(h.fields[i].name.of(h.buf), name) {
			return h.fields[i].value.of(h.buf)
		}
	}
	return nil
}

// headView lets routing read a parsed request head.
type headView struct{ h *head }

func (v headView) header(name string) string { return string(v.h.header(name)) }

func (v headView) cookie(name string) string {
	for i := 0; i < v.h.n; i++ {
		f := v.h.fields[i]
		if !foldEq(f.name.of(v.h.buf), "cookie") {
			continue
		}
		for _, part := range bytes.Split(f.value.of(v.h.buf), []byte(";")) {
			part = trimSpace(part)
			if eq := bytes.IndexByte(part, '='); eq > 0 && string(part[:eq]) == name {
				return string(part[eq+1:])
			}
		}
	}
	return ""
}

// appendRequest appends the head to forward upstream: the request line, every
// field but the hop-by-hop ones and X-Forwarded-*, then X-Forwarded-For (prior
// values and client), -Proto and -Host.
func (h *head) appendRequest(out, client []byte) []byte {
	out = append(append(out, h.first.of(h.buf)...), "\r\n"...)
	for i := 0; i < h.n; i++ {
		f := h.fields[i]
		name := f.name.of(h.buf)
		if h.hopByHop(f) || foldEq(name, "x-forwarded-for") ||
			foldEq(name, "x-forwarded-proto") || foldEq(name, "x-forwarded-host") {
			continue
		}
		out = append(append(out, h.buf[f.name.from:f.value.to]...), "\r\n"...)
	}
	out = append(out, "X-Forwarded-For: "...)
	for _, v := range h.xff {
		out = append(append(out, v.of(h.buf)...), ", "...)
	}
	out = append(append(out, client...), "\r\nX-Forwarded-Proto: http\r\nX-Forwarded-Host: "...)
	out = append(append(out, h.host.of(h.buf)...), "\r\n\r\n"...)
	return out
}

// appendResponse appends the head to send the client: the status line and every
// field but the hop-by-hop ones, then the extra lines (each ending in CRLF).
func (h *head) appendResponse(out []byte, extra ...string) []byte {
	out = append(append(out, h.first.of(h.buf)...), "\r\n"...)
	for i := 0; i < h.n; i++ {
		f := h.fields[i]
		if h.hopByHop(f) {
			continue
		}
		out = append(append(out, h.buf[f.name.from:f.value.to]...), "\r\n"...)
	}
	for _, e := range extra {
		out = append(out, e...)
	}
	return append(out, "\r\n"...)
}

// chunks follows a chunked body as it passes through, to find where it ends. The
// bytes themselves are forwarded unchanged.
type chunks struct {
	state int
	left  int64 // data bytes left in the current chunk
	size  int64
	line  int // bytes of the current size or trailer line
}

// The states of chunks.
const (
	chunkSize    = iota // reading the hex size
	chunkExt            // reading an extension up to LF
	chunkData           // left data bytes to go
	chunkDataCR         // the CR after the data
	chunkDataLF         // the LF after the data
	chunkTrailer        // a trailer line (or the final blank line)
	chunkDone
)

var errBadChunk = errors.New("malformed chunked body")

// maxChunkLine bounds a size or trailer line.
const maxChunkLine = 4096

// scan consumes b and returns how many of its bytes belong to the body; done
// says the body ended there.
func (c *chunks) scan(b []byte) (n int, done bool, err error) {
	for n < len(b) {
		switch c.state {
		case chunkData:
			take := int64(len(b) - n)
			if take > c.left {
				take = c.left
			}
			c.left -= take
			n += int(take)
			if c.left == 0 {
				c.state = chunkDataCR
			}
			continue
		case chunkDone:
			return n, true, nil
		}
		ch := b[n]
		n++
		switch c.state {
		case chunkSize:
			if d, ok := hexDigit(ch); ok {
				if c.size > 1<<40 {
					return n, false, errBadChunk
				}
				c.size = c.size<<4 | d
				c.line++
				continue
			}
			if c.line == 0 {
				return n, false, errBadChunk
			}
			c.state = chunkExt
			fallthrough
		case chunkExt:
			c.line++
			if c.line > maxChunkLine {
				return n, false, errBadChunk
			}
			if ch != '\n' {
				continue
			}
			c.line = 0
			if c.size == 0 {
				c.state = chunkTrailer
			} else {
				c.state, c.left, c.size = chunkData, c.size, 0
			}
		case chunkDataCR:
			if ch != '\r' {
				return n, false, errBadChunk
			}
			c.state = chunkDataLF
		case chunkDataLF:
			if ch != '\n' {
				return n, false, errBadChunk
			}
			c.state = chunkSize
		case chunkTrailer:
			if ch == '\n' {
				if c.line <= 1 { // only CR (or nothing) before LF: the blank line
					c.state = chunkDone
					return n, true, nil
				}
				c.line = 0
				continue
			}
			c.line++
			if c.line > maxChunkLine {
				return n, false, errBadChunk
			}
		}
	}
	return n, c.state == chunkDone, nil
}

func hexDigit(c byte) (int64, bool) {
	switch {
	case '0' <= c && c <= '9':
		return int64(c - '0'), true
	case 'a' <= c && c <= 'f':
		return int64(c-'a') + 10, true
	case 'A' <= c && c <= 'F':
		return int64(c-'A') + 10, true
	}
	return 0, false
}
