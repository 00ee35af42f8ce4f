package spec

import (
	"fmt"
	"net"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// validator checks decoded documents for rules the types cannot express. It reports
// at the positions the decoder recorded and stays quiet about places the decoder has
// already reported, so one mistake gives one message.
type validator struct {
	d        *decoder
	problems Problems
	// platform is the environment's platform type, which decides whether its
	// secret references may name Kubernetes Secrets.
	platform string
}

// report records a problem at path unless the decoder already reported path or a
// place that contains it.
func (v *validator) report(path, format string, args ...any) {
	for p := path; ; p = parentPath(p) {
		if v.d.bad[p] {
			return
		}
		if p == "" {
			break
		}
	}
	msg := fmt.Sprintf(format, args...)
	if note := v.d.pathNote[path]; note != "" {
		msg += " " + note
	}
	v.problems = append(v.problems, Problem{Pos: v.posFor(path), Path: path, Message: msg})
}

// posFor is the recorded position of path or of its nearest recorded ancestor.
func (v *validator) posFor(path string) Pos {
	for p := path; ; p = parentPath(p) {
		if pos, ok := v.d.pos[p]; ok {
			return pos
		}
		if p == "" {
			return Pos{File: v.d.file}
		}
	}
}

// badUnder reports whether the decoder reported anything at or below path.
func (v *validator) badUnder(path string) bool {
	for p := range v.d.bad {
		if p == path || strings.HasPrefix(p, path+".") || strings.HasPrefix(p, path+"[") {
			return true
		}
	}
	return false
}

// present reports whether the document wrote something at path.
func (v *validator) present(path string) bool {
	_, ok := v.d.pos[path]
	return ok
}

// parentPath drops the last field name or index from a path.
func parentPath(p string) string {
	if strings.HasSuffix(p, "]") {
		if i := strings.LastIndexByte(p, '['); i >= 0 {
			return p[:i]
		}
	}
	if i := strings.LastIndexByte(p, '.'); i >= 0 {
		return p[:i]
	}
	return ""
}

var dnsLabel = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)

// name checks a DNS-label-like name: lowercase letters, digits and '-', at most 63.
func (v *validator) name(path, what, s string) {
	switch {
	case s == "":
		v.report(path, "%s must not be empty", what)
	case len(s) > 63 || !dnsLabel.MatchString(s):
		v.report(path, "%s %q is not a valid name: use at most 63 lowercase letters, digits and '-', starting and ending with a letter or digit", what, s)
	}
}

// oneOf checks that s is empty or one of the allowed values.
func (v *validator) oneOf(path, what, s string, allowed ...string) {
	if s == "" || slices.Contains(allowed, s) {
		return
	}
	if hint := suggest(s, allowed); hint != "" {
		v.report(path, "unknown %s %q; did you mean %q?", what, s, hint)
		return
	}
	v.report(path, "unknown %s %q; use one of: %s", what, s, strings.Join(allowed, ", "))
}

// header checks apiVersion and metadata, common to every kind.
func (v *validator) header(apiVersion string, m Metadata) {
	if apiVersion != APIVersion {
		v.report("apiVersion", "apiVersion must be %s, got %q", APIVersion, apiVersion)
	}
	v.name("metadata.name", "metadata.name", m.Name)
}

// httpURL checks an absolute http or https URL.
func (v *validator) httpURL(path, what, s string) {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		v.report(path, "%s %q is not an absolute http:// or https:// URL", what, s)
	}
}

// hostPort checks a listen address such as 127.0.0.1:8080 or :8080.
func (v *validator) hostPort(path, what, s string) {
	_, port, err := net.SplitHostPort(s)
	if err == nil {
		if n, perr := strconv.Atoi(port); perr != nil || n < 0 || n > 65535 {
			err = fmt.Errorf("bad port")
		}
	}
	if err != nil {
		v.report(path, "%s %q is not an address like 127.0.0.1:8080", what, s)
	}
}

var httpMethods = []string{"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}
