// Package local is the embedded default platform: it runs the instances of each slot as
// processes on this machine.
//
// An artifact is never a command line: Options.Commands (an Environment's
// local.commands, which only an admin may change) lists the executables that may run,
// each with a fixed argument template, and an artifact names one of them (NAME or
// NAME:VERSION) or a path one's glob matches; anything else is refused with
// ErrNotAllowed. ${PORT}, ${SLOT}, ${SERVICE}, ${INSTANCE} and ${VERSION} are replaced
// in the arguments for each instance. An instance gets a clean environment (its
// service's variables, PORT and the like; nothing of sluice's), a working directory of
// its own, and, when sluice runs as root, another OS user (Options.User, nobody by
// default). Lines it prints are masked with Deployment.Secrets before they leave the
// platform. Each instance gets
// its own free port on Options.Host and is ready when its health check passes (an HTTP
// GET, or a TCP connect). Crashed instances are restarted with exponential backoff; an
// instance that exits StartAttempts times in a row before ever being ready, or whose
// command cannot start, makes the slot Failed. Stopping sends SIGTERM to the instance's
// process group and SIGKILL after Options.StopGrace.
//
// State lives in Options.StateDir: one JSON file per slot (artifact, key, and the pid,
// start time and port of each instance, written atomically) and one stdout and stderr
// file per instance. New adopts the instances a previous platform left running after
// verifying each pid is the very process it started (boot id and start time from
// /proc/PID/stat); it stops leftovers it cannot adopt and starts replacements, so a
// restart of sluice leaves no orphans and no duplicate ports. Linux only.
//
// See docs/local-platform.md for the full behaviour.
package local
