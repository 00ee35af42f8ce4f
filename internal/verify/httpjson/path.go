package httpjson

import (
	"fmt"
	"strconv"
	"strings"
)

// step is one part of a path: a key, or an index when key is empty.
type step struct {
	key   string
	index int
}

// path is a parsed JSON path: dot-separated keys with [n] indexes, an optional
// leading "$." and negative indexes counting from the end.
type path struct {
	src   string
	steps []step
}

// parsePath reads a path such as $.data.result[0].value[1].
func parsePath(s string) (path, error) {
	p := path{src: s}
	rest := strings.TrimPrefix(strings.TrimPrefix(s, "$"), ".")
	if rest == "" {
		return p, nil
	}
	for _, part := range strings.Split(rest, ".") {
		key, idx, _ := strings.Cut(part, "[")
		if key == "" && idx == "" {
			return path{}, fmt.Errorf("path %q: empty part", s)
		}
		if key != "" {
			p.steps = append(p.steps, step{key: key})
		}
		for idx != "" {
			n, after, ok := strings.Cut(idx, "]")
			i, err := strconv.Atoi(n)
			if !ok || err != nil {
				return path{}, fmt.Errorf("path %q: bad index [%s", s, idx)
			}
			p.steps = append(p.steps, step{index: i})
			idx = strings.TrimPrefix(after, "[")
			if after != "" && !strings.HasPrefix(after, "[") {
				return path{}, fmt.Errorf("path %q: unexpected %q after an index", s, after)
			}
		}
	}
	return p, nil
}

// get walks v (decoded JSON) along the path; ok is false when it meets null or
// an index past the end of an array (no data), and a missing key is an error (the
// answer is not what the path expects).
func (p path) get(v any) (any, bool, error) {
	for _, s := range p.steps {
		switch c := v.(type) {
		case map[string]any:
			if s.key == "" {
				return nil, false, fmt.Errorf("path %s: an object cannot be indexed with [%d]", p.src, s.index)
			}
			var ok bool
			if v, ok = c[s.key]; !ok {
				return nil, false, fmt.Errorf("path %s: the answer has no key %q", p.src, s.key)
			}
		case []any:
			if s.key != "" {
				return nil, false, fmt.Errorf("path %s: an array has no key %q", p.src, s.key)
			}
			i := s.index
			if i < 0 {
				i += len(c)
			}
			if i < 0 || i >= len(c) {
				return nil, false, nil
			}
			v = c[i]
		case nil:
			return nil, false, nil
		default:
			return nil, false, fmt.Errorf("path %s: %T has no %s", p.src, v, s.describe())
		}
	}
	return v, true, nil
}

func (s step) describe() string {
	if s.key != "" {
		return "key " + strconv.Quote(s.key)
	}
	return fmt.Sprintf("index [%d]", s.index)
}

// number reads a JSON number or a numeric string ("0.5", "NaN", "+Inf").
func number(v any) (float64, error) {
	switch n := v.(type) {
	case float64:
		return n, nil
	case string:
		f, err := strconv.ParseFloat(strings.TrimSpace(n), 64)
		if err != nil {
			return 0, fmt.Errorf("%q is not a number", n)
		}
		return f, nil
	}
	return 0, fmt.Errorf("%T is not a number", v)
}
