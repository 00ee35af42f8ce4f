package spec

import (
	"reflect"
	"sort"
	"strings"
	"sync"
	"unicode"
)

// field is one YAML-visible field of a struct, read from its `yaml` tag.
type field struct {
	name     string
	index    int
	required bool // the tag has no omitempty
}

// structInfo lists the YAML fields of a struct type.
type structInfo struct {
	noun   string // e.g. "traffic step", used in messages
	fields []field
	byName map[string]field
	posIdx []int // fields of type Pos, set to the mapping's position
}

var structInfos sync.Map // reflect.Type -> *structInfo

var posType = reflect.TypeOf(Pos{})

// infoOf returns the cached field list of a struct type.
func infoOf(t reflect.Type) *structInfo {
	if v, ok := structInfos.Load(t); ok {
		return v.(*structInfo)
	}
	info := &structInfo{noun: nounOf(t), byName: map[string]field{}}
	for i := 0; i < t.NumField(); i++ {
		sf := t.Field(i)
		if !sf.IsExported() {
			continue
		}
		if sf.Type == posType {
			info.posIdx = append(info.posIdx, i)
			continue
		}
		tag := sf.Tag.Get("yaml")
		if tag == "-" || tag == "" {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		f := field{name: name, index: i, required: !strings.Contains(opts, "omitempty")}
		info.fields = append(info.fields, f)
		info.byName[name] = f
	}
	structInfos.Store(t, info)
	return info
}

// names returns the field names in declaration order.
func (s *structInfo) names() []string {
	out := make([]string, len(s.fields))
	for i, f := range s.fields {
		out[i] = f.name
	}
	return out
}

// nounOf turns a type name such as TrafficStep into "traffic step" for messages.
func nounOf(t reflect.Type) string {
	name := strings.TrimSuffix(t.Name(), "Spec")
	switch name {
	case "Workflow", "Environment":
		return strings.ToLower(name) + " spec"
	}
	var words []string
	start := 0
	rs := []rune(name)
	for i := 1; i < len(rs); i++ {
		lowerBefore := unicode.IsLower(rs[i-1])
		upperRun := i+1 < len(rs) && unicode.IsUpper(rs[i-1]) && unicode.IsLower(rs[i+1])
		if unicode.IsUpper(rs[i]) && (lowerBefore || upperRun) {
			words = append(words, string(rs[start:i]))
			start = i
		}
	}
	words = append(words, string(rs[start:]))
	return strings.ToLower(strings.Join(words, " "))
}

// suggest returns the candidate closest to s when it is close enough to be a typo.
func suggest(s string, candidates []string) string {
	best, bestDist := "", 1<<30
	for _, c := range candidates {
		if len(s) >= 4 && len(c) >= 4 && (strings.HasPrefix(s, c) || strings.HasPrefix(c, s)) {
			return c
		}
		d := editDistance(strings.ToLower(s), strings.ToLower(c))
		if d < bestDist {
			best, bestDist = c, d
		}
	}
	limit := 2
	if len(s) <= 4 {
		limit = 1
	}
	if bestDist <= limit {
		return best
	}
	return ""
}

// editDistance is the Levenshtein distance between a and b.
func editDistance(a, b string) int {
	if len(a) > 64 || len(b) > 64 {
		return 1 << 20 // names this long are not typos of field names
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// sortedKeys returns a map's keys in order.
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
