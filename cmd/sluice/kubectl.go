package main

import (
	"path/filepath"
	"slices"
	"strings"
)

// kubectlPlugin reports whether the binary runs as `kubectl sluice`: installed (or
// linked) as kubectl-sluice on the PATH, kubectl runs it for `kubectl sluice ...`.
func kubectlPlugin(argv0 string) bool {
	return strings.HasPrefix(filepath.Base(argv0), "kubectl-sluice")
}

// kubectlArgs turns the verbs kubectl users know from Argo Rollouts' plugin into
// sluice's: get [-w], status [-w], promote; every other verb is sluice's own.
//
//	kubectl sluice get                 -> sluice get executions
//	kubectl sluice get ID              -> sluice describe execution ID
//	kubectl sluice get ID -w           -> sluice logs -f ID (exits 0 only on success)
//	kubectl sluice status ID [-w]      -> the same as get
//	kubectl sluice promote ID          -> sluice approve ID
func kubectlArgs(args []string) []string {
	if len(args) == 0 {
		return args
	}
	verb, rest := args[0], args[1:]
	watch := slices.Contains(rest, "-w") || slices.Contains(rest, "--watch")
	rest = slices.DeleteFunc(slices.Clone(rest), func(a string) bool { return a == "-w" || a == "--watch" })
	switch verb {
	case "get", "status":
		ids := positional(rest)
		switch {
		case len(ids) == 0 && verb == "get":
			return append([]string{"get", "executions"}, rest...)
		case len(ids) == 1 && (ids[0] == "executions" || ids[0] == "execution"):
			return append([]string{"get", "executions"}, without(rest, ids[0])...)
		case watch:
			return append([]string{"logs", "-f"}, rest...)
		default:
			return append([]string{"describe", "execution"}, rest...)
		}
	case "promote":
		return append([]string{"approve"}, rest...)
	}
	return args
}

// positional returns the arguments that are not flags (a flag's value is taken for a
// positional only when written apart; the plugin verbs take no valued flags but -o).
func positional(args []string) []string {
	var out []string
	for i := 0; i < len(args); i++ {
		switch a := args[i]; {
		case a == "-o" || a == "--output" || a == "--server" || a == "--token" || a == "--user":
			i++
		case strings.HasPrefix(a, "-"):
		default:
			out = append(out, a)
		}
	}
	return out
}

func without(args []string, drop string) []string {
	return slices.DeleteFunc(slices.Clone(args), func(a string) bool { return a == drop })
}
