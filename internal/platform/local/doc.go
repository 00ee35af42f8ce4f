// Package local is the embedded default platform: it runs the instances of each slot as
// processes on this machine.
//
// An artifact is a command line, split like a shell splits simple quoting but run
// without a shell, in which ${PORT}, ${SLOT}, ${SERVICE} and ${INSTANCE} are replaced
// for each instance (the same values are also in the environment). Each instance gets
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
