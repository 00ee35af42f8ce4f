package spec

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

var varName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// varRef is one ${name} inside a scalar.
type varRef struct {
	name string
	off  int    // byte offset of the "$" in the scalar
	err  string // set when the reference is malformed
}

// expand replaces every ${name} in s with lookup(name), turns $${ into a literal ${,
// and lists the references it met. Unknown or malformed references are kept as written.
func expand(s string, lookup func(string) (string, bool)) (string, []varRef) {
	if !strings.Contains(s, "${") {
		return s, nil
	}
	var b strings.Builder
	var refs []varRef
	for i := 0; i < len(s); {
		switch {
		case strings.HasPrefix(s[i:], "$${"):
			b.WriteString("${")
			i += 3
		case strings.HasPrefix(s[i:], "${"):
			end := strings.IndexByte(s[i:], '}')
			if end < 0 {
				refs = append(refs, varRef{off: i, err: "unterminated ${ (missing }); write $${ for a literal ${"})
				b.WriteString(s[i:])
				i = len(s)
				continue
			}
			name := s[i+2 : i+end]
			r := varRef{name: name, off: i}
			if !varName.MatchString(name) {
				r.err = fmt.Sprintf("invalid variable reference ${%s}: names are letters, digits and _", name)
			}
			refs = append(refs, r)
			if v, ok := lookup(name); ok && r.err == "" {
				b.WriteString(v)
			} else {
				b.WriteString(s[i : i+end+1])
			}
			i += end + 1
		default:
			b.WriteByte(s[i])
			i++
		}
	}
	return b.String(), refs
}

// refPos is the position of a reference inside a scalar node: exact on one-line plain
// and quoted scalars, the scalar's start otherwise.
func refPos(file string, n *yaml.Node, off int) Pos {
	p := Pos{File: file, Line: n.Line, Column: n.Column}
	if strings.Contains(n.Value, "\n") {
		return p
	}
	switch n.Style {
	case 0:
		p.Column += off
	case yaml.DoubleQuotedStyle, yaml.SingleQuotedStyle:
		p.Column += off + 1
	}
	return p
}

// findPath returns the node at a chain of mapping keys, or nil.
func findPath(n *yaml.Node, keys ...string) *yaml.Node {
	for _, k := range keys {
		if n == nil || n.Kind != yaml.MappingNode {
			return nil
		}
		var next *yaml.Node
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Kind == yaml.ScalarNode && n.Content[i].Value == k {
				next = n.Content[i+1]
			}
		}
		n = next
	}
	return n
}

// substitution copies a node tree, expanding ${name} in every scalar except inside the
// variables block, and reports references to names it does not know.
type substitution struct {
	file     string
	values   map[string]string
	declared []string
	how      func(name string) string // explains a substituted value in messages
	skip     *yaml.Node               // spec.variables, copied as is
	memo     map[*yaml.Node]*yaml.Node
	notes    map[*yaml.Node]string
	broken   map[*yaml.Node]bool // copies whose references were reported
	problems Problems
}

func (s *substitution) copy(n *yaml.Node) *yaml.Node {
	if n == s.skip {
		return n
	}
	if c, ok := s.memo[n]; ok {
		return c
	}
	c := *n
	s.memo[n] = &c
	if n.Kind == yaml.AliasNode && n.Alias != nil {
		if target, ok := s.memo[n.Alias]; ok {
			c.Alias = target
		}
	}
	if n.Kind == yaml.ScalarNode {
		s.scalar(n, &c)
	}
	if len(n.Content) > 0 {
		c.Content = make([]*yaml.Node, len(n.Content))
		for i, child := range n.Content {
			c.Content[i] = s.copy(child)
		}
	}
	return &c
}

// scalar expands the references of one scalar into its copy c.
func (s *substitution) scalar(n, c *yaml.Node) {
	out, refs := expand(n.Value, func(name string) (string, bool) {
		v, ok := s.values[name]
		return v, ok
	})
	if out == n.Value && len(refs) == 0 {
		return
	}
	c.Value, c.Tag = out, "!!str"
	var used []string
	for _, r := range refs {
		switch {
		case r.err != "":
			s.problem(n, r.off, r.err)
			s.broken[c] = true
		case !slices.Contains(s.declared, r.name):
			s.problem(n, r.off, s.undefined(r.name))
			s.broken[c] = true
		default:
			used = append(used, s.how(r.name))
		}
	}
	if len(used) > 0 {
		s.notes[c] = "(from " + strings.Join(used, ", ") + ")"
	}
}

func (s *substitution) undefined(name string) string {
	msg := fmt.Sprintf("undefined variable ${%s}", name)
	if len(s.declared) == 0 {
		return msg + "; the workflow declares no variables (write $${ for a literal ${)"
	}
	if hint := suggest(name, s.declared); hint != "" {
		msg += fmt.Sprintf(" (did you mean ${%s}?)", hint)
	}
	return msg + "; declared: " + strings.Join(s.declared, ", ")
}

func (s *substitution) problem(n *yaml.Node, off int, msg string) {
	s.problems = append(s.problems, Problem{Pos: refPos(s.file, n, off), Message: msg})
}

// checkValue reports whether s is a valid value of the variable's type.
func checkValue(v *Variable, s string) error {
	switch v.Type {
	case VarInt:
		if _, err := strconv.Atoi(strings.TrimSpace(s)); err != nil {
			return fmt.Errorf("%q is not an integer", s)
		}
	case VarDuration:
		if _, err := ParseDuration(s); err != nil {
			return fmt.Errorf("%q is not a duration like 30s or 5m", s)
		}
	case VarPercent:
		if _, err := ParsePercent(s); err != nil {
			return fmt.Errorf("%q is not a percentage 0-100", s)
		}
	case VarEnum:
		if !slices.Contains(v.Values, s) {
			return fmt.Errorf("%q is not one of %s", s, strings.Join(v.Values, ", "))
		}
	case VarBool:
		if s != "true" && s != "false" {
			return fmt.Errorf("%q is not true or false", s)
		}
	}
	return nil
}

// canonical writes a valid value in one form: percentages without "%".
func canonical(v *Variable, s string) string {
	if v.Type == VarPercent {
		p, _ := ParsePercent(s)
		return strconv.Itoa(int(p))
	}
	return s
}

// placeholder is a value of the variable's type used to type-check a template when
// the variable has no usable default.
func placeholder(v *Variable) string {
	switch v.Type {
	case VarInt:
		return "1"
	case VarDuration:
		return "1s"
	case VarPercent:
		return "50"
	case VarBool:
		return "true"
	case VarEnum:
		if len(v.Values) > 0 {
			return v.Values[0]
		}
	}
	return "x"
}

// templateValues picks the value each variable takes while checking the template: its
// default when valid, otherwise a placeholder of its type.
func templateValues(vars []Variable) (map[string]string, func(string) string) {
	values := map[string]string{}
	how := map[string]string{}
	for i := range vars {
		v := &vars[i]
		if v.Default != nil && checkValue(v, *v.Default) == nil {
			values[v.Name] = canonical(v, *v.Default)
			how[v.Name] = fmt.Sprintf("${%s}, default %q", v.Name, *v.Default)
			continue
		}
		values[v.Name] = placeholder(v)
		how[v.Name] = fmt.Sprintf("${%s}, checked with the placeholder %q", v.Name, values[v.Name])
	}
	return values, func(name string) string { return how[name] }
}

// resolveValues applies defaults to the given values and checks every one of them.
func resolveValues(vars []Variable, given map[string]string) (map[string]string, Problems) {
	var probs Problems
	declared := make([]string, len(vars))
	for i, v := range vars {
		declared[i] = v.Name
	}
	for _, name := range sortedKeys(given) {
		if !slices.Contains(declared, name) {
			msg := fmt.Sprintf("unknown variable %q", name)
			if hint := suggest(name, declared); hint != "" {
				msg += fmt.Sprintf(" (did you mean %q?)", hint)
			}
			probs = append(probs, Problem{Message: msg + "; declared: " + listOrNone(declared)})
		}
	}
	out := map[string]string{}
	for i := range vars {
		v := &vars[i]
		val, ok := given[v.Name]
		if !ok && v.Default != nil {
			val, ok = *v.Default, true
		}
		if !ok {
			probs = append(probs, Problem{Message: fmt.Sprintf("variable %s is required; set it with --set %s=VALUE", v.Name, v.Name)})
			continue
		}
		if err := checkValue(v, val); err != nil {
			probs = append(probs, Problem{Message: fmt.Sprintf("variable %s: %v", v.Name, err)})
			continue
		}
		out[v.Name] = canonical(v, val)
	}
	return out, probs
}

func listOrNone(names []string) string {
	if len(names) == 0 {
		return "none"
	}
	return strings.Join(names, ", ")
}
