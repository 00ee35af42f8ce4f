package verify

import (
	"fmt"
	"regexp"
	"strconv"
	"time"
)

// placeholder matches {{name}} with optional spaces inside the braces.
var placeholder = regexp.MustCompile(`\{\{\s*([A-Za-z_][A-Za-z0-9_.-]*)\s*\}\}`)

// Render replaces every {{name}} in a query with vars[name]; a name without a
// value is an error that names it.
func Render(tmpl string, vars map[string]string) (string, error) {
	var missing []string
	out := placeholder.ReplaceAllStringFunc(tmpl, func(m string) string {
		name := placeholder.FindStringSubmatch(m)[1]
		v, ok := vars[name]
		if !ok {
			missing = append(missing, name)
			return m
		}
		return v
	})
	if len(missing) > 0 {
		return "", fmt.Errorf("query uses {{%s}}, which has no value (known: slot, service, window, baseline and the execution's variables)", missing[0])
	}
	return out, nil
}

// WindowString writes a window the way Prometheus, Loki and most query languages
// read it: whole seconds ("90s"), or milliseconds below a second's precision.
func WindowString(d time.Duration) string {
	if d%time.Second == 0 {
		return strconv.FormatInt(int64(d/time.Second), 10) + "s"
	}
	return strconv.FormatInt(d.Milliseconds(), 10) + "ms"
}
