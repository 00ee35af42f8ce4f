package local

import (
	"errors"
	"fmt"
	"os/exec"
	"strings"
)

// ErrBadArtifact is wrapped by Deploy when the artifact can never start: bad quoting, an
// empty command, an executable that does not exist.
var ErrBadArtifact = errors.New("bad artifact")

// splitCommand splits a command line into words the way a POSIX shell does for simple
// quoting: blanks separate words, 'single quotes' keep everything literally, "double
// quotes" keep blanks and honour \" \\ \$ and \` escapes, and a backslash outside quotes
// escapes the next character. There is no globbing, no expansion and no operators.
func splitCommand(s string) ([]string, error) {
	var (
		words   []string
		cur     strings.Builder
		inWord  bool
		quote   rune // 0, '\'' or '"'
		escaped bool
	)
	for _, r := range s {
		switch {
		case escaped:
			if quote == '"' && !strings.ContainsRune("\"\\$`\n", r) {
				cur.WriteRune('\\')
			}
			cur.WriteRune(r)
			escaped = false
		case quote == '\'':
			if r == '\'' {
				quote = 0
			} else {
				cur.WriteRune(r)
			}
		case r == '\\':
			escaped, inWord = true, true
		case quote == '"':
			if r == '"' {
				quote = 0
			} else {
				cur.WriteRune(r)
			}
		case r == '\'' || r == '"':
			quote, inWord = r, true
		case r == ' ' || r == '\t' || r == '\n':
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
				inWord = false
			}
		default:
			cur.WriteRune(r)
			inWord = true
		}
	}
	if escaped {
		return nil, fmt.Errorf("%w: trailing backslash in %q", ErrBadArtifact, s)
	}
	if quote != 0 {
		return nil, fmt.Errorf("%w: unterminated %c quote in %q", ErrBadArtifact, quote, s)
	}
	if inWord {
		words = append(words, cur.String())
	}
	if len(words) == 0 {
		return nil, fmt.Errorf("%w: empty command", ErrBadArtifact)
	}
	return words, nil
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

// commandLine returns the argv of an artifact with vars substituted in each word.
func commandLine(artifact string, vars map[string]string) ([]string, error) {
	words, err := splitCommand(artifact)
	if err != nil {
		return nil, err
	}
	for i, w := range words {
		words[i] = substitute(w, vars)
	}
	return words, nil
}

// checkArtifact reports whether the artifact parses and names an executable that exists.
func checkArtifact(artifact string) error {
	argv, err := commandLine(artifact, map[string]string{"PORT": "1", "SLOT": "blue", "SERVICE": "s", "INSTANCE": "0"})
	if err != nil {
		return err
	}
	if _, err := exec.LookPath(argv[0]); err != nil {
		return fmt.Errorf("%w: %w", ErrBadArtifact, err)
	}
	return nil
}
