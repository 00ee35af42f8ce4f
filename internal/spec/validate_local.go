package spec

import (
	"fmt"
	"path"
	"regexp"
	"slices"
	"strings"
)

// LocalCommandVars are the ${...} names a local command's executable and args may use.
var LocalCommandVars = []string{"PORT", "SLOT", "SERVICE", "INSTANCE", "VERSION"}

var (
	osUserName = regexp.MustCompile(`^([a-z_][a-z0-9_.-]{0,31}|[0-9]{1,10})$`)
	commandRef = regexp.MustCompile(`\$\{([^}]*)\}`)
)

// localPlatform checks the local block: an absolute workDir, a plausible user, and
// commands with unique names, absolute executables and known ${...} names.
func (v *validator) localPlatform(path string, l *LocalPlatformSpec) {
	if l == nil {
		return
	}
	if l.WorkDir != "" && !isAbsClean(l.WorkDir) {
		v.report(path+".workDir", "local.workDir %q must be an absolute, clean path", l.WorkDir)
	}
	if l.User != "" && !osUserName.MatchString(l.User) {
		v.report(path+".user", "local.user %q is not a user name or uid", l.User)
	}
	first := map[string]int{}
	for i := range l.Commands {
		c := &l.Commands[i]
		p := fmt.Sprintf("%s.commands[%d]", path, i)
		v.name(p+".name", "command name", c.Name)
		if prev, dup := first[c.Name]; dup && c.Name != "" {
			v.report(p+".name", "duplicate command name %q (first at line %d)", c.Name, l.Commands[prev].Pos.Line)
		} else {
			first[c.Name] = i
		}
		v.localExecutable(p+".executable", c.Executable)
		for j, a := range c.Args {
			v.commandVars(fmt.Sprintf("%s.args[%d]", p, j), a)
		}
	}
}

// localExecutable checks a command's executable: an absolute clean path or glob,
// whose ${VERSION}, if any, fills whole path elements.
func (v *validator) localExecutable(p, exe string) {
	switch {
	case exe == "":
		v.report(p, "command executable must not be empty: give an absolute path such as /usr/local/bin/shop")
		return
	case !isAbsClean(exe):
		v.report(p, "command executable %q must be an absolute, clean path (no .., no //)", exe)
		return
	}
	if _, err := path.Match(strings.ReplaceAll(exe, "${VERSION}", "v"), ""); err != nil {
		v.report(p, "command executable %q is not a valid glob: %v", exe, err)
		return
	}
	if strings.Contains(exe, "${VERSION}") && strings.ContainsAny(exe, "*?[") {
		v.report(p, "command executable %q uses both ${VERSION} and a glob; use one", exe)
		return
	}
	v.commandVars(p, exe)
}

// commandVars checks that every ${NAME} in s is one the local platform fills in.
func (v *validator) commandVars(p, s string) {
	for _, m := range commandRef.FindAllStringSubmatch(s, -1) {
		if !slices.Contains(LocalCommandVars, m[1]) {
			v.report(p, "unknown ${%s}; a local command may use: ${%s}", m[1], strings.Join(LocalCommandVars, "}, ${"))
		}
	}
}

func isAbsClean(p string) bool { return strings.HasPrefix(p, "/") && path.Clean(p) == p }
