package spec

import (
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// scalarValue is implemented by types written as one YAML scalar (Duration, Percent,
// Quantity).
type scalarValue interface {
	setScalar(s string) error
}

// shortForm is implemented by blocks that may also be written as a bare scalar, such
// as `onFailure: rollback` or `wait: 30s`.
type shortForm interface {
	setShort(s string) error
}

// decoder walks a yaml.Node tree into Go values by their `yaml` tags, collecting every
// problem instead of stopping at the first.
type decoder struct {
	file     string
	problems Problems
	pos      map[string]Pos        // path -> position of the value written there
	bad      map[string]bool       // paths already reported while decoding
	notes    map[*yaml.Node]string // nodes whose text came from a variable
	broken   map[*yaml.Node]bool   // nodes with a bad ${...}, already reported
	pathNote map[string]string     // notes by path, for the validator

	aliasWork int                // node visits made through aliases so far
	expanding map[*yaml.Node]int // anchors being expanded, to catch cycles
	stopped   bool               // set when a limit was hit; decoding ends
	secret    int                // >0 while inside credentials: never echo values
}

func newDecoder(file string, notes map[*yaml.Node]string) *decoder {
	return &decoder{
		file:      file,
		pos:       map[string]Pos{},
		bad:       map[string]bool{},
		notes:     notes,
		pathNote:  map[string]string{},
		expanding: map[*yaml.Node]int{},
	}
}

// posOf is the position of a node in the file.
func (d *decoder) posOf(n *yaml.Node) Pos {
	return Pos{File: d.file, Line: n.Line, Column: n.Column}
}

// errorf records a problem at node n for path and marks the path as reported.
func (d *decoder) errorf(n *yaml.Node, path, format string, args ...any) {
	d.bad[path] = true
	if d.broken[n] {
		return
	}
	msg := fmt.Sprintf(format, args...)
	if note := d.notes[n]; note != "" {
		msg += " " + note
	}
	d.problems = append(d.problems, Problem{Pos: d.posOf(n), Path: path, Message: msg})
}

// describe names what a node holds, for "expected X, got Y" messages.
func (d *decoder) describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		if isNull(n) {
			return "nothing"
		}
		if d.secret > 0 {
			return "a value (not shown)"
		}
		v := n.Value
		if len(v) > 40 {
			v = v[:40] + "..."
		}
		return strconv.Quote(v)
	}
	return "an unexpected node"
}

func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.Tag == "!!null"
}

// decode fills v (addressable) from n, recording the position of path.
func (d *decoder) decode(n *yaml.Node, v reflect.Value, path string) {
	if d.stopped {
		return
	}
	if n.Kind == yaml.AliasNode {
		d.decodeAlias(n, v, path)
		return
	}
	if d.inAlias() {
		d.aliasWork++
		if d.aliasWork > maxAliasWork {
			d.errorf(n, path, "document expands aliases into more than %d nodes; refusing to continue", maxAliasWork)
			d.stopped = true
			return
		}
	}
	d.pos[path] = d.posOf(n)
	if note := d.notes[n]; note != "" {
		d.pathNote[path] = note
	}
	if d.broken[n] {
		d.bad[path] = true
	}
	d.decodeValue(n, v, path)
}

func (d *decoder) inAlias() bool { return len(d.expanding) > 0 }

// decodeAlias decodes the anchored node an alias points to, refusing cycles.
func (d *decoder) decodeAlias(n *yaml.Node, v reflect.Value, path string) {
	target := n.Alias
	if target == nil {
		d.errorf(n, path, "alias *%s has no anchor", n.Value)
		return
	}
	if d.expanding[target] > 0 {
		d.errorf(n, path, "alias *%s refers to itself", n.Value)
		return
	}
	d.expanding[target]++
	d.decode(target, v, path)
	d.expanding[target]--
	if d.expanding[target] == 0 {
		delete(d.expanding, target)
	}
	d.pos[path] = d.posOf(n) // report problems where the alias is used
}

// decodeValue dispatches on the Go type of v.
func (d *decoder) decodeValue(n *yaml.Node, v reflect.Value, path string) {
	if nv, ok := v.Addr().Interface().(nodeValue); ok {
		if err := nv.setNode(n); err != nil {
			d.errorf(n, path, "%s", err)
		}
		return
	}
	if sv, ok := v.Addr().Interface().(scalarValue); ok {
		d.decodeScalarValue(n, sv, path)
		return
	}
	switch v.Kind() {
	case reflect.Pointer:
		if isNull(n) && v.Type().Elem().Kind() != reflect.Struct {
			return // `default: ~` is no default; `promote: ~` is an empty block
		}
		if v.IsNil() {
			v.Set(reflect.New(v.Type().Elem()))
		}
		d.decodeValue(n, v.Elem(), path)
	case reflect.Struct:
		d.decodeStruct(n, v, path)
	case reflect.Slice:
		d.decodeSlice(n, v, path)
	case reflect.Map:
		d.decodeMap(n, v, path)
	case reflect.String:
		if s, ok := d.scalar(n, path, "a string"); ok {
			v.SetString(s)
		}
	case reflect.Int:
		d.decodeInt(n, v, path)
	case reflect.Bool:
		d.decodeBool(n, v, path)
	default:
		d.errorf(n, path, "internal error: cannot decode into %s", v.Type())
	}
}

// scalar returns the text of a scalar node; null is the empty string.
func (d *decoder) scalar(n *yaml.Node, path, want string) (string, bool) {
	if n.Kind != yaml.ScalarNode {
		d.errorf(n, path, "expected %s, got %s", want, d.describe(n))
		return "", false
	}
	if isNull(n) {
		return "", true
	}
	return n.Value, true
}

func (d *decoder) decodeScalarValue(n *yaml.Node, sv scalarValue, path string) {
	if n.Kind != yaml.ScalarNode || isNull(n) {
		d.errorf(n, path, "expected a single value, got %s", d.describe(n))
		return
	}
	if err := sv.setScalar(n.Value); err != nil {
		d.errorf(n, path, "%s", err)
	}
}

func (d *decoder) decodeInt(n *yaml.Node, v reflect.Value, path string) {
	s, ok := d.scalar(n, path, "an integer")
	if !ok || isNull(n) {
		return
	}
	i, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil {
		var ne *strconv.NumError
		if errors.As(err, &ne) && errors.Is(ne.Err, strconv.ErrRange) {
			d.errorf(n, path, "integer %s is too large", s)
			return
		}
		d.errorf(n, path, "expected an integer, got %s", d.describe(n))
		return
	}
	v.SetInt(int64(i))
}

func (d *decoder) decodeBool(n *yaml.Node, v reflect.Value, path string) {
	s, ok := d.scalar(n, path, "true or false")
	if !ok || isNull(n) {
		return
	}
	switch s {
	case "true", "True", "TRUE":
		v.SetBool(true)
	case "false", "False", "FALSE":
		v.SetBool(false)
	default:
		d.errorf(n, path, "expected true or false, got %s", d.describe(n))
	}
}

func (d *decoder) decodeSlice(n *yaml.Node, v reflect.Value, path string) {
	if isNull(n) {
		return
	}
	if n.Kind != yaml.SequenceNode {
		d.errorf(n, path, "expected a list, got %s", d.describe(n))
		return
	}
	s := reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content))
	for i, item := range n.Content {
		d.decode(item, s.Index(i), fmt.Sprintf("%s[%d]", path, i))
	}
	v.Set(s)
}

func (d *decoder) decodeMap(n *yaml.Node, v reflect.Value, path string) {
	if strings.HasSuffix(path, "credentials") {
		d.secret++
		defer func() { d.secret-- }()
	}
	if isNull(n) {
		return
	}
	if n.Kind != yaml.MappingNode {
		d.errorf(n, path, "expected a mapping, got %s", d.describe(n))
		return
	}
	m := reflect.MakeMap(v.Type())
	for _, p := range d.pairs(n, path) {
		key, ok := d.key(p.key, path)
		if !ok {
			continue
		}
		elem := reflect.New(v.Type().Elem()).Elem()
		d.decode(p.val, elem, joinPath(path, key))
		m.SetMapIndex(reflect.ValueOf(key), elem)
	}
	v.Set(m)
}

// key returns a mapping key, which must be a plain scalar.
func (d *decoder) key(k *yaml.Node, path string) (string, bool) {
	if k.Kind != yaml.ScalarNode {
		d.errorf(k, path, "mapping keys must be names, got %s", d.describe(k))
		return "", false
	}
	return k.Value, true
}

func (d *decoder) decodeStruct(n *yaml.Node, v reflect.Value, path string) {
	info := infoOf(v.Type())
	for _, i := range info.posIdx {
		v.Field(i).Set(reflect.ValueOf(d.posOf(n)))
	}
	if n.Kind == yaml.ScalarNode && !isNull(n) {
		if sf, ok := v.Addr().Interface().(shortForm); ok {
			if err := sf.setShort(n.Value); err != nil {
				d.errorf(n, path, "%s", err)
			}
			return
		}
	}
	if n.Kind != yaml.MappingNode && !isNull(n) {
		d.errorf(n, path, "expected a mapping (%s), got %s", info.noun, d.describe(n))
		return
	}
	seen := map[string]bool{}
	for _, p := range d.pairs(n, path) {
		key, ok := d.key(p.key, path)
		if !ok {
			continue
		}
		f, known := info.byName[key]
		if !known {
			// A misspelt field is reported once: not also as a missing one.
			if hint := d.unknownField(p.key, path, key, info); hint != "" {
				seen[hint] = true
				d.bad[joinPath(path, hint)] = true
			}
			continue
		}
		seen[key] = true
		d.decode(p.val, v.Field(f.index), joinPath(path, key))
	}
	for _, f := range info.fields {
		if f.required && !seen[f.name] {
			d.errorf(n, joinPath(path, f.name), "missing required field %q in %s", f.name, info.noun)
		}
	}
}

// unknownField reports a key that the struct does not have, suggesting a close name,
// and returns the suggestion.
func (d *decoder) unknownField(k *yaml.Node, path, key string, info *structInfo) string {
	p := joinPath(path, key)
	if s := suggest(key, info.names()); s != "" {
		d.errorf(k, p, "unknown field %q in %s; did you mean %q?", key, info.noun, s)
		return s
	}
	d.errorf(k, p, "unknown field %q in %s; known fields: %s", key, info.noun, strings.Join(info.names(), ", "))
	return ""
}

// pair is one key and value of a mapping.
type pair struct{ key, val *yaml.Node }

// pairs lists a mapping's entries with `<<` merge keys applied (explicit keys win) and
// reports duplicate keys.
func (d *decoder) pairs(n *yaml.Node, path string) []pair {
	if n.Kind != yaml.MappingNode {
		return nil
	}
	var explicit, merged []pair
	first := map[string]*yaml.Node{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		if k.Kind == yaml.ScalarNode && k.Tag == "!!merge" {
			merged = append(merged, d.mergePairs(val, path)...)
			continue
		}
		if k.Kind == yaml.ScalarNode {
			if prev, dup := first[k.Value]; dup {
				d.errorf(k, joinPath(path, k.Value), "duplicate key %q (first at line %d)", k.Value, prev.Line)
				continue
			}
			first[k.Value] = k
		}
		explicit = append(explicit, pair{k, val})
	}
	for _, p := range merged {
		if p.key.Kind == yaml.ScalarNode && first[p.key.Value] == nil {
			first[p.key.Value] = p.key
			explicit = append(explicit, p)
		}
	}
	return explicit
}

// mergePairs returns the entries a `<<` value merges in: one mapping or a list of them.
func (d *decoder) mergePairs(val *yaml.Node, path string) []pair {
	d.aliasWork++
	if d.aliasWork > maxAliasWork || d.expanding[val] > 0 {
		d.errorf(val, path, "merge key expands too much or refers to itself")
		d.stopped = true
		return nil
	}
	d.expanding[val]++
	defer func() {
		if d.expanding[val]--; d.expanding[val] == 0 {
			delete(d.expanding, val)
		}
	}()
	target := val
	if target.Kind == yaml.AliasNode && target.Alias != nil {
		target = target.Alias
	}
	switch target.Kind {
	case yaml.MappingNode:
		return d.pairs(target, path)
	case yaml.SequenceNode:
		var out []pair
		for _, item := range target.Content {
			out = append(out, d.mergePairs(item, path)...)
		}
		return out
	}
	d.errorf(val, path, "<< merges a mapping or a list of mappings, got %s", d.describe(val))
	return nil
}

// joinPath appends a field name to a path.
func joinPath(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}
