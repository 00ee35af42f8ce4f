package local

import (
	"fmt"

	"os"
	"path"
	"regexp"
	"strings"

	"github.com/sluicehq/sluice/internal/platform"
)

// refusal is an error of a deployment that can never start as asked; it matches
// platform.ErrRefused, so the engine does not retry it.
type refusal string

func (r refusal) Error() string { return string(r) }

// Is makes errors.Is(err, platform.ErrRefused) hold.
func (r refusal) Is(target error) bool { return target == platform.ErrRefused }

// ErrBadArtifact is wrapped by Deploy when an allowed artifact can never start: its
// executable does not exist, is not executable, or the instances' user cannot reach it.
var ErrBadArtifact error = refusal("bad artifact")

// ErrNotAllowed is wrapped by Deploy when the artifact (or a service environment
// variable) is not one the environment's commands allow.
var ErrNotAllowed error = refusal("not allowed")

// Command is one executable the platform may run: an Environment's local.commands
// entry. Only an admin can change it; a workflow's artifact merely picks one.
type Command struct {
	// Name is what an artifact names: NAME, or NAME:VERSION when Executable or Args
	// use ${VERSION}.
	Name string
	// Executable is an absolute path; it may use ${VERSION}, or be a glob that an
	// artifact written as an absolute path must match.
	Executable string
	// Args are the arguments, one word each; ${PORT}, ${SLOT}, ${SERVICE}, ${INSTANCE}
	// and ${VERSION} are replaced. No shell is involved.
	Args []string
}

// version is what NAME:VERSION may choose: one path element, no leading dot.
var version = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._+-]{0,127}$`)

// invocation is an artifact resolved against the allowed commands.
type invocation struct {
	exe     string
	args    []string
	version string
}

func (c Command) usesVersion() bool {
	if strings.Contains(c.Executable, "${VERSION}") {
		return true
	}
	for _, a := range c.Args {
		if strings.Contains(a, "${VERSION}") {
			return true
		}
	}
	return false
}

func (c Command) isGlob() bool { return strings.ContainsAny(c.Executable, "*?[") }

// describe names what the command allows an artifact to say.
func (c Command) describe() string {
	switch {
	case c.isGlob():
		return fmt.Sprintf("%s (or a path matching %s)", c.Name, c.Executable)
	case c.usesVersion():
		return fmt.Sprintf("%s:VERSION (%s)", c.Name, c.Executable)
	default:
		return fmt.Sprintf("%s (%s)", c.Name, c.Executable)
	}
}

// resolve finds what an artifact may run: NAME or NAME:VERSION of a command, or an
// absolute path that a command's executable (a glob or a plain path) allows. Anything
// else is an error wrapping ErrNotAllowed that names the artifact and what is allowed.
func resolve(cmds []Command, artifact string) (invocation, error) {
	if strings.HasPrefix(artifact, "/") {
		for _, c := range cmds {
			if c.usesVersion() || path.Clean(artifact) != artifact {
				continue
			}
			if ok, _ := path.Match(c.Executable, artifact); ok {
				return invocation{exe: artifact, args: c.Args}, nil
			}
		}
		return invocation{}, notAllowed(cmds, artifact)
	}
	name, ver, hasVer := strings.Cut(artifact, ":")
	for _, c := range cmds {
		if c.Name != name || c.isGlob() {
			continue
		}
		switch {
		case c.usesVersion() && !hasVer:
			return invocation{}, fmt.Errorf("%w: artifact %q: command %s needs a version; allowed: %s", ErrNotAllowed, artifact, name, allowed(cmds))
		case !c.usesVersion() && hasVer:
			return invocation{}, fmt.Errorf("%w: artifact %q: command %s takes no version; allowed: %s", ErrNotAllowed, artifact, name, allowed(cmds))
		case hasVer && !version.MatchString(ver):
			return invocation{}, fmt.Errorf("%w: artifact %q: version %q must be 1-128 letters, digits, '.', '_', '+' or '-', not starting with '.'; allowed: %s", ErrNotAllowed, artifact, ver, allowed(cmds))
		}
		exe := strings.ReplaceAll(c.Executable, "${VERSION}", ver)
		return invocation{exe: exe, args: c.Args, version: ver}, nil
	}
	return invocation{}, notAllowed(cmds, artifact)
}

func notAllowed(cmds []Command, artifact string) error {
	if len(cmds) == 0 {
		return fmt.Errorf("%w: artifact %q: the environment allows no commands; an admin declares them in spec.platform.local.commands", ErrNotAllowed, artifact)
	}
	return fmt.Errorf("%w: artifact %q is not one of the environment's local.commands; allowed: %s", ErrNotAllowed, artifact, allowed(cmds))
}

// allowed lists what the commands let an artifact say.
func allowed(cmds []Command) string {
	var out []string
	for _, c := range cmds {
		out = append(out, c.describe())
	}
	return strings.Join(out, ", ")
}

// argv returns the invocation's command line with vars substituted in each argument.
func (iv invocation) argv(vars map[string]string) []string {
	vars["VERSION"] = iv.version
	out := []string{iv.exe}
	for _, a := range iv.args {
		out = append(out, substitute(a, vars))
	}
	return out
}

// substitute replaces ${NAME} for every NAME in vars; other ${...} are left as they are,
// so a wrapped shell can still expand its own variables.
func substitute(s string, vars map[string]string) string {
	if !strings.Contains(s, "${") {
		return s
	}
	pairs := make([]string, 0, 2*len(vars))
	for k, v := range vars {
		pairs = append(pairs, "${"+k+"}", v)
	}
	return strings.NewReplacer(pairs...).Replace(s)
}

// checkExecutable reports whether exe is a regular file that the user u may execute,
// through directories it may search.
func checkExecutable(exe string, u runAs) error {
	fi, err := os.Stat(exe)
	if err != nil {
		return fmt.Errorf("%w: executable %s: %w", ErrBadArtifact, exe, err)
	}
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("%w: executable %s is not a regular file", ErrBadArtifact, exe)
	}
	if !u.may(fi, 1) {
		return fmt.Errorf("%w: executable %s (%v) is not executable by %s", ErrBadArtifact, exe, fi.Mode().Perm(), u)
	}
	for dir := path.Dir(exe); ; dir = path.Dir(dir) {
		di, err := os.Stat(dir)
		if err != nil {
			return fmt.Errorf("%w: executable %s: %w", ErrBadArtifact, exe, err)
		}
		if !u.may(di, 1) {
			return fmt.Errorf("%w: executable %s: %s cannot enter directory %s (%v)", ErrBadArtifact, exe, u, dir, di.Mode().Perm())
		}
		if dir == "/" {
			return nil
		}
	}
}

// deniedEnv are variables a service may not set: they change what the loader, the
// C library or a shell runs, so setting them would run code the environment did not
// allow. LD_* is denied as a whole.
var deniedEnv = map[string]bool{"PATH": true, "GCONV_PATH": true, "GETCONF_DIR": true, "HOSTALIASES": true,
	"LOCPATH": true, "NLSPATH": true, "MALLOC_TRACE": true, "BASH_ENV": true, "ENV": true, "IFS": true,
	"SHELLOPTS": true, "PS4": true}

// checkEnv refuses service environment variables that would change what runs.
func checkEnv(env map[string]string) error {
	for k := range env {
		if strings.HasPrefix(k, "LD_") || deniedEnv[k] {
			return fmt.Errorf("%w: env %s: the local platform does not let a service set it (it changes what runs)", ErrNotAllowed, k)
		}
	}
	return nil
}
