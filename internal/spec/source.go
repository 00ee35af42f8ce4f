package spec

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"

	"gopkg.in/yaml.v3"
)

// Limits that keep hostile or broken input from costing more than a moment.
const (
	// MaxFileSize is the largest file sluice reads as a workflow or environment.
	MaxFileSize = 2 << 20
	// maxDepth is how deeply mappings and lists may nest.
	maxDepth = 64
	// maxAliasWork is how many nodes may be reached through aliases and merges.
	maxAliasWork = 10000
)

// chunk is the text of one YAML document and the line it starts at in its file.
type chunk struct {
	text  []byte
	line0 int // lines of the file before this chunk
}

// rawDoc is one parsed document: its content node and its own text.
type rawDoc struct {
	root  *yaml.Node
	text  []byte
	line0 int
}

// checkText rejects input that is too large or is not text.
func checkText(file string, src []byte) *Problem {
	if len(src) > MaxFileSize {
		return &Problem{Pos: Pos{File: file}, Message: fmt.Sprintf(
			"file too large: %d bytes (the limit is %d MiB)", len(src), MaxFileSize>>20)}
	}
	if i := bytes.IndexByte(src, 0); i >= 0 {
		return &Problem{Pos: Pos{File: file}, Message: fmt.Sprintf(
			"file is binary, not YAML text (NUL byte at offset %d)", i)}
	}
	if !utf8.Valid(src) {
		return &Problem{Pos: Pos{File: file}, Message: "file is not valid UTF-8 text"}
	}
	return nil
}

// splitDocuments cuts a file at its `---` lines. A chunk that holds only comments or
// directives is joined to the next so that every chunk parses on its own.
func splitDocuments(src []byte) []chunk {
	var chunks []chunk
	start, startLine, line := 0, 0, 0
	for off := 0; off < len(src); {
		end := bytes.IndexByte(src[off:], '\n')
		next := len(src)
		if end >= 0 {
			next = off + end + 1
		}
		if off > start && isDocStart(src[off:next]) && !headerOnly(src[start:off]) {
			chunks = append(chunks, chunk{text: src[start:off], line0: startLine})
			start, startLine = off, line
		}
		off = next
		line++
	}
	return append(chunks, chunk{text: src[start:], line0: startLine})
}

// isDocStart reports whether a line is a `---` document marker.
func isDocStart(line []byte) bool {
	if !bytes.HasPrefix(line, []byte("---")) {
		return false
	}
	rest := line[3:]
	return len(rest) == 0 || rest[0] == ' ' || rest[0] == '\t' || rest[0] == '\n' || rest[0] == '\r'
}

// headerOnly reports whether text holds nothing but blank lines, comments and directives.
func headerOnly(text []byte) bool {
	for _, l := range bytes.Split(text, []byte("\n")) {
		t := bytes.TrimSpace(l)
		if len(t) > 0 && t[0] != '#' && t[0] != '%' {
			return false
		}
	}
	return true
}

var yamlLine = regexp.MustCompile(`^yaml: line (\d+): `)

// parseChunk parses one document into a node tree with file-relative line numbers.
// It returns a nil root for a document that holds nothing.
func parseChunk(file string, c chunk) (doc *rawDoc, probs Problems) {
	defer func() {
		if r := recover(); r != nil {
			doc = nil
			probs = Problems{{Pos: Pos{File: file, Line: c.line0 + 1}, Message: fmt.Sprintf("cannot parse YAML: %v", r)}}
		}
	}()
	dec := yaml.NewDecoder(bytes.NewReader(c.text))
	var n yaml.Node
	if err := dec.Decode(&n); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, nil
		}
		return nil, Problems{syntaxProblem(file, c.line0, err)}
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return nil, Problems{{Pos: Pos{File: file, Line: c.line0 + 1}, Message: "cannot split this document from the next one; start each document with a line of ---"}}
	}
	if p := shiftLines(&n, c.line0, 0); p != nil {
		p.Pos.File = file
		return nil, Problems{*p}
	}
	if len(n.Content) == 0 || isNull(n.Content[0]) {
		return nil, nil
	}
	return &rawDoc{root: n.Content[0], text: c.text, line0: c.line0}, nil
}

// syntaxProblem turns a yaml.v3 syntax error into a Problem with the file's line.
func syntaxProblem(file string, line0 int, err error) Problem {
	msg := err.Error()
	p := Problem{Pos: Pos{File: file}}
	if m := yamlLine.FindStringSubmatch(msg); m != nil {
		n, _ := strconv.Atoi(m[1])
		p.Pos.Line = line0 + n
		msg = msg[len(m[0]):]
	}
	p.Message = "invalid YAML: " + strings.TrimPrefix(msg, "yaml: ")
	return p
}

// shiftLines adds line0 to every node's line and checks the nesting depth. Aliases are
// not followed: every node is reached once through its parent's Content.
func shiftLines(n *yaml.Node, line0, depth int) *Problem {
	if depth > maxDepth {
		return &Problem{Pos: Pos{Line: n.Line + line0, Column: n.Column}, Message: fmt.Sprintf(
			"document nests deeper than %d levels", maxDepth)}
	}
	n.Line += line0
	for _, c := range n.Content {
		if p := shiftLines(c, line0, depth+1); p != nil {
			return p
		}
	}
	return nil
}
