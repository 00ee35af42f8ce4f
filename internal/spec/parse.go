package spec

import (
	"bytes"
	"errors"
	"fmt"
	"reflect"
	"strings"

	"gopkg.in/yaml.v3"
)

// Document is one YAML document of a file.
type Document struct {
	Kind        string
	Name        string
	Workflow    *Workflow
	Environment *Environment
	Pipeline    *Pipeline // pipeline.go
	Source      []byte    // this document's own text
	Pos         Pos
	// at is where each path of an Environment's fields was written (PosOf).
	at map[string]Pos
}

// PosOf returns where the value at path (e.g. spec.providers[1].settings.accountId)
// was written in an Environment document, else where its nearest written parent
// was, else the document's position.
func (d Document) PosOf(path string) Pos {
	for p := path; p != ""; p = parentPath(p) {
		if pos, ok := d.at[p]; ok {
			return pos
		}
	}
	return d.Pos
}

// ParseDocuments decodes and validates every document of a (multi-document) file. It
// returns the documents it could decode and, when anything is wrong, Problems listing
// every problem of every document.
func ParseDocuments(file string, src []byte) ([]Document, error) {
	if p := checkText(file, src); p != nil {
		return nil, Problems{*p}
	}
	var docs []Document
	var probs Problems
	for _, c := range splitDocuments(src) {
		raw, ps := parseChunk(file, c)
		probs = append(probs, ps...)
		if raw == nil {
			continue
		}
		doc, ps := decodeDocument(file, raw)
		probs = append(probs, ps...)
		if doc != nil {
			docs = append(docs, *doc)
		}
	}
	if len(docs) == 0 && len(probs) == 0 {
		probs = Problems{{Pos: Pos{File: file}, Message: "file holds no documents"}}
	}
	return docs, probs.Err()
}

// ParseWorkflow decodes and validates one Workflow document. A template's variables are
// checked with their defaults (or placeholders of their type); use Instantiate for a
// workflow with concrete values.
func ParseWorkflow(file string, src []byte) (*Workflow, error) {
	doc, err := parseOne(file, src, KindWorkflow)
	if err != nil {
		return nil, err
	}
	return doc.Workflow, nil
}

// ParseEnvironment decodes and validates one Environment document.
func ParseEnvironment(file string, src []byte) (*Environment, error) {
	doc, err := parseOne(file, src, KindEnvironment)
	if err != nil {
		return nil, err
	}
	return doc.Environment, nil
}

// parseOne parses a file that must hold exactly one document of the given kind.
func parseOne(file string, src []byte, kind string) (*Document, error) {
	docs, err := ParseDocuments(file, src)
	if err != nil {
		return nil, err
	}
	if len(docs) != 1 {
		return nil, Problems{{Pos: docs[1].Pos, Message: fmt.Sprintf(
			"file holds %d documents; expected only %s", len(docs), article(kind))}}
	}
	if docs[0].Kind != kind {
		return nil, Problems{{Pos: docs[0].Pos, Message: fmt.Sprintf(
			"document is %s, expected %s", article(docs[0].Kind), article(kind))}}
	}
	return &docs[0], nil
}

// withoutMarker drops a leading bare "---" line, so a document stored on its own is
// byte-for-byte the same whether it came alone or from a multi-document file.
func withoutMarker(text []byte) []byte {
	line, rest, ok := bytes.Cut(text, []byte("\n"))
	if !ok {
		return text
	}
	line = bytes.TrimRight(line, " \t\r")
	if !bytes.Equal(line, []byte("---")) && !bytes.HasPrefix(line, []byte("--- #")) {
		return text
	}
	return rest
}

// decodeDocument decodes one parsed document according to its kind.
func decodeDocument(file string, raw *rawDoc) (*Document, Problems) {
	root := raw.root
	pos := Pos{File: file, Line: root.Line, Column: root.Column}
	if root.Kind != yaml.MappingNode {
		return nil, Problems{{Pos: pos, Message: "a document must be a mapping with apiVersion, kind, metadata and spec"}}
	}
	doc := &Document{Source: withoutMarker(raw.text), Pos: pos}
	kindNode := findPath(root, "kind")
	if kindNode == nil {
		return nil, Problems{{Pos: pos, Path: "kind", Message: `missing required field "kind"; expected Workflow, Environment or Pipeline`}}
	}
	doc.Kind = kindNode.Value
	var probs Problems
	switch doc.Kind {
	case KindWorkflow:
		w, _, ps := buildWorkflow(file, raw, nil)
		doc.Workflow, doc.Name, probs = w, w.Metadata.Name, ps
	case KindEnvironment:
		e, at, ps := buildEnvironment(file, raw)
		doc.Environment, doc.Name, doc.at, probs = e, e.Metadata.Name, at, ps
	case KindPipeline:
		p, ps := buildPipeline(file, raw)
		doc.Pipeline, doc.Name, probs = p, p.Metadata.Name, ps
	default:
		msg := fmt.Sprintf("unknown kind %q; expected Workflow, Environment or Pipeline", kindNode.Value)
		if s := suggest(kindNode.Value, []string{KindWorkflow, KindEnvironment, KindPipeline}); s != "" {
			msg = fmt.Sprintf("unknown kind %q; did you mean %q?", kindNode.Value, s)
		}
		kpos := Pos{File: file, Line: kindNode.Line, Column: kindNode.Column}
		return nil, Problems{{Pos: kpos, Path: "kind", Message: msg}}
	}
	return doc, probs
}

// buildWorkflow decodes and validates a Workflow. With given == nil it checks the
// template; otherwise it substitutes the given values (after applying defaults) and
// returns the resolved values too.
func buildWorkflow(file string, raw *rawDoc, given map[string]string) (*Workflow, map[string]string, Problems) {
	varsNode := findPath(raw.root, "spec", "variables")
	var vars []Variable
	if varsNode != nil {
		newDecoder(file, nil).decode(varsNode, reflect.ValueOf(&vars).Elem(), "spec.variables")
	}
	var values map[string]string
	var how func(string) string
	if given == nil {
		values, how = templateValues(vars)
	} else {
		var probs Problems
		if values, probs = resolveValues(vars, given); len(probs) > 0 {
			return nil, nil, probs
		}
		how = func(name string) string { return fmt.Sprintf("${%s}=%q", name, values[name]) }
	}
	declared := make([]string, len(vars))
	for i, v := range vars {
		declared[i] = v.Name
	}
	sub := &substitution{file: file, values: values, declared: declared, how: how, skip: varsNode,
		memo: map[*yaml.Node]*yaml.Node{}, notes: map[*yaml.Node]string{}, broken: map[*yaml.Node]bool{}}
	root := sub.copy(raw.root)

	d := newDecoder(file, sub.notes)
	d.broken = sub.broken
	w := &Workflow{src: raw.text, file: file, line0: raw.line0}
	if n := findPath(raw.root, "spec", "service", "artifact"); given == nil && n != nil {
		w.templated = strings.Contains(n.Value, "${")
	}
	d.decode(root, reflect.ValueOf(w).Elem(), "")
	v := &validator{d: d}
	if !d.stopped {
		v.workflow(w)
	}
	probs := append(append(sub.problems, d.problems...), v.problems...)
	probs = append(probs, untemplated(file, findPath(raw.root, "spec", "triggers"))...)
	return w, values, probs
}

// buildEnvironment decodes and validates an Environment.
func buildEnvironment(file string, raw *rawDoc) (*Environment, map[string]Pos, Problems) {
	d := newDecoder(file, nil)
	e := &Environment{}
	d.decode(raw.root, reflect.ValueOf(e).Elem(), "")
	v := &validator{d: d}
	if !d.stopped {
		v.environment(e)
	}
	return e, d.pos, append(d.problems, v.problems...)
}

// Source returns the YAML text of the workflow's document.
func (w *Workflow) Source() []byte { return w.src }

// File returns the name of the file the workflow was read from.
func (w *Workflow) File() string { return w.file }

// Instantiate substitutes values for the template's variables (applying defaults and
// checking types) and returns the concrete workflow and the complete set of values.
// Problems in the result point into the template's file.
func (w *Workflow) Instantiate(values map[string]string) (*Workflow, map[string]string, error) {
	if len(w.src) == 0 {
		return nil, nil, errors.New("workflow has no source to instantiate; parse it with ParseWorkflow")
	}
	raw, probs := parseChunk(w.file, chunk{text: w.src, line0: w.line0})
	if raw == nil {
		if len(probs) == 0 {
			probs = Problems{{Pos: Pos{File: w.file}, Message: "workflow source is empty"}}
		}
		return nil, nil, probs.Err()
	}
	if values == nil {
		values = map[string]string{}
	}
	cw, resolved, probs := buildWorkflow(w.file, raw, values)
	if len(probs) > 0 {
		return nil, nil, probs.Err()
	}
	return cw, resolved, nil
}

// Templated reports whether the workflow declares variables.
func (w *Workflow) Templated() bool { return len(w.Spec.Variables) > 0 }

// article puts "a" or "an" before a kind.
func article(kind string) string {
	if kind != "" && strings.ContainsRune("AEIOU", rune(kind[0])) {
		return "an " + kind
	}
	return "a " + kind
}
